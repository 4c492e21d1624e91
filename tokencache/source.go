package tokencache

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// ErrNoToken wraps every failure to produce a token: an acquisition error
// (which is wrapped too, so errors.Is still finds MSAL's or the context's
// error) or a caller giving up while waiting.
var ErrNoToken = errors.New("no token")

// Credential is how the identity proves itself. Exactly one field is set.
type Credential struct {
	// Secret is a client secret.
	Secret string
	// SecretFile holds a client secret. It is read at each acquisition, so a
	// mounted Kubernetes secret that rotates in place is picked up without a
	// restart.
	SecretFile string
	// CertFile is a PEM file with the certificate (chain) and its unencrypted
	// RSA private key. It is read once, at New.
	CertFile string
	// AssertionFile holds a federated client assertion (workload identity).
	// It is re-read at each acquisition because the kubelet rotates it.
	AssertionFile string
	// ManagedIdentity gets tokens from the user-assigned managed identity
	// whose client id is Options.ClientID (MicrosoftAppType=UserAssignedMSI).
	ManagedIdentity bool
}

// Options configures a Source.
type Options struct {
	// AuthorityHost is the login host, e.g. https://login.microsoftonline.com.
	AuthorityHost string
	// Tenant is the tenant id, or botframework.com for a MultiTenant bot.
	Tenant string
	// ClientID is the bot's app id (or the managed identity's client id).
	ClientID string
	// Scope is what the token is for, e.g. https://api.botframework.com/.default.
	// Managed identity takes it as a resource; MSAL strips "/.default".
	Scope string
	// Credential proves the identity.
	Credential Credential
	// InstanceDiscovery must be false for an authority host that is not a
	// Microsoft login host: MSAL would ask login.microsoftonline.com about it.
	InstanceDiscovery bool
	// HTTPClient is what MSAL uses; nil means MSAL's default.
	HTTPClient *http.Client
	// Logger receives the background refresh loop's lines; nil discards them.
	Logger *zap.Logger
	// Now is the clock; nil means time.Now. Tests inject it so that they
	// never sleep through an expiry. It drives every decision; Run's sleeps
	// between decisions use real timers.
	Now func() time.Time
	// RefreshBefore starts the background refresh this long before expiry.
	// 0 means at half-life; a larger value than half the lifetime is
	// clamped to it, so that a short-lived token is not refreshed on every
	// call.
	RefreshBefore time.Duration
}

// Tuning. Package-level so that they are documented in one place.
const (
	// acquireTimeout bounds one acquisition. It runs detached from the
	// caller that started it (others may be waiting on it), so it needs a
	// bound of its own; 30 s is MSAL's own default per HTTP call.
	acquireTimeout = 30 * time.Second
	// maxExpirySkew: a token is not handed out during its last moments, in
	// which it could expire on the way to the connector.
	maxExpirySkew = 30 * time.Second
	// minRefreshInterval keeps a token endpoint that keeps returning the
	// same token (a managed identity endpoint caches its tokens) from being
	// asked again and again as the remaining lifetime shrinks.
	minRefreshInterval = 5 * time.Second
)

// acquirer gets a token from the identity provider, always fresh: the Source
// is the cache. It is the seam between the caching logic (tested with a fake
// acquirer and a fake clock) and MSAL (tested against the fake Entra).
type acquirer interface {
	acquire(ctx context.Context) (token string, expiresOn time.Time, err error)
}

// token is immutable once published, so the hot path reads it without a lock.
// The schedule is computed once, at acquisition, so that Token compares
// instants and does no arithmetic.
type token struct {
	value     string
	expiresOn time.Time
	refreshAt time.Time // from here on a caller starts one background refresh
	staleAt   time.Time // from here on callers wait for a new token
}

// flight is one acquisition. Its result fields are written before done is
// closed and only read after.
type flight struct {
	done   chan struct{}
	cancel context.CancelFunc
	tok    *token
	err    error
	// for Run's log line
	attempt int
	retryIn time.Duration
}

// Source supplies tokens for one identity and scope. Its methods are safe
// for concurrent use.
type Source struct {
	acq           acquirer
	clientID      string
	authority     string // for errors and logs
	now           func() time.Time
	log           *zap.Logger
	refreshBefore time.Duration

	tok   atomic.Pointer[token]
	busy  atomic.Bool // an acquisition is in flight; lets callers in the refresh window skip the lock
	ready atomic.Bool
	wake  chan struct{} // capacity 1: tells Run that the token changed

	mu       sync.Mutex
	flight   *flight // at most one per Source
	failures int     // consecutive failed acquisitions
	retryAt  time.Time
	lastErr  error

	acquisitions, failed atomic.Uint64 // lifetime counts, for metrics
	failedAt             time.Time     // when lastErr was set
}

