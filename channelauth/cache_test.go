package channelauth_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/botsidecar/sidecar/channelauth"
	"github.com/botsidecar/sidecar/internal/testkit"
)

func TestValidateUnpublishedKeyThenPublished(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	ctx := t.Context()
	s := h.ch.NewUnpublishedSigner("channel-key-next")
	token := s.Sign(h.ch.Claims(appID, serviceURL))
	_, err := h.v.Validate(ctx, bearer(token), channelID, serviceURL)
	wantRejected(t, err, "unknown signing key", token)

	if got := h.ch.KeyFetches(); got != 1 {
		t.Errorf("KeyFetches() = %d; want 1: the cold fetch already was a re-fetch", got)
	}

	// Published now: the unknown kid's re-fetch, unspent so far, finds it.
	h.ch.Publish(s)
	if _, err := h.v.Validate(ctx, bearer(token), channelID, serviceURL); err != nil {
		t.Fatalf("Validate(published key) = %v; want valid", err)
	}
	if got := h.ch.KeyFetches(); got != 2 {
		t.Errorf("KeyFetches() = %d; want 2", got)
	}
}

func TestValidateKeyRotation(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	ctx := t.Context()
	oldKey := h.ch.Signer()
	if _, err := h.v.Validate(ctx, bearer(h.ch.Token(appID, serviceURL)), channelID, serviceURL); err != nil {
		t.Fatalf("Validate(old key) = %v", err)
	}
	h.ch.RotateKey("channel-key-2")
	if _, err := h.v.Validate(ctx, bearer(h.ch.Token(appID, serviceURL)), channelID, serviceURL); err != nil {
		t.Fatalf("Validate(rotated key) = %v; want valid after a re-fetch", err)
	}
	if got := h.ch.KeyFetches(); got != 2 {
		t.Errorf("KeyFetches() = %d; want 2 (initial + unknown kid)", got)
	}
	// The old key is still published: its tokens keep working.
	if _, err := h.v.Validate(ctx, bearer(oldKey.Sign(h.ch.Claims(appID, serviceURL))), channelID, serviceURL); err != nil {
		t.Errorf("Validate(old key after rotation) = %v; want valid", err)
	}
	// The new key's signature under the old kid is checked against the old key.
	forged := h.ch.TokenWith(h.ch.Claims(appID, serviceURL), map[string]any{"kid": oldKey.KID}, "RS256")
	_, err := h.v.Validate(ctx, bearer(forged), channelID, serviceURL)
	wantRejected(t, err, "invalid signature", forged)
}

func TestValidateUnknownKIDsAreRateLimited(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(o *channelauth.Options) { o.UnknownKIDMinInterval = 5 * time.Minute })
	ctx := t.Context()
	if _, err := h.v.Validate(ctx, bearer(h.ch.Token(appID, serviceURL)), channelID, serviceURL); err != nil {
		t.Fatalf("Validate(valid) = %v", err)
	}
	before := h.ch.KeyFetches()
	for range 100 {
		token := h.ch.TokenWith(h.ch.Claims(appID, serviceURL), map[string]any{"kid": randomKID()}, "RS256")
		_, err := h.v.Validate(ctx, bearer(token), channelID, serviceURL)
		wantRejected(t, err, "unknown signing key", token)
	}
	if got := h.ch.KeyFetches() - before; got > 1 {
		t.Errorf("100 random kids caused %d key fetches; want at most 1", got)
	}

	// A real rotation inside the window waits for the window to pass.
	h.ch.RotateKey("channel-key-2")
	token := h.ch.Token(appID, serviceURL)
	_, err := h.v.Validate(ctx, bearer(token), channelID, serviceURL)
	wantRejected(t, err, "unknown signing key", token)
	h.clock.Advance(5*time.Minute + time.Second)
	token = h.ch.Token(appID, serviceURL)
	if _, err := h.v.Validate(ctx, bearer(token), channelID, serviceURL); err != nil {
		t.Fatalf("Validate(rotated key after the window) = %v", err)
	}
	if got := h.ch.KeyFetches() - before; got != 2 {
		t.Errorf("key fetches after the window = %d; want 2", got)
	}
}

func TestValidateUnknownKIDsOnColdCache(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() {
			token := h.ch.TokenWith(h.ch.Claims(appID, serviceURL), map[string]any{"kid": randomKID()}, "RS256")
			_, err := h.v.Validate(t.Context(), bearer(token), channelID, serviceURL)
			if !errors.Is(err, channelauth.ErrUnauthorized) {
				t.Errorf("Validate(random kid) = %v; want ErrUnauthorized", err)
			}
		})
	}
	wg.Wait()
	// The first fetch is the only one: a document fetched during a lookup
	// is not fetched again for that lookup's unknown kid.
	if got := h.ch.KeyFetches(); got > 2 {
		t.Errorf("KeyFetches() = %d; want at most 2", got)
	}
}

func TestValidateConcurrentColdCacheFetchesOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	token := bearer(h.ch.Token(appID, serviceURL))
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for range 50 {
		wg.Go(func() {
			_, err := h.v.Validate(t.Context(), token, channelID, serviceURL)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("Validate() = %v", err)
		}
	}
	if got := h.ch.KeyFetches(); got != 1 {
		t.Errorf("KeyFetches() = %d; want 1", got)
	}
}

