// Package templates holds l402's config templates: the sources that
// `l402 setup` renders, and the plain files users copy (README.md).
package templates

import "embed"

// FS holds the templates (*.tmpl) of serve.yaml and fetch.yaml; setup
// renders them with text/template. serve.yaml and fetch.yaml beside them
// are their renderings with the documented values, rewritten by go
// generate.
//
//go:embed *.tmpl
var FS embed.FS

//go:generate go test ../setup -run TestTemplatesAreRendered -update
