package cachedstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/botsidecar/sidecar/store"
	"github.com/botsidecar/sidecar/store/internal/storetest"
	"github.com/botsidecar/sidecar/store/memstore"
)

// sharedStore plays a shared Redis: it can be down, hung (every call
// waits for its ctx), slow, or lose its data, and it implements Prober
// and Restorer as the Redis store does.
type sharedStore struct {
	mu      sync.Mutex
	mem     *memstore.Memory
	down    bool
	hang    bool
	delay   time.Duration // per write: lets Puts queue while a flush runs
	lost    bool          // the next Probe reports lost data
	writes  atomic.Int64
	probes  atomic.Int64
	restore atomic.Int64
}

var (
	_ Prober   = (*sharedStore)(nil)
	_ Restorer = (*sharedStore)(nil)
)

func newSharedStore(t *testing.T) *sharedStore {
	t.Helper()
	m, err := memstore.New(10_000)
	if err != nil {
		t.Fatal(err)
	}
	return &sharedStore{mem: m}
}

func (s *sharedStore) set(f func(s *sharedStore)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s)
}

// wipe empties the store, as a Redis restarted without persistence.
func (s *sharedStore) wipe(t *testing.T) {
	m, err := memstore.New(10_000)
	if err != nil {
		t.Fatal(err)
	}
	s.set(func(s *sharedStore) { s.mem, s.lost = m, true })
}

// enter waits out the store's state; it returns the memory to use or an
// error wrapping store.ErrUnavailable.
func (s *sharedStore) enter(ctx context.Context, write bool) (*memstore.Memory, error) {
	s.mu.Lock()
	down, hang, delay, mem := s.down, s.hang, s.delay, s.mem
	s.mu.Unlock()
	if hang {
		<-ctx.Done()
		return nil, fmt.Errorf("redis: %w: %w", store.ErrUnavailable, ctx.Err())
	}
	if down {
		return nil, fmt.Errorf("redis: %w: connection refused", store.ErrUnavailable)
	}
	if write && delay > 0 {
		time.Sleep(delay)
	}
	return mem, nil
}

func (s *sharedStore) Put(ctx context.Context, ref store.Reference) error {
	s.writes.Add(1)
	mem, err := s.enter(ctx, true)
	if err != nil {
		return err
	}
	return mem.Put(ctx, ref)
}

func (s *sharedStore) Restore(ctx context.Context, ref store.Reference) error {
	s.restore.Add(1)
	mem, err := s.enter(ctx, true)
	if err != nil {
		return err
	}
	if _, err := mem.Get(ctx, ref.ConversationID); err == nil {
		return nil // holds a newer write: left alone
	}
	return mem.Put(ctx, ref)
}

func (s *sharedStore) Get(ctx context.Context, id string) (store.Reference, error) {
	mem, err := s.enter(ctx, false)
	if err != nil {
		return store.Reference{}, err
	}
	return mem.Get(ctx, id)
}

func (s *sharedStore) NewestForTenant(ctx context.Context, tenantID string) (store.Reference, error) {
	mem, err := s.enter(ctx, false)
	if err != nil {
		return store.Reference{}, err
	}
	return mem.NewestForTenant(ctx, tenantID)
}

func (s *sharedStore) Delete(ctx context.Context, id string) error {
	mem, err := s.enter(ctx, true)
	if err != nil {
		return err
	}
	return mem.Delete(ctx, id)
}

func (s *sharedStore) Probe(ctx context.Context) (bool, error) {
	s.probes.Add(1)
	if _, err := s.enter(ctx, false); err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	lost := s.lost
	s.lost = false
	return lost, nil
}

func (s *sharedStore) Close() error { return nil }

// has reports whether the store holds id's reference.
func (s *sharedStore) has(id string) bool {
	s.mu.Lock()
	mem := s.mem
	s.mu.Unlock()
	_, err := mem.Get(context.Background(), id)
	return err == nil
}

// settle lets d pass on the bubble's clock and waits for every goroutine
// of the bubble to block.
func settle(d time.Duration) {
	time.Sleep(d)
	synctest.Wait()
}

