package adminrpc

import (
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// Aperture v0.5.0's adminrpc/admin.proto, as facts: the method names on
// the wire and the field numbers and wire types of the messages that carry
// data. A change that moves a field breaks aperturecli against l402.
const apertureService = "adminrpc.Admin"

// field is one field read back from an encoded message.
type field struct {
	num protowire.Number
	typ protowire.Type
	raw []byte // bytes fields
	val uint64 // varints
}

// readFields splits an encoded message into its top-level fields.
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
		case protowire.VarintType:
			f.val, n = protowire.ConsumeVarint(b)
		case protowire.BytesType:
			f.raw, n = protowire.ConsumeBytes(b)
		default:
			t.Fatalf("field %d: unexpected wire type %d", num, typ)
		}
		if n < 0 {
			t.Fatalf("field %d: %v", num, protowire.ParseError(n))
		}
		b = b[n:]
		out = append(out, f)
	}
	return out
}

// want is what field num must hold.
type want struct {
	num protowire.Number
	typ protowire.Type
	str string
	val uint64
}

// check compares the fields of m's encoding with ws, in order.
func check(t *testing.T, m proto.Message, ws []want) {
	t.Helper()
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	got := readFields(t, b)
	if len(got) != len(ws) {
		t.Fatalf("%T: %d fields, want %d: %+v", m, len(got), len(ws), got)
	}
	for i, w := range ws {
		g := got[i]
		if g.num != w.num || g.typ != w.typ || string(g.raw) != w.str ||
			g.val != w.val {
			t.Errorf("%T field %d: got %d/%d %q %d, want %d/%d %q %d", m,
				i, g.num, g.typ, g.raw, g.val, w.num, w.typ, w.str, w.val)
		}
	}
}

// TestWireMethodNames: every method is /adminrpc.Admin/<Name>.
func TestWireMethodNames(t *testing.T) {
	for _, m := range Admin_ServiceDesc.Methods {
		full := "/" + apertureService + "/" + m.MethodName
		switch m.MethodName {
		case "GetInfo", "GetHealth", "ListServices", "CreateService",
			"UpdateService", "DeleteService", "ListTransactions",
			"ListTokens", "RevokeToken", "GetStats":
		default:
			t.Errorf("unexpected method %s", full)
		}
	}
	if Admin_ServiceDesc.ServiceName != apertureService {
		t.Errorf("service = %q", Admin_ServiceDesc.ServiceName)
	}
	if len(Admin_ServiceDesc.Methods) != 10 || len(Admin_ServiceDesc.Streams) != 0 {
		t.Errorf("%d methods, %d streams; want Aperture's 10 unary methods",
			len(Admin_ServiceDesc.Methods), len(Admin_ServiceDesc.Streams))
	}
	if Admin_UpdateService_FullMethodName != "/adminrpc.Admin/UpdateService" {
		t.Errorf("UpdateService = %q", Admin_UpdateService_FullMethodName)
	}
}

// TestWireService: Service and CreateServiceRequest carry fields 1-8 as
// Aperture numbers them.
func TestWireService(t *testing.T) {
	ws := []want{
		{1, protowire.BytesType, "api", 0},
		{2, protowire.BytesType, "127.0.0.1:8080", 0},
		{3, protowire.BytesType, "http", 0},
		{4, protowire.BytesType, ".*", 0},
		{5, protowire.BytesType, "^/v1/", 0},
		{6, protowire.VarintType, "", 150},
		{7, protowire.BytesType, "freebie 2", 0},
		{8, protowire.VarintType, "", 1},
	}
	check(t, &Service{Name: "api", Address: "127.0.0.1:8080",
		Protocol: "http", HostRegexp: ".*", PathRegexp: "^/v1/",
		Price: 150, Auth: "freebie 2",
		AuthScheme: AuthScheme_AUTH_SCHEME_MPP}, ws)
	check(t, &CreateServiceRequest{Name: "api", Address: "127.0.0.1:8080",
		Protocol: "http", HostRegexp: ".*", PathRegexp: "^/v1/",
		Price: 150, Auth: "freebie 2",
		AuthScheme: AuthScheme_AUTH_SCHEME_MPP}, ws)
}

// TestWireUpdateServicePrice: UpdateServiceRequest's price is proto3
// optional, so that a price of 0 is sent and told from no price.
func TestWireUpdateServicePrice(t *testing.T) {
	zero := int64(0)
	check(t, &UpdateServiceRequest{Name: "api", Price: &zero}, []want{
		{1, protowire.BytesType, "api", 0},
		{6, protowire.VarintType, "", 0},
	})
	check(t, &UpdateServiceRequest{Name: "api"}, []want{
		{1, protowire.BytesType, "api", 0},
	})
}

// TestWireTransaction: a transaction's fields 1-8, the revenue figures of
// GetStatsResponse and ListTransactionsRequest's filters.
func TestWireTransaction(t *testing.T) {
	check(t, &Transaction{Id: 7, TokenId: "ab", PaymentHash: "cd",
		ServiceName: "api", PriceSats: 150, State: "settled",
		CreatedAt: "2026-01-02T03:04:05Z", SettledAt: "2026-01-02T03:05:05Z"},
		[]want{
			{1, protowire.VarintType, "", 7},
			{2, protowire.BytesType, "ab", 0},
			{3, protowire.BytesType, "cd", 0},
			{4, protowire.BytesType, "api", 0},
			{5, protowire.VarintType, "", 150},
			{6, protowire.BytesType, "settled", 0},
			{7, protowire.BytesType, "2026-01-02T03:04:05Z", 0},
			{8, protowire.BytesType, "2026-01-02T03:05:05Z", 0},
		})
	check(t, &ListTransactionsRequest{Service: "api", State: "pending",
		StartDate: "a", EndDate: "b", Limit: 5, Offset: 10}, []want{
		{1, protowire.BytesType, "api", 0},
		{2, protowire.BytesType, "pending", 0},
		{3, protowire.BytesType, "a", 0},
		{4, protowire.BytesType, "b", 0},
		{5, protowire.VarintType, "", 5},
		{6, protowire.VarintType, "", 10},
	})
	check(t, &GetStatsResponse{TotalRevenueSats: 300, TransactionCount: 2,
		ServiceBreakdown: []*ServiceRevenue{{ServiceName: "api",
			TotalRevenueSats: 300}}}, []want{
		{1, protowire.VarintType, "", 300},
		{2, protowire.VarintType, "", 2},
		{3, protowire.BytesType, "\n\x03api\x10\xac\x02", 0},
	})
	check(t, &RevokeTokenRequest{TokenId: "ab"}, []want{
		{1, protowire.BytesType, "ab", 0},
	})
	check(t, &GetInfoResponse{Network: "regtest", ListenAddr: "x:1",
		Insecure: true}, []want{
		{1, protowire.BytesType, "regtest", 0},
		{2, protowire.BytesType, "x:1", 0},
		{3, protowire.VarintType, "", 1},
	})
}
