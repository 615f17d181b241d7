package bolt11

import "slices"

// knownFeatures are the feature bits lnd v0.21.3-beta knows
// (lnwire.Features), in order; TestKnownFeaturesAreLnds holds the list to
// it.
var knownFeatures = []int{0, 1, 3, 4, 5, 6, 7, 8, 9, 12, 13, 14, 15, 16,
	17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 30, 31, 34, 35, 38, 39,
	44, 45, 46, 47, 48, 49, 50, 51, 54, 55, 60, 61, 80, 81, 160, 161,
	180, 181, 260, 261, 262, 263, 2022, 2023, 2025, 2026}

// known reports whether lnd knows a feature bit.
func known(bit int) bool {
	_, ok := slices.BinarySearch(knownFeatures, bit)
	return ok
}
