package bake

import "testing"

func TestShortMethod(t *testing.T) {
	if got := shortMethod("/routerrpc.Router/SendPaymentV2"); got !=
		"Router/SendPaymentV2" {
		t.Errorf("shortMethod: %s", got)
	}
}
