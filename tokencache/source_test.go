package tokencache

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/botsidecar/sidecar/internal/testkit"
)

const testApp = "00000000-0000-0000-0000-0000000000a1"

// fakeAcquirer counts acquisitions and delegates to fn, which gets the
// 1-based number of the call.
type fakeAcquirer struct {
	calls atomic.Int32
	mu    sync.Mutex
	fn    func(ctx context.Context, n int) (string, time.Time, error)
}

func (a *fakeAcquirer) acquire(ctx context.Context) (string, time.Time, error) {
	n := int(a.calls.Add(1))
	a.mu.Lock()
	fn := a.fn
	a.mu.Unlock()
	return fn(ctx, n)
}

func (a *fakeAcquirer) set(fn func(ctx context.Context, n int) (string, time.Time, error)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.fn = fn
}

func (a *fakeAcquirer) Calls() int { return int(a.calls.Load()) }

// tokensFor returns an fn that issues "tok-N" valid for life on now's clock.
func tokensFor(now func() time.Time, life time.Duration) func(context.Context, int) (string, time.Time, error) {
	return func(_ context.Context, n int) (string, time.Time, error) {
		return fmt.Sprintf("tok-%d", n), now().Add(life), nil
	}
}

// newTestSource returns a Source over acq whose Run runs until the test
// ends.
func newTestSource(t testing.TB, now func() time.Time, acq acquirer) *Source {
	t.Helper()
	s := newSource(Options{ClientID: testApp, Now: now}, testAuthority, acq)
	start(t, s)
	return s
}

const testAuthority = "https://login.test/t1"

// start runs s.Run until the test ends and waits for it to return.
func start(t testing.TB, s *Source) {
	t.Helper()
	t.Cleanup(startRun(t.Context(), t, s))
}

// startRun runs s.Run until ctx is done; the function it returns waits for
// Run to return.
func startRun(ctx context.Context, t testing.TB, s *Source) (wait func()) {
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	return func() {
		if err := <-done; err != nil {
			t.Errorf("Run() = %v; want nil after cancel", err)
		}
	}
}

func mustToken(t *testing.T, s *Source, want string) {
	t.Helper()
	got, err := s.Token(context.Background())
	if err != nil || got != want {
		t.Fatalf("Token() = %q, %v; want %q", got, err, want)
	}
}

func TestTokenCachedUntilRefreshDue(t *testing.T) {
	t.Parallel()
	clock := testkit.NewClock()
	acq := &fakeAcquirer{fn: tokensFor(clock.Now, time.Hour)}
	s := newTestSource(t, clock.Now, acq)

	for range 50 {
		mustToken(t, s, "tok-1")
	}
	clock.Advance(29 * time.Minute)
	mustToken(t, s, "tok-1")
	if got := acq.Calls(); got != 1 {
		t.Errorf("acquisitions = %d; want 1", got)
	}
	if !s.Ready() || !s.ExpiresOn().Equal(clock.Now().Add(31*time.Minute)) {
		t.Errorf("Ready() = %v, ExpiresOn() = %v; want true and the token's expiry", s.Ready(), s.ExpiresOn())
	}
}

func TestTokenColdCacheSingleFlight(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		acq := &fakeAcquirer{fn: func(_ context.Context, n int) (string, time.Time, error) {
			<-release
			return fmt.Sprintf("tok-%d", n), time.Now().Add(time.Hour), nil
		}}
		s := newTestSource(t, nil, acq)

		const callers = 40
		got := make(chan string, callers)
		for range callers {
			go func() {
				v, err := s.Token(context.Background())
				if err != nil {
					t.Errorf("Token() error = %v", err)
				}
				got <- v
			}()
		}
		synctest.Wait() // every caller is waiting on the one acquisition
		if n := acq.Calls(); n != 1 {
			t.Fatalf("acquisitions in flight = %d; want 1", n)
		}
		close(release)
		for range callers {
			if v := <-got; v != "tok-1" {
				t.Errorf("Token() = %q; want tok-1", v)
			}
		}
		if n := acq.Calls(); n != 1 {
			t.Errorf("acquisitions = %d; want 1", n)
		}
	})
}

