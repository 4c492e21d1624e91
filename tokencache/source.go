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

	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
)

// ErrNoToken wraps every failure to produce a token: an acquisition error
// (which is wrapped too, so errors.Is still finds MSAL's or the context's
// error), a caller giving up while waiting, or a Source whose Run has
// returned.
var ErrNoToken = errors.New("no token")

// Credential is how the identity proves itself. Build one with
// ClientSecret, ClientSecretFile, CertificateFile, AssertionFile,
// ManagedIdentity, FederatedManagedIdentity or FederatedWorkloadIdentity;
// each kind lives in a file of its own that also builds its MSAL client.
type Credential interface {
	// authority names where tokens come from, for errors and logs, or
	// says what of opts the credential misses to get them.
	authority(opts Options) (string, error)
	// newAcquirer builds what gets tokens with the credential; New calls
	// it once opts are valid.
	newAcquirer(opts Options) (acquirer, error)
}

// Options configures a Source.
type Options struct {
	// AuthorityHost is the login host, e.g. https://login.microsoftonline.com.
	// MSAL's instance discovery is on for a Microsoft login host and off for
	// any other (a fake Entra, a proxy), which MSAL would otherwise ask
	// login.microsoftonline.com about. Unused by ManagedIdentity.
	AuthorityHost string
	// Tenant is the tenant id, or botframework.com for a MultiTenant bot.
	// Unused by ManagedIdentity.
	Tenant string
	// ClientID is the bot's app id (or the managed identity's client id).
	ClientID string
	// Scope is what the token is for, e.g. https://api.botframework.com/.default.
	// Managed identity takes it as a resource; MSAL strips "/.default".
	Scope string
	// Credential proves the identity; nil is an error.
	Credential Credential
	// HTTPClient is what MSAL uses; nil means a client like MSAL's default.
	// Either way the Source uses a copy that never follows a redirect: the
	// token request carries the credential (a client secret, an assertion),
	// and a 307 or 308 from the authority would have it posted again to
	// whatever host the Location names.
	HTTPClient *http.Client
	// Logger receives Run's lines; nil discards them.
	Logger *zap.Logger
	// Now is the clock; nil means time.Now. Tests inject it so that they
	// never sleep through an expiry. It drives every decision; Run's sleeps
	// between decisions use real timers, and a caller that finds a token
	// due for refresh wakes Run.
	Now func() time.Time
	// RefreshBefore starts the background refresh this long before expiry.
	// 0 means at half-life; a larger value than half the lifetime is
	// clamped to it, so that a short-lived token is not refreshed on every
	// call.
	RefreshBefore time.Duration
	// Tracer traces Run's acquisitions (never a cached token); nil traces
	// nothing.
	Tracer trace.Tracer
}

// Tuning. Package-level so that they are documented in one place.
const (
	// acquireTimeout bounds one acquisition of Run. Callers do not cancel
	// it (others may be waiting on it, and the token is worth having even
	// if they have gone), so it needs a bound of its own; 30 s is MSAL's
	// own default per HTTP call.
	acquireTimeout = 30 * time.Second
	// maxExpirySkew: a token is not handed out during its last moments, in
	// which it could expire on the way to the connector or disagree with
	// the connector's clock. Short, because a token in hand is served to
	// the end of its life while refreshes fail: the refresh at half-life
	// leaves no other reason to stop serving it early.
	maxExpirySkew = 5 * time.Second
	// minRefreshInterval keeps a token endpoint that keeps returning the
	// same token (a managed identity endpoint caches its tokens) from being
	// asked again and again as the remaining lifetime shrinks.
	minRefreshInterval = 5 * time.Second
	// forcedRefreshInterval bounds forced re-acquisitions: after Invalidate
	// dropped a token, a further Invalidate within it is ignored. A
	// connector that answers 401 to every call would otherwise cost one
	// Entra request per call; with it, at most one every 5 s, while callers
	// keep the current token (and the proxy passes the connector's 401 on).
	forcedRefreshInterval = 5 * time.Second
	// failureHold is how long a failed acquisition's error is served to
	// callers with no token before another request is made: at most about
	// one request a second reaches Entra with a broken credential.
	failureHold = time.Second
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
	refreshAt time.Time // from here on Run refreshes it
	staleAt   time.Time // from here on callers wait for a new token
}

// status is what the Source knows: the token and how acquisitions went.
type status struct {
	tok      *token    // nil: none yet, or invalidated
	err      error     // the last acquisition's error; nil after a success
	failedAt time.Time // when err was set
	failures int       // consecutive failed acquisitions
	retryAt  time.Time // when Run tries again after err (back-off); zero after a success
	forcedAt time.Time // when Invalidate last dropped a token; zero if never
	ready    bool      // a token was acquired at least once
	stopped  bool      // Run has returned: no acquisition will come
}

