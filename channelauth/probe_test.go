package channelauth_test

import (
	"errors"
	"testing"

	"github.com/botsidecar/sidecar/channelauth"
)

func TestProbeReportsTheKeys(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	r, err := h.v.Probe(t.Context(), "msteams", "no-such-channel")
	if err != nil {
		t.Fatalf("Probe() = %v", err)
	}
	if r.Keys != 1 || r.KeysFor["msteams"] != 1 || r.KeysFor["no-such-channel"] != 0 {
		t.Errorf("Probe() keys = %d, for = %v; want 1 key, endorsed for msteams only", r.Keys, r.KeysFor)
	}
	if r.JWKSURI == "" || r.Issuer != h.ch.Issuer() || r.ExpectedIssuer != h.ch.Issuer() {
		t.Errorf("Probe() = %+v; want the jwks uri and issuer %s", r, h.ch.Issuer())
	}
	// The probe's keys serve tokens: validation needs no further fetch.
	h.ch.Close()
	if _, err := h.v.ValidateToken(t.Context(), bearer(h.token(nil))); err != nil {
		t.Errorf("ValidateToken() after Probe = %v; want the probed keys used", err)
	}
}

func TestProbeFailsWithoutKeys(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	h.ch.Close()
	if _, err := h.v.Probe(t.Context(), "msteams"); !errors.Is(err, channelauth.ErrKeysUnavailable) {
		t.Errorf("Probe() with the channel down = %v; want ErrKeysUnavailable", err)
	}
}
