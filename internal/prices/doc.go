// Package prices asks a price server for the price of a request, over
// Aperture's dynamic pricing protocol (pricesrpc), so Aperture's price servers
// work with l402 unchanged.
package prices

//go:generate protoc -I pricesrpc --go_out=pricesrpc --go_opt=paths=source_relative --go-grpc_out=pricesrpc --go-grpc_opt=paths=source_relative prices.proto
