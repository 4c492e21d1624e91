package main

import (
	"slices"
	"testing"
)

// Every listener newApp binds drains in shutdownOrder, once: a listener
// missing from it would never be shut down gracefully.
func TestShutdownOrderCoversEveryListener(t *testing.T) {
	// Every optional listener on, so that all are bound.
	s := startStack(t, map[string]string{"SIDECAR_AUTH_SIDECAR_ADDR": "127.0.0.1:0"})
	var bound []string
	for _, srv := range s.app.servers {
		bound = append(bound, srv.name)
	}
	slices.Sort(bound)
	want := slices.Clone(shutdownOrder[:])
	slices.Sort(want)
	if !slices.Equal(bound, want) {
		t.Errorf("listeners %v; shutdownOrder drains %v", bound, shutdownOrder)
	}
	if shutdownOrder[0] != "inbound" || shutdownOrder[len(shutdownOrder)-1] != "admin" {
		t.Errorf("shutdownOrder = %v; want inbound first (its bot replies need outbound) and admin last", shutdownOrder)
	}
	if slices.Index(shutdownOrder[:], "authsidecar") < slices.Index(shutdownOrder[:], "outbound") {
		t.Errorf("shutdownOrder = %v; want authsidecar after outbound (the bot's last sends may need a token)", shutdownOrder)
	}
}
