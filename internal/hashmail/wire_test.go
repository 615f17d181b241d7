package hashmail

import (
	"bytes"
	"encoding/json"
	"net/http"
	"regexp"
	"testing"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/lightninglabs/lightning-node-connect/hashmailrpc"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"nhooyr.io/websocket"
)

// The websocket JSON of one LNC exchange, byte for byte: the stream ID is
// the bytes 0..63 and the message the bytes fb ff fe followed by " lnc", so
// that both hold the characters where standard and URL-safe base64 differ.
// Bytes fields are standard base64 with padding, as grpc-gateway writes
// them with protojson's default options; lnd's fork of protobuf (and its
// UseHexForBytes option, which LNC's clients never set) plays no part.
const (
	wireStreamID = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUm" +
		"JygpKissLS4vMDEyMzQ1Njc4OTo7PD0+Pw=="
	wireDesc   = `{"stream_id":"` + wireStreamID + `"}`
	wireBox    = `{"desc":` + wireDesc + `,"msg":"+//+IGxuYw=="}`
	wireResult = `{"result":` + wireBox + `}`
)

// wireIDAndMsg returns the stream ID and message the golden JSON holds.
func wireIDAndMsg() ([]byte, []byte) {
	id := make([]byte, streamIDLen)
	for i := range id {
		id[i] = byte(i)
	}
	return id, []byte("\xfb\xff\xfe lnc")
}

// lncMarshaler is the marshaler of mailbox v1.0.1's websocket client
// (client_conn.go's defaultMarshaler), which lnc-web's WASM client is built
// from.
var lncMarshaler = &runtime.JSONPb{MarshalOptions: protojson.MarshalOptions{
	UseProtoNames:   true,
	EmitUnpopulated: true,
}}

// lncResultPattern is how that client takes a message out of its
// envelope.
var lncResultPattern = regexp.MustCompile("{\"result\":(.*)}")

// compact removes the insignificant whitespace that protojson inserts at
// random (on purpose, so that nobody relies on its exact bytes).
func compact(t *testing.T, b []byte) string {
	t.Helper()
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		t.Fatalf("not JSON: %s: %v", b, err)
	}
	return out.String()
}

// TestWireJSONIsLNCClients pins the websocket JSON: what LNC's client
// sends is the golden JSON, the relay reads exactly that, and what the
// relay writes back is the golden envelope, which the client parses.
func TestWireJSONIsLNCClients(t *testing.T) {
	id, msg := wireIDAndMsg()
	desc := &hashmailrpc.CipherBoxDesc{StreamId: id}
	box := &hashmailrpc.CipherBox{Desc: desc, Msg: msg}

	// What the client sends.
	for want, m := range map[string]proto.Message{wireDesc: desc,
		wireBox: box} {

		b, err := lncMarshaler.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if got := compact(t, b); got != want {
			t.Errorf("LNC's client sends %s, want %s", got, want)
		}
	}

	// The relay takes the golden bytes on both paths and answers with the
	// golden envelope.
	r := startRelay(t, Config{})
	ctx := testCtx(t)
	if _, err := r.srv.NewCipherBox(ctx, srvAuth(id)); err != nil {
		t.Fatal(err)
	}
	opts := &websocket.DialOptions{HTTPClient: &http.Client{
		Transport: &http.Transport{TLSClientConfig: r.tlsConfig()},
	}}
	dial := func(path string) *websocket.Conn {
		c, _, err := websocket.Dial(ctx, "wss://"+r.addr+path+
			"?method=POST", opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close(websocket.StatusNormalClosure, "") })
		return c
	}
	recv, send := dial(ReceivePath), dial(SendPath)
	if err := recv.Write(ctx, websocket.MessageText,
		[]byte(wireDesc)); err != nil {
		t.Fatal(err)
	}
	if err := send.Write(ctx, websocket.MessageText,
		[]byte(wireBox)); err != nil {
		t.Fatal(err)
	}
	_, got, err := recv.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if compact(t, got) != wireResult || bytes.Contains(got, []byte("\n")) {
		t.Fatalf("the relay writes %s, want %s", got, wireResult)
	}

	// The client's own parsing of it gives the message back.
	inner := lncResultPattern.FindSubmatch(got)
	if inner == nil {
		t.Fatalf("LNC's client finds no result in %s", got)
	}
	parsed := &hashmailrpc.CipherBox{}
	if err := lncMarshaler.Unmarshal(inner[1], parsed); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(parsed, box) {
		t.Fatalf("LNC's client reads %v, want %v", parsed, box)
	}
}
