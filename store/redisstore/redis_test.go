package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/botsidecar/sidecar/internal/testkit"
	"github.com/botsidecar/sidecar/store"
	"github.com/botsidecar/sidecar/store/cachedstore"
	"github.com/botsidecar/sidecar/store/internal/storetest"
)

// redisWait bounds the waits for a restarted Redis and its clients: a
// failure deadline only, generous for a loaded machine under -race.
const redisWait = 30 * time.Second

// openTestRedis opens a Redis store on s and closes it at the end.
func openTestRedis(tb testing.TB, url string, opts Options) *Redis {
	tb.Helper()
	opts.URL = url
	if opts.Namespace == "" {
		opts.Namespace = "00000000-0000-0000-0000-000000000001"
	}
	r, err := Open(context.Background(), opts)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { _ = r.Close() })
	return r
}

// rawRedis is a plain client for checking what the store wrote.
func rawRedis(tb testing.TB, s *testkit.RedisServer) *redis.Client {
	tb.Helper()
	c := redis.NewClient(&redis.Options{Addr: s.Addr()})
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

func TestRedisConformance(t *testing.T) {
	t.Parallel()
	storetest.Conformance(t, openTestRedis(t, testkit.StartRedis(t, testkit.RedisOptions{}).URL(), Options{}))
}

func TestCachedOverRedisConformance(t *testing.T) {
	t.Parallel()
	c, err := cachedstore.New(openTestRedis(t, testkit.StartRedis(t, testkit.RedisOptions{}).URL(), Options{}), cachedstore.Options{Size: 100})
	if err != nil {
		t.Fatal(err)
	}
	storetest.Conformance(t, c)
}

func TestRedisTLS(t *testing.T) {
	t.Parallel()
	storetest.Conformance(t, openTestRedis(t, testkit.StartRedis(t, testkit.RedisOptions{TLS: true}).URL(), Options{}))
}

func TestRedisCluster(t *testing.T) {
	t.Parallel()
	url := testkit.StartRedisCluster(t, 3)
	r := openTestRedis(t, url, Options{})
	if _, ok := r.client.(*redis.ClusterClient); !ok {
		t.Fatalf("Open(%q) client is %T; want *redis.ClusterClient", url, r.client)
	}
	storetest.Conformance(t, r)
	t.Run("list spans nodes", func(t *testing.T) {
		t.Parallel()
		testRedisList(t, r, "list")
	})
}

func TestRedisNamespaces(t *testing.T) {
	t.Parallel()
	s := testkit.StartRedis(t, testkit.RedisOptions{})
	a := openTestRedis(t, s.URL(), Options{Namespace: "app-a"})
	b := openTestRedis(t, s.URL(), Options{Namespace: "app-b"})
	refA := storetest.RefAt("a:shared", "tenant", time.Now())
	refB := refA
	refB.ServiceURL = "https://smba.trafficmanager.net/emea/"
	if err := a.Put(t.Context(), refA); err != nil {
		t.Fatal(err)
	}
	if err := b.Put(t.Context(), refB); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		give *Redis
		want store.Reference
	}{
		{"app-a", a, refA},
		{"app-b", b, refB},
	} {
		got, err := tt.give.Get(t.Context(), "a:shared")
		if err != nil || got.ServiceURL != tt.want.ServiceURL {
			t.Errorf("%s Get = %q, %v; want %q", tt.name, got.ServiceURL, err, tt.want.ServiceURL)
		}
		got, err = tt.give.NewestForTenant(t.Context(), "tenant")
		if err != nil || got.ServiceURL != tt.want.ServiceURL {
			t.Errorf("%s NewestForTenant = %q, %v; want %q", tt.name, got.ServiceURL, err, tt.want.ServiceURL)
		}
		n := 0
		if err := tt.give.List(t.Context(), func(store.Reference) bool { n++; return true }); err != nil || n != 1 {
			t.Errorf("%s List saw %d, %v; want 1", tt.name, n, err)
		}
	}
	if err := a.Delete(t.Context(), "a:shared"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Get(t.Context(), "a:shared"); err != nil {
		t.Errorf("app-b Get after app-a Delete: %v", err)
	}
	keys, err := rawRedis(t, s).Keys(t.Context(), "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, "botsidecar:app-b:") {
			t.Errorf("key %q left; want only botsidecar:app-b: keys", k)
		}
	}
}

