// Package storetest holds what the store backends' tests share: the
// behaviour every Store must show (Conformance), references shaped like the
// ones Teams sends, and the Get benchmark. It is internal to store/ and
// imported by tests only; clocks and waits come from internal/testkit.
package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/botsidecar/sidecar/store"
)

// SampleRef is a reference shaped like one Teams sends: long ids, raw JSON
// accounts. n makes every id, and every byte slice, its own.
func SampleRef(n int, tenantID string) store.Reference {
	conv := fmt.Sprintf("a:1%s%08d", strings.Repeat("Xy7", 30), n)
	return store.Reference{
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

// RefAt returns a reference with the given id and tenant, updated at t.
func RefAt(id, tenantID string, t time.Time) store.Reference {
	ref := SampleRef(0, tenantID)
	ref.ConversationID = id
	ref.UpdatedAt = t
	return ref
}

// SameVersionf fails t unless got is want, UpdatedAt included.
func SameVersionf(t *testing.T, what string, got, want store.Reference) {
	t.Helper()
	if !got.SameAs(want) || !got.UpdatedAt.Equal(want.UpdatedAt) {
		t.Errorf("%s = %+v; want %+v", what, got, want)
	}
}

// Conformance checks the behaviour every Store shares. Each subtest uses
// its own ids, so they run in parallel against the one store.
func Conformance(t *testing.T, s store.Store) {
	now := time.Now().UTC().Truncate(time.Millisecond)

	t.Run("get missing", func(t *testing.T) {
		t.Parallel()
		_, err := s.Get(t.Context(), "a:missing")
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Get(%q) error = %v; want store.ErrNotFound", "a:missing", err)
		}
	})
	t.Run("put then get", func(t *testing.T) {
		t.Parallel()
		want := RefAt("19:put@thread.tacv2", "tenant-put", now)
		if err := s.Put(t.Context(), want); err != nil {
			t.Fatalf("Put: %v", err)
		}
		got, err := s.Get(t.Context(), want.ConversationID)
		if err != nil {
			t.Fatalf("Get(%q): %v", want.ConversationID, err)
		}
		SameVersionf(t, "Get", got, want)
	})
	t.Run("overwrite", func(t *testing.T) {
		t.Parallel()
		first := RefAt("a:overwrite", "tenant-overwrite", now)
		second := first
		second.ServiceURL = "https://smba.trafficmanager.net/emea/"
		second.UpdatedAt = now.Add(time.Minute)
		for _, ref := range []store.Reference{first, second} {
			if err := s.Put(t.Context(), ref); err != nil {
				t.Fatalf("Put: %v", err)
			}
		}
		got, err := s.Get(t.Context(), first.ConversationID)
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		SameVersionf(t, "Get after overwrite", got, second)
	})
	t.Run("delete", func(t *testing.T) {
		t.Parallel()
		ref := RefAt("a:delete", "tenant-delete", now)
		if err := s.Put(t.Context(), ref); err != nil {
			t.Fatalf("Put: %v", err)
		}
		for range 2 { // deleting a missing reference is no error
			if err := s.Delete(t.Context(), ref.ConversationID); err != nil {
				t.Fatalf("Delete: %v", err)
			}
		}
		if _, err := s.Get(t.Context(), ref.ConversationID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Get after Delete error = %v; want store.ErrNotFound", err)
		}
		if _, err := s.NewestForTenant(t.Context(), ref.TenantID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("NewestForTenant after Delete error = %v; want store.ErrNotFound", err)
		}
	})
	t.Run("newest for tenant", func(t *testing.T) {
		t.Parallel()
		older := RefAt("a:tenant-older", "tenant-newest", now)
		newer := RefAt("a:tenant-newer", "tenant-newest", now.Add(time.Second))
		other := RefAt("a:tenant-other", "tenant-other", now.Add(2*time.Second))
		for _, ref := range []store.Reference{older, newer, other} {
			if err := s.Put(t.Context(), ref); err != nil {
				t.Fatalf("Put: %v", err)
			}
		}
		got, err := s.NewestForTenant(t.Context(), "tenant-newest")
		if err != nil {
			t.Fatalf("NewestForTenant: %v", err)
		}
		SameVersionf(t, "NewestForTenant", got, newer)
		if _, err := s.NewestForTenant(t.Context(), "tenant-unknown"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("NewestForTenant(unknown) error = %v; want store.ErrNotFound", err)
		}
	})
	t.Run("lookup thread falls back to channel", func(t *testing.T) {
		t.Parallel()
		channel := RefAt("19:lookup@thread.tacv2", "tenant-lookup", now)
		if err := s.Put(t.Context(), channel); err != nil {
			t.Fatalf("Put: %v", err)
		}
		got, err := store.Lookup(t.Context(), s, channel.ConversationID+";messageid=1700000000000")
		if err != nil {
			t.Fatalf("Lookup(thread): %v", err)
		}
		SameVersionf(t, "Lookup(thread)", got, channel)

		thread := RefAt(channel.ConversationID+";messageid=42", "tenant-lookup", now)
		thread.ServiceURL = "https://smba.trafficmanager.net/apac/"
		if err := s.Put(t.Context(), thread); err != nil {
			t.Fatalf("Put(thread): %v", err)
		}
		got, err = store.Lookup(t.Context(), s, thread.ConversationID)
		if err != nil {
			t.Fatalf("Lookup(own thread): %v", err)
		}
		SameVersionf(t, "Lookup(own thread)", got, thread)
		if _, err := store.Lookup(t.Context(), s, "19:none@thread.tacv2;messageid=1"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Lookup(unknown thread) error = %v; want store.ErrNotFound", err)
		}
	})
	t.Run("two identities keep apart", func(t *testing.T) {
		t.Parallel()
		// Two bots in one group chat: the same conversation id, one
		// reference each; the primary's keeps the bare id as its key.
		primary := RefAt("19:both@thread.v2", "tenant-both", now)
		other := primary
		other.Identity, other.Bot = "second", json.RawMessage(`{"id":"28:second"}`)
		other.UpdatedAt = now.Add(time.Second)
		for _, ref := range []store.Reference{primary, other} {
			if err := s.Put(t.Context(), ref); err != nil {
				t.Fatalf("Put(%q): %v", ref.Key(), err)
			}
		}
		got, err := s.Get(t.Context(), primary.ConversationID)
		if err != nil {
			t.Fatalf("Get(%q): %v", primary.ConversationID, err)
		}
		SameVersionf(t, "Get(primary)", got, primary)
		got, err = store.Lookup(t.Context(), s, store.Key("second", primary.ConversationID+";messageid=1"))
		if err != nil {
			t.Fatalf("Lookup(second's thread): %v", err)
		}
		SameVersionf(t, "Lookup(second's thread)", got, other)
		got, err = s.NewestForTenant(t.Context(), "tenant-both")
		if err != nil {
			t.Fatalf("NewestForTenant: %v", err)
		}
		SameVersionf(t, "NewestForTenant", got, other)
	})
	t.Run("empty conversation id", func(t *testing.T) {
		t.Parallel()
		err := s.Put(t.Context(), RefAt("", "tenant-empty", now))
		if err == nil || errors.Is(err, store.ErrUnavailable) {
			t.Errorf("Put(empty id) error = %v; want a non-store.ErrUnavailable error", err)
		}
	})
}
