package tokencache

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/botsidecar/sidecar/internal/testkit"
)

// The Run tests run in a synctest bubble: timers and time.Now are virtual, so
// back-off and refresh schedules play out at once, and the bubble fails the
// test if any goroutine is left blocked when it ends.

func newRunSource(acq acquirer) (*Source, *observer.ObservedLogs) {
	core, logs := observer.New(zapcore.DebugLevel)
	s := newSource(Options{ClientID: testApp, Logger: zap.New(core)}, testAuthority, acq)
	return s, logs
}

// runSource runs s.Run; the function it returns stops Run and waits for it.
func runSource(t *testing.T, s *Source) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	wait := startRun(ctx, t, s)
	return func() {
		cancel()
		wait()
	}
}

func TestRunRetriesStartupThenReady(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		acq := &fakeAcquirer{fn: func(ctx context.Context, n int) (string, time.Time, error) {
			if n <= 3 {
				return "", time.Time{}, errIdP
			}
			return tokensFor(time.Now, time.Hour)(ctx, n)
		}}
		s, logs := newRunSource(acq)
		stop := runSource(t, s)
		defer stop()

		synctest.Wait()
		if s.Ready() || !errors.Is(s.LastError(), errIdP) {
			t.Fatalf("after a failed start-up: Ready() = %v, LastError() = %v; want false and the error", s.Ready(), s.LastError())
		}
		// Back-off waits are at most 1 + 2 + 4 s.
		time.Sleep(8 * time.Second)
		if !s.Ready() || s.LastError() != nil || acq.Calls() != 4 {
			t.Fatalf("after retries: Ready() = %v, LastError() = %v, acquisitions = %d; want true, nil, 4",
				s.Ready(), s.LastError(), acq.Calls())
		}
		failures := logs.FilterMessage(msgAcquireFailed).AllUntimed()
		if len(failures) != 3 {
			t.Fatalf("%q lines = %d; want one per failed attempt (3)", msgAcquireFailed, len(failures))
		}
		for i, e := range failures {
			f := e.ContextMap()
			if e.Level != zapcore.WarnLevel || f["attempt"] != int64(i+1) || f["client_id"] != testApp ||
				f["authority"] != "https://login.test/t1" || f["retry_in"] == nil || f["error"] == nil {
				t.Errorf("failure line %d = %v %v; want warn with attempt %d, client_id, authority, retry_in, error", i, e.Level, f, i+1)
			}
		}
		if n := logs.FilterMessage(msgAcquired).Len(); n != 1 {
			t.Errorf("%q lines = %d; want 1", msgAcquired, n)
		}

		// Proactive refresh at half-life, without any caller.
		time.Sleep(30 * time.Minute)
		synctest.Wait()
		if n := acq.Calls(); n != 5 {
			t.Errorf("acquisitions after half-life = %d; want 5", n)
		}
		if got, _ := s.Token(context.Background()); got != "tok-5" {
			t.Errorf("Token() = %q; want the refreshed tok-5", got)
		}
	})
}

func TestRunRefreshFailureRetriesWhileServing(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		acq := &fakeAcquirer{fn: func(ctx context.Context, n int) (string, time.Time, error) {
			if n == 2 || n == 3 {
				return "", time.Time{}, errIdP
			}
			return tokensFor(time.Now, time.Hour)(ctx, n)
		}}
		s, logs := newRunSource(acq)
		stop := runSource(t, s)
		defer stop()

		time.Sleep(30*time.Minute + time.Millisecond) // the refresh at half-life fails
		synctest.Wait()
		if got, err := s.Token(context.Background()); got != "tok-1" || err != nil {
			t.Fatalf("Token() during failed refresh = %q, %v; want the still-valid tok-1", got, err)
		}
		time.Sleep(3 * time.Second) // retries after ≤1 s (fails) and ≤2 s (succeeds)
		if got, _ := s.Token(context.Background()); got != "tok-4" {
			t.Errorf("Token() after retries = %q; want tok-4", got)
		}
		if n := logs.FilterMessage(msgAcquireFailed).Len(); n != 2 {
			t.Errorf("%q lines = %d; want 2", msgAcquireFailed, n)
		}
	})
}

func TestRunReacquiresAfterInvalidate(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		acq := &fakeAcquirer{fn: tokensFor(time.Now, time.Hour)}
		s, _ := newRunSource(acq)
		stop := runSource(t, s)
		defer stop()

		synctest.Wait()
		s.Invalidate("tok-1")
		synctest.Wait() // Run woke up and fetched a new token, no caller needed
		if n := acq.Calls(); n != 2 || s.ExpiresOn().IsZero() {
			t.Errorf("after Invalidate: acquisitions = %d, ExpiresOn() = %v; want 2 and a token", n, s.ExpiresOn())
		}
	})
}

