package cachedstore

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

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/botsidecar/sidecar/internal/testkit"
	"github.com/botsidecar/sidecar/store"
	"github.com/botsidecar/sidecar/store/internal/storetest"
	"github.com/botsidecar/sidecar/store/memstore"
)

// countingStore is a Memory that counts calls and fails on demand.
type countingStore struct {
	*memstore.Memory
	puts, gets, newest atomic.Int64

	mu     sync.Mutex
	putErr error
	getErr error
}

var _ store.Store = (*countingStore)(nil)

func newCountingStore(t *testing.T) *countingStore {
	t.Helper()
	m, err := memstore.New(1000)
	if err != nil {
		t.Fatal(err)
	}
	return &countingStore{Memory: m}
}

func (s *countingStore) fail(putErr, getErr error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.putErr, s.getErr = putErr, getErr
}

func (s *countingStore) errs() (error, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.putErr, s.getErr
}

func (s *countingStore) Put(ctx context.Context, ref store.Reference) error {
	s.puts.Add(1)
	if err, _ := s.errs(); err != nil {
		return err
	}
	return s.Memory.Put(ctx, ref)
}

func (s *countingStore) Get(ctx context.Context, id string) (store.Reference, error) {
	s.gets.Add(1)
	if _, err := s.errs(); err != nil {
		return store.Reference{}, err
	}
	return s.Memory.Get(ctx, id)
}

func (s *countingStore) NewestForTenant(ctx context.Context, tenantID string) (store.Reference, error) {
	s.newest.Add(1)
	return s.Memory.NewestForTenant(ctx, tenantID)
}

var errDown = fmt.Errorf("put reference: %w: connection refused", store.ErrUnavailable)

func newTestCached(t *testing.T, backend store.Store, opts Options) *Cached {
	t.Helper()
	c, err := New(backend, opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// runCached runs c's loops until the test ends.
func runCached(t *testing.T, c *Cached) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v; want nil", err)
		}
	})
}

func TestCachedSkipsUnchangedPut(t *testing.T) {
	t.Parallel()
	backend := newCountingStore(t)
	clock := testkit.NewClock()
	// TTL/100 is 1 h: an unchanged reference is written at most hourly.
	c := newTestCached(t, backend, Options{Size: 10, TTL: 100 * time.Hour, Now: clock.Now})
	t0 := clock.Now()
	base := storetest.RefAt("a:busy", "tenant", t0)
	changed := storetest.RefAt("a:busy", "tenant", t0.Add(62*time.Minute))
	changed.ServiceURL = "https://smba.trafficmanager.net/emea/"
	tests := []struct {
		name     string
		give     store.Reference
		wantPuts int64
	}{
		{"first capture writes", base, 1},
		{"same a minute later", storetest.RefAt("a:busy", "tenant", t0.Add(time.Minute)), 1},
		{"same with no time set", storetest.RefAt("a:busy", "tenant", time.Time{}), 1},
		{"same just before the refresh", storetest.RefAt("a:busy", "tenant", t0.Add(59*time.Minute)), 1},
		{"same after the refresh interval", storetest.RefAt("a:busy", "tenant", t0.Add(61*time.Minute)), 2},
		{"changed serviceUrl", changed, 3},
		{"another conversation", storetest.RefAt("a:other", "tenant", t0), 4},
	}
	for _, tt := range tests {
		if err := c.Put(t.Context(), tt.give); err != nil {
			t.Fatalf("%s: Put: %v", tt.name, err)
		}
		if got := backend.puts.Load(); got != tt.wantPuts {
			t.Errorf("%s: backend writes = %d; want %d", tt.name, got, tt.wantPuts)
		}
	}
}

func TestCachedRefreshAfter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		give Options
		want time.Duration
	}{
		{"no TTL", Options{}, time.Hour},
		{"a year", Options{TTL: store.DefaultTTL}, time.Hour},
		{"short TTL", Options{TTL: 50 * time.Hour}, 30 * time.Minute},
		{"explicit", Options{TTL: store.DefaultTTL, RefreshAfter: 5 * time.Minute}, 5 * time.Minute},
	}
	for _, tt := range tests {
		c := newTestCached(t, newCountingStore(t), tt.give)
		if c.refreshAfter != tt.want {
			t.Errorf("%s: New(%+v).refreshAfter = %v; want %v", tt.name, tt.give, c.refreshAfter, tt.want)
		}
	}
}

