package backends_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/botsidecar/sidecar/internal/testkit"
	"github.com/botsidecar/sidecar/store"
	"github.com/botsidecar/sidecar/store/backends"
	"github.com/botsidecar/sidecar/store/internal/storetest"
)

func mustSpec(t *testing.T, v string) store.Spec {
	t.Helper()
	s, err := store.ParseSpec(v)
	if err != nil {
		t.Fatalf("ParseSpec(%q): %v", v, err)
	}
	return s
}

func TestOpen(t *testing.T) {
	t.Parallel()
	redisURL := testkit.StartRedis(t, testkit.RedisOptions{}).URL()
	tests := []struct {
		name       string
		give       string
		wantType   string
		wantRunner bool
		wantLister bool
	}{
		{"memory", "memory:", "*memstore.Memory", false, false},
		{"bolt", "bolt:" + filepath.Join(t.TempDir(), "data", "references.db"), "*cachedstore.Cached", true, true},
		{"redis", redisURL, "*cachedstore.Cached", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := backends.Open(t.Context(), mustSpec(t, tt.give), backends.Options{CacheSize: 10, Namespace: "app"})
			if err != nil {
				t.Fatalf("Open(%q): %v", tt.give, err)
			}
			defer s.Close()
			if got := fmt.Sprintf("%T", s); got != tt.wantType {
				t.Errorf("Open(%q) = %s; want %s", tt.give, got, tt.wantType)
			}
			if _, ok := s.(store.Runner); ok != tt.wantRunner {
				t.Errorf("Open(%q) is a Runner: %v; want %v", tt.give, ok, tt.wantRunner)
			}
			if _, ok := s.(store.Lister); ok != tt.wantLister {
				t.Errorf("Open(%q) is a Lister: %v; want %v", tt.give, ok, tt.wantLister)
			}
			ref := storetest.RefAt("a:open", "tenant", time.Now())
			if err := s.Put(t.Context(), ref); err != nil {
				t.Fatalf("Put: %v", err)
			}
			if _, err := s.Get(t.Context(), ref.ConversationID); err != nil {
				t.Errorf("Get: %v", err)
			}
		})
	}
}

// The contract: no stored reference is lost on a clean restart.
func TestOpenBoltRestart(t *testing.T) {
	t.Parallel()
	spec := mustSpec(t, "bolt:"+filepath.Join(t.TempDir(), "references.db"))
	want := storetest.SampleRef(1, "tenant")
	s, err := backends.Open(t.Context(), spec, backends.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Put(t.Context(), want); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = backends.Open(t.Context(), spec, backends.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.Get(t.Context(), want.ConversationID)
	if err != nil {
		t.Fatalf("Get after restart: %v", err)
	}
	storetest.SameVersionf(t, "Get after restart", got, want)
}

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	closed := testkit.FreeAddr(t)
	tests := []struct {
		name     string
		give     store.Spec
		opts     backends.Options
		wantIs   error
		wantText string
	}{
		{name: "zero spec", give: store.Spec{}, wantText: "use bolt:PATH, memory:"},
		{name: "redis without namespace", give: mustSpec(t, "redis://:s3cret@"+closed), wantText: "app id"},
		{name: "redis unreachable", give: mustSpec(t, "redis://:s3cret@"+closed), opts: backends.Options{Namespace: "app"}, wantIs: store.ErrUnavailable},
		{name: "cluster unreachable", give: mustSpec(t, "redis+cluster://:s3cret@"+closed), opts: backends.Options{Namespace: "app"}, wantIs: store.ErrUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := backends.Open(t.Context(), tt.give, tt.opts)
			if err == nil {
				s.Close()
				t.Fatalf("Open(%v) succeeded; want an error", tt.give)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("Open(%v) = %v; want %v", tt.give, err, tt.wantIs)
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("Open(%v) = %v; want it to mention %q", tt.give, err, tt.wantText)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("Open(%v) = %v; shows the password", tt.give, err)
			}
		})
	}
}

// A serving sidecar starts while Redis is down: the store opens degraded,
// acknowledges writes by queueing them, and says so.
func TestOpenRedisStartUnavailable(t *testing.T) {
	t.Parallel()
	spec := mustSpec(t, "redis://"+testkit.FreeAddr(t))
	s, err := backends.Open(t.Context(), spec, backends.Options{Namespace: "app", StartUnavailable: true})
	if err != nil {
		t.Fatalf("Open with StartUnavailable = %v; want a degraded store", err)
	}
	defer s.Close()
	d, ok := s.(interface{ Degraded() bool })
	if !ok || !d.Degraded() {
		t.Fatalf("store %T does not report itself degraded", s)
	}
	if err := s.Put(t.Context(), storetest.SampleRef(1, "tenant")); err != nil {
		t.Errorf("Put while degraded = %v; want nil (queued)", err)
	}
}