func TestRunStopsOnCancelWithoutLeaks(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		sawCancel := make(chan error, 1)
		acq := &fakeAcquirer{fn: func(ctx context.Context, _ int) (string, time.Time, error) {
			<-ctx.Done() // an identity provider that never answers
			sawCancel <- ctx.Err()
			return "", time.Time{}, ctx.Err()
		}}
		s, _ := newRunSource(acq)
		start := time.Now()
		stop := runSource(t, s)
		synctest.Wait()
		stop() // returns only after Run has returned

		// Run cancelled its acquisition instead of leaving it to time out;
		// the bubble checks that no goroutine is left at all.
		if err := <-sawCancel; !errors.Is(err, context.Canceled) {
			t.Errorf("acquisition context error = %v; want context.Canceled", err)
		}
		if d := time.Since(start); d != 0 {
			t.Errorf("Run took %v of (virtual) time to stop; want 0", d)
		}
	})
}

func TestRunStopsWhileSleeping(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		acq := &fakeAcquirer{fn: tokensFor(time.Now, time.Hour)}
		s, _ := newRunSource(acq)
		stop := runSource(t, s)
		synctest.Wait() // token acquired, Run sleeps until half-life
		if err := s.Run(context.Background()); !errors.Is(err, errRunning) {
			t.Errorf("second Run() = %v; want errRunning", err)
		}
		stop()
		if n := acq.Calls(); n != 1 {
			t.Errorf("acquisitions = %d; want 1 (one driver)", n)
		}
	})
}

func TestTokenWaitsForRunAndFailsAfterIt(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		acq := &fakeAcquirer{fn: tokensFor(time.Now, time.Hour)}
		s, _ := newRunSource(acq)

		// Before Run: a caller waits, and nothing is acquired behind Run's back.
		got := make(chan string)
		go func() {
			v, _ := s.Token(context.Background())
			got <- v
		}()
		synctest.Wait()
		if n := acq.Calls(); n != 0 {
			t.Fatalf("acquisitions without Run = %d; want 0", n)
		}
		stop := runSource(t, s)
		if v := <-got; v != "tok-1" {
			t.Errorf("Token() once Run started = %q; want tok-1", v)
		}

		// After Run: the cached token is still served; without one, callers
		// get ErrNoToken at once instead of waiting for their deadline.
		stop()
		mustToken(t, s, "tok-1")
		s.Invalidate("tok-1")
		if _, err := s.Token(context.Background()); !errors.Is(err, ErrNoToken) {
			t.Errorf("Token() after Run returned = %v; want ErrNoToken", err)
		}
	})
}

func TestAcquireOneShot(t *testing.T) {
	t.Parallel()
	clock := testkit.NewClock()
	acq := &fakeAcquirer{fn: tokensFor(clock.Now, time.Hour)}
	s := newSource(Options{ClientID: testApp, Now: clock.Now}, testAuthority, acq)

	tok, exp, err := s.Acquire(context.Background())
	if err != nil || tok != "tok-1" || !exp.Equal(clock.Now().Add(time.Hour)) {
		t.Fatalf("Acquire() = %q, %v, %v; want tok-1 expiring in an hour", tok, exp, err)
	}
	if !s.ExpiresOn().IsZero() || s.Ready() || s.Stats() != (Stats{}) {
		t.Errorf("after Acquire: ExpiresOn() = %v, Ready() = %v, Stats() = %+v; want nothing cached or counted",
			s.ExpiresOn(), s.Ready(), s.Stats())
	}
	if tok, _, _ := s.Acquire(context.Background()); tok != "tok-2" {
		t.Errorf("second Acquire() = %q; want a new acquisition, tok-2", tok)
	}

	acq.set(func(context.Context, int) (string, time.Time, error) { return "", time.Time{}, errIdP })
	if _, _, err := s.Acquire(context.Background()); !errors.Is(err, ErrNoToken) || !errors.Is(err, errIdP) {
		t.Errorf("Acquire() error = %v; want ErrNoToken wrapping the acquisition error", err)
	}
	acq.set(tokensFor(clock.Now, -time.Second))
	if _, _, err := s.Acquire(context.Background()); !errors.Is(err, ErrNoToken) {
		t.Errorf("Acquire() of an expired token = %v; want ErrNoToken", err)
	}
	if s.LastError() != nil {
		t.Errorf("LastError() = %v; want nil: Acquire publishes nothing", s.LastError())
	}
}