func TestTokenWaiterHonoursContext(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		acq := &fakeAcquirer{fn: func(_ context.Context, n int) (string, time.Time, error) {
			<-release
			return "tok-1", time.Now().Add(time.Hour), nil
		}}
		s := newTestSource(t, nil, acq)

		ctx, cancel := context.WithCancel(context.Background())
		gaveUp := make(chan error)
		go func() {
			_, err := s.Token(ctx)
			gaveUp <- err
		}()
		patient := make(chan string)
		go func() {
			v, _ := s.Token(context.Background())
			patient <- v
		}()
		synctest.Wait()
		cancel()
		err := <-gaveUp
		if !errors.Is(err, context.Canceled) || !errors.Is(err, ErrNoToken) {
			t.Errorf("Token(cancelled) error = %v; want context.Canceled wrapped in ErrNoToken", err)
		}
		// The acquisition goes on for the caller that is still waiting.
		close(release)
		if v := <-patient; v != "tok-1" {
			t.Errorf("Token() = %q; want tok-1", v)
		}
		if n := acq.Calls(); n != 1 {
			t.Errorf("acquisitions = %d; want 1", n)
		}
	})
}

func TestRefreshAheadDoesNotMakeCallersWait(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		clock := testkit.NewClock()
		s, acq := newHoldingSource(t, clock)

		// Past half-life: the next call starts one refresh, which blocks
		// until released. If any caller waited for it, the bubble would
		// deadlock and synctest would fail the test.
		clock.Advance(31 * time.Minute)
		release := make(chan struct{})
		acq.set(func(ctx context.Context, n int) (string, time.Time, error) {
			<-release
			return tokensFor(clock.Now, time.Hour)(ctx, n)
		})
		for range 100 {
			mustToken(t, s, "tok-1")
		}
		synctest.Wait()
		if n := acq.Calls(); n != 2 {
			t.Fatalf("acquisitions = %d; want 2 (one refresh however many callers)", n)
		}
		close(release)
		synctest.Wait() // the refresh is published
		mustToken(t, s, "tok-2")
		if n := acq.Calls(); n != 2 {
			t.Errorf("acquisitions = %d; want 2", n)
		}
	})
}

var errIdP = errors.New("AADSTS50196: fake outage")

// newHoldingSource returns a running Source on clock that holds tok-1,
// valid for an hour, and issues tok-2, tok-3, … from then on.
func newHoldingSource(t *testing.T, clock *testkit.Clock) (*Source, *fakeAcquirer) {
	t.Helper()
	acq := &fakeAcquirer{fn: tokensFor(clock.Now, time.Hour)}
	s := newTestSource(t, clock.Now, acq)
	mustToken(t, s, "tok-1")
	return s, acq
}

// newFailingSource returns a running Source that holds tok-1 (valid for an
// hour on clock) and whose acquisitions fail with errIdP from then on.
func newFailingSource(t *testing.T, clock *testkit.Clock) (*Source, *fakeAcquirer) {
	t.Helper()
	s, acq := newHoldingSource(t, clock)
	acq.set(func(context.Context, int) (string, time.Time, error) { return "", time.Time{}, errIdP })
	return s, acq
}

func TestRefreshFailureKeepsTokenAndBacksOff(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		clock := testkit.NewClock()
		s, acq := newFailingSource(t, clock)
		clock.Advance(31 * time.Minute)
		mustToken(t, s, "tok-1") // wakes Run for the refresh, which fails
		synctest.Wait()
		if err := s.LastError(); !errors.Is(err, errIdP) || !errors.Is(err, ErrNoToken) {
			t.Errorf("LastError() = %v; want the acquisition error wrapped in ErrNoToken", err)
		}

		// expectBackoff waits for Run and checks the acquisitions so far
		// and when Run retries.
		expectBackoff := func(calls int, lo, hi time.Duration) {
			t.Helper()
			synctest.Wait()
			if n := acq.Calls(); n != calls {
				t.Fatalf("acquisitions = %d; want %d", n, calls)
			}
			if wait := s.state.Load().retryAt.Sub(clock.Now()); wait < lo || wait > hi {
				t.Errorf("retry in %v; want within [%v, %v]", wait, lo, hi)
			}
		}

		// Within the back-off, callers get the valid token and cause nothing.
		for range 10 {
			mustToken(t, s, "tok-1")
		}
		expectBackoff(2, backoffBase/2, backoffBase)

		// After it, one more attempt, and a longer back-off.
		clock.Advance(backoffBase)
		mustToken(t, s, "tok-1")
		expectBackoff(3, backoffBase, 2*backoffBase)

		// Recovery clears the error.
		acq.set(tokensFor(clock.Now, time.Hour))
		clock.Advance(2 * backoffBase)
		mustToken(t, s, "tok-1")
		synctest.Wait()
		mustToken(t, s, "tok-4")
		if err := s.LastError(); err != nil {
			t.Errorf("LastError() after success = %v; want nil", err)
		}
	})
}