func TestRedisKeyTTL(t *testing.T) {
	t.Parallel()
	s := testkit.StartRedis(t, testkit.RedisOptions{})
	const ttl = 10 * time.Hour
	clock := testkit.NewClock()
	r := openTestRedis(t, s.URL(), Options{Namespace: "ns", TTL: ttl, Now: clock.Now})
	raw := rawRedis(t, s)
	tests := []struct {
		name string
		age  time.Duration
		want time.Duration // 0: not written
	}{
		{"fresh", 0, ttl},
		{"captured an hour ago", time.Hour, ttl - time.Hour},
		{"expired before written", ttl + time.Minute, 0},
	}
	for _, tt := range tests {
		ref := storetest.RefAt("a:"+tt.name, "tenant-"+tt.name, clock.Now().Add(-tt.age))
		if err := r.Put(t.Context(), ref); err != nil {
			t.Fatalf("%s: Put: %v", tt.name, err)
		}
		for _, key := range []string{"botsidecar:ns:ref:a:" + tt.name, "botsidecar:ns:tenant:tenant-" + tt.name} {
			got, err := raw.PTTL(t.Context(), key).Result()
			if err != nil {
				t.Fatal(err)
			}
			if tt.want == 0 {
				if got != -2*time.Nanosecond && got != -2*time.Millisecond {
					t.Errorf("%s: PTTL(%s) = %v; want the key absent", tt.name, key, got)
				}
				continue
			}
			if got > tt.want || got < tt.want-time.Minute {
				t.Errorf("%s: PTTL(%s) = %v; want about %v", tt.name, key, got, tt.want)
			}
		}
	}
}

func TestRedisList(t *testing.T) {
	t.Parallel()
	testRedisList(t, openTestRedis(t, testkit.StartRedis(t, testkit.RedisOptions{}).URL(), Options{}), "")
}

// testRedisList stores more references than one SCAN batch and lists them.
func testRedisList(t *testing.T, r *Redis, prefix string) {
	const n = 1200
	for i := range n {
		if err := r.Put(t.Context(), storetest.RefAt(fmt.Sprintf("a:%s%d", prefix, i), "", time.Now())); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	err := r.List(t.Context(), func(ref store.Reference) bool {
		if strings.HasPrefix(ref.ConversationID, "a:"+prefix) {
			seen[ref.ConversationID] = true
		}
		return true
	})
	if err != nil || len(seen) != n {
		t.Errorf("List saw %d references, %v; want %d", len(seen), err, n)
	}
	calls := 0
	if err := r.List(t.Context(), func(store.Reference) bool { calls++; return false }); err != nil || calls != 1 {
		t.Errorf("List after fn returned false: %d calls, %v; want 1, nil", calls, err)
	}
}

func TestOpenUnreachable(t *testing.T) {
	t.Parallel()
	// Nothing listens there: Open must fail, not hang (how long it may try
	// is newRedisClient's dial timeout and retries, checked by
	// TestNewRedisClientTimeouts, not a wall-clock bound here).
	url := "redis://bot:s3cret-pw@" + testkit.FreeAddr(t) + "/0"
	_, err := Open(t.Context(), Options{URL: url, Namespace: "ns"})
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Open(unreachable) error = %v; want store.ErrUnavailable", err)
	}
	if strings.Contains(err.Error(), "s3cret-pw") {
		t.Errorf("Open error %q shows the password", err)
	}
}

func TestOpenNamespace(t *testing.T) {
	t.Parallel()
	for _, give := range []string{"", "a:b", "{app}"} {
		if _, err := Open(t.Context(), Options{URL: "redis://127.0.0.1:1", Namespace: give}); err == nil {
			t.Errorf("Open(namespace %q) succeeded; want an error", give)
		}
	}
}

