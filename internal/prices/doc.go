// Package prices is the client of Aperture's dynamic pricing protocol
// (pricesrpc): GetPrice, and the metered calls (ChallengeMinted,
// AuthorizeRequest, ReportUsage, QuoteSession, SettleSession), so that
// Aperture's price servers work with l402 unchanged.
package prices

//go:generate protoc -I pricesrpc --go_out=pricesrpc --go_opt=paths=source_relative --go-grpc_out=pricesrpc --go-grpc_opt=paths=source_relative prices.proto
