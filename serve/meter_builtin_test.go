package serve

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestMeterArithmetic: the bundle's value rounds down and its price up
// (the sats paid cover the msat held); a usage's cost rounds up per
// direction (the msat drawn cover the msat served), and a total without
// the split is charged at the blend.
func TestMeterArithmetic(t *testing.T) {
	cheap := modelRate{in: 150, out: 600} // 0.15 and 0.6 msat per token
	odd := modelRate{in: 1000, out: 2001}
	for _, tc := range []struct {
		name      string
		got, want int64
	}{
		{"value", bundleValueMsat(1_000_000, cheap), 375_000},
		{"price", bundlePriceSat(1_000_000, cheap), 375},
		{"value rounds down", bundleValueMsat(3, odd), 4},
		{"price rounds up", bundlePriceSat(3, odd), 1},
		{"price at least 1", bundlePriceSat(1, cheap), 1},
		{"split", usageMsat(Usage{PromptTokens: 10, CompletionTokens: 3,
			Split: true}, cheap), 4}, // 1.5 + 1.8 = 3.3
		{"split exact", usageMsat(Usage{PromptTokens: 20,
			CompletionTokens: 10, Split: true}, cheap), 9},
		{"total at the blend", usageMsat(Usage{TotalTokens: 7}, cheap),
			3}, // 7 x 0.375 = 2.625
		{"nothing", usageMsat(Usage{Split: true}, cheap), 0},
		{"reservation at the dearer rate", reservationMsat(100, cheap), 60},
		{"reservation rounds up", reservationMsat(1, cheap), 1},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, tc.got, tc.want)
		}
	}
	// Whatever the split, what is drawn covers what was served.
	for p := int64(0); p < 50; p++ {
		for c := int64(0); c < 50; c++ {
			u := Usage{PromptTokens: p, CompletionTokens: c, Split: true}
			served := p*odd.in + c*odd.out // thousandths of a msat
			if usageMsat(u, odd)*1000 < served {
				t.Fatalf("%+v: drew %d msat for %d/1000", u,
					usageMsat(u, odd), served)
			}
		}
	}
}

func TestMeterConfig(t *testing.T) {
	base := meterConfig("127.0.0.1:9", "")
	for _, tc := range []struct {
		name, from, to, want string
	}{
		{"fine rate", "inputmsatpertoken: 0.5", "inputmsatpertoken: 0.0005",
			"three decimals"},
		{"negative", "inputmsatpertoken: 1", "inputmsatpertoken: -1",
			"from 0"},
		{"free model", "inputmsatpertoken: 1\n          " +
			"outputmsatpertoken: 2", "inputmsatpertoken: 0\n          " +
			"outputmsatpertoken: 0", "free"},
		{"price too", "protocol: http", "protocol: http\n    price: 5",
			"price and meter"},
		{"default model", "bundletokens: 1000",
			"bundletokens: 1000\n      defaultmodel: nope", "not one of"},
		{"estimate above the bundle", "estimatedtokens: 100",
			"estimatedtokens: 5000", "estimatedtokens"},
		{"no models", "      models:\n", "      models: {}\n      x:\n",
			"models"},
		{"tail cap", "protocol: http", "protocol: http\n    dynamicprice:\n" +
			"      usagetailbytes: 2000000", "1 MiB"},
		{"dynamic too", "protocol: http", "protocol: http\n" +
			"    dynamicprice:\n      enabled: true\n      grpcaddress: " +
			"\"127.0.0.1:1\"", "exclude"},
		{"shadow", "protocol: http", "protocol: http\n    mode: shadow",
			"shadow"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			yaml := strings.Replace(base, tc.from, tc.to, 1)
			if yaml == base {
				t.Fatalf("%q not in the config", tc.from)
			}
			_, err := LoadConfig(writeConfig(t, yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("%v; want %q", err, tc.want)
			}
		})
	}
	cfg, err := LoadConfig(writeConfig(t, strings.Replace(base,
		"      bundletokens: 1000\n      estimatedtokens: 100\n", "", 1)))
	if err != nil {
		t.Fatal(err)
	}
	m := cfg.Services[0].Meter
	if m.EstimatedTokens != DefaultEstimatedTokens ||
		m.BundleTokens != DefaultBundleTokens ||
		cfg.Services[0].usageTailBytes() != DefaultUsageTailBytes {
		t.Fatalf("defaults: %+v", m)
	}
}