// New returns a standalone Source for opts. It validates opts and builds the
// MSAL client (reading CertFile) but makes no request: call Run, or let the
// first Token call acquire.
func New(opts Options) (*Source, error) {
	if err := validate(opts); err != nil {
		return nil, err
	}
	acq, err := newAcquirer(opts)
	if err != nil {
		return nil, fmt.Errorf("token source for %s: %w", opts.ClientID, err)
	}
	return newSource(opts, acq), nil
}

func validate(opts Options) error {
	var problems []string
	if opts.ClientID == "" {
		problems = append(problems, "client id is empty")
	}
	if opts.Scope == "" {
		problems = append(problems, "scope is empty")
	}
	c := opts.Credential
	n := 0
	for _, set := range []bool{c.Secret != "", c.SecretFile != "", c.CertFile != "", c.AssertionFile != "", c.ManagedIdentity} {
		if set {
			n++
		}
	}
	if n != 1 {
		problems = append(problems, fmt.Sprintf("%d credentials set; want exactly one of secret, secret file, certificate file, assertion file, managed identity", n))
	}
	if !c.ManagedIdentity && (opts.AuthorityHost == "" || opts.Tenant == "") {
		problems = append(problems, "authority host and tenant are required")
	}
	if len(problems) > 0 {
		return fmt.Errorf("token source for %q: %s", opts.ClientID, strings.Join(problems, "; "))
	}
	return nil
}

func newSource(opts Options, acq acquirer) *Source {
	s := &Source{
		acq:           acq,
		clientID:      opts.ClientID,
		authority:     authorityOf(opts),
		now:           opts.Now,
		log:           opts.Logger,
		refreshBefore: opts.RefreshBefore,
		wake:          make(chan struct{}, 1),
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = zap.NewNop()
	}
	return s
}

// failureHold is how long a failed acquisition's error is served to
// callers with no token before another request is made: at most about one
// request a second reaches Entra with a broken credential.
const failureHold = time.Second

// Token returns a valid token, acquiring one if there is none. With a token
// past its refresh point it returns that token at once and starts one
// background refresh; only a caller with no usable token waits, and then on
// the single acquisition in flight (or until ctx is done).
func (s *Source) Token(ctx context.Context) (string, error) {
	// Hot path: no lock, no allocation.
	if t := s.tok.Load(); t != nil {
		now := s.now()
		if now.Before(t.refreshAt) {
			return t.value, nil
		}
		if now.Before(t.staleAt) {
			if !s.busy.Load() {
				s.refreshAhead(ctx, now)
			}
			return t.value, nil
		}
	}
	return s.await(ctx)
}

// refreshAhead starts a background refresh unless one is running or the
// last one failed too recently (back-off).
func (s *Source) refreshAhead(ctx context.Context, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.flight == nil && !now.Before(s.retryAt) {
		s.startLocked(ctx)
	}
}

// await waits for the acquisition in flight, starting one if there is none.
// A waiting caller does not honour the back-off: it has no token to use, and
// only one acquisition runs at a time anyway.
func (s *Source) await(ctx context.Context) (string, error) {
	s.mu.Lock()
	// An acquisition may have finished since the caller looked.
	if t := s.tok.Load(); t != nil && s.now().Before(t.staleAt) {
		s.mu.Unlock()
		return t.value, nil
	}
	f := s.flight
	if f == nil {
		// Negative cache: with a broken credential and steady traffic,
		// every waiter would otherwise start a new request the moment the
		// last one failed. Answer from the last failure for a moment.
		if s.lastErr != nil && s.now().Before(s.failedAt.Add(failureHold)) {
			err := s.lastErr
			s.mu.Unlock()
			return "", err
		}
		f = s.startLocked(ctx)
	}
	s.mu.Unlock()

	select {
	case <-f.done:
		if f.err != nil {
			return "", f.err
		}
		return f.tok.value, nil
	case <-ctx.Done():
		return "", fmt.Errorf("%w: wait for token for %s: %w", ErrNoToken, s.clientID, context.Cause(ctx))
	}
}

