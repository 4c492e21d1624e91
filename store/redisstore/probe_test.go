package redisstore

import (
	"errors"
	"testing"

	"github.com/botsidecar/sidecar/internal/testkit"
	"github.com/botsidecar/sidecar/store"
	"github.com/botsidecar/sidecar/store/internal/storetest"
)

// Probe reports lost data after FLUSHALL and after a restart without
// persistence, once per loss, and never on its first call.
func TestRedisProbe(t *testing.T) {
	t.Parallel()
	srv := testkit.StartRedis(t, testkit.RedisOptions{})
	r := openTestRedis(t, srv.URL(), Options{})
	other := openTestRedis(t, srv.URL(), Options{}) // another replica
	probe := func(r *Redis, what string, want bool) {
		t.Helper()
		lost, err := r.Probe(t.Context())
		if err != nil || lost != want {
			t.Fatalf("Probe %s = %v, %v; want %v, nil", what, lost, err, want)
		}
	}
	probe(r, "at first", false)
	probe(other, "at first", false)
	probe(r, "again", false)
	if err := rawRedis(t, srv).FlushAll(t.Context()).Err(); err != nil {
		t.Fatal(err)
	}
	probe(r, "after FLUSHALL", true)
	probe(other, "after FLUSHALL, though a replica probed first", true)
	probe(r, "after the loss was reported", false)
	srv.Stop()
	if _, err := r.Probe(t.Context()); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Probe with Redis down = %v; want store.ErrUnavailable", err)
	}
	srv.Start()
	testkit.WaitFor(t, redisWait, func() bool {
		lost, err := r.Probe(t.Context())
		if err == nil && !lost {
			t.Fatal("Probe after a restart without persistence = false; want true")
		}
		return err == nil
	}, "Probe answering after the restart")
}

// Restore writes only where Redis holds nothing.
func TestRedisRestore(t *testing.T) {
	t.Parallel()
	r := openTestRedis(t, testkit.StartRedis(t, testkit.RedisOptions{}).URL(), Options{})
	old := storetest.SampleRef(1, "tenant")
	if err := r.Restore(t.Context(), old); err != nil {
		t.Fatal(err)
	}
	got, err := r.Get(t.Context(), old.ConversationID)
	if err != nil {
		t.Fatalf("Get after Restore of a missing reference: %v", err)
	}
	storetest.SameVersionf(t, "restored", got, old)
	newer := old
	newer.ServiceURL = "https://smba.trafficmanager.net/emea/"
	newer.UpdatedAt = old.UpdatedAt.Add(1)
	if err := r.Put(t.Context(), newer); err != nil {
		t.Fatal(err)
	}
	if err := r.Restore(t.Context(), old); err != nil {
		t.Fatal(err)
	}
	got, err = r.Get(t.Context(), old.ConversationID)
	if err != nil {
		t.Fatal(err)
	}
	storetest.SameVersionf(t, "Restore over a newer write", got, newer)
}
