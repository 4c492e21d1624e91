package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// openTestRedis opens a Redis store on s and closes it at the end.
func openTestRedis(tb testing.TB, url string, opts RedisOptions) *Redis {
	tb.Helper()
	opts.URL = url
	if opts.Namespace == "" {
		opts.Namespace = "00000000-0000-0000-0000-000000000001"
	}
	r, err := OpenRedis(context.Background(), opts)
	if err != nil {
		tb.Fatalf("OpenRedis: %v", err)
	}
	tb.Cleanup(func() { _ = r.Close() })
	return r
}

// rawRedis is a plain client for checking what the store wrote.
func rawRedis(tb testing.TB, s *redisServer) *redis.Client {
	tb.Helper()
	c := redis.NewClient(&redis.Options{Addr: s.addr()})
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

func TestRedisConformance(t *testing.T) {
	t.Parallel()
	testStore(t, openTestRedis(t, startRedis(t).URL(), RedisOptions{}))
}

func TestCachedOverRedisConformance(t *testing.T) {
	t.Parallel()
	c, err := NewCached(openTestRedis(t, startRedis(t).URL(), RedisOptions{}), CachedOptions{Size: 100})
	if err != nil {
		t.Fatal(err)
	}
	testStore(t, c)
}

func TestRedisTLS(t *testing.T) {
	t.Parallel()
	testStore(t, openTestRedis(t, startTLSRedis(t).URL(), RedisOptions{}))
}

func TestRedisCluster(t *testing.T) {
	t.Parallel()
	url := startRedisCluster(t)
	r := openTestRedis(t, url, RedisOptions{})
	if _, ok := r.client.(*redis.ClusterClient); !ok {
		t.Fatalf("OpenRedis(%q) client is %T; want *redis.ClusterClient", url, r.client)
	}
	testStore(t, r)
	t.Run("list spans nodes", func(t *testing.T) {
		t.Parallel()
		testRedisList(t, r, "list")
	})
}

func TestRedisNamespaces(t *testing.T) {
	t.Parallel()
	s := startRedis(t)
	a := openTestRedis(t, s.URL(), RedisOptions{Namespace: "app-a"})
	b := openTestRedis(t, s.URL(), RedisOptions{Namespace: "app-b"})
	refA := refAt("a:shared", "tenant", time.Now())
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
		want Reference
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
		if err := tt.give.List(t.Context(), func(Reference) bool { n++; return true }); err != nil || n != 1 {
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
	s := startRedis(t)
	const ttl = 10 * time.Hour
	clock := newFakeClock()
	r := openTestRedis(t, s.URL(), RedisOptions{Namespace: "ns", TTL: ttl, Now: clock.Now})
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
		ref := refAt("a:"+tt.name, "tenant-"+tt.name, clock.Now().Add(-tt.age))
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
	testRedisList(t, openTestRedis(t, startRedis(t).URL(), RedisOptions{}), "")
}

// testRedisList stores more references than one SCAN batch and lists them.
func testRedisList(t *testing.T, r *Redis, prefix string) {
	const n = 1200
	for i := range n {
		if err := r.Put(t.Context(), refAt(fmt.Sprintf("a:%s%d", prefix, i), "", time.Now())); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	err := r.List(t.Context(), func(ref Reference) bool {
		if strings.HasPrefix(ref.ConversationID, "a:"+prefix) {
			seen[ref.ConversationID] = true
		}
		return true
	})
	if err != nil || len(seen) != n {
		t.Errorf("List saw %d references, %v; want %d", len(seen), err, n)
	}
	calls := 0
	if err := r.List(t.Context(), func(Reference) bool { calls++; return false }); err != nil || calls != 1 {
		t.Errorf("List after fn returned false: %d calls, %v; want 1, nil", calls, err)
	}
}

func TestOpenRedisUnreachable(t *testing.T) {
	t.Parallel()
	url := fmt.Sprintf("redis://bot:s3cret-pw@127.0.0.1:%d/0", freePort(t))
	start := time.Now()
	_, err := OpenRedis(t.Context(), RedisOptions{URL: url, Namespace: "ns"})
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("OpenRedis(unreachable) error = %v; want ErrUnavailable", err)
	}
	if strings.Contains(err.Error(), "s3cret-pw") {
		t.Errorf("OpenRedis error %q shows the password", err)
	}
	if elapsed := time.Since(start); elapsed > 10*time.Second {
		t.Errorf("OpenRedis took %s to fail; want a few seconds at most", elapsed)
	}
}

func TestOpenRedisNamespace(t *testing.T) {
	t.Parallel()
	for _, give := range []string{"", "a:b", "{app}"} {
		if _, err := OpenRedis(t.Context(), RedisOptions{URL: "redis://127.0.0.1:1", Namespace: give}); err == nil {
			t.Errorf("OpenRedis(namespace %q) succeeded; want an error", give)
		}
	}
}

// TestCachedRedisOutage stops Redis under a Cached store: inbound Puts
// still succeed and are served from memory, and the retry loop stores them
// when the same server comes back.
func TestCachedRedisOutage(t *testing.T) {
	t.Parallel()
	s := startRedis(t)
	r := openTestRedis(t, s.URL(), RedisOptions{Namespace: "ns"})
	c, err := NewCached(r, CachedOptions{Size: 100, RetryInterval: 20 * time.Millisecond})
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

	before := refAt("a:before", "tenant", time.Now())
	if err := c.Put(t.Context(), before); err != nil {
		t.Fatalf("Put with Redis up: %v", err)
	}

	s.Stop()
	during := refAt("a:during", "tenant", time.Now())
	if err := c.Put(t.Context(), during); err != nil {
		t.Fatalf("Put with Redis down = %v; want nil", err)
	}
	if c.Pending() == 0 {
		t.Fatal("Pending() = 0 with Redis down; want the write queued")
	}
	for _, want := range []Reference{before, during} {
		got, err := c.Get(t.Context(), want.ConversationID)
		if err != nil {
			t.Fatalf("Get(%q) with Redis down: %v", want.ConversationID, err)
		}
		sameVersionf(t, "Get with Redis down", got, want)
	}
	if _, err := c.Get(t.Context(), "a:never-seen"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Get(uncached) with Redis down error = %v; want ErrUnavailable", err)
	}

	s.Start()
	raw := rawRedis(t, s)
	waitFor(t, "queued write stored", func() bool {
		return raw.Exists(t.Context(), "botsidecar:ns:ref:a:during").Val() == 1
	})
	waitFor(t, "queue empty", func() bool { return c.Pending() == 0 })
	got, err := r.NewestForTenant(t.Context(), "tenant")
	if err != nil {
		t.Fatal(err)
	}
	sameVersionf(t, "Redis NewestForTenant after recovery", got, during)
}
