package serve

import (
	"math"
	"sort"
)

// MeterConfig is a service's built-in meter (ours; docs/metering.md): an
// OpenAI-compatible API sold by the token, in bundles paid once and drawn
// down per request from the usage the backend reports. Its key names are
// those of Aperture's meterd where meterd has the same knob.
type MeterConfig struct {
	// BundleTokens is how many tokens one bundle buys, at the model's
	// blended rate ((input + output) / 2); default 1,000,000.
	BundleTokens int64 `yaml:"bundletokens" want:"a whole number of tokens"`

	// EstimatedTokens is what a request that names no max_tokens
	// reserves (and costs, when its response reports no usage); default
	// 4096.
	EstimatedTokens int64 `yaml:"estimatedtokens" want:"a whole number of tokens"`

	// DefaultModel prices requests whose body names no model; absent,
	// such a request is refused (400), unless only one model is priced.
	DefaultModel string `yaml:"defaultmodel"`

	// Models are the rates of each model the service sells, by the name
	// requests give in their "model" member. A model not listed is
	// refused (400).
	Models map[string]ModelRates `yaml:"models"`
}

// ModelRates are one model's prices, in msat per token, to three decimal
// places (0.15 is 150 sat per million tokens).
type ModelRates struct {
	InputMsatPerToken  float64 `yaml:"inputmsatpertoken"`
	OutputMsatPerToken float64 `yaml:"outputmsatpertoken"`
}

// The meter's defaults and bounds.
const (
	DefaultBundleTokens    = 1_000_000
	DefaultEstimatedTokens = 4096

	// maxBundleTokens and maxRateMsat keep the msat arithmetic of a
	// bundle (tokens x thousandths of a msat) within int64.
	maxBundleTokens = 1_000_000_000
	maxRateMsat     = 1_000_000
)

// checkMeter validates the meter block and dynamicprice.usagetailbytes,
// filling in the defaults.
func (s *ServiceConfig) checkMeter(bad func(string, ...any)) {
	switch t := s.DynamicPrice.UsageTailBytes; {
	case t < 0:
		bad("dynamicprice.usagetailbytes cannot be negative")
	case t > MaxUsageTailBytes:
		bad("dynamicprice.usagetailbytes %d is above the cap of %d (1 MiB)",
			t, MaxUsageTailBytes)
	case t > 0 && t < 1024:
		bad("dynamicprice.usagetailbytes %d is too small to hold a usage "+
			"chunk: use at least 1024", t)
	}
	m := s.Meter
	if m == nil {
		return
	}
	if s.DynamicPrice.Enabled {
		bad("meter and dynamicprice.enabled exclude each other: the meter " +
			"prices the service itself")
	}
	if s.shadow() {
		bad("meter and mode: shadow exclude each other: a metered " +
			"service has no price per request to report")
	}
	if m.BundleTokens == 0 {
		m.BundleTokens = DefaultBundleTokens
	}
	if m.EstimatedTokens == 0 {
		m.EstimatedTokens = DefaultEstimatedTokens
	}
	switch {
	case m.BundleTokens < 0 || m.BundleTokens > maxBundleTokens:
		bad("meter.bundletokens must be between 1 and %d", maxBundleTokens)
	case m.EstimatedTokens < 0 || m.EstimatedTokens > m.BundleTokens:
		bad("meter.estimatedtokens must be between 1 and bundletokens "+
			"(%d)", m.BundleTokens)
	}
	if len(m.Models) == 0 {
		bad("meter.models needs at least one model with its " +
			"inputmsatpertoken and outputmsatpertoken")
	}
	names := make([]string, 0, len(m.Models))
	for name := range m.Models {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		r := m.Models[name]
		in, okIn := milliMsat(r.InputMsatPerToken)
		out, okOut := milliMsat(r.OutputMsatPerToken)
		switch {
		case name == "":
			bad("meter.models: a model needs a name")
		case !okIn || !okOut:
			bad("meter.models.%s: rates are msat per token from 0 to %d, "+
				"with at most three decimals", name, maxRateMsat)
		case in+out == 0:
			bad("meter.models.%s: a model with no rate would be free; "+
				"serve it without a meter", name)
		case bundlePriceSat(m.BundleTokens, modelRate{in, out}) >
			MaxPriceSat:
			bad("meter.models.%s: a bundle would cost more than an "+
				"invoice can ask", name)
		}
	}
	if m.DefaultModel != "" {
		if _, ok := m.Models[m.DefaultModel]; !ok {
			bad("meter.defaultmodel %q is not one of meter.models",
				m.DefaultModel)
		}
	}
}

// milliMsat returns a rate in msat per token in thousandths of a msat,
// false when it is out of range or finer than a thousandth.
func milliMsat(rate float64) (int64, bool) {
	if math.IsNaN(rate) || rate < 0 || rate > maxRateMsat {
		return 0, false
	}
	m := math.Round(rate * 1000)
	if math.Abs(m-rate*1000) > 1e-6 {
		return 0, false
	}
	return int64(m), true
}

// metered reports whether the service is metered: by its meter block, or
// by an external price server's metered mode.
func (s *ServiceConfig) metered() bool {
	return s.Meter != nil || (s.DynamicPrice.Enabled && s.DynamicPrice.Metered)
}

// anyMetered reports whether some service is metered.
func (c *Config) anyMetered() bool {
	for i := range c.Services {
		if c.Services[i].metered() {
			return true
		}
	}
	return false
}

// usageTailBytes is the service's tail size.
func (s *ServiceConfig) usageTailBytes() int {
	if t := s.DynamicPrice.UsageTailBytes; t > 0 {
		return t
	}
	return DefaultUsageTailBytes
}
