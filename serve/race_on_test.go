//go:build race

package serve

// raceEnabled is set under the race detector, whose sync.Pool drops
// what it is handed at random and whose instrumentation allocates.
const raceEnabled = true