// TestModelOf reads the model and output bound of request bodies, cut or
// not, and nothing of what is not a JSON object.
func TestModelOf(t *testing.T) {
	long := `{"messages":[{"role":"user","content":"` +
		strings.Repeat("x", 100) + `"}],"model":"m1","max_tokens":64}`
	for _, tc := range []struct {
		body  string
		model string
		max   int64
	}{
		{`{"model":"m1","max_tokens":64}`, "m1", 64},
		{`{"model":"m1","max_completion_tokens":32,"max_tokens":64}`,
			"m1", 64},
		{`{"max_output_tokens":9,"model":"r"}`, "r", 9},
		{long, "m1", 64},
		{`{"model":"m1","messages":[{"content":"cut`, "m1", 0},
		{`{"max_tokens":-4,"model":7}`, "", 0},
		{`{"max_tokens":1.5}`, "", 0},
		{`[1,2]`, "", 0},
		{`not json`, "", 0},
		{``, "", 0},
	} {
		model, max := modelOf([]byte(tc.body))
		if model != tc.model || max != tc.max {
			t.Errorf("%.40q: %q %d, want %q %d", tc.body, model, max,
				tc.model, tc.max)
		}
	}
}

// TestModelOfTakesTheLargestBound: a backend honours one of the output
// bounds a body names (vLLM and OpenAI take max_completion_tokens over
// max_tokens, a JSON decoder the last of a duplicated key), so the
// reservation is the largest of them: a body naming max_tokens 1 and
// max_completion_tokens 100000 must not reserve one token for a stream
// that costs its reservation. A bound beyond any count (above
// maxUsageTokens) reserves more than any bundle holds, not the estimate.
func TestModelOfTakesTheLargestBound(t *testing.T) {
	for _, tc := range []struct {
		body string
		max  int64
	}{
		{`{"model":"m1","max_tokens":1,"max_completion_tokens":100000}`,
			100000},
		{`{"model":"m1","max_output_tokens":100000,"max_tokens":1}`, 100000},
		{`{"model":"m1","max_tokens":1,"max_tokens":100000}`, 100000},
		{`{"model":"m1","max_tokens":100000,"max_tokens":1}`, 100000},
		{`{"model":"m1","max_tokens":2000000000}`, maxUsageTokens + 1},
		{`{"model":"m1","max_tokens":1,"max_tokens":1e30}`,
			maxUsageTokens + 1},
		{`{"model":"m1","max_tokens":100.0}`, 100},
	} {
		if _, max := modelOf([]byte(tc.body)); max != tc.max {
			t.Errorf("%s: bound %d, want %d", tc.body, max, tc.max)
		}
	}
}

// fakeDeadline records the deadlines a windowWriter sets.
type fakeDeadline struct {
	http.ResponseWriter
	set []time.Time
}

func (f *fakeDeadline) SetWriteDeadline(t time.Time) error {
	f.set = append(f.set, t)
	return nil
}

// TestWindowWriter: each write within the window pushes the deadline a
// window past it; after a gap longer than the window, none is pushed
// again.
func TestWindowWriter(t *testing.T) {
	inner := &fakeDeadline{}
	w := withWindow(inner, time.Minute).(*windowWriter)
	start := time.Unix(1000, 0)
	clock := start
	w.now, w.last = func() time.Time { return clock }, start
	for i := range 5 {
		clock = clock.Add(50 * time.Second)
		w.push()
		if len(inner.set) != i+1 || !inner.set[i].Equal(clock.Add(
			time.Minute)) {
			t.Fatalf("write %d: %v", i, inner.set)
		}
	}
	clock = clock.Add(61 * time.Second)
	w.push()
	clock = clock.Add(time.Second)
	w.push()
	if len(inner.set) != 5 {
		t.Fatalf("deadlines pushed after a stall: %v", inner.set)
	}
	if got := withWindow(inner, 0); got != http.ResponseWriter(inner) {
		t.Fatal("a window of 0 wraps")
	}
	if got := withWindow(fakeWriter{}, time.Minute); got != (fakeWriter{}) {
		t.Fatal("a writer without deadlines wrapped")
	}
}

// fakeWriter is a ResponseWriter that cannot move its deadline.
type fakeWriter struct{ http.ResponseWriter }

