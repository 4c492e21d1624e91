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
)

// The Run tests run in a synctest bubble: timers and time.Now are virtual, so
// back-off and refresh schedules play out at once, and the bubble fails the
// test if any goroutine is left blocked when it ends.

func newRunSource(acq acquirer) (*Source, *observer.ObservedLogs) {
	core, logs := observer.New(zapcore.DebugLevel)
	s := newSource(Options{ClientID: testApp, AuthorityHost: "https://login.test", Tenant: "t1",
		Logger: zap.New(core)}, acq)
	return s, logs
}

// startRun runs s.Run and returns a function that stops it and waits for it.
func startRun(t *testing.T, s *Source) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run() = %v; want nil after cancel", err)
		}
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
		stop := startRun(t, s)
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
		stop := startRun(t, s)
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
		stop := startRun(t, s)
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
		stop := startRun(t, s)
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
		stop := startRun(t, s)
		synctest.Wait() // token acquired, Run sleeps until half-life
		stop()
		if n := acq.Calls(); n != 1 {
			t.Errorf("acquisitions = %d; want 1", n)
		}
	})
}