func TestCachedReadThrough(t *testing.T) {
	t.Parallel()
	backend := newCountingStore(t)
	want := storetest.RefAt("a:read", "tenant", time.Now())
	if err := backend.Memory.Put(t.Context(), want); err != nil {
		t.Fatal(err)
	}
	c := newTestCached(t, backend, Options{Size: 10})
	for range 3 {
		got, err := c.Get(t.Context(), want.ConversationID)
		if err != nil {
			t.Fatal(err)
		}
		storetest.SameVersionf(t, "Get", got, want)
	}
	if n := backend.gets.Load(); n != 1 {
		t.Errorf("backend reads after 3 Gets = %d; want 1", n)
	}
	// Misses are not cached: another replica may store the reference.
	for range 2 {
		if _, err := c.Get(t.Context(), "a:missing"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Get(missing) = %v; want store.ErrNotFound", err)
		}
	}
	if n := backend.gets.Load(); n != 3 {
		t.Errorf("backend reads after 2 misses = %d; want 3", n)
	}
	backend.fail(nil, fmt.Errorf("get reference: %w", store.ErrUnavailable))
	if _, err := c.Get(t.Context(), "a:missing"); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Get(miss) with the backend down = %v; want store.ErrUnavailable", err)
	}
}

func TestCachedDurableFailure(t *testing.T) {
	t.Parallel()
	backend := newCountingStore(t)
	backend.fail(errDown, nil)
	c := newTestCached(t, backend, Options{Size: 10, Durable: true})
	ref := storetest.RefAt("a:durable", "tenant", time.Now())
	if err := c.Put(t.Context(), ref); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Put = %v; want store.ErrUnavailable", err)
	}
	if n := c.Pending(); n != 0 {
		t.Errorf("Pending() = %d; want 0 for a durable store", n)
	}
	if _, err := c.Get(t.Context(), ref.ConversationID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get after a failed durable Put = %v; want store.ErrNotFound", err)
	}
	backend.fail(nil, nil)
	if err := c.Put(t.Context(), ref); err != nil {
		t.Errorf("Put after recovery = %v", err)
	}
}

func TestCachedNonDurableFailure(t *testing.T) {
	t.Parallel()
	// Pure memory and timers: the retry schedule runs on the bubble's clock.
	synctest.Test(t, func(t *testing.T) {
		const retry = 10 * time.Millisecond
		backend := newCountingStore(t)
		core, logs := observer.New(zapcore.DebugLevel)
		c := newTestCached(t, backend, Options{Size: 10, RetryInterval: retry, Logger: zap.New(core)})
		now := time.Now()
		a1 := storetest.RefAt("a:queued-a", "tenant", now)
		a2 := storetest.RefAt("a:queued-a", "tenant", now.Add(time.Second))
		a2.ServiceURL = "https://smba.trafficmanager.net/emea/"
		b := storetest.RefAt("a:queued-b", "tenant", now)

		backend.fail(errDown, nil)
		for _, ref := range []store.Reference{a1, b, a2} {
			if err := c.Put(t.Context(), ref); err != nil {
				t.Fatalf("Put with the backend down = %v; want nil", err)
			}
		}
		if n := backend.puts.Load(); n != 1 {
			t.Errorf("backend write attempts = %d; want 1 (later Puts queue without trying)", n)
		}
		if n := c.Pending(); n != 2 {
			t.Errorf("Pending() = %d; want 2 (latest write per conversation)", n)
		}
		got, err := c.Get(t.Context(), a1.ConversationID)
		if err != nil {
			t.Fatal(err)
		}
		storetest.SameVersionf(t, "Get of a queued reference", got, a2)
		if n := backend.gets.Load(); n != 0 {
			t.Errorf("backend reads = %d; want 0", n)
		}
		if n := logs.FilterLevelExact(zapcore.WarnLevel).Len(); n != 1 {
			t.Errorf("warnings logged = %d; want 1 per failure burst", n)
		}

		runCached(t, c)
		// In the bubble time moves only when every goroutine waits, so the
		// retries come on schedule: the first RetryInterval after the queue
		// filled, the next twice that later, each stopping at its first
		// failed write.
		for i, wait := range []time.Duration{retry, 2 * retry} {
			time.Sleep(wait)
			synctest.Wait()
			if got, want := backend.puts.Load(), int64(2+i); got != want {
				t.Fatalf("backend write attempts after retry %d = %d; want %d", i+1, got, want)
			}
		}
		backend.fail(nil, nil)
		testkit.WaitFor(t, time.Minute, func() bool { return c.Pending() == 0 }, "the queue flushed after recovery")
		for _, want := range []store.Reference{a2, b} {
			got, err := backend.Memory.Get(t.Context(), want.ConversationID)
			if err != nil {
				t.Fatalf("backend Get(%q) after recovery: %v", want.ConversationID, err)
			}
			storetest.SameVersionf(t, "backend after recovery", got, want)
		}
		if n := logs.FilterMessage("reference store available again").Len(); n != 1 {
			t.Errorf("recovery messages = %d; want 1", n)
		}
		puts := backend.puts.Load()
		if err := c.Put(t.Context(), a2); err != nil {
			t.Fatal(err)
		}
		if n := backend.puts.Load(); n != puts {
			t.Errorf("Put of a reference the retry stored wrote again (%d writes); want none", n-puts)
		}
		for _, e := range logs.All() {
			if e.Level < zapcore.InfoLevel {
				continue
			}
			line := fmt.Sprintf("%s %v", e.Message, e.ContextMap())
			if strings.Contains(line, "queued-") || strings.Contains(line, "tenant") {
				t.Errorf("%s line names a conversation or tenant: %s", e.Level, line)
			}
		}
	})
}