func TestExpiredAndFailingReturnsError(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		clock := testkit.NewClock()
		s, acq := newFailingSource(t, clock)
		clock.Advance(2 * time.Hour)
		for i := range 5 {
			if i >= 2 {
				// After failureHold a caller still gets the last error at
				// once, and asks Run for one more attempt, even when
				// Run's back-off (2 to 4 s after the third failure) is
				// not over.
				clock.Advance(failureHold)
			}
			// The bubble's virtual deadline turns a caller that Run
			// leaves waiting into a failure instead of a hang.
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			_, err := s.Token(ctx)
			cancel()
			if !errors.Is(err, ErrNoToken) || !errors.Is(err, errIdP) {
				t.Fatalf("Token() error = %v; want ErrNoToken wrapping the acquisition error", err)
			}
			if !strings.Contains(err.Error(), "acquire token for "+testApp) {
				t.Errorf("Token() error = %q; want it to name the client id", err)
			}
			synctest.Wait()
		}
		// The first caller waited for the first failing attempt; the one
		// within failureHold caused none; each later one caused one.
		if n := acq.Calls(); n != 5 {
			t.Errorf("acquisitions = %d; want 5 (the first token, then one per caller but the one within failureHold)", n)
		}
	})
}

// A hung identity provider does not hang callers once acquisitions are
// known to fail: they get the last error at once, with a Retry-After, while
// Run's retry hangs in the background.
func TestFailingSourceAnswersAtOnceWhileRetryHangs(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		clock := testkit.NewClock()
		s, acq := newFailingSource(t, clock)
		clock.Advance(2 * time.Hour)
		if _, err := s.Token(context.Background()); !errors.Is(err, errIdP) {
			t.Fatalf("first Token() = %v; want the acquisition error", err)
		}
		synctest.Wait()
		hung := make(chan struct{})
		acq.set(func(ctx context.Context, _ int) (string, time.Time, error) {
			close(hung)
			<-ctx.Done() // Entra accepts the connection and never answers
			return "", time.Time{}, ctx.Err()
		})
		clock.Advance(failureHold)
		for range 20 {
			_, err := s.Token(context.Background()) // no deadline: a wait would hang the test
			var ra interface{ RetryAfter() time.Duration }
			if !errors.Is(err, errIdP) || !errors.As(err, &ra) || ra.RetryAfter() < failureHold {
				t.Fatalf("Token() while the retry hangs = %v; want the last error at once, with a Retry-After of at least %v", err, failureHold)
			}
		}
		<-hung // the retry is under way, and hangs
		if n := acq.Calls(); n != 3 {
			t.Errorf("acquisitions = %d; want 3 (one retry for all those callers)", n)
		}
	})
}

// A token in hand is served to the end of its life (less a small skew)
// while no replacement can be had.
func TestValidTokenServedToItsEndWhileFailing(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		clock := testkit.NewClock()
		s, _ := newFailingSource(t, clock) // tok-1, valid for an hour
		clock.Advance(time.Hour - maxExpirySkew - time.Second)
		mustToken(t, s, "tok-1")
		synctest.Wait()
		mustToken(t, s, "tok-1") // the refresh failed; the token is still good
		clock.Advance(time.Second)
		if _, err := s.Token(context.Background()); !errors.Is(err, errIdP) {
			t.Errorf("Token() at expiry less the skew = %v; want the acquisition error", err)
		}
	})
}