// startLocked starts an acquisition. The caller holds s.mu.
//
// The acquisition does not use the starting caller's cancellation: others
// may be waiting for it, and the token is worth having even if that caller
// has gone. It keeps the caller's values and gets a bound of its own.
func (s *Source) startLocked(ctx context.Context) *flight {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), acquireTimeout)
	f := &flight{done: make(chan struct{}), cancel: cancel}
	s.flight = f
	s.busy.Store(true)
	go func() {
		defer cancel()
		value, exp, err := s.acq.acquire(actx)
		s.finish(f, value, exp, err)
	}()
	return f
}

// finish publishes an acquisition's result and wakes its waiters.
func (s *Source) finish(f *flight, value string, exp time.Time, err error) {
	now := s.now()
	if err == nil && !exp.After(now) {
		// Never publish a token that cannot be used: its schedule would say
		// "refresh now" forever.
		err = fmt.Errorf("identity provider returned a token that expired at %s", exp.UTC().Format(time.RFC3339))
	}
	s.acquisitions.Add(1)
	if err != nil {
		s.failed.Add(1)
	}
	s.mu.Lock()
	if err != nil {
		s.failures++
		f.attempt = s.failures
		f.retryIn = backoff(s.failures)
		s.retryAt = now.Add(f.retryIn)
		f.err = fmt.Errorf("%w: acquire token for %s: %w", ErrNoToken, s.clientID, err)
		s.lastErr = f.err
		s.failedAt = now
	} else {
		f.tok = schedule(value, exp, now, s.refreshBefore)
		s.tok.Store(f.tok)
		s.failures, s.retryAt, s.lastErr = 0, time.Time{}, nil
		s.ready.Store(true)
	}
	s.flight = nil
	s.busy.Store(false)
	s.mu.Unlock()
	close(f.done)
	s.notify()
}

// schedule decides when a token is refreshed and when it stops being served.
//
// Default: refresh at half-life. For Entra's 60 to 90 minute tokens that is
// 30 to 45 minutes before expiry, far outside MSAL's 5-minute margin and any
// clock skew; a 24-hour managed identity token is refreshed after 12 hours.
// A short-lived token gets the same proportion, not a fixed margin that
// could exceed its lifetime and make every call a refresh.
func schedule(value string, exp, now time.Time, refreshBefore time.Duration) *token {
	life := exp.Sub(now)
	stale := exp.Add(-min(maxExpirySkew, life/4))
	window := life / 2
	if refreshBefore > 0 && refreshBefore < window {
		window = refreshBefore
	}
	refresh := exp.Add(-window)
	if floor := now.Add(minRefreshInterval); refresh.Before(floor) {
		refresh = floor
	}
	if refresh.After(stale) {
		refresh = stale
	}
	return &token{value: value, expiresOn: exp, refreshAt: refresh, staleAt: stale}
}

// Invalidate drops token if it is the cached one, so that the next Token
// call acquires a new one. Call it after the connector answered 401 to a
// request that carried token. If the cache already holds another token (a
// concurrent 401 for the same token got there first), it does nothing: many
// 401s for one bad token cause one acquisition.
//
// For a managed identity, the next acquisition bypasses MSAL's cache too, but
// the managed identity endpoint (IMDS, App Service) caches tokens itself and
// may return the same token; only a confidential client is sure to get a new
// one.
func (s *Source) Invalidate(token string) {
	t := s.tok.Load()
	if t == nil || t.value != token {
		return
	}
	if s.tok.CompareAndSwap(t, nil) {
		s.notify()
	}
}

// notify tells Run, if it is sleeping, that the token changed.
func (s *Source) notify() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Stats are lifetime counts of token acquisitions, for metrics.
type Stats struct {
	Acquisitions uint64 // requests to the identity provider, failed ones included
	Failures     uint64
}

// Stats returns the source's counts.
func (s *Source) Stats() Stats {
	return Stats{Acquisitions: s.acquisitions.Load(), Failures: s.failed.Load()}
}

// Ready reports whether a token was acquired at least once.
func (s *Source) Ready() bool { return s.ready.Load() }

// LastError returns the error of the last acquisition, or nil if it
// succeeded (or none finished yet).
func (s *Source) LastError() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastErr
}

// ExpiresOn returns when the cached token expires; zero if there is none.
func (s *Source) ExpiresOn() time.Time {
	if t := s.tok.Load(); t != nil {
		return t.expiresOn
	}
	return time.Time{}
}
