package prices

import (
	"bytes"
	"testing"

	"github.com/l402/l402/internal/prices/pricesrpc"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// apertureCommit is the lightninglabs/aperture commit whose
// pricesrpc/prices.proto the tables below were read from (its main branch
// after v0.5.0: the metering and session methods).
const apertureCommit = "271d9ff7688af2400f1ad392dd7ff834cf63e151"

// apField is one field of one of Aperture's messages: its number, its name
// and its type.
type apField struct {
	num  protowire.Number
	name string
	kind protoreflect.Kind
}

// apertureMessages is every message of Aperture's pricesrpc, field by field.
var apertureMessages = map[string][]apField{
	"GetPriceRequest": {
		{1, "path", protoreflect.StringKind},
		{2, "http_request_text", protoreflect.StringKind},
	},
	"GetPriceResponse": {
		{1, "price_sats", protoreflect.Int64Kind},
	},
	"ChallengeMintedRequest": {
		{1, "path", protoreflect.StringKind},
		{2, "http_request_text", protoreflect.StringKind},
		{3, "token_id", protoreflect.StringKind},
		{4, "price_sats", protoreflect.Int64Kind},
		{5, "service_name", protoreflect.StringKind},
	},
	"ChallengeMintedResponse": {},
	"AuthorizeRequestRequest": {
		{1, "path", protoreflect.StringKind},
		{2, "http_request_text", protoreflect.StringKind},
		{3, "token_id", protoreflect.StringKind},
		{4, "service_name", protoreflect.StringKind},
	},
	"AuthorizeRequestResponse": {
		{1, "allowed", protoreflect.BoolKind},
		{2, "price_sats", protoreflect.Int64Kind},
		{3, "reason", protoreflect.StringKind},
		{4, "reserved_estimate", protoreflect.Int64Kind},
	},
	"ReportUsageRequest": {
		{1, "token_id", protoreflect.StringKind},
		{2, "path", protoreflect.StringKind},
		{3, "service_name", protoreflect.StringKind},
		{4, "http_status", protoreflect.Int32Kind},
		{5, "content_type", protoreflect.StringKind},
		{6, "complete", protoreflect.BoolKind},
		{7, "response_tail", protoreflect.BytesKind},
		{8, "content_encoding", protoreflect.StringKind},
		{9, "reserved_estimate", protoreflect.Int64Kind},
	},
	"ReportUsageResponse": {
		{1, "debited_sats", protoreflect.Int64Kind},
		{2, "remaining_sats", protoreflect.Int64Kind},
	},
	"QuoteSessionRequest": {
		{1, "path", protoreflect.StringKind},
		{2, "http_request_text", protoreflect.StringKind},
		{3, "service_name", protoreflect.StringKind},
		{4, "session_id", protoreflect.StringKind},
	},
	"QuoteSessionResponse": {
		{1, "unit_price_sats", protoreflect.Int64Kind},
		{2, "deposit_sats", protoreflect.Int64Kind},
	},
	"SettleSessionRequest": {
		{1, "session_id", protoreflect.StringKind},
		{2, "path", protoreflect.StringKind},
		{3, "service_name", protoreflect.StringKind},
		{4, "http_status", protoreflect.Int32Kind},
		{5, "content_type", protoreflect.StringKind},
		{6, "content_encoding", protoreflect.StringKind},
		{7, "complete", protoreflect.BoolKind},
		{8, "response_tail", protoreflect.BytesKind},
		{9, "estimate_sats", protoreflect.Int64Kind},
		{10, "http_request_text", protoreflect.StringKind},
	},
	"SettleSessionResponse": {
		{1, "cost_sats", protoreflect.Int64Kind},
	},
}

// apertureMethods is the service's methods, with their full names on the
// wire and their message types.
var apertureMethods = []struct {
	name, full, in, out string
}{
	{"GetPrice", pricesrpc.Prices_GetPrice_FullMethodName,
		"GetPriceRequest", "GetPriceResponse"},
	{"ChallengeMinted", pricesrpc.Prices_ChallengeMinted_FullMethodName,
		"ChallengeMintedRequest", "ChallengeMintedResponse"},
	{"AuthorizeRequest", pricesrpc.Prices_AuthorizeRequest_FullMethodName,
		"AuthorizeRequestRequest", "AuthorizeRequestResponse"},
	{"ReportUsage", pricesrpc.Prices_ReportUsage_FullMethodName,
		"ReportUsageRequest", "ReportUsageResponse"},
	{"QuoteSession", pricesrpc.Prices_QuoteSession_FullMethodName,
		"QuoteSessionRequest", "QuoteSessionResponse"},
	{"SettleSession", pricesrpc.Prices_SettleSession_FullMethodName,
		"SettleSessionRequest", "SettleSessionResponse"},
}

// TestWireSchema holds the generated descriptor to Aperture's: the same
// messages, each with exactly Aperture's fields (number, name, type, no
// repeated or optional ones), and the same methods.
func TestWireSchema(t *testing.T) {
	// The descriptor is registered on first use (scripts/lazyproto).
	desc := (&pricesrpc.GetPriceRequest{}).ProtoReflect().Descriptor().
		ParentFile()
	if got := desc.Messages().Len(); got != len(apertureMessages) {
		t.Errorf("%d messages, want Aperture's %d", got,
			len(apertureMessages))
	}

	for name, want := range apertureMessages {
		md := desc.Messages().ByName(protoreflect.Name(name))
		if md == nil {
			t.Errorf("message %s is missing", name)
			continue
		}
		if md.Fields().Len() != len(want) {
			t.Errorf("%s has %d fields, want %d", name,
				md.Fields().Len(), len(want))
		}
		for _, f := range want {
			fd := md.Fields().ByNumber(f.num)
			switch {
			case fd == nil:
				t.Errorf("%s: no field %d (%s)", name, f.num, f.name)
			case string(fd.Name()) != f.name || fd.Kind() != f.kind:
				t.Errorf("%s field %d = %s %s, want %s %s", name,
					f.num, fd.Kind(), fd.Name(), f.kind, f.name)
			case fd.Cardinality() != protoreflect.Optional ||
				fd.HasPresence():
				t.Errorf("%s.%s is not a plain proto3 field", name,
					f.name)
			}
		}
	}

	svc := desc.Services().ByName("Prices")
	if svc == nil {
		t.Fatal("service Prices not found")
	}
	if svc.Methods().Len() != len(apertureMethods) {
		t.Errorf("%d methods, want %d", svc.Methods().Len(),
			len(apertureMethods))
	}
	for _, m := range apertureMethods {
		md := svc.Methods().ByName(protoreflect.Name(m.name))
		if md == nil {
			t.Errorf("method %s is missing", m.name)
			continue
		}
		if want := "/pricesrpc.Prices/" + m.name; m.full != want {
			t.Errorf("full method = %q, want %q", m.full, want)
		}
		if string(md.Input().Name()) != m.in ||
			string(md.Output().Name()) != m.out {
			t.Errorf("%s(%s) returns %s, want %s(%s) returns %s",
				m.name, md.Input().Name(), md.Output().Name(),
				m.name, m.in, m.out)
		}
		if md.IsStreamingClient() || md.IsStreamingServer() {
			t.Errorf("%s streams; Aperture's is unary", m.name)
		}
	}
}

// hand builds a message's bytes field by field, as a price server written
// against Aperture's .proto would put them on the wire.
type hand []byte

func (h hand) str(num protowire.Number, s string) hand {
	h = protowire.AppendTag(h, num, protowire.BytesType)
	return protowire.AppendString(h, s)
}

func (h hand) raw(num protowire.Number, b []byte) hand {
	h = protowire.AppendTag(h, num, protowire.BytesType)
	return protowire.AppendBytes(h, b)
}

// i64 appends an int64 as int64 travels: a plain varint of its two's
// complement (ten bytes when negative), not zigzag.
func (h hand) i64(num protowire.Number, v int64) hand {
	h = protowire.AppendTag(h, num, protowire.VarintType)
	return protowire.AppendVarint(h, uint64(v))
}

// i32 appends an int32: a negative one is sign-extended to ten bytes.
func (h hand) i32(num protowire.Number, v int32) hand {
	h = protowire.AppendTag(h, num, protowire.VarintType)
	return protowire.AppendVarint(h, uint64(int64(v)))
}

func (h hand) flag(num protowire.Number, v bool) hand {
	h = protowire.AppendTag(h, num, protowire.VarintType)
	return protowire.AppendVarint(h, protowire.EncodeBool(v))
}

// TestWireMeteredMessages decodes bytes built by hand into each generated
// type, compares it with the value expected, and encodes that value back to
// the same bytes. Negative integers pin int64 and int32 against sint and
// fixed types; every field is set, in field order, so the bytes pin every
// number.
func TestWireMeteredMessages(t *testing.T) {
	tail := []byte("data: {\"usage\":{\"total_tokens\":7}}\n\n\x00\xff")
	text := "POST /v1/chat HTTP/1.1\r\nHost: a\r\n\r\n{\"model\":\"m\"}"

	cases := []struct {
		name string
		wire hand
		want proto.Message
		into proto.Message
	}{{
		name: "ChallengeMintedRequest",
		wire: hand{}.str(1, "/v1/chat").str(2, text).
			str(3, "ab01").i64(4, -5).str(5, "llm"),
		want: &pricesrpc.ChallengeMintedRequest{Path: "/v1/chat",
			HttpRequestText: text, TokenId: "ab01", PriceSats: -5,
			ServiceName: "llm"},
		into: &pricesrpc.ChallengeMintedRequest{},
	}, {
		name: "ChallengeMintedResponse",
		wire: hand{},
		want: &pricesrpc.ChallengeMintedResponse{},
		into: &pricesrpc.ChallengeMintedResponse{},
	}, {
		name: "AuthorizeRequestRequest",
		wire: hand{}.str(1, "/v1/chat").str(2, text).str(3, "ab01").
			str(4, "llm"),
		want: &pricesrpc.AuthorizeRequestRequest{Path: "/v1/chat",
			HttpRequestText: text, TokenId: "ab01", ServiceName: "llm"},
		into: &pricesrpc.AuthorizeRequestRequest{},
	}, {
		name: "AuthorizeRequestResponse",
		wire: hand{}.flag(1, true).i64(2, -1500).str(3, "exhausted").
			i64(4, -4096),
		want: &pricesrpc.AuthorizeRequestResponse{Allowed: true,
			PriceSats: -1500, Reason: "exhausted",
			ReservedEstimate: -4096},
		into: &pricesrpc.AuthorizeRequestResponse{},
	}, {
		name: "ReportUsageRequest",
		wire: hand{}.str(1, "ab01").str(2, "/v1/chat").str(3, "llm").
			i32(4, -200).str(5, "text/event-stream").flag(6, true).
			raw(7, tail).str(8, "identity").i64(9, -4096),
		want: &pricesrpc.ReportUsageRequest{TokenId: "ab01",
			Path: "/v1/chat", ServiceName: "llm", HttpStatus: -200,
			ContentType: "text/event-stream", Complete: true,
			ResponseTail: tail, ContentEncoding: "identity",
			ReservedEstimate: -4096},
		into: &pricesrpc.ReportUsageRequest{},
	}, {
		name: "ReportUsageResponse",
		wire: hand{}.i64(1, -3).i64(2, -997),
		want: &pricesrpc.ReportUsageResponse{DebitedSats: -3,
			RemainingSats: -997},
		into: &pricesrpc.ReportUsageResponse{},
	}, {
		name: "QuoteSessionRequest",
		wire: hand{}.str(1, "/v1/chat").str(2, text).str(3, "llm").
			str(4, "sess-1"),
		want: &pricesrpc.QuoteSessionRequest{Path: "/v1/chat",
			HttpRequestText: text, ServiceName: "llm",
			SessionId: "sess-1"},
		into: &pricesrpc.QuoteSessionRequest{},
	}, {
		name: "QuoteSessionResponse",
		wire: hand{}.i64(1, -12).i64(2, -1200),
		want: &pricesrpc.QuoteSessionResponse{UnitPriceSats: -12,
			DepositSats: -1200},
		into: &pricesrpc.QuoteSessionResponse{},
	}, {
		name: "SettleSessionRequest",
		wire: hand{}.str(1, "sess-1").str(2, "/v1/chat").str(3, "llm").
			i32(4, -200).str(5, "application/json").str(6, "gzip").
			flag(7, true).raw(8, tail).i64(9, -12).str(10, text),
		want: &pricesrpc.SettleSessionRequest{SessionId: "sess-1",
			Path: "/v1/chat", ServiceName: "llm", HttpStatus: -200,
			ContentType: "application/json", ContentEncoding: "gzip",
			Complete: true, ResponseTail: tail, EstimateSats: -12,
			HttpRequestText: text},
		into: &pricesrpc.SettleSessionRequest{},
	}, {
		name: "SettleSessionResponse",
		wire: hand{}.i64(1, -175),
		want: &pricesrpc.SettleSessionResponse{CostSats: -175},
		into: &pricesrpc.SettleSessionResponse{},
	}}

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := proto.Unmarshal(tc.wire, tc.into); err != nil {
				t.Fatalf("unmarshal the hand-built bytes: %v", err)
			}
			if !proto.Equal(tc.into, tc.want) {
				t.Errorf("decoded %v, want %v", tc.into, tc.want)
			}
			if unknown := tc.into.ProtoReflect().GetUnknown(); len(unknown) > 0 {
				t.Errorf("%d bytes decoded as unknown fields: a "+
					"number or a wire type differs", len(unknown))
			}

			back, err := proto.MarshalOptions{Deterministic: true}.
				Marshal(tc.want)
			if err != nil {
				t.Fatalf("marshal: %v", err)
			}
			if !bytes.Equal(back, tc.wire) {
				t.Errorf("encoded back to %x, want %x", back,
					[]byte(tc.wire))
			}
		})
	}

	if len(cases)+2 != len(apertureMessages) {
		t.Errorf("%d messages pinned here and 2 in wire_test.go, but "+
			"Aperture has %d (commit %s)", len(cases),
			len(apertureMessages), apertureCommit)
	}
}