func TestExpiredTokenFromProviderIsAnError(t *testing.T) {
	t.Parallel()
	clock := testkit.NewClock()
	acq := &fakeAcquirer{fn: tokensFor(clock.Now, -time.Second)}
	s := newTestSource(t, clock.Now, acq)
	if _, err := s.Token(context.Background()); !errors.Is(err, ErrNoToken) {
		t.Errorf("Token() error = %v; want ErrNoToken", err)
	}
	if s.Ready() {
		t.Error("Ready() = true after an expired token; want false")
	}
}

func TestInvalidate(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		clock := testkit.NewClock()
		release := make(chan struct{})
		acq := &fakeAcquirer{fn: func(ctx context.Context, n int) (string, time.Time, error) {
			if n > 1 {
				<-release // keeps the state after Invalidate observable
			}
			return tokensFor(clock.Now, time.Hour)(ctx, n)
		}}
		s := newTestSource(t, clock.Now, acq)
		mustToken(t, s, "tok-1")

		s.Invalidate("some-other-token")
		mustToken(t, s, "tok-1")

		s.Invalidate("tok-1")
		if !s.ExpiresOn().IsZero() {
			t.Errorf("ExpiresOn() after Invalidate = %v; want zero", s.ExpiresOn())
		}
		close(release)
		mustToken(t, s, "tok-2")

		s.Invalidate("tok-1") // a late 401 for the old token changes nothing
		mustToken(t, s, "tok-2")
		synctest.Wait()
		if n := acq.Calls(); n != 2 {
			t.Errorf("acquisitions = %d; want 2", n)
		}
	})
}

// TestInvalidateRateLimited: a connector that answers 401 to every call
// makes every call Invalidate the token it carried. Only the first forced
// re-acquisition within forcedRefreshInterval happens; the others keep the
// current token.
func TestInvalidateRateLimited(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		clock := testkit.NewClock()
		s, acq := newHoldingSource(t, clock)

		s.Invalidate("tok-1") // the first 401: a new token
		mustToken(t, s, "tok-2")
		for range 100 {
			// Every call gets a 401 within the interval: no new token.
			s.Invalidate("tok-2")
			mustToken(t, s, "tok-2")
		}
		clock.Advance(forcedRefreshInterval - time.Millisecond)
		s.Invalidate("tok-2")
		mustToken(t, s, "tok-2")
		synctest.Wait()
		if n := acq.Calls(); n != 2 {
			t.Fatalf("acquisitions within %v of a forced one = %d; want 2", forcedRefreshInterval, n)
		}

		clock.Advance(time.Millisecond) // the interval is over
		s.Invalidate("tok-2")
		mustToken(t, s, "tok-3")
		synctest.Wait()
		if n := acq.Calls(); n != 3 {
			t.Errorf("acquisitions = %d; want 3", n)
		}
	})
}

func TestConcurrentInvalidateOneAcquisition(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		acq := &fakeAcquirer{fn: tokensFor(time.Now, time.Hour)}
		s := newTestSource(t, nil, acq)
		mustToken(t, s, "tok-1")

		// Twenty requests got a 401 for tok-1 at the same time.
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() {
				s.Invalidate("tok-1")
				if v, err := s.Token(context.Background()); err != nil || v != "tok-2" {
					t.Errorf("Token() = %q, %v; want tok-2", v, err)
				}
			})
		}
		wg.Wait()
		if n := acq.Calls(); n != 2 {
			t.Errorf("acquisitions = %d; want 2", n)
		}
	})
}

