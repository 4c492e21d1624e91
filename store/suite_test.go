package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// sampleRef is a reference shaped like one Teams sends: long ids, raw JSON
// accounts. n makes every id, and every byte slice, its own.
func sampleRef(n int, tenantID string) Reference {
	conv := fmt.Sprintf("a:1%s%08d", strings.Repeat("Xy7", 30), n)
	return Reference{
		ConversationID: conv,
		ServiceURL:     "https://smba.trafficmanager.net/amer/",
		Vouched:        true,
		ChannelID:      "msteams",
		Bot:            json.RawMessage(`{"id":"28:8b7a9f0e-1c2d-4e5f-8a9b-0c1d2e3f4a5b","name":"Helper Bot"}`),
		User: fmt.Appendf(nil, `{"id":"29:1%s%08d","name":"Ada Lovelace","aadObjectId":"5d4c3b2a-1908-4f7e-a6d5-c4b3a2918070"}`,
			strings.Repeat("Qw9", 28), n),
		Conversation: fmt.Appendf(nil, `{"conversationType":"personal","tenantId":%q,"id":%q}`, tenantID, conv),
		TenantID:     tenantID,
		UpdatedAt:    time.Now().UTC().Truncate(time.Millisecond),
	}
}

// refAt returns a reference with the given id and tenant, updated at t.
func refAt(id, tenantID string, t time.Time) Reference {
	ref := sampleRef(0, tenantID)
	ref.ConversationID = id
	ref.UpdatedAt = t
	return ref
}

func sameVersionf(t *testing.T, what string, got, want Reference) {
	t.Helper()
	if !sameVersion(got, want) {
		t.Errorf("%s = %+v; want %+v", what, got, want)
	}
}

// testStore is the behaviour every Store shares. Each subtest uses its own
// ids, so they run in parallel against the one store.
func testStore(t *testing.T, s Store) {
	now := time.Now().UTC().Truncate(time.Millisecond)

	t.Run("get missing", func(t *testing.T) {
		t.Parallel()
		_, err := s.Get(t.Context(), "a:missing")
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("Get(%q) error = %v; want ErrNotFound", "a:missing", err)
		}
	})
	t.Run("put then get", func(t *testing.T) {
		t.Parallel()
		want := refAt("19:put@thread.tacv2", "tenant-put", now)
		if err := s.Put(t.Context(), want); err != nil {
			t.Fatalf("Put: %v", err)
		}
		got, err := s.Get(t.Context(), want.ConversationID)
		if err != nil {
			t.Fatalf("Get(%q): %v", want.ConversationID, err)
		}
		sameVersionf(t, "Get", got, want)
	})
	t.Run("overwrite", func(t *testing.T) {
		t.Parallel()
		first := refAt("a:overwrite", "tenant-overwrite", now)
		second := first
		second.ServiceURL = "https://smba.trafficmanager.net/emea/"
		second.UpdatedAt = now.Add(time.Minute)
		for _, ref := range []Reference{first, second} {
			if err := s.Put(t.Context(), ref); err != nil {
				t.Fatalf("Put: %v", err)
			}
		}
		got, err := s.Get(t.Context(), first.ConversationID)
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		sameVersionf(t, "Get after overwrite", got, second)
	})
	t.Run("delete", func(t *testing.T) {
		t.Parallel()
		ref := refAt("a:delete", "tenant-delete", now)
		if err := s.Put(t.Context(), ref); err != nil {
			t.Fatalf("Put: %v", err)
		}
		for range 2 { // deleting a missing reference is no error
			if err := s.Delete(t.Context(), ref.ConversationID); err != nil {
				t.Fatalf("Delete: %v", err)
			}
		}
		if _, err := s.Get(t.Context(), ref.ConversationID); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get after Delete error = %v; want ErrNotFound", err)
		}
		if _, err := s.NewestForTenant(t.Context(), ref.TenantID); !errors.Is(err, ErrNotFound) {
			t.Errorf("NewestForTenant after Delete error = %v; want ErrNotFound", err)
		}
	})
	t.Run("newest for tenant", func(t *testing.T) {
		t.Parallel()
		older := refAt("a:tenant-older", "tenant-newest", now)
		newer := refAt("a:tenant-newer", "tenant-newest", now.Add(time.Second))
		other := refAt("a:tenant-other", "tenant-other", now.Add(2*time.Second))
		for _, ref := range []Reference{older, newer, other} {
			if err := s.Put(t.Context(), ref); err != nil {
				t.Fatalf("Put: %v", err)
			}
		}
		got, err := s.NewestForTenant(t.Context(), "tenant-newest")
		if err != nil {
			t.Fatalf("NewestForTenant: %v", err)
		}
		sameVersionf(t, "NewestForTenant", got, newer)
		if _, err := s.NewestForTenant(t.Context(), "tenant-unknown"); !errors.Is(err, ErrNotFound) {
			t.Errorf("NewestForTenant(unknown) error = %v; want ErrNotFound", err)
		}
	})
	t.Run("lookup thread falls back to channel", func(t *testing.T) {
		t.Parallel()
		channel := refAt("19:lookup@thread.tacv2", "tenant-lookup", now)
		if err := s.Put(t.Context(), channel); err != nil {
			t.Fatalf("Put: %v", err)
		}
		got, err := Lookup(t.Context(), s, channel.ConversationID+";messageid=1700000000000")
		if err != nil {
			t.Fatalf("Lookup(thread): %v", err)
		}
		sameVersionf(t, "Lookup(thread)", got, channel)

		thread := refAt(channel.ConversationID+";messageid=42", "tenant-lookup", now)
		thread.ServiceURL = "https://smba.trafficmanager.net/apac/"
		if err := s.Put(t.Context(), thread); err != nil {
			t.Fatalf("Put(thread): %v", err)
		}
		got, err = Lookup(t.Context(), s, thread.ConversationID)
		if err != nil {
			t.Fatalf("Lookup(own thread): %v", err)
		}
		sameVersionf(t, "Lookup(own thread)", got, thread)
		if _, err := Lookup(t.Context(), s, "19:none@thread.tacv2;messageid=1"); !errors.Is(err, ErrNotFound) {
			t.Errorf("Lookup(unknown thread) error = %v; want ErrNotFound", err)
		}
	})
	t.Run("empty conversation id", func(t *testing.T) {
		t.Parallel()
		err := s.Put(t.Context(), refAt("", "tenant-empty", now))
		if err == nil || errors.Is(err, ErrUnavailable) {
			t.Errorf("Put(empty id) error = %v; want a non-ErrUnavailable error", err)
		}
	})
}

func TestMemoryConformance(t *testing.T) {
	t.Parallel()
	m, err := NewMemory(100)
	if err != nil {
		t.Fatal(err)
	}
	testStore(t, m)
}

func TestCachedOverMemoryConformance(t *testing.T) {
	t.Parallel()
	m, err := NewMemory(100)
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewCached(m, CachedOptions{Size: 100, Durable: true})
	if err != nil {
		t.Fatal(err)
	}
	testStore(t, c)
}
