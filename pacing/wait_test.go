package pacing

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// In these tests time is the synctest bubble's: it moves only when every
// goroutine of the bubble is blocked, so waits are exact and instant.

func newPacer(t *testing.T, opts Options) *Pacer {
	t.Helper()
	p, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// result is one held call's outcome.
type result struct {
	waited time.Duration
	err    error
}

// start runs Wait in a goroutine and waits until it is admitted or
// blocked, so calls started one after another arrive in that order.
func start(p *Pacer, ctx context.Context, key Key) <-chan result {
	ch := make(chan result, 1)
	go func() {
		d, err := p.Wait(ctx, key)
		ch <- result{d, err}
	}()
	synctest.Wait()
	return ch
}

func TestWaitHoldsUntilTheWindowOpens(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPacer(t, Options{Send: mustLimit(t, TeamsSend), MaxWait: 5 * time.Second})
		key := Key{Conversation: "c", Class: ClassSend}
		var calls []<-chan result
		for range 16 {
			calls = append(calls, start(p, context.Background(), key))
		}
		// 7 at once, the 8th at 1s (7/1s); 7 more at 2s, when the first
		// second leaves the 2s span; the 16th at 3s. In arrival order.
		want := []time.Duration{0, 0, 0, 0, 0, 0, 0, 1, 2, 2, 2, 2, 2, 2, 2, 3}
		for i, ch := range calls {
			r := <-ch
			if r.err != nil || r.waited != want[i]*time.Second {
				t.Errorf("call %d: waited %v, %v; want %v, nil", i+1, r.waited, r.err, want[i]*time.Second)
			}
		}
	})
}

func TestFairAcrossConversations(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPacer(t, Options{
			Send: mustLimit(t, TeamsSend), Tenant: mustLimit(t, TeamsTenant),
			MaxWait: time.Hour,
		})
		epoch := time.Now()
		var (
			mu       sync.Mutex
			admitted []time.Duration
			wg       sync.WaitGroup
		)
		send := func(conv string) <-chan result {
			ch := make(chan result, 1)
			wg.Go(func() {
				d, err := p.Wait(context.Background(), Key{Tenant: "t", Conversation: conv, Class: ClassSend})
				if err == nil {
					mu.Lock()
					admitted = append(admitted, time.Since(epoch))
					mu.Unlock()
				}
				ch <- result{d, err}
			})
			synctest.Wait()
			return ch
		}
		// 20 conversations burst 30 messages each: 140 calls a second are
		// due against the tenant's 50.
		const convs, burst = 20, 30
		for c := range convs {
			for range burst {
				send(fmt.Sprintf("burst%d", c))
			}
		}
		time.Sleep(2500 * time.Millisecond)
		// By now 150 calls went and 450 wait. In arrival order the next
		// conversation's first message would wait 9 s; the tenant serves
		// the due conversations round-robin, so it waits for the next
		// tenant second at most.
		r := <-send("late")
		if r.err != nil || r.waited > time.Second {
			t.Errorf("first message of another conversation: waited %v, %v; want at most 1s", r.waited, r.err)
		}
		wg.Wait()
		if len(admitted) != convs*burst+1 {
			t.Fatalf("%d admitted; want all %d", len(admitted), convs*burst+1)
		}
		for i := 50; i < len(admitted); i++ {
			if d := admitted[i] - admitted[i-50]; d < time.Second {
				t.Fatalf("51 calls of the tenant within %v", d)
			}
		}
	})
}

func TestOrderWithinAConversation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPacer(t, Options{Send: mustLimit(t, "2/1s"), Tenant: mustLimit(t, "3/1s"), MaxWait: time.Minute})
		// When each call of conversation a was admitted, by arrival. Calls
		// admitted at the same instant are indistinguishable (their
		// goroutines may record in either order), so the check is on the
		// admission times, not on the order of recording.
		admitted := make(map[int]time.Time)
		var mu sync.Mutex
		var wg sync.WaitGroup
		for i := range 12 {
			conv := "a"
			if i%3 == 2 {
				conv = "b"
			}
			wg.Go(func() {
				if _, err := p.Wait(context.Background(), Key{Tenant: "t", Conversation: conv, Class: ClassSend}); err != nil {
					t.Errorf("call %d: %v", i, err)
				}
				if conv == "a" {
					mu.Lock()
					admitted[i] = time.Now()
					mu.Unlock()
				}
			})
			synctest.Wait()
		}
		wg.Wait()
		last, lastI := time.Time{}, -1
		for i := range 12 {
			at, ok := admitted[i]
			if !ok {
				continue
			}
			if at.Before(last) {
				t.Fatalf("call %d of conversation a was admitted at %v, before call %d (at %v): want arrival order", i, at, lastI, last)
			}
			last, lastI = at, i
		}
	})
}

