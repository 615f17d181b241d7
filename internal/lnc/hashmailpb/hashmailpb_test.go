package hashmailpb_test

import (
	"bytes"
	"testing"

	"github.com/l402/l402/internal/lnc/hashmailpb"
	"github.com/lightninglabs/lightning-node-connect/hashmailrpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// TestMessagesMatchHashmailrpc holds every message and field of ours to
// hashmailrpc's of the same name: number, name (the websocket JSON uses
// it), kind, cardinality, oneof and message type.
func TestMessagesMatchHashmailrpc(t *testing.T) {
	// Ours is registered on first use (scripts/lazyproto).
	ours := (&hashmailpb.CipherBoxAuth{}).ProtoReflect().Descriptor().
		ParentFile().Messages()
	theirs := hashmailrpc.File_hashmail_lnd_proto.Messages()
	if ours.Len() == 0 {
		t.Fatal("no messages")
	}
	for i := 0; i < ours.Len(); i++ {
		m := ours.Get(i)
		um := theirs.ByName(m.Name())
		if um == nil {
			t.Errorf("%s: hashmailrpc has no such message", m.Name())
			continue
		}
		for j := 0; j < m.Fields().Len(); j++ {
			f := m.Fields().Get(j)
			uf := um.Fields().ByNumber(f.Number())
			if uf == nil {
				t.Errorf("%s.%s: hashmailrpc has no field %d",
					m.Name(), f.Name(), f.Number())
				continue
			}
			if got, want := describe(f), describe(uf); got != want {
				t.Errorf("%s field %d: ours is %s, hashmailrpc's %s",
					m.Name(), f.Number(), got, want)
			}
		}
	}
}

// describe is what must agree between two fields of one number.
func describe(f protoreflect.FieldDescriptor) string {
	s := string(f.Name()) + " " + f.Kind().String() + " " +
		f.Cardinality().String()
	if o := f.ContainingOneof(); o != nil {
		s += " oneof " + string(o.Name())
	}
	if f.Message() != nil {
		s += " " + string(f.Message().Name())
	}
	return s
}

// TestBytesMatchHashmailrpc: each of our messages, filled in, has the
// bytes of hashmailrpc's after a round trip through it, both ways.
func TestBytesMatchHashmailrpc(t *testing.T) {
	desc := &hashmailpb.CipherBoxDesc{StreamId: bytes.Repeat([]byte{7}, 64)}
	for _, tc := range []struct {
		ours   proto.Message
		theirs proto.Message
	}{
		{desc, &hashmailrpc.CipherBoxDesc{}},
		{&hashmailpb.CipherBox{Desc: desc, Msg: []byte("msg")},
			&hashmailrpc.CipherBox{}},
		{&hashmailpb.CipherBoxAuth{Desc: desc,
			Auth: &hashmailpb.CipherBoxAuth_LndAuth{
				LndAuth: &hashmailpb.LndAuth{}}},
			&hashmailrpc.CipherBoxAuth{}},
		{&hashmailpb.CipherInitResp{Resp: &hashmailpb.CipherInitResp_Success{
			Success: &hashmailpb.CipherSuccess{Desc: desc}}},
			&hashmailrpc.CipherInitResp{}},
		{&hashmailpb.DelCipherBoxResp{}, &hashmailrpc.DelCipherBoxResp{}},
	} {
		name := tc.ours.ProtoReflect().Descriptor().Name()
		b, err := proto.Marshal(tc.ours)
		if err != nil {
			t.Fatal(err)
		}
		if err := proto.Unmarshal(b, tc.theirs); err != nil {
			t.Fatalf("%s: hashmailrpc cannot read ours: %v", name, err)
		}
		if len(tc.theirs.ProtoReflect().GetUnknown()) != 0 {
			t.Errorf("%s: hashmailrpc reads unknown fields", name)
		}
		back, err := proto.Marshal(tc.theirs)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(back, b) {
			t.Errorf("%s: hashmailrpc writes %x, ours %x", name, back, b)
		}

		again := tc.ours.ProtoReflect().New().Interface()
		if err := proto.Unmarshal(back, again); err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(again, tc.ours) {
			t.Errorf("%s: ours reads hashmailrpc's as %v", name, again)
		}
	}
}

// TestMethodsAreHashmailrpcs: the method names are those of hashmailrpc's
// service, which are the paths on the wire.
func TestMethodsAreHashmailrpcs(t *testing.T) {
	sd := hashmailrpc.HashMail_ServiceDesc
	if sd.ServiceName != hashmailpb.ServiceName {
		t.Errorf("service %s, want %s", hashmailpb.ServiceName,
			sd.ServiceName)
	}
	want := map[string]bool{}
	for _, m := range sd.Methods {
		want["/"+sd.ServiceName+"/"+m.MethodName] = true
	}
	for _, s := range sd.Streams {
		want["/"+sd.ServiceName+"/"+s.StreamName] = true
	}
	for _, m := range []string{hashmailpb.MethodNewCipherBox,
		hashmailpb.MethodDelCipherBox, hashmailpb.MethodSendStream,
		hashmailpb.MethodRecvStream} {

		if !want[m] {
			t.Errorf("%s is not a method of hashmailrpc's service", m)
		}
		delete(want, m)
	}
	for m := range want {
		t.Errorf("hashmailrpc's %s has no name here", m)
	}
}