// After an outage, under steady writes, the queue drains within a second
// and new writes go straight to the backend: no acknowledged write is only
// in memory a second after the backend is back.
func TestCachedDrainsUnderSteadyLoad(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		backend := newSharedStore(t)
		backend.set(func(s *sharedStore) { s.down, s.delay = true, time.Millisecond })
		c := newTestCached(t, backend, Options{Size: 10_000, CallTimeout: 500 * time.Millisecond})
		runCached(t, c)

		var (
			mu    sync.Mutex
			acked []string
			stop  = make(chan struct{})
			done  = make(chan struct{})
		)
		go func() { // steady inbound load: a new conversation every 2 ms
			defer close(done)
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				id := fmt.Sprintf("a:load-%05d", i)
				if err := c.Put(context.Background(), storetest.RefAt(id, "tenant", time.Now())); err != nil {
					t.Errorf("Put(%s) = %v; want nil", id, err)
					return
				}
				mu.Lock()
				acked = append(acked, id)
				mu.Unlock()
				time.Sleep(2 * time.Millisecond)
			}
		}()
		time.Sleep(5 * time.Second) // the outage: the retry delay backs off to its cap
		if !c.Degraded() || c.Pending() == 0 {
			t.Fatalf("during the outage Degraded() = %v, Pending() = %d; want true and writes queued", c.Degraded(), c.Pending())
		}
		backend.set(func(s *sharedStore) { s.down = false })
		time.Sleep(time.Second)
		close(stop)
		<-done
		synctest.Wait()

		if c.Degraded() {
			t.Error("Degraded() a second after recovery = true; want false")
		}
		if n := c.Pending(); n != 0 {
			t.Errorf("Pending() a second after recovery = %d; want 0", n)
		}
		mu.Lock()
		defer mu.Unlock()
		missing := 0
		for _, id := range acked {
			if !backend.has(id) {
				missing++
			}
		}
		if missing > 0 {
			t.Errorf("%d of %d acknowledged writes not in the backend a second after recovery", missing, len(acked))
		}
	})
}

// A hung backend costs a call CallTimeout: Put queues, Get of a reference
// in memory serves it, and once the store is known down a miss fails at
// once with store.ErrUnavailable.
func TestCachedCallTimeout(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		const timeout = 500 * time.Millisecond
		backend := newSharedStore(t)
		c := newTestCached(t, backend, Options{Size: 10, CallTimeout: timeout, MaxAge: time.Minute})
		held := storetest.RefAt("a:held", "tenant", time.Now())
		if err := c.Put(t.Context(), held); err != nil {
			t.Fatal(err)
		}
		backend.set(func(s *sharedStore) { s.hang = true })

		start := time.Now()
		if err := c.Put(t.Context(), storetest.RefAt("a:hung", "tenant", time.Now())); err != nil {
			t.Fatalf("Put with the backend hung = %v; want nil (queued)", err)
		}
		if took := time.Since(start); took != timeout {
			t.Errorf("Put with the backend hung took %v; want the call timeout, %v", took, timeout)
		}
		if !c.Degraded() || c.Pending() != 1 {
			t.Errorf("Degraded() = %v, Pending() = %d; want true and 1", c.Degraded(), c.Pending())
		}
		if _, err := c.Get(t.Context(), "a:unknown"); !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("Get(unknown) while degraded = %v; want store.ErrUnavailable", err)
		}
		if _, err := c.NewestForTenant(t.Context(), "other"); !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("NewestForTenant(other) while degraded = %v; want store.ErrUnavailable", err)
		}
		time.Sleep(2 * time.Minute) // past MaxAge: the memory copy is still served
		got, err := c.Get(t.Context(), held.ConversationID)
		if err != nil {
			t.Fatalf("Get(held) while degraded = %v", err)
		}
		storetest.SameVersionf(t, "Get(held) while degraded", got, held)
	})
}

// A store opened while its backend is down starts degraded, queues, and
// heals when the backend answers.
func TestCachedStartsDegraded(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		backend := newSharedStore(t)
		backend.set(func(s *sharedStore) { s.down = true })
		c := newTestCached(t, backend, Options{Size: 10, Unavailable: true, CallTimeout: time.Second})
		if !c.Degraded() {
			t.Fatal("Degraded() at start = false; want true")
		}
		ref := storetest.RefAt("a:early", "tenant", time.Now())
		if err := c.Put(t.Context(), ref); err != nil {
			t.Fatal(err)
		}
		if n := backend.writes.Load(); n != 0 {
			t.Errorf("backend writes while starting degraded = %d; want 0 (queued)", n)
		}
		runCached(t, c)
		settle(10 * time.Second)
		if !c.Degraded() {
			t.Error("Degraded() with the backend still down = false; want true")
		}
		backend.set(func(s *sharedStore) { s.down = false })
		settle(MaxRetryInterval)
		if c.Degraded() || !backend.has(ref.ConversationID) {
			t.Errorf("after recovery Degraded() = %v, stored = %v; want false, true", c.Degraded(), backend.has(ref.ConversationID))
		}
	})
}

