package channelauth_test

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/botsidecar/sidecar/channelauth"
	"github.com/botsidecar/sidecar/internal/fakes"
	"github.com/botsidecar/sidecar/internal/testkit"
)

const (
	appID      = "7f0e7a9c-1d2b-4c3d-8e4f-0123456789ab"
	tenantID   = "3b1e5c2a-9f8d-4e7c-a6b5-c4d3e2f1a0b9"
	serviceURL = "https://smba.trafficmanager.net/amer/"
	channelID  = "msteams"
)

// t0 is the fixed test time; tokens are minted and judged against it.
var t0 = testkit.Epoch()

// harness is one fake channel, a clock shared by it and the validator, and
// a validator pointed at it.
type harness struct {
	ch    *fakes.Channel
	clock *testkit.Clock
	v     *channelauth.Validator
}

func newHarness(t testing.TB, mod func(*channelauth.Options)) *harness {
	t.Helper()
	clock := testkit.NewClock()
	ch := fakes.NewChannel(fakes.ChannelOptions{TenantID: tenantID, Now: clock.Now})
	t.Cleanup(ch.Close)
	opts := channelauth.Options{
		AppID:             appID,
		OpenIDMetadataURL: ch.MetadataURL(),
		ChannelIssuer:     ch.Issuer(),
		AuthorityHost:     ch.URL,
		TenantID:          tenantID,
		HTTPClient:        ch.Client(),
		Now:               clock.Now,
	}
	if mod != nil {
		mod(&opts)
	}
	v, err := channelauth.New(opts)
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	return &harness{ch: ch, clock: clock, v: v}
}

// token mints a channel token with the standard claims edited by mod.
func (h *harness) token(mod func(claims map[string]any)) string {
	claims := h.ch.Claims(appID, serviceURL)
	if mod != nil {
		mod(claims)
	}
	return h.ch.TokenWith(claims, nil, "RS256")
}

func bearer(token string) string { return "Bearer " + token }

// flipSignatureByte changes one character in the middle of the signature.
func flipSignatureByte(token string) string {
	i := strings.LastIndexByte(token, '.') + 10
	b := []byte(token)
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

func randomKID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// wantRejected checks that err is a rejection with the given reason and
// that the token does not appear in it.
func wantRejected(t *testing.T, err error, reason, token string) {
	t.Helper()
	if !errors.Is(err, channelauth.ErrUnauthorized) {
		t.Fatalf("Validate() = %v; want ErrUnauthorized (%s)", err, reason)
	}
	if !strings.Contains(err.Error(), reason) {
		t.Errorf("Validate() = %q; want reason %q", err, reason)
	}
	for _, seg := range strings.Split(token, ".") {
		if len(seg) > 8 && strings.Contains(err.Error(), seg) {
			t.Errorf("Validate() error %q contains part of the token", err)
		}
	}
}