// TestCachedRedisOutage stops Redis under a Cached store: inbound Puts
// still succeed and are served from memory, and the retry loop stores them
// when the same server comes back.
func TestCachedRedisOutage(t *testing.T) {
	t.Parallel()
	s := testkit.StartRedis(t, testkit.RedisOptions{})
	r := openTestRedis(t, s.URL(), Options{Namespace: "ns"})
	c, err := cachedstore.New(r, cachedstore.Options{Size: 100, RetryInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
	}()

	before := storetest.RefAt("a:before", "tenant", time.Now())
	if err := c.Put(t.Context(), before); err != nil {
		t.Fatalf("Put with Redis up: %v", err)
	}

	s.Stop()
	during := storetest.RefAt("a:during", "tenant", time.Now())
	if err := c.Put(t.Context(), during); err != nil {
		t.Fatalf("Put with Redis down = %v; want nil", err)
	}
	if c.Pending() == 0 {
		t.Fatal("Pending() = 0 with Redis down; want the write queued")
	}
	for _, want := range []store.Reference{before, during} {
		got, err := c.Get(t.Context(), want.ConversationID)
		if err != nil {
			t.Fatalf("Get(%q) with Redis down: %v", want.ConversationID, err)
		}
		storetest.SameVersionf(t, "Get with Redis down", got, want)
	}
	if _, err := c.Get(t.Context(), "a:never-seen"); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Get(uncached) with Redis down error = %v; want store.ErrUnavailable", err)
	}

	s.Start() // on the same port, empty
	raw := rawRedis(t, s)
	testkit.WaitFor(t, redisWait, func() bool {
		return raw.Exists(t.Context(), "botsidecar:ns:ref:a:during").Val() == 1
	}, "the queued write stored in Redis")
	testkit.WaitFor(t, redisWait, func() bool { return c.Pending() == 0 }, "the write queue empty")
	// The retry loop's write went through one pooled connection; another
	// call may still meet a connection broken by the outage, or the pool's
	// remembered dial error until its background dial succeeds (go-redis
	// answers with the last dial error for a while after PoolSize failed
	// dials). The outage is over once a read answers.
	var got store.Reference
	if !testkit.Poll(redisWait, func() bool {
		got, err = r.NewestForTenant(t.Context(), "tenant")
		return err == nil
	}) {
		t.Fatalf("Redis NewestForTenant after the restart: still %v after %v; want the client reconnected", err, redisWait)
	}
	storetest.SameVersionf(t, "Redis NewestForTenant after recovery", got, during)
}

// BenchmarkGet reads a stored reference (hit) and a missing one (miss).
// For Cached, hit is a memory hit and miss is a memory miss Redis serves.
func BenchmarkGet(b *testing.B) {
	newRedis := func(b *testing.B) *Redis {
		r := openTestRedis(b, testkit.StartRedis(b, testkit.RedisOptions{}).URL(), Options{})
		storetest.Fill(b, r)
		return r
	}
	cached := func(b *testing.B, backend store.Store, size int) *cachedstore.Cached {
		c, err := cachedstore.New(backend, cachedstore.Options{Size: size, Durable: true})
		if err != nil {
			b.Fatal(err)
		}
		return c
	}
	b.Run("Redis", func(b *testing.B) {
		r := newRedis(b)
		storetest.BenchGet(b, r, r, false)
	})
	b.Run("CachedRedis", func(b *testing.B) {
		r := newRedis(b)
		storetest.BenchGet(b, cached(b, r, storetest.BenchRefs), cached(b, r, 1), true)
	})
}

func TestRedisDeliveriesConformance(t *testing.T) {
	t.Parallel()
	srv := testkit.StartRedis(t, testkit.RedisOptions{})
	r := openTestRedis(t, srv.URL(), Options{})
	storetest.DeliveriesConformance(t, r, nil)
	// Redis expires claims itself; Record keeps the claim's TTL.
	if _, _, err := r.Claim(t.Context(), "id:ttl", time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := r.Record(t.Context(), "id:ttl", store.Delivery{Status: 200}); err != nil {
		t.Fatal(err)
	}
	ttl, err := rawRedis(t, srv).PTTL(t.Context(), r.deliveryKey("id:ttl")).Result()
	if err != nil || ttl <= 0 || ttl > time.Minute {
		t.Errorf("PTTL after Record = %v, %v; want the claim's minute kept", ttl, err)
	}
}

// Two replicas share the window: one claim wins, the other reads its
// answer.
func TestRedisDeliveriesShared(t *testing.T) {
	t.Parallel()
	url := testkit.StartRedis(t, testkit.RedisOptions{}).URL()
	a, b := openTestRedis(t, url, Options{}), openTestRedis(t, url, Options{})
	if _, claimed, err := a.Claim(t.Context(), "id:x", time.Minute); err != nil || !claimed {
		t.Fatalf("Claim on A = %v, %v; want claimed", claimed, err)
	}
	if err := a.Record(t.Context(), "id:x", store.Delivery{Status: 201, Body: []byte("b")}); err != nil {
		t.Fatal(err)
	}
	prior, claimed, err := b.Claim(t.Context(), "id:x", time.Minute)
	if err != nil || claimed || prior == nil || prior.Status != 201 || string(prior.Body) != "b" {
		t.Errorf("Claim on B = %+v, %v, %v; want A's answer", prior, claimed, err)
	}
}