// state is one published status. Run (and Invalidate) replace the whole
// state, so a reader sees a consistent one without a lock.
type state struct {
	status
	done chan struct{} // closed when the next state replaces this one
	// wanted is set by a caller that has no usable token and waits for
	// the next state: Run then acquires without waiting out the back-off.
	wanted atomic.Bool
}

// Source supplies tokens for one identity and scope. Run makes every
// acquisition; Token reads what Run published. Its methods are safe for
// concurrent use.
type Source struct {
	acq           acquirer
	clientID      string
	authority     string // for errors and logs
	now           func() time.Time
	log           *zap.Logger
	refreshBefore time.Duration
	tracer        trace.Tracer // nil: no spans

	state   atomic.Pointer[state]
	mu      sync.Mutex    // serialises the replacing of state
	wake    chan struct{} // capacity 1: tells Run to look at the state again
	running atomic.Bool   // a Run is running

	acquisitions, failed atomic.Uint64 // lifetime counts, for metrics
}

// New returns a Source for opts. It validates opts and builds the MSAL
// client (reading a certificate or secret file) but makes no request: Run
// acquires the first token, and Token waits for it.
func New(opts Options) (*Source, error) {
	authority, err := validate(opts)
	if err != nil {
		return nil, err
	}
	opts.HTTPClient = noRedirects(opts.HTTPClient)
	acq, err := opts.Credential.newAcquirer(opts)
	if err != nil {
		return nil, fmt.Errorf("token source for %s: %w", opts.ClientID, err)
	}
	return newSource(opts, authority, acq), nil
}

// validate checks opts and returns the credential's authority.
func validate(opts Options) (string, error) {
	var problems []string
	if opts.ClientID == "" {
		problems = append(problems, "client id is empty")
	}
	if opts.Scope == "" {
		problems = append(problems, "scope is empty")
	}
	var authority string
	if opts.Credential == nil {
		problems = append(problems, "no credential; use ClientSecret, ClientSecretFile, CertificateFile, AssertionFile, ManagedIdentity, FederatedManagedIdentity or FederatedWorkloadIdentity")
	} else {
		var err error
		if authority, err = opts.Credential.authority(opts); err != nil {
			problems = append(problems, err.Error())
		}
	}
	if len(problems) > 0 {
		return "", fmt.Errorf("token source for %q: %s", opts.ClientID, strings.Join(problems, "; "))
	}
	return authority, nil
}

func newSource(opts Options, authority string, acq acquirer) *Source {
	s := &Source{
		acq:           acq,
		clientID:      opts.ClientID,
		authority:     authority,
		now:           opts.Now,
		log:           opts.Logger,
		refreshBefore: opts.RefreshBefore,
		tracer:        opts.Tracer,
		wake:          make(chan struct{}, 1),
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = zap.NewNop()
	}
	s.state.Store(&state{done: make(chan struct{})})
	return s
}

// Token returns a valid token. With a token past its refresh point it
// returns that token at once (Run is refreshing it); only a caller with no
// usable token waits, for Run's next acquisition (or until ctx is done).
func (s *Source) Token(ctx context.Context) (string, error) {
	// Hot path: no lock, no allocation.
	st := s.state.Load()
	if t := st.tok; t != nil {
		now := s.now()
		if now.Before(t.refreshAt) {
			return t.value, nil
		}
		if now.Before(t.staleAt) {
			// Run's timer may be late (a suspended machine does not
			// count the time it slept) or on another clock than Now.
			if !now.Before(st.retryAt) {
				s.wakeRun()
			}
			return t.value, nil
		}
	}
	return s.wait(ctx)
}

// wait asks Run for a token and waits for the states it publishes until
// one has a usable token or an error. While acquisitions are failing, a
// caller gets the last error at once, with when to try again, instead of
// waiting on a retry that may hang as long as the one before (a hung
// Entra); it also asks Run to retry soon, not after the whole back-off.
func (s *Source) wait(ctx context.Context) (string, error) {
	for {
		st := s.state.Load()
		now := s.now()
		if t := st.tok; t != nil && now.Before(t.staleAt) {
			return t.value, nil
		}
		if st.stopped {
			return "", fmt.Errorf("%w: token source for %s is not running", ErrNoToken, s.clientID)
		}
		// Negative cache: with a broken credential and steady traffic,
		// every caller would otherwise cause a new request the moment the
		// last one failed. Within failureHold the last failure answers; a
		// caller after it asks Run for one more attempt.
		if st.err == nil || !now.Before(st.failedAt.Add(failureHold)) {
			st.wanted.Store(true)
			s.wakeRun()
		}
		if st.err != nil {
			return "", &unavailableError{err: st.err, retryIn: retryIn(st, now)}
		}
		select {
		case <-st.done:
		case <-ctx.Done():
			return "", fmt.Errorf("%w: wait for token for %s: %w", ErrNoToken, s.clientID, context.Cause(ctx))
		}
	}
}