func TestSchedule(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name          string
		life          time.Duration
		refreshBefore time.Duration
		wantRefresh   time.Duration // after now
		wantStale     time.Duration // after now
	}{
		{"entra hour: half-life", time.Hour, 0, 30 * time.Minute, time.Hour - 5*time.Second},
		{"entra 90 min", 90 * time.Minute, 0, 45 * time.Minute, 90*time.Minute - 5*time.Second},
		{"managed identity day", 24 * time.Hour, 0, 12 * time.Hour, 24*time.Hour - 5*time.Second},
		{"refresh before 5 min", time.Hour, 5 * time.Minute, 55 * time.Minute, time.Hour - 5*time.Second},
		{"refresh before clamped to half-life", time.Hour, 2 * time.Hour, 30 * time.Minute, time.Hour - 5*time.Second},
		{"short token keeps proportions", 2 * time.Minute, 0, time.Minute, 2*time.Minute - 5*time.Second},
		{"tiny token: floor, then stale", 4 * time.Second, 0, 3 * time.Second, 3 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := schedule("v", now.Add(tt.life), now, tt.refreshBefore)
			if r := got.refreshAt.Sub(now); r != tt.wantRefresh {
				t.Errorf("schedule(%v, %v).refreshAt = now+%v; want now+%v", tt.life, tt.refreshBefore, r, tt.wantRefresh)
			}
			if st := got.staleAt.Sub(now); st != tt.wantStale {
				t.Errorf("schedule(%v, %v).staleAt = now+%v; want now+%v", tt.life, tt.refreshBefore, st, tt.wantStale)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	tests := []struct {
		give int
		want time.Duration // upper bound; the lower bound is half of it
	}{
		{1, time.Second}, {2, 2 * time.Second}, {3, 4 * time.Second}, {6, 32 * time.Second},
		{7, time.Minute}, {8, time.Minute}, {100, time.Minute},
	}
	for _, tt := range tests {
		for range 50 {
			if got := backoff(tt.give); got < tt.want/2 || got > tt.want {
				t.Fatalf("backoff(%d) = %v; want within [%v, %v]", tt.give, got, tt.want/2, tt.want)
			}
		}
	}
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	base := Options{AuthorityHost: "https://login.microsoftonline.com", Tenant: "t1", ClientID: testApp,
		Scope: "https://api.botframework.com/.default"}
	tests := []struct {
		name string
		give func(*Options)
		want string
	}{
		{"no credential", func(o *Options) {}, "no credential"},
		{"no client id", func(o *Options) { o.ClientID = ""; o.Credential = ClientSecret("x") }, "client id is empty"},
		{"no scope, no tenant", func(o *Options) { o.Scope, o.Tenant = "", ""; o.Credential = ClientSecret("x") },
			"scope is empty; authority host and tenant are required"},
		{"empty secret", func(o *Options) { o.Credential = ClientSecret("") }, "client secret"},
		{"missing secret file", func(o *Options) { o.Credential = ClientSecretFile("/nonexistent/secret") }, "/nonexistent/secret"},
		{"missing certificate file", func(o *Options) { o.Credential = CertificateFile("/nonexistent/cert.pem") }, "/nonexistent/cert.pem"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := base
			tt.give(&opts)
			if _, err := New(opts); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New(%s) error = %v; want it to contain %q", tt.name, err, tt.want)
			}
		})
	}
	// A managed identity needs no authority.
	opts := base
	opts.AuthorityHost, opts.Tenant, opts.Credential = "", "", ManagedIdentity()
	if _, err := New(opts); err != nil {
		t.Errorf("New(managed identity without authority) = %v; want nil", err)
	}
}

// Not parallel: AllocsPerRun measures the whole process.
func TestTokenHitDoesNotAllocate(t *testing.T) {
	acq := &fakeAcquirer{fn: tokensFor(time.Now, time.Hour)}
	s := newTestSource(t, nil, acq)
	ctx := context.Background()
	mustToken(t, s, "tok-1")
	if allocs := testing.AllocsPerRun(1000, func() { _, _ = s.Token(ctx) }); allocs != 0 {
		t.Errorf("Token() on a cached token allocates %v times; want 0", allocs)
	}
}

func BenchmarkTokenHit(b *testing.B) {
	acq := &fakeAcquirer{fn: tokensFor(time.Now, time.Hour)}
	s := newTestSource(b, nil, acq)
	ctx := context.Background()
	if _, err := s.Token(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Token(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTokenHitParallel(b *testing.B) {
	acq := &fakeAcquirer{fn: tokensFor(time.Now, time.Hour)}
	s := newTestSource(b, nil, acq)
	ctx := context.Background()
	if _, err := s.Token(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_, _ = s.Token(ctx)
		}
	})
}

func TestStatsCountAcquisitions(t *testing.T) {
	t.Parallel()
	clock := testkit.NewClock()
	s, _ := newFailingSource(t, clock)
	clock.Advance(2 * time.Hour)
	if _, err := s.Token(context.Background()); err == nil {
		t.Fatal("Token() = nil error; want the acquisition error")
	}
	if got, want := s.Stats(), (Stats{Acquisitions: 2, Failures: 1}); got != want {
		t.Errorf("Stats() = %+v; want %+v", got, want)
	}
}
