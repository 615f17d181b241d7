package prices

import (
	"testing"

	"github.com/l402/l402/internal/prices/pricesrpc"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// Aperture's wire format, from lightninglabs/aperture, pricesrpc/prices.proto
// (the same in every version that has http_request_text, including the one
// with the metering methods):
//
//	service Prices { rpc GetPrice(GetPriceRequest) returns (GetPriceResponse); }
//	message GetPriceRequest { string path = 1; string http_request_text = 2; }
//	message GetPriceResponse { int64 price_sats = 1; }
const (
	aperturePackage       = "pricesrpc"
	apertureFullMethod    = "/pricesrpc.Prices/GetPrice"
	aperturePathField     = 1 // string
	apertureTextField     = 2 // string
	aperturePriceSatField = 1 // int64
)

// TestWireGetPriceRequest encodes a request with the generated type and
// reads it back field by field.
func TestWireGetPriceRequest(t *testing.T) {
	b, err := proto.Marshal(&pricesrpc.GetPriceRequest{
		Path:            "/v1/x",
		HttpRequestText: "GET /v1/x HTTP/1.1\r\n\r\n",
	})
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}

	fields := readFields(t, b)
	want := []field{
		{aperturePathField, protowire.BytesType, "/v1/x", 0},
		{apertureTextField, protowire.BytesType, "GET /v1/x HTTP/1.1\r\n\r\n", 0},
	}
	checkFields(t, fields, want)
}

// TestWireGetPriceResponse encodes a response and reads it back, and decodes
// bytes built by hand as Aperture's price server would send them.
func TestWireGetPriceResponse(t *testing.T) {
	b, err := proto.Marshal(&pricesrpc.GetPriceResponse{PriceSats: 1500})
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	checkFields(t, readFields(t, b), []field{
		{aperturePriceSatField, protowire.VarintType, "", 1500},
	})

	// A negative int64 is a ten-byte varint (not zigzag, as sint64 would
	// be); decoding it proves the type is int64.
	negative := int64(-7)
	var hand []byte
	hand = protowire.AppendTag(hand, aperturePriceSatField, protowire.VarintType)
	hand = protowire.AppendVarint(hand, uint64(negative))
	if len(hand) != 11 {
		t.Fatalf("hand-built message is %d bytes, want 11", len(hand))
	}

	var resp pricesrpc.GetPriceResponse
	if err := proto.Unmarshal(hand, &resp); err != nil {
		t.Fatalf("unmarshal: %v", err)
	}
	if resp.GetPriceSats() != -7 {
		t.Errorf("price_sats = %d, want -7", resp.GetPriceSats())
	}
}

// TestWireNames checks the names that appear on the wire: the full method
// name, and the proto package it is built from.
func TestWireNames(t *testing.T) {
	if pricesrpc.Prices_GetPrice_FullMethodName != apertureFullMethod {
		t.Errorf("full method = %q, want %q",
			pricesrpc.Prices_GetPrice_FullMethodName, apertureFullMethod)
	}

	// The descriptor is registered on first use (scripts/lazyproto).
	desc := (&pricesrpc.GetPriceRequest{}).ProtoReflect().Descriptor().
		ParentFile()
	if string(desc.Package()) != aperturePackage {
		t.Errorf("proto package = %q, want %q", desc.Package(), aperturePackage)
	}
	svc := desc.Services().ByName("Prices")
	if svc == nil || svc.Methods().ByName("GetPrice") == nil {
		t.Fatal("service Prices with method GetPrice not found")
	}
}

// field is one decoded protobuf field.
type field struct {
	num    protowire.Number
	typ    protowire.Type
	bytes  string
	varint uint64
}

// readFields decodes b into its fields, in order.
func readFields(t *testing.T, b []byte) []field {
	t.Helper()

	var out []field
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			t.Fatalf("bad tag: %v", protowire.ParseError(n))
		}
		b = b[n:]

		f := field{num: num, typ: typ}
		switch typ {
		case protowire.BytesType:
			v, m := protowire.ConsumeBytes(b)
			f.bytes, n = string(v), m
		case protowire.VarintType:
			f.varint, n = protowire.ConsumeVarint(b)
		default:
			t.Fatalf("field %d has unexpected wire type %d", num, typ)
		}
		if n < 0 {
			t.Fatalf("field %d: %v", num, protowire.ParseError(n))
		}
		b = b[n:]
		out = append(out, f)
	}

	return out
}

// checkFields compares decoded fields with the expected ones.
func checkFields(t *testing.T, got, want []field) {
	t.Helper()

	if len(got) != len(want) {
		t.Fatalf("got %d fields %+v, want %d", len(got), got, len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("field %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}