// retryIn says when a caller that got st's error should try again: when
// Run's next attempt for a waiting caller is due, and at least failureHold
// from now (an attempt due or under way takes that long at least).
func retryIn(st *state, now time.Time) time.Duration {
	due := st.failedAt.Add(failureHold)
	if !st.retryAt.IsZero() && st.retryAt.Before(due) {
		due = st.retryAt
	}
	return max(due.Sub(now), failureHold)
}

// unavailableError is a failed acquisition as a caller gets it: the error,
// and when to ask again.
type unavailableError struct {
	err     error
	retryIn time.Duration
}

func (e *unavailableError) Error() string { return e.err.Error() }
func (e *unavailableError) Unwrap() error { return e.err }

// RetryAfter says how long the caller should wait before asking again;
// proxies put it in a Retry-After header.
func (e *unavailableError) RetryAfter() time.Duration { return e.retryIn }

// publish replaces the state with what change makes of its status, unless
// change says there is nothing to change, and wakes the callers waiting on
// the old state. It reports whether it replaced the state.
func (s *Source) publish(change func(*status) bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := s.state.Load()
	next := &state{status: cur.status, done: make(chan struct{})}
	if !change(&next.status) {
		return false
	}
	s.state.Store(next)
	close(cur.done)
	return true
}

// wakeRun tells Run, if it is sleeping, to look at the state again.
func (s *Source) wakeRun() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Acquire makes one acquisition and returns its result without caching it:
// no Run needed, and the Source's token, counts and LastError stay as they
// are. It is for a one-off check such as `sidecar doctor`; the proxy calls
// Token. Errors wrap ErrNoToken and the acquisition's error.
func (s *Source) Acquire(ctx context.Context) (token string, expiresOn time.Time, err error) {
	value, exp, err := s.acq.acquire(ctx)
	if err == nil && !exp.After(s.now()) {
		// Never publish a token that cannot be used: its schedule would say
		// "refresh now" forever.
		err = fmt.Errorf("identity provider returned a token that expired at %s", exp.UTC().Format(time.RFC3339))
	}
	if err != nil {
		return "", time.Time{}, fmt.Errorf("%w: acquire token for %s: %w", ErrNoToken, s.clientID, err)
	}
	return value, exp, nil
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

// Invalidate drops token if it is the cached one, so that Run acquires a new
// one. Call it after the connector answered 401 to a request that carried
// token. If the cache already holds another token (a concurrent 401 for the
// same token got there first), it does nothing: many 401s for one bad token
// cause one acquisition. Within forcedRefreshInterval of the last token it
// dropped it does nothing either, so that a connector refusing every token
// cannot turn each call into a request to Entra.
//
// For a managed identity, the next acquisition bypasses MSAL's cache too, but
// the managed identity endpoint (IMDS, App Service) caches tokens itself and
// may return the same token; only a confidential client is sure to get a new
// one.
func (s *Source) Invalidate(token string) {
	now := s.now()
	if !s.state.Load().mayDrop(token, now) {
		return // the common late 401, or one within the interval: no lock
	}
	if s.publish(func(st *status) bool {
		if !st.mayDrop(token, now) {
			return false
		}
		st.tok, st.forcedAt = nil, now
		return true
	}) {
		s.wakeRun()
	}
}

// mayDrop reports whether Invalidate(token) at now drops the cached token.
func (st *status) mayDrop(token string, now time.Time) bool {
	if st.tok == nil || st.tok.value != token {
		return false
	}
	return st.forcedAt.IsZero() || !now.Before(st.forcedAt.Add(forcedRefreshInterval))
}

// Stats are lifetime counts of token acquisitions, for metrics.
type Stats struct {
	Acquisitions uint64 // requests to the identity provider, failed ones included
	Failures     uint64
}

// Stats returns the source's counts. Acquire's one-off acquisitions are not
// counted.
func (s *Source) Stats() Stats {
	return Stats{Acquisitions: s.acquisitions.Load(), Failures: s.failed.Load()}
}

// Ready reports whether a token was acquired at least once.
func (s *Source) Ready() bool { return s.state.Load().ready }

// LastError returns the error of the last acquisition, or nil if it
// succeeded (or none finished yet).
func (s *Source) LastError() error { return s.state.Load().err }

// ExpiresOn returns when the cached token expires; zero if there is none.
func (s *Source) ExpiresOn() time.Time {
	if t := s.state.Load().tok; t != nil {
		return t.expiresOn
	}
	return time.Time{}
}