func TestCachedQueueBound(t *testing.T) {
	t.Parallel()
	backend := newCountingStore(t)
	c := newTestCached(t, backend, Options{Size: 100, MaxPending: 2, RetryInterval: 10 * time.Millisecond})
	backend.fail(errDown, nil)
	const n = 5
	for i := range n {
		if err := c.Put(t.Context(), storetest.RefAt(fmt.Sprintf("a:%d", i), "", time.Now())); err != nil {
			t.Fatal(err)
		}
	}
	if got := c.Pending(); got != 2 {
		t.Errorf("Pending() = %d; want the bound, 2", got)
	}
	// Writes refused by the full queue are still in memory, and stored
	// once the backend is back.
	backend.fail(nil, nil)
	runCached(t, c)
	testkit.WaitFor(t, 10*time.Second, func() bool {
		for i := range n {
			if _, err := backend.Memory.Get(t.Context(), fmt.Sprintf("a:%d", i)); err != nil {
				return false
			}
		}
		return c.Pending() == 0
	}, "every write stored")
}

func TestCachedNonDurableOtherError(t *testing.T) {
	t.Parallel()
	backend := newCountingStore(t)
	invalid := errors.New("put reference: id too long")
	backend.fail(invalid, nil)
	c := newTestCached(t, backend, Options{Size: 10})
	if err := c.Put(t.Context(), storetest.RefAt("a:x", "", time.Now())); !errors.Is(err, invalid) {
		t.Errorf("Put = %v; want %v", err, invalid)
	}
	if n := c.Pending(); n != 0 {
		t.Errorf("Pending() = %d; want 0: only store.ErrUnavailable is retried", n)
	}
}

func TestCachedNewestForTenant(t *testing.T) {
	t.Parallel()
	backend := newCountingStore(t)
	c := newTestCached(t, backend, Options{Size: 10})
	now := time.Now()
	a := storetest.RefAt("a:first", "tenant", now)
	b := storetest.RefAt("a:second", "tenant", now)
	for _, ref := range []store.Reference{a, b, a} { // the last Put is skipped, yet a is newest
		if err := c.Put(t.Context(), ref); err != nil {
			t.Fatal(err)
		}
	}
	got, err := c.NewestForTenant(t.Context(), "tenant")
	if err != nil {
		t.Fatal(err)
	}
	storetest.SameVersionf(t, "NewestForTenant", got, a)
	if n := backend.newest.Load(); n != 0 {
		t.Errorf("backend NewestForTenant calls = %d; want 0", n)
	}
	if _, err := c.NewestForTenant(t.Context(), "other"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("NewestForTenant(other) = %v; want store.ErrNotFound", err)
	}
	if n := backend.newest.Load(); n != 1 {
		t.Errorf("backend NewestForTenant calls = %d; want 1", n)
	}
}