// With no traffic at all, the probe notices an outage and its end.
func TestCachedProbeNoticesOutage(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		backend := newSharedStore(t)
		c := newTestCached(t, backend, Options{Size: 10, CallTimeout: time.Second})
		runCached(t, c)
		backend.set(func(s *sharedStore) { s.down = true })
		settle(DefaultProbeInterval + time.Millisecond)
		if !c.Degraded() {
			t.Error("Degraded() a probe interval into the outage = false; want true")
		}
		backend.set(func(s *sharedStore) { s.down = false })
		settle(MaxRetryInterval)
		if c.Degraded() {
			t.Error("Degraded() after the backend answered a probe = true; want false")
		}
	})
}

// A backend that comes back empty gets what this process holds written
// back, without overwriting a newer write another replica made since.
func TestCachedHealsLostBackend(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		backend := newSharedStore(t)
		c := newTestCached(t, backend, Options{Size: 100, CallTimeout: time.Second})
		runCached(t, c)
		now := time.Now()
		var refs []store.Reference
		for i := range 20 {
			ref := storetest.RefAt(fmt.Sprintf("a:heal-%02d", i), "tenant", now)
			if err := c.Put(t.Context(), ref); err != nil {
				t.Fatal(err)
			}
			refs = append(refs, ref)
		}
		backend.wipe(t)
		theirs := storetest.RefAt("a:heal-00", "tenant", now.Add(time.Second))
		theirs.ServiceURL = "https://smba.trafficmanager.net/emea/"
		if err := backend.mem.Put(t.Context(), theirs); err != nil { // another replica, after the loss
			t.Fatal(err)
		}
		settle(DefaultProbeInterval + time.Millisecond)
		for _, ref := range refs[1:] {
			if !backend.has(ref.ConversationID) {
				t.Errorf("%s not written back a probe interval after the backend lost it", ref.ConversationID)
			}
		}
		got, err := backend.mem.Get(t.Context(), "a:heal-00")
		if err != nil {
			t.Fatal(err)
		}
		storetest.SameVersionf(t, "a reference another replica wrote after the loss", got, theirs)
		// An unchanged Put writes again: the backend may lack it.
		before := backend.writes.Load() + backend.restore.Load()
		backend.wipe(t)
		settle(DefaultProbeInterval + time.Millisecond)
		if err := c.Put(t.Context(), refs[1]); err != nil {
			t.Fatal(err)
		}
		if n := backend.writes.Load() + backend.restore.Load(); n == before {
			t.Error("nothing written after the second loss")
		}
		if !backend.has(refs[1].ConversationID) {
			t.Error("an unchanged reference is not in the backend after it lost its data")
		}
	})
}

// A read that misses a reference this process holds serves the copy and
// writes it back; it does not drop it.
func TestCachedMissWritesBack(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		backend := newSharedStore(t)
		c := newTestCached(t, backend, Options{Size: 10, MaxAge: time.Minute, CallTimeout: time.Second})
		runCached(t, c)
		ref := storetest.RefAt("a:mine", "tenant", time.Now())
		if err := c.Put(t.Context(), ref); err != nil {
			t.Fatal(err)
		}
		if err := backend.mem.Delete(t.Context(), ref.ConversationID); err != nil { // flushed behind our back
			t.Fatal(err)
		}
		time.Sleep(2 * time.Minute) // past MaxAge: the next Get reads the backend
		for range 2 {
			got, err := c.Get(t.Context(), ref.ConversationID)
			if err != nil {
				t.Fatalf("Get of a reference the backend lost = %v; want the memory copy", err)
			}
			storetest.SameVersionf(t, "Get after the backend lost it", got, ref)
		}
		synctest.Wait()
		if !backend.has(ref.ConversationID) {
			t.Error("the memory copy was not written back")
		}
	})
}
