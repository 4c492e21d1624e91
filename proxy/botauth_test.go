package proxy

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// recordingAuthorizer vouches with a fixed header and records the
// audiences and serviceUrls it was asked for.
type recordingAuthorizer struct {
	mu   sync.Mutex
	got  []string
	fail bool
}

func (a *recordingAuthorizer) BotAuthorization(audience, serviceURL string) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.got = append(a.got, audience+" "+serviceURL)
	if a.fail {
		return "", errors.New("sign token: no key")
	}
	return "Bearer sidecar-signed", nil
}

func TestInboundBotAuthorization(t *testing.T) {
	t.Parallel()
	auth := &recordingAuthorizer{}
	h := newInboundHarness(t, okBot, func(o *InboundOptions) {
		o.BotAuth = auth
		o.Identities = []Identity{{Primary: true, AppID: testAppID, BotURL: o.BotURL, OutboundURL: o.OutboundURL}}
	})
	resp, body := h.post("Bearer good", inboundActivity, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d %s; want 200", resp.StatusCode, body)
	}
	if len(h.botGot) != 1 {
		t.Fatalf("bot called %d times; want 1", len(h.botGot))
	}
	// The sidecar's token replaces the channel's, never both.
	if got := h.botGot[0].Header.Values("Authorization"); len(got) != 1 || got[0] != "Bearer sidecar-signed" {
		t.Errorf("bot Authorization = %q; want [Bearer sidecar-signed]", got)
	}
	// The token is for the bot's app and vouches for the serviceUrl the
	// bot sees.
	if want := testAppID + " http://127.0.0.1:3979/"; len(auth.got) != 1 || auth.got[0] != want {
		t.Errorf("BotAuthorization called with %q; want [%s]", auth.got, want)
	}
}

func TestInboundBotAuthorizationFailureForwardsNothing(t *testing.T) {
	t.Parallel()
	h := newInboundHarness(t, okBot, func(o *InboundOptions) { o.BotAuth = &recordingAuthorizer{fail: true} })
	resp, body := h.post("Bearer good", inboundActivity, nil)
	if resp.StatusCode != http.StatusInternalServerError {
		t.Errorf("status = %d %s; want 500", resp.StatusCode, body)
	}
	if len(h.botGot) != 0 {
		t.Errorf("bot called %d times with an unsigned activity; want 0", len(h.botGot))
	}
	if strings.Contains(body, "no key") {
		t.Errorf("the internal error reached the channel: %s", body)
	}
}

func TestLocalRefusal(t *testing.T) {
	t.Parallel()
	loopback := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5178}
	podIP := &net.TCPAddr{IP: net.IPv4(10, 244, 1, 17), Port: 5178}
	tests := []struct {
		name   string
		local  net.Addr
		remote string
		host   string
		header http.Header
		want   string // part of the refusal; "" for none
	}{
		{"loopback caller", loopback, "127.0.0.1:40000", "127.0.0.1:5178", nil, ""},
		{"localhost", loopback, "[::1]:40000", "localhost:5178", nil, ""},
		{"configured name", loopback, "127.0.0.1:40000", "sidecar.local:5178", nil, ""},
		{"remote peer", loopback, "10.244.1.9:40000", "127.0.0.1:5178", nil, "not on loopback"},
		{"arrives on the pod ip", podIP, "127.0.0.1:40000", "10.244.1.17:5178", nil, "not on loopback"},
		{"no local address", nil, "127.0.0.1:40000", "127.0.0.1:5178", nil, "not on loopback"},
		{"foreign host", loopback, "127.0.0.1:40000", "attacker.example:5178", nil, "Host"},
		{"origin", loopback, "127.0.0.1:40000", "127.0.0.1:5178", http.Header{"Origin": {"https://attacker.example"}}, "Origin"},
		{"sec-fetch-site", loopback, "127.0.0.1:40000", "127.0.0.1:5178", http.Header{"Sec-Fetch-Site": {"cross-site"}}, "Sec-Fetch-Site"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodGet, "/healthz", nil)
			if tt.local != nil {
				r = r.WithContext(context.WithValue(r.Context(), http.LocalAddrContextKey, tt.local))
			}
			r.RemoteAddr, r.Host = tt.remote, tt.host
			for k, v := range tt.header {
				r.Header[k] = v
			}
			got := LocalRefusal(r, "sidecar.local")
			if (got == "") != (tt.want == "") || !strings.Contains(got, tt.want) {
				t.Errorf("LocalRefusal = %q; want %q", got, tt.want)
			}
		})
	}
}
