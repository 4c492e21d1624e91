package pacing

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/botsidecar/sidecar/internal/testkit"
)

// call is one step of a window table: at offset at, n calls; the first
// wantOK are admitted, the rest refused with wantRetry by wantWindow.
type call struct {
	at         time.Duration
	n, wantOK  int
	wantRetry  time.Duration
	wantWindow string
}

// newFakePacer is a pacer on a fake clock that never holds a call
// (MaxWait 0), so every answer is immediate and exact.
func newFakePacer(t *testing.T, opts Options) (*Pacer, *testkit.Clock) {
	t.Helper()
	clock := testkit.NewClock()
	opts.Now = clock.Now
	p, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return p, clock
}

func runCalls(t *testing.T, p *Pacer, clock *testkit.Clock, key Key, calls []call) {
	t.Helper()
	start := clock.Now()
	for _, c := range calls {
		clock.Set(start.Add(c.at))
		for i := range c.n {
			_, err := p.Wait(context.Background(), key)
			if i < c.wantOK {
				if err != nil {
					t.Fatalf("at %v call %d: %v; want admitted", c.at, i+1, err)
				}
				continue
			}
			var te *ThrottledError
			if !errors.As(err, &te) || !errors.Is(err, ErrThrottled) {
				t.Fatalf("at %v call %d: %v; want a ThrottledError", c.at, i+1, err)
			}
			if te.Reason != ReasonWait || te.RetryAfter() != c.wantRetry || te.Window.String() != c.wantWindow {
				t.Errorf("at %v call %d: %v, retry after %v by %s; want %v by %s", c.at, i+1, te.Reason, te.RetryAfter(), te.Window, c.wantRetry, c.wantWindow)
			}
		}
	}
}

func TestConversationWindows(t *testing.T) {
	t.Parallel()
	ms := time.Millisecond
	tests := []struct {
		name  string
		limit string
		class Class
		calls []call
	}{
		{"7 per 1s", "7/1s", ClassSend, []call{
			{at: 0, n: 8, wantOK: 7, wantRetry: time.Second, wantWindow: "7/1s"},
			{at: 999 * ms, n: 1, wantOK: 0, wantRetry: ms, wantWindow: "7/1s"},
			{at: time.Second, n: 8, wantOK: 7, wantRetry: time.Second, wantWindow: "7/1s"},
		}},
		{"8 per 2s: no 9th in any 2s span", "8/2s", ClassSend, []call{
			{at: 0, n: 4, wantOK: 4},
			{at: 1500 * ms, n: 5, wantOK: 4, wantRetry: 500 * ms, wantWindow: "8/2s"},
			// The first four leave the span at 2s, the next four at 3.5s.
			{at: 2 * time.Second, n: 5, wantOK: 4, wantRetry: 1500 * ms, wantWindow: "8/2s"},
			{at: 3500 * ms, n: 5, wantOK: 4, wantRetry: 500 * ms, wantWindow: "8/2s"},
		}},
		{"60 per 30s", "60/30s", ClassSend, []call{
			{at: 0, n: 30, wantOK: 30},
			{at: 20 * time.Second, n: 31, wantOK: 30, wantRetry: 10 * time.Second, wantWindow: "60/30s"},
			{at: 30 * time.Second, n: 31, wantOK: 30, wantRetry: 20 * time.Second, wantWindow: "60/30s"},
		}},
		{"1800 per hour", "1800/1h", ClassSend, []call{
			{at: 0, n: 1801, wantOK: 1800, wantRetry: time.Hour, wantWindow: "1800/1h"},
			{at: time.Hour - time.Second, n: 1, wantOK: 0, wantRetry: time.Second, wantWindow: "1800/1h"},
			{at: time.Hour, n: 1801, wantOK: 1800, wantRetry: time.Hour, wantWindow: "1800/1h"},
		}},
		{"teams send: the 1s window binds first, then the 2s one", TeamsSend, ClassSend, []call{
			{at: 0, n: 8, wantOK: 7, wantRetry: time.Second, wantWindow: "7/1s"},
			{at: time.Second, n: 2, wantOK: 1, wantRetry: time.Second, wantWindow: "8/2s"},
		}},
		{"teams send: the 30s window", TeamsSend, ClassSend, append(fourEverySecond(15),
			// 60 in 14 s, within 7/1s and 8/2s: the next fits when the
			// first four leave the 30 s span.
			call{at: 15 * time.Second, n: 1, wantOK: 0, wantRetry: 15 * time.Second, wantWindow: "60/30s"},
		)},
		{"teams read", TeamsRead, ClassRead, []call{
			{at: 0, n: 15, wantOK: 14, wantRetry: time.Second, wantWindow: "14/1s"},
			{at: time.Second, n: 3, wantOK: 2, wantRetry: time.Second, wantWindow: "16/2s"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			lim := mustLimit(t, tt.limit)
			p, clock := newFakePacer(t, Options{Send: lim, Read: lim})
			runCalls(t, p, clock, Key{Tenant: "t", Conversation: "c", Class: tt.class}, tt.calls)
		})
	}
}

// fourEverySecond is 4 admitted calls at the top of each of n seconds.
func fourEverySecond(n int) []call {
	calls := make([]call, n)
	for i := range calls {
		calls[i] = call{at: time.Duration(i) * time.Second, n: 4, wantOK: 4}
	}
	return calls
}

// TestWindowsAreExact offers a call every step for a long while and checks
// the admissions against the windows by brute force: no span of a period
// ever holds more than its count, every refusal is justified by a full
// window, and each refusal's Retry-After is exactly when the next call
// fits.
func TestWindowsAreExact(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		limit  string
		tenant bool
		step   time.Duration
		span   time.Duration
	}{
		{"teams send", TeamsSend, false, 37 * time.Millisecond, 2 * time.Hour},
		{"teams read", TeamsRead, false, 23 * time.Millisecond, 2 * time.Hour},
		{"teams tenant", TeamsTenant, true, 3 * time.Millisecond, time.Minute},
		{"uneven", "3/250ms,5/1s,9/7s", false, 11 * time.Millisecond, 5 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			lim := mustLimit(t, tt.limit)
			opts, key := Options{Send: lim}, Key{Conversation: "c", Class: ClassSend}
			if tt.tenant {
				opts, key = Options{Tenant: lim}, Key{Tenant: "t"}
			}
			p, clock := newFakePacer(t, opts)
			var admitted []time.Duration // offsets from the start
			var refusals int
			for at := time.Duration(0); at < tt.span; at += tt.step {
				clock.Set(testkit.Epoch().Add(at))
				want := fitsAt(lim, admitted, at)
				_, err := p.Wait(context.Background(), key)
				if err == nil {
					if want != at {
						t.Fatalf("at %v: admitted; the windows hold the call until %v", at, want)
					}
					admitted = append(admitted, at)
					continue
				}
				refusals++
				var te *ThrottledError
				if !errors.As(err, &te) {
					t.Fatalf("at %v: %v; want a ThrottledError", at, err)
				}
				if want == at || te.RetryAfter() != want-at {
					t.Fatalf("at %v: refused with Retry-After %v; the windows admit at %v", at, te.RetryAfter(), want)
				}
			}
			for _, w := range lim.Windows() {
				for i := w.Count; i < len(admitted); i++ {
					if d := admitted[i] - admitted[i-w.Count]; d < w.Per {
						t.Fatalf("window %s: calls %d..%d within %v", w, i-w.Count, i, d)
					}
				}
			}
			if len(admitted) == 0 || refusals == 0 {
				t.Fatalf("%d admitted, %d refused: the run does not exercise the limit", len(admitted), refusals)
			}
		})
	}
}

