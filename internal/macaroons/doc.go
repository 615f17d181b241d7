// Package macaroons bakes least-privilege lnd macaroons by role, narrows
// any lnd macaroon offline, and shows what one grants: the work of
// `l402 bake`.
//
// Roles grant single gRPC methods (lnd's uri:/package.Service/Method
// permissions) rather than lnd's coarse entity:action pairs, so that an
// invoice-only macaroon cannot, for example, cancel or settle invoices.
// Each role bakes under its own root key ID, so that `lncli
// deletemacaroonid <id>` revokes every macaroon of that role at once and
// nothing else. Attenuation adds lnd's own first-party caveats
// (time-before, ipaddr, iprange) and needs no node. Inspection reads the
// permissions lnd writes into a macaroon's identifier.
//
// Macaroons are bearer secrets: this package never logs them or puts them
// in an error, and WriteSecretFile writes them 0600.
package macaroons
