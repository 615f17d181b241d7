package mpp

import (
	"strings"
	"testing"
)

// TestReceiptVectors decodes the receipts of the vectors.
func TestReceiptVectors(t *testing.T) {
	v := loadVectors(t)
	if len(v.Receipts) < 4 {
		t.Fatalf("only %d receipts", len(v.Receipts))
	}
	for _, r := range v.Receipts {
		t.Run(r.Name, func(t *testing.T) {
			got, err := ParseReceipt(r.Header)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != "success" || got.Method != MethodLightning {
				t.Fatalf("%+v", got)
			}
			if strings.Contains(r.JSON, "refundSats") != (got.RefundSats !=
				nil) {
				t.Fatalf("refund %+v", got)
			}
		})
	}
}

// TestReceiptRoundTrip checks a charge receipt and a close receipt with
// nothing to refund: refundSats is written as 0, as
// draft-lightning-session requires of a close.
func TestReceiptRoundTrip(t *testing.T) {
	r := NewReceipt(testPreimage.Hash().String(), "cid", testNow)
	h, err := r.Header()
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := Decode(h)
	want := `{"challengeId":"cid","method":"lightning","reference":"` +
		testPreimage.Hash().String() + `","status":"success",` +
		`"timestamp":"2026-03-15T12:00:00Z"}`
	if string(raw) != want {
		t.Fatalf("got  %s\nwant %s", raw, want)
	}
	zero := int64(0)
	r.RefundSats, r.RefundStatus = &zero, RefundSkipped
	h, _ = r.Header()
	got, err := ParseReceipt(h)
	if err != nil || got.RefundSats == nil || *got.RefundSats != 0 ||
		got.RefundStatus != RefundSkipped {
		t.Fatalf("%+v %v", got, err)
	}
	for _, bad := range []string{"", "!!", Encode([]byte(`{}`)),
		Encode([]byte(`{"status":"failed","method":"lightning",` +
			`"reference":"x"}`))} {
		if _, err := ParseReceipt(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}
