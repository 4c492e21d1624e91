package main

import (
	"testing"

	"github.com/botsidecar/sidecar/config"
)

// The connections map picks a call's bot by its upstream: first match
// wins, ServiceUrl a case-insensitive regular expression; an outbound call
// names no audience, so a rule's Audience does not narrow it.
func TestConnectionsRoute(t *testing.T) {
	t.Parallel()
	route := connectionsRoute([]config.ConnectionRule{
		{ServiceURL: `https://smba\.trafficmanager\.net/amer/.*`, Connection: "americas"},
		{ServiceURL: "*", Audience: "00000000-0000-0000-0000-0000000000b2", Connection: "fallback"},
	})
	for give, want := range map[string]string{
		"https://smba.trafficmanager.net/amer/":   "americas",
		"https://SMBA.trafficmanager.net/amer/x/": "americas",
		"https://smba.trafficmanager.net/emea/":   "fallback",
		"https://smba.trafficmanager.net/amer":    "fallback",
	} {
		if got := route(give); got != want {
			t.Errorf("route(%s) = %q; want %q", give, got, want)
		}
	}
	if connectionsRoute(nil) != nil {
		t.Error("connectionsRoute(no rules) is not nil; want no routing step")
	}
}
