package store

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestOpen(t *testing.T) {
	t.Parallel()
	redisURL := startRedis(t).URL()
	tests := []struct {
		name       string
		give       string
		wantType   string
		wantRunner bool
		wantLister bool
	}{
		{"memory", "memory:", "*store.Memory", false, false},
		{"bolt", "bolt:" + filepath.Join(t.TempDir(), "data", "references.db"), "*store.Cached", true, true},
		{"redis", redisURL, "*store.Cached", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := Open(t.Context(), tt.give, OpenOptions{CacheSize: 10, Namespace: "app"})
			if err != nil {
				t.Fatalf("Open(%q): %v", tt.give, err)
			}
			defer s.Close()
			if got := fmt.Sprintf("%T", s); got != tt.wantType {
				t.Errorf("Open(%q) = %s; want %s", tt.give, got, tt.wantType)
			}
			if _, ok := s.(Runner); ok != tt.wantRunner {
				t.Errorf("Open(%q) is a Runner: %v; want %v", tt.give, ok, tt.wantRunner)
			}
			if _, ok := s.(Lister); ok != tt.wantLister {
				t.Errorf("Open(%q) is a Lister: %v; want %v", tt.give, ok, tt.wantLister)
			}
			ref := refAt("a:open", "tenant", time.Now())
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
	spec := "bolt:" + filepath.Join(t.TempDir(), "references.db")
	want := sampleRef(1, "tenant")
	s, err := Open(t.Context(), spec, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Put(t.Context(), want); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(t.Context(), spec, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.Get(t.Context(), want.ConversationID)
	if err != nil {
		t.Fatalf("Get after restart: %v", err)
	}
	sameVersionf(t, "Get after restart", got, want)
}

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	closed := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	tests := []struct {
		name     string
		give     string
		opts     OpenOptions
		wantIs   error
		wantText string
	}{
		{name: "empty", give: "", wantText: "want memory:"},
		{name: "unknown scheme", give: "postgres://u:s3cret@db/refs", wantText: "postgres://u:xxxxx@db/refs"},
		{name: "memory with path", give: "memory:/tmp/x", wantText: "nothing after the colon"},
		{name: "bolt without path", give: "bolt:", wantText: "empty path"},
		{name: "redis without namespace", give: "redis://:s3cret@" + closed, wantText: "app id"},
		{name: "redis unreachable", give: "redis://:s3cret@" + closed, opts: OpenOptions{Namespace: "app"}, wantIs: ErrUnavailable},
		{name: "cluster unreachable", give: "redis+cluster://:s3cret@" + closed, opts: OpenOptions{Namespace: "app"}, wantIs: ErrUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := Open(t.Context(), tt.give, tt.opts)
			if err == nil {
				s.Close()
				t.Fatalf("Open(%q) succeeded; want an error", tt.give)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("Open(%q) = %v; want %v", tt.give, err, tt.wantIs)
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("Open(%q) = %v; want it to mention %q", tt.give, err, tt.wantText)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("Open(%q) = %v; shows the password", tt.give, err)
			}
		})
	}
}