// TestMintedKeys reads the keys of a 402's challenges: one token for its
// LSAT and L402 values.
func TestMintedKeys(t *testing.T) {
	if _, err := mintedKeys([]string{`L402 macaroon="!!", invoice="x"`}); err == nil {
		t.Fatal("a bad macaroon read")
	}
	if _, err := mintedKeys([]string{`Payment id="x", realm="r", ` +
		`method="lightning", intent="charge", request="e30"`}); err == nil ||
		errors.Is(err, ErrMeterRequest) {
		t.Fatalf("a charge without a hash: %v", err)
	}
}

// TestManifestMetered: the discovery manifest lists a metered service's
// price as dynamic (the bundle's price depends on the model), not as a
// fixed price of 0.
func TestManifestMetered(t *testing.T) {
	cfg, err := LoadConfig(writeConfig(t, meterConfig("127.0.0.1:9", "")))
	if err != nil {
		t.Fatal(err)
	}
	e := manifestEntry(cfg.Services[0], []string{"L402"})
	if p := e.Resources[0].Pricing; p.Model != "dynamic" || p.PriceMsat != nil {
		t.Fatalf("pricing %+v", p)
	}
}

// TestSummaryMetered: the start-up summary says a metered service is
// sold in bundles, not at 0 sat.
func TestSummaryMetered(t *testing.T) {
	cfg, err := LoadConfig(writeConfig(t, meterConfig("127.0.0.1:9", "")))
	if err != nil {
		t.Fatal(err)
	}
	if got := priceOf(cfg.Services[0]); got != "metered: bundles of 1000 "+
		"tokens, 2 models" {
		t.Fatalf("price %q", got)
	}
}

// TestMeterRequestReadsWhatTheBackendReads: a body the backend decodes
// and the meter could not (a UTF-8 byte order mark before the object,
// which Python's json.loads takes; a compressed request body) would be
// priced as the service's default model with the estimate while the
// backend ran the model it names. The mark is skipped; a compressed body
// cannot be metered (400).
func TestMeterRequestReadsWhatTheBackendReads(t *testing.T) {
	bom := "\ufeff" + `{"model":"big","max_tokens":7}`
	if model, max := modelOf([]byte(bom)); model != "big" || max != 7 {
		t.Errorf("after a byte order mark: %q %d", model, max)
	}
	r := httptest.NewRequest(http.MethodPost, "/v1/chat/completions",
		strings.NewReader("\x1f\x8b compressed"))
	r.Header.Set("Content-Encoding", "gzip")
	if _, err := (&flow{}).meterRequest(r, "llm"); !errors.Is(err,
		ErrMeterRequest) {
		t.Errorf("a gzip request body: %v, want ErrMeterRequest", err)
	}
}

// TestMeterReadsTheWholeBody: the model and the output bound are read
// from the whole body, not its first MeterBodyBytes: a body whose
// "model" comes after a long prompt (as the OpenAI Python SDK writes
// it: messages first) is metered at the model the backend runs, and the
// backend still gets every byte. A body over MeterMaxBodyBytes cannot
// be metered (400).
func TestMeterReadsTheWholeBody(t *testing.T) {
	prompt := strings.Repeat("x", MeterBodyBytes+10_000)
	body := `{"model":"cheap","messages":[{"role":"user","content":"` +
		prompt + `"}],"model":"dear","max_tokens":900}`
	r := httptest.NewRequest(http.MethodPost, "/v1/chat/completions",
		strings.NewReader(body))
	req, err := (&flow{}).meterRequest(r, "llm")
	if err != nil {
		t.Fatal(err)
	}
	if req.Model != "dear" || req.MaxTokens != 900 {
		t.Errorf("metered as %q with %d tokens, want dear and 900",
			req.Model, req.MaxTokens)
	}
	if !req.Truncated || len(req.Body) != MeterBodyBytes {
		t.Errorf("the price server's prefix: %d bytes, truncated %v",
			len(req.Body), req.Truncated)
	}
	got, err := io.ReadAll(r.Body)
	if err != nil || string(got) != body {
		t.Errorf("the backend got %d bytes of %d: %v", len(got), len(body),
			err)
	}

	huge := httptest.NewRequest(http.MethodPost, "/v1/chat/completions",
		io.MultiReader(strings.NewReader(`{"messages":"`),
			strings.NewReader(strings.Repeat("y", MeterMaxBodyBytes)),
			strings.NewReader(`","model":"dear"}`)))
	if _, err := (&flow{}).meterRequest(huge, "llm"); !errors.Is(err,
		ErrMeterRequest) {
		t.Errorf("a body over MeterMaxBodyBytes: %v, want ErrMeterRequest",
			err)
	}
}
