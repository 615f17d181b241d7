// Package adminrpc is the wire format of Aperture's admin API (gRPC
// adminrpc.Admin), generated from admin.proto, which serve answers and
// `l402 admin` calls.
package adminrpc

//go:generate protoc -I . --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative admin.proto
