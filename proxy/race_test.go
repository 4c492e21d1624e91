//go:build race

package proxy

// raceEnabled: the race detector changes allocation counts (sync.Pool
// drops items at random under it), so absolute budgets do not hold.
const raceEnabled = true
