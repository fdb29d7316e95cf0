//go:build race

package relay_test

// raceEnabled reports a build with the race detector, which allocates
// where a plain build does not and drops pooled buffers at random.
const raceEnabled = true
