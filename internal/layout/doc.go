// Package layout holds the tests that keep the tree's shape: the import
// graph flows one way, and only the CLI's edge names exit codes.
package layout
