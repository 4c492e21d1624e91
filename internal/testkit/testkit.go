// Package testkit is what the tests of several packages share: a fake
// clock, a wait for a condition with a deadline, and a real redis-server
// on a loopback port. Only tests import it (its own test checks that no
// product package does).
package testkit

import (
	"testing"
	"time"
)

// pollInterval is how often Poll asks: fast enough that a waiting test
// costs little, slow enough that a condition doing a loopback HTTP call
// does not load a 2-core machine.
const pollInterval = 10 * time.Millisecond

// Poll calls cond until it returns true or timeout has passed, and reports
// whether it did. It never touches a testing.TB, so a goroutine other than
// the test's may use it. Under testing/synctest its sleeps are the
// bubble's.
func Poll(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if !time.Now().Before(deadline) {
			return false
		}
		time.Sleep(pollInterval)
	}
}

// WaitFor fails the test unless cond returns true within timeout; what
// says what was awaited ("the sidecar ready", "a call at the connector").
// cond runs on the test's goroutine, so it may itself fail the test (a
// process that exited, say).
func WaitFor(tb testing.TB, timeout time.Duration, cond func() bool, what string) {
	tb.Helper()
	if !Poll(timeout, cond) {
		tb.Fatalf("%s: not within %v", what, timeout)
	}
}