func TestValidateRefreshesAfterRefreshInterval(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	ctx := t.Context()
	if _, err := h.v.Validate(ctx, bearer(h.ch.Token(appID, serviceURL)), channelID, serviceURL); err != nil {
		t.Fatalf("Validate() = %v", err)
	}
	h.clock.Advance(23 * time.Hour)
	if _, err := h.v.Validate(ctx, bearer(h.ch.Token(appID, serviceURL)), channelID, serviceURL); err != nil {
		t.Fatalf("Validate(at 23h) = %v", err)
	}
	if got := h.ch.KeyFetches(); got != 1 {
		t.Errorf("KeyFetches() at 23h = %d; want 1", got)
	}
	h.clock.Advance(time.Hour)
	if _, err := h.v.Validate(ctx, bearer(h.ch.Token(appID, serviceURL)), channelID, serviceURL); err != nil {
		t.Fatalf("Validate(at 24h) = %v", err)
	}
	if got := h.ch.KeyFetches(); got != 2 {
		t.Errorf("KeyFetches() at 24h = %d; want 2", got)
	}
}

func TestValidateServesCachedKeysWhileHostIsDown(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	ctx := t.Context()
	if _, err := h.v.Validate(ctx, bearer(h.ch.Token(appID, serviceURL)), channelID, serviceURL); err != nil {
		t.Fatalf("Validate() = %v", err)
	}
	h.ch.SetFailing(true)
	h.clock.Advance(25 * time.Hour)
	for range 10 {
		if _, err := h.v.Validate(ctx, bearer(h.ch.Token(appID, serviceURL)), channelID, serviceURL); err != nil {
			t.Fatalf("Validate(stale keys, host down) = %v; want valid", err)
		}
	}
	// One failed refresh attempt, then back-off: the host is not hammered.
	if got := h.ch.MetadataFetches(); got != 2 {
		t.Errorf("MetadataFetches() = %d; want 2", got)
	}
}

func TestValidateMetadataHostDown(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	h.ch.SetFailing(true)
	ctx := t.Context()
	token := bearer(h.ch.Token(appID, serviceURL))
	for range 3 {
		_, err := h.v.Validate(ctx, token, channelID, serviceURL)
		if !errors.Is(err, channelauth.ErrKeysUnavailable) || errors.Is(err, channelauth.ErrUnauthorized) {
			t.Fatalf("Validate(host down) = %v; want ErrKeysUnavailable only", err)
		}
		if strings.Contains(err.Error(), strings.TrimPrefix(token, "Bearer ")) {
			t.Fatalf("Validate(host down) error contains the token")
		}
	}
	if got := h.ch.MetadataFetches(); got != 1 {
		t.Errorf("MetadataFetches() = %d; want 1 (failures are remembered briefly)", got)
	}

	h.ch.SetFailing(false)
	h.clock.Advance(6 * time.Second)
	if _, err := h.v.Validate(ctx, bearer(h.ch.Token(appID, serviceURL)), channelID, serviceURL); err != nil {
		t.Fatalf("Validate(host back) = %v; want valid", err)
	}
}

func TestValidateMetadataHostUnreachable(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	token := bearer(h.ch.Token(appID, serviceURL))
	h.ch.Close()
	_, err := h.v.Validate(t.Context(), token, channelID, serviceURL)
	if !errors.Is(err, channelauth.ErrKeysUnavailable) {
		t.Fatalf("Validate(host closed) = %v; want ErrKeysUnavailable", err)
	}
}

func TestRunWarmsCacheAndStops(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- h.v.Run(ctx) }()

	testkit.WaitFor(t, 10*time.Second, func() bool { return h.ch.KeyFetches() > 0 }, "Run fetching the keys")
	// The first request now finds the keys in the cache.
	if _, err := h.v.Validate(t.Context(), bearer(h.ch.Token(appID, serviceURL)), channelID, serviceURL); err != nil {
		t.Fatalf("Validate() = %v", err)
	}
	if got := h.ch.KeyFetches(); got != 1 {
		t.Errorf("KeyFetches() = %d; want 1", got)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run() = %v; want nil on cancel", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

func TestRunRetriesAfterFailure(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(o *channelauth.Options) {
		o.UnknownKIDMinInterval = 20 * time.Millisecond // the retry delay of Run
	})
	h.ch.SetFailing(true)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- h.v.Run(ctx) }()
	testkit.WaitFor(t, 10*time.Second, func() bool { return h.ch.MetadataFetches() > 0 }, "Run trying to fetch")
	h.ch.SetFailing(false)
	// The failed attempts never reached the keys. Failures are remembered
	// for a few seconds of the validator's clock; let it run as a real one
	// would.
	testkit.WaitFor(t, 10*time.Second, func() bool {
		h.clock.Advance(10 * time.Second)
		return h.ch.KeyFetches() > 0
	}, "Run retrying after the failure")
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run() = %v", err)
	}
}
