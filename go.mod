module github.com/l402/l402

go 1.26.8

replace google.golang.org/protobuf => github.com/lightninglabs/protobuf-go-hex-display v1.33.0-hex-display

require (
	golang.org/x/crypto v0.0.0-20180723164146-c126467f60eb // indirect
	gopkg.in/macaroon.v2 v2.1.0 // indirect
)