func TestBoundedWait(t *testing.T) {
	t.Run("refused at once when the estimate exceeds the bound", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			p := newPacer(t, Options{Send: mustLimit(t, "1/1s"), MaxWait: 1500 * time.Millisecond})
			key := Key{Conversation: "c", Class: ClassSend}
			first, second := start(p, context.Background(), key), start(p, context.Background(), key)
			r := <-start(p, context.Background(), key)
			var te *ThrottledError
			if !errors.As(r.err, &te) || te.Reason != ReasonWait || te.RetryAfter() != 2*time.Second || te.Scope != "conversation" {
				t.Fatalf("third call: %v; want refused at once, retry after 2s", r.err)
			}
			for i, ch := range []<-chan result{first, second} {
				if r := <-ch; r.err != nil || r.waited != time.Duration(i)*time.Second {
					t.Errorf("call %d: waited %v, %v; want %v", i+1, r.waited, r.err, time.Duration(i)*time.Second)
				}
			}
		})
	})
	t.Run("refused at the bound when the estimate was beaten", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			// Over two windows the estimate is a lower bound: the 4th call
			// is estimated at 3s, but 1/1s after the 3rd (at 3s) and 2/3s
			// after the 2nd (at 1s) put it at 4s, past the 3.5s bound.
			p := newPacer(t, Options{Send: mustLimit(t, "1/1s,2/3s"), MaxWait: 3500 * time.Millisecond})
			key := Key{Conversation: "c", Class: ClassSend}
			began := time.Now()
			var calls []<-chan result
			for range 4 {
				calls = append(calls, start(p, context.Background(), key))
			}
			r := <-calls[3]
			var te *ThrottledError
			if !errors.As(r.err, &te) || te.Reason != ReasonTimeout || te.RetryAfter() != 500*time.Millisecond {
				t.Fatalf("4th call: %v; want refused at the bound, retry after 500ms", r.err)
			}
			if got := time.Since(began); got != 3500*time.Millisecond {
				t.Errorf("4th call refused after %v; want the bound, 3.5s", got)
			}
			for i, want := range []time.Duration{0, time.Second, 3 * time.Second} {
				if r := <-calls[i]; r.err != nil || r.waited != want {
					t.Errorf("call %d: waited %v, %v; want %v", i+1, r.waited, r.err, want)
				}
			}
		})
	})
	t.Run("a call whose context ends leaves its slot uncounted", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			p := newPacer(t, Options{Send: mustLimit(t, "1/1s"), MaxWait: 10 * time.Second})
			key := Key{Conversation: "c", Class: ClassSend}
			ctx, cancel := context.WithCancel(context.Background())
			<-start(p, context.Background(), key)
			gone := start(p, ctx, key)
			next := start(p, context.Background(), key)
			time.Sleep(500 * time.Millisecond)
			cancel()
			if r := <-gone; !errors.Is(r.err, context.Canceled) || errors.Is(r.err, ErrThrottled) {
				t.Errorf("cancelled call: %v; want context.Canceled", r.err)
			}
			if r := <-next; r.err != nil || r.waited != time.Second {
				t.Errorf("call behind it: waited %v, %v; want 1s (the cancelled call's slot)", r.waited, r.err)
			}
			if s := p.Stats(); s.Waiting != 0 {
				t.Errorf("Stats().Waiting = %d; want 0", s.Waiting)
			}
		})
	})
}

func TestMaxWaiters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPacer(t, Options{Send: mustLimit(t, "1/1s"), MaxWait: time.Hour, MaxWaiters: 2})
		key := Key{Conversation: "c", Class: ClassSend}
		held := []<-chan result{start(p, context.Background(), key), start(p, context.Background(), key), start(p, context.Background(), key)}
		if s := p.Stats(); s.Waiting != 2 {
			t.Fatalf("Stats().Waiting = %d; want 2", s.Waiting)
		}
		r := <-start(p, context.Background(), key)
		var te *ThrottledError
		if !errors.As(r.err, &te) || te.Reason != ReasonFull || te.RetryAfter() != 3*time.Second {
			t.Fatalf("call past the cap: %v; want refused at once, retry after 3s", r.err)
		}
		for _, ch := range held {
			if r := <-ch; r.err != nil {
				t.Error(r.err)
			}
		}
	})
}

func TestStatesWithWaitersAreNotEvicted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPacer(t, Options{Send: mustLimit(t, "1/1s"), MaxWait: 10 * time.Second, MaxConversations: 1})
		a, b := Key{Conversation: "a", Class: ClassSend}, Key{Conversation: "b", Class: ClassSend}
		<-start(p, context.Background(), a)
		held := start(p, context.Background(), a)
		// Evicting a would give its waiter's conversation a second budget.
		if r := <-start(p, context.Background(), b); !errors.Is(r.err, ErrThrottled) {
			t.Fatalf("new conversation while the only state has a waiter: %v; want ErrThrottled", r.err)
		}
		if r := <-held; r.err != nil {
			t.Fatal(r.err)
		}
		if r := <-start(p, context.Background(), b); r.err != nil {
			t.Fatalf("new conversation once the waiter went: %v", r.err)
		}
		if s := p.Stats(); s.Conversations != 1 || s.EvictedActive != 1 {
			t.Errorf("Stats() = %+v; want 1 conversation, 1 evicted within its window", s)
		}
	})
}

// With SpreadTenant the tenant's budget is released one call per half of
// Per/Count, at the same rate: no burst of 50 at one instant.
func TestSpreadTenant(t *testing.T) {
	for _, spread := range []bool{false, true} {
		t.Run(fmt.Sprint("spread=", spread), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := newPacer(t, Options{Tenant: mustLimit(t, TeamsTenant), MaxWait: time.Hour, SpreadTenant: spread})
				var calls []<-chan result
				for i := range 100 {
					calls = append(calls, start(p, context.Background(), Key{Tenant: "t", Conversation: fmt.Sprint("c", i), Class: ClassSend}))
				}
				for i, ch := range calls {
					r := <-ch
					want := time.Duration(i/50) * time.Second // bursts at 0 and 1s
					if spread {
						// 50 at 10 ms apart, then the window holds the
						// 51st until 1 s after the first.
						want += time.Duration(i%50) * 10 * time.Millisecond
					}
					if r.err != nil || r.waited != want {
						t.Fatalf("call %d: waited %v, %v; want %v", i+1, r.waited, r.err, want)
					}
				}
			})
		})
	}
}