// fitsAt is the oracle: the earliest time at or after at at which one more
// call keeps every window, given the calls admitted so far.
func fitsAt(lim Limit, admitted []time.Duration, at time.Duration) time.Duration {
	fits := at
	for _, w := range lim.Windows() {
		if n := len(admitted); n >= w.Count {
			fits = max(fits, admitted[n-w.Count]+w.Per)
		}
	}
	return fits
}

func TestTenantLimit(t *testing.T) {
	t.Parallel()
	p, clock := newFakePacer(t, Options{Send: mustLimit(t, TeamsSend), Tenant: mustLimit(t, TeamsTenant)})
	ctx := context.Background()
	// 50 conversations of one tenant fill its second; the 51st is held by
	// the tenant, not by its own (empty) conversation.
	for i := range 50 {
		if _, err := p.Wait(ctx, Key{Tenant: "t1", Conversation: "c" + string(rune('A'+i)), Class: ClassSend}); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	var te *ThrottledError
	_, err := p.Wait(ctx, Key{Tenant: "t1", Conversation: "fresh", Class: ClassSend})
	if !errors.As(err, &te) || te.Scope != "tenant" || te.Window.String() != "50/1s" || te.RetryAfter() != time.Second {
		t.Fatalf("51st call of the tenant: %v; want held by the tenant's 50/1s for 1s", err)
	}
	// Calls of every class count; other tenants and other bots have their own.
	for _, k := range []Key{
		{Tenant: "t2", Conversation: "fresh", Class: ClassSend},
		{Bot: "other", Tenant: "t1", Conversation: "fresh", Class: ClassSend},
	} {
		if _, err := p.Wait(ctx, k); err != nil {
			t.Errorf("Wait(%+v) = %v; want admitted: its own tenant budget", k, err)
		}
	}
	if _, err := p.Wait(ctx, Key{Tenant: "t1"}); !errors.Is(err, ErrThrottled) {
		t.Errorf("an unclassed call of the full tenant: %v; want ErrThrottled", err)
	}
	clock.Advance(time.Second)
	if _, err := p.Wait(ctx, Key{Tenant: "t1"}); err != nil {
		t.Errorf("a second later: %v; want admitted", err)
	}
}

func TestUnlimitedKeysPassThrough(t *testing.T) {
	t.Parallel()
	p, _ := newFakePacer(t, Options{Send: mustLimit(t, "1/1h"), Tenant: mustLimit(t, "1/1h")})
	for _, k := range []Key{
		{Conversation: "c", Class: ClassRead},  // reads are not limited here
		{Conversation: "c", Class: ClassOther}, // no tenant: nothing counts
		{Conversation: "c", Class: Class(200)}, // unknown class: tenant only
		{Class: ClassSend},                     // no conversation, no tenant
	} {
		for range 3 {
			if _, err := p.Wait(context.Background(), k); err != nil {
				t.Fatalf("Wait(%+v) = %v; want admitted", k, err)
			}
		}
	}
	if s := p.Stats(); s.Conversations != 0 || s.Tenants != 0 {
		t.Errorf("Stats() = %+v; want no state for unlimited keys", s)
	}
}