// With MaxAge, replicas sharing a backend see each other's updates.
func TestCachedMaxAge(t *testing.T) {
	t.Parallel()
	backend := newCountingStore(t)
	clock := testkit.NewClock()
	c := newTestCached(t, backend, Options{Size: 10, MaxAge: time.Minute, Now: clock.Now})
	mine := storetest.RefAt("a:shared", "", clock.Now())
	if err := c.Put(t.Context(), mine); err != nil {
		t.Fatal(err)
	}
	theirs := storetest.RefAt("a:shared", "", clock.Now().Add(time.Second))
	theirs.ServiceURL = "https://smba.trafficmanager.net/emea/"
	if err := backend.Memory.Put(t.Context(), theirs); err != nil { // another replica
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		advance time.Duration
		getErr  error
		want    store.Reference
	}{
		{"fresh copy served", 30 * time.Second, nil, mine},
		{"old copy read again", time.Minute, nil, theirs},
		{"stale copy when the backend is down", 2 * time.Minute, fmt.Errorf("get: %w", store.ErrUnavailable), theirs},
	}
	for _, tt := range tests {
		clock.Advance(tt.advance)
		backend.fail(nil, tt.getErr)
		got, err := c.Get(t.Context(), "a:shared")
		if err != nil {
			t.Fatalf("%s: Get: %v", tt.name, err)
		}
		storetest.SameVersionf(t, tt.name, got, tt.want)
	}
}

func TestCachedTTL(t *testing.T) {
	t.Parallel()
	backend := newCountingStore(t)
	clock := testkit.NewClock()
	c := newTestCached(t, backend, Options{Size: 10, TTL: time.Hour, Now: clock.Now})
	if err := c.Put(t.Context(), storetest.RefAt("a:old", "", clock.Now())); err != nil {
		t.Fatal(err)
	}
	clock.Advance(2 * time.Hour)
	_, _ = c.Get(t.Context(), "a:old")
	if n := backend.gets.Load(); n != 1 {
		t.Errorf("backend reads = %d; want 1: an expired copy is not served", n)
	}
}

func TestCachedDeleteDropsQueuedWrite(t *testing.T) {
	t.Parallel()
	backend := newCountingStore(t)
	c := newTestCached(t, backend, Options{Size: 10})
	backend.fail(errDown, nil)
	if err := c.Put(t.Context(), storetest.RefAt("a:gone", "", time.Now())); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(t.Context(), "a:gone"); err != nil {
		t.Fatal(err)
	}
	if n := c.Pending(); n != 0 {
		t.Errorf("Pending() after Delete = %d; want 0", n)
	}
	// The backend is still down: the answer is an error, not the reference.
	if ref, err := c.Get(t.Context(), "a:gone"); err == nil {
		t.Errorf("Get after Delete = %+v; want an error", ref)
	}
}

func TestCachedClose(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		recover bool
		wantErr error
	}{
		{"backend back: queued writes stored", true, nil},
		{"backend still down", false, store.ErrUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			backend := newCountingStore(t)
			c := newTestCached(t, backend, Options{Size: 10})
			backend.fail(errDown, nil)
			if err := c.Put(t.Context(), storetest.RefAt("a:late", "", time.Now())); err != nil {
				t.Fatal(err)
			}
			if tt.recover {
				backend.fail(nil, nil)
			}
			if err := c.Close(); !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Errorf("Close() = %v; want %v", err, tt.wantErr)
			}
			_, err := backend.Memory.Get(t.Context(), "a:late")
			if stored := err == nil; stored != tt.recover {
				t.Errorf("stored on Close = %v; want %v", stored, tt.recover)
			}
		})
	}
}

// runnerStore is a backend with a loop of its own.
type runnerStore struct {
	*memstore.Memory
	ran atomic.Bool
}

func (s *runnerStore) Run(ctx context.Context) error {
	s.ran.Store(true)
	<-ctx.Done()
	return nil
}

func TestCachedRunsBackendLoop(t *testing.T) {
	t.Parallel()
	m, err := memstore.New(10)
	if err != nil {
		t.Fatal(err)
	}
	backend := &runnerStore{Memory: m}
	c := newTestCached(t, backend, Options{})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	testkit.WaitFor(t, 10*time.Second, backend.ran.Load, "the backend's loop running")
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v; want nil", err)
	}
}

func TestNewRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		backend store.Store
		opts    Options
	}{
		{"nil backend", nil, Options{}},
		{"negative size", newCountingStore(t), Options{Size: -1}},
		{"negative queue", newCountingStore(t), Options{MaxPending: -1}},
	}
	for _, tt := range tests {
		if _, err := New(tt.backend, tt.opts); err == nil {
			t.Errorf("%s: New succeeded; want an error", tt.name)
		}
	}
}

func TestCachedOverMemoryConformance(t *testing.T) {
	t.Parallel()
	m, err := memstore.New(100)
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(m, Options{Size: 100, Durable: true})
	if err != nil {
		t.Fatal(err)
	}
	storetest.Conformance(t, c)
}
