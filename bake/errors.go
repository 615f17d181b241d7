package bake

import "github.com/l402/l402/internal/fault"

// The conditions bake ends in beyond lnd's own (lnddetect.Problem, with
// its cause as the code); internal/cli maps them to exit codes.
var (
	// ErrBadOptions: the options are wrong or contradict each other, a
	// FILE is missing or not a macaroon.
	ErrBadOptions = fault.New("bad_arguments", "bad bake options")

	// ErrFileExists: the file to write exists and Force is not set.
	ErrFileExists = fault.New("file_exists", "file exists")

	// ErrNotWritable: the file to write cannot be created (permission
	// denied).
	ErrNotWritable = fault.New("file_not_writable", "file not writable")

	// ErrUnknownMethod: a Custom method is not one the node serves.
	ErrUnknownMethod = fault.New("unknown_method", "unknown method")
)
