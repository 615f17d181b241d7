// Package lnc is l402's client side of Lightning Node Connect: it reaches
// a node (Lightning Terminal) through a hashmail mailbox, pairs with a
// ten-word phrase (Noise XX with a SPAKE2-masked ephemeral key), resumes
// with the static keys the pairing exchanged (Noise KK), and carries gRPC
// over the encrypted stream with the macaroon the node sent.
//
// The layers, bottom up: two hashmail streams (mailbox.go), go-back-n for
// a reliable ordered stream over them (the lightning-node-connect gbn
// module), the Noise handshake (handshake.go) and transport frames
// (transport.go), and the gRPC dialer and credentials (client.go).
package lnc
