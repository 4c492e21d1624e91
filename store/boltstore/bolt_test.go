package boltstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/botsidecar/sidecar/internal/testkit"
	"github.com/botsidecar/sidecar/store"
	"github.com/botsidecar/sidecar/store/cachedstore"
	"github.com/botsidecar/sidecar/store/internal/storetest"
)

// openTestBolt opens a Bolt in a fresh directory and closes it at the end.
func openTestBolt(tb testing.TB, opts Options) *Bolt {
	tb.Helper()
	if opts.Path == "" {
		opts.Path = filepath.Join(tb.TempDir(), "references.db")
	}
	b, err := Open(context.Background(), opts)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { _ = b.Close() })
	return b
}

func TestBoltConformance(t *testing.T) {
	t.Parallel()
	storetest.Conformance(t, openTestBolt(t, Options{}))
}

func TestCachedOverBoltConformance(t *testing.T) {
	t.Parallel()
	c, err := cachedstore.New(openTestBolt(t, Options{}), cachedstore.Options{Size: 100, Durable: true})
	if err != nil {
		t.Fatal(err)
	}
	storetest.Conformance(t, c)
}

func TestBoltReopen(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "references.db")
	b, err := Open(t.Context(), Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	want := storetest.SampleRef(1, "tenant-a")
	if err := b.Put(t.Context(), want); err != nil {
		t.Fatalf("Put: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	b = openTestBolt(t, Options{Path: path})
	got, err := b.Get(t.Context(), want.ConversationID)
	if err != nil {
		t.Fatalf("Get after reopen: %v", err)
	}
	storetest.SameVersionf(t, "Get after reopen", got, want)
	got, err = b.NewestForTenant(t.Context(), "tenant-a")
	if err != nil {
		t.Fatalf("NewestForTenant after reopen: %v", err)
	}
	storetest.SameVersionf(t, "NewestForTenant after reopen", got, want)
}

// bbolt locks with flock, which conflicts between two descriptors of one
// process as between two processes, so a second open here stands in for a
// second sidecar.
func TestBoltLockedFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "references.db")
	openTestBolt(t, Options{Path: path})

	const timeout = 300 * time.Millisecond
	start := time.Now()
	b, err := Open(t.Context(), Options{Path: path, OpenTimeout: timeout})
	elapsed := time.Since(start)
	if err == nil {
		_ = b.Close()
		t.Fatal("second Open succeeded; want a lock error")
	}
	if !errors.Is(err, store.ErrLocked) || !errors.Is(err, berrors.ErrTimeout) || !strings.Contains(err.Error(), "locked by another process") {
		t.Errorf("Open error = %v; want a lock timeout naming the cause", err)
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("Open error = %v; want it to name %s", err, path)
	}
	// It waited for the lock rather than failing at once (bbolt gives up
	// one retry step, 50 ms, early). No upper bound: a loaded machine may
	// take any time longer, and a hang is the test binary's timeout.
	if elapsed < timeout/2 {
		t.Errorf("Open gave up after %s; want it to wait about %s for the lock", elapsed, timeout)
	}
}

func TestBoltCreatesDirectory(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data", "nested")
	openTestBolt(t, Options{Path: filepath.Join(dir, "references.db")})
	info, err := os.Stat(dir)
	if err != nil {
		t.Fatalf("directory not created: %v", err)
	}
	// The umask may only take bits away.
	if perm := info.Mode().Perm(); perm&^0o750 != 0 {
		t.Errorf("directory mode = %v; want at most 0750", perm)
	}
}

func TestBoltExpiry(t *testing.T) {
	t.Parallel()
	clock := testkit.NewClock()
	const ttl = 24 * time.Hour
	b := openTestBolt(t, Options{TTL: ttl, Now: clock.Now})
	old := storetest.RefAt("a:old", "tenant-old", clock.Now())
	if err := b.Put(t.Context(), old); err != nil {
		t.Fatal(err)
	}
	clock.Advance(ttl - time.Minute)
	fresh := storetest.RefAt("a:fresh", "tenant-fresh", clock.Now())
	if err := b.Put(t.Context(), fresh); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Get(t.Context(), old.ConversationID); err != nil {
		t.Fatalf("Get before TTL: %v", err)
	}
	clock.Advance(2 * time.Minute)

	if _, err := b.Get(t.Context(), old.ConversationID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get(expired) error = %v; want store.ErrNotFound", err)
	}
	if _, err := b.NewestForTenant(t.Context(), old.TenantID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("NewestForTenant(expired) error = %v; want store.ErrNotFound", err)
	}
	var listed []string
	if err := b.List(t.Context(), func(r store.Reference) bool { listed = append(listed, r.ConversationID); return true }); err != nil {
		t.Fatal(err)
	}
	if len(listed) != 1 || listed[0] != fresh.ConversationID {
		t.Errorf("List = %q; want only %q", listed, fresh.ConversationID)
	}

	// Run sweeps at once; it must delete the expired reference and its
	// tenant pointer, and keep the fresh one.
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	testkit.WaitFor(t, 10*time.Second, func() bool { return rawKeys(t, b, refsBucket) == 1 }, "Run's first sweep")
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v; want nil", err)
	}
	if n := rawKeys(t, b, tenantsBucket); n != 1 {
		t.Errorf("tenant pointers after sweep = %d; want 1", n)
	}
	if _, err := b.Get(t.Context(), fresh.ConversationID); err != nil {
		t.Errorf("Get(fresh) after sweep: %v", err)
	}
}

func TestBoltSweepKeepsRefreshed(t *testing.T) {
	t.Parallel()
	clock := testkit.NewClock()
	b := openTestBolt(t, Options{TTL: time.Hour, Now: clock.Now})
	refs := make([]store.Reference, 2500) // more than one sweep chunk
	for i := range refs {
		refs[i] = storetest.RefAt(fmt.Sprintf("a:%d", i), "", clock.Now())
	}
	bulkPut(t, b, refs)
	clock.Advance(2 * time.Hour)
	if err := b.Put(t.Context(), storetest.RefAt("a:7", "", clock.Now())); err != nil {
		t.Fatal(err)
	}
	n, err := b.Sweep(t.Context())
	if err != nil || n != 2499 {
		t.Errorf("Sweep() = %d, %v; want 2499, nil", n, err)
	}
	if _, err := b.Get(t.Context(), "a:7"); err != nil {
		t.Errorf("Get(refreshed) after sweep: %v", err)
	}
}

// Running as root makes file modes ineffective, so a failing disk is
// simulated three ways that work for any user: the database closed under
// the store, bbolt's MaxSize (what a full disk looks like to bbolt), and a
// read-only open.
func TestBoltUnavailable(t *testing.T) {
	t.Parallel()
	t.Run("closed underneath", func(t *testing.T) {
		t.Parallel()
		b := openTestBolt(t, Options{})
		if err := b.db.Close(); err != nil {
			t.Fatal(err)
		}
		err := b.Put(t.Context(), storetest.SampleRef(1, "t"))
		if !errors.Is(err, store.ErrUnavailable) || !strings.HasPrefix(err.Error(), "put reference: ") {
			t.Errorf("Put error = %v; want put reference: …store.ErrUnavailable", err)
		}
		if _, err := b.Get(t.Context(), "a:x"); !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("Get error = %v; want store.ErrUnavailable", err)
		}
		if err := b.List(t.Context(), func(store.Reference) bool { return true }); !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("List error = %v; want store.ErrUnavailable", err)
		}
	})
	t.Run("disk full", func(t *testing.T) {
		t.Parallel()
		b := openTestBolt(t, Options{maxSize: 1 << 20})
		first := storetest.SampleRef(0, "t")
		if err := b.Put(t.Context(), first); err != nil {
			t.Fatalf("first Put: %v", err)
		}
		var err error
		for i := 1; i < 10_000 && err == nil; i++ {
			ref := storetest.SampleRef(i, "t")
			ref.User = fmt.Appendf(nil, `{"id":%q}`, strings.Repeat("u", 40_000))
			err = b.Put(t.Context(), ref)
		}
		if !errors.Is(err, store.ErrUnavailable) {
			t.Fatalf("Put on a full database error = %v; want store.ErrUnavailable", err)
		}
		if _, err := b.Get(t.Context(), first.ConversationID); err != nil {
			t.Errorf("Get after a failed write: %v", err)
		}
	})
	t.Run("read-only", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "references.db")
		if err := openTestBolt(t, Options{Path: path}).Close(); err != nil {
			t.Fatal(err)
		}
		b := openTestBolt(t, Options{Path: path, readOnly: true})
		if err := b.Put(t.Context(), storetest.SampleRef(1, "t")); !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("Put on a read-only database error = %v; want store.ErrUnavailable", err)
		}
	})
	t.Run("read-only directory", func(t *testing.T) {
		t.Parallel()
		if os.Geteuid() == 0 {
			t.Skip("root ignores file modes; the other subtests simulate the failure")
		}
		dir := t.TempDir()
		if err := os.Chmod(dir, 0o500); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.Chmod(dir, 0o700) })
		if _, err := Open(t.Context(), Options{Path: filepath.Join(dir, "references.db")}); err == nil {
			t.Error("Open in a read-only directory succeeded; want an error")
		}
	})
}

// Concurrent Puts share one commit (bbolt's Batch), and each is still on
// disk when it returns. bbolt runs a batch when it holds MaxBatchSize calls
// or MaxBatchDelay after its first; with the size n and the delay an hour,
// n Puts that batch commit in exactly one write transaction, and Puts that
// do not (db.Update each) in n.
func TestBoltConcurrentPutsDurable(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "references.db")
	b, err := Open(t.Context(), Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	b.db.MaxBatchSize, b.db.MaxBatchDelay = n, time.Hour
	before := lastTxID(t, b)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() { errs <- b.Put(t.Context(), storetest.SampleRef(i, "t")) })
	}
	// A Put that stopped short of Batch would leave the others waiting
	// the hour: fail instead of hanging.
	testkit.WaitFor(t, time.Minute, func() bool { return len(errs) == n }, "every concurrent Put returned")
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("Put: %v", err)
		}
	}
	if commits := lastTxID(t, b) - before; commits != 1 {
		t.Errorf("%d concurrent Puts committed in %d write transactions; want 1 (one batch)", n, commits)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b = openTestBolt(t, Options{Path: path})
	for i := range n {
		if _, err := b.Get(t.Context(), storetest.SampleRef(i, "t").ConversationID); err != nil {
			t.Fatalf("Get(%d) after reopen: %v", i, err)
		}
	}
}

// lastTxID is the id of b's last committed write transaction: bbolt
// numbers them one by one, and a read transaction sees the last one's.
func lastTxID(t *testing.T, b *Bolt) int {
	t.Helper()
	var id int
	if err := b.db.View(func(tx *bolt.Tx) error { id = tx.ID(); return nil }); err != nil {
		t.Fatal(err)
	}
	return id
}

func TestBoltListStops(t *testing.T) {
	t.Parallel()
	b := openTestBolt(t, Options{})
	for i := range 5 {
		if err := b.Put(t.Context(), storetest.SampleRef(i, "")); err != nil {
			t.Fatal(err)
		}
	}
	seen := 0
	if err := b.List(t.Context(), func(store.Reference) bool { seen++; return seen < 2 }); err != nil {
		t.Fatal(err)
	}
	if seen != 2 {
		t.Errorf("List called fn %d times after it returned false; want 2", seen)
	}
}

// bulkPut stores refs in a few large transactions, much faster than one
// fsync'd Put each, for tests that need many references.
func bulkPut(tb testing.TB, b *Bolt, refs []store.Reference) {
	tb.Helper()
	for len(refs) > 0 {
		chunk := refs[:min(10_000, len(refs))]
		refs = refs[len(chunk):]
		err := b.db.Update(func(tx *bolt.Tx) error {
			for _, ref := range chunk {
				value, err := json.Marshal(ref)
				if err != nil {
					return err
				}
				if err := tx.Bucket(refsBucket).Put([]byte(ref.ConversationID), value); err != nil {
					return err
				}
				if ref.TenantID != "" {
					if err := tx.Bucket(tenantsBucket).Put([]byte(ref.TenantID), []byte(ref.ConversationID)); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			tb.Fatalf("bulk put: %v", err)
		}
	}
}

func TestUpdatedAtOf(t *testing.T) {
	t.Parallel()
	when := time.Date(2026, 5, 6, 7, 8, 9, 123456789, time.FixedZone("", 2*3600))
	nested := json.RawMessage(`{"id":"x","updatedAt":"1999-01-01T00:00:00Z"}`)
	tests := []struct {
		name string
		give store.Reference
	}{
		{"plain", storetest.RefAt("a:1", "t", when)},
		{"nested updatedAt in accounts", store.Reference{ConversationID: "a:2", Bot: nested, User: nested, Conversation: nested, UpdatedAt: when}},
		{"zero time", store.Reference{ConversationID: "a:3"}},
	}
	for _, tt := range tests {
		v, err := json.Marshal(tt.give)
		if err != nil {
			t.Fatal(err)
		}
		got, err := updatedAtOf(v)
		if err != nil || !got.Equal(tt.give.UpdatedAt) {
			t.Errorf("%s: updatedAtOf(%s) = %v, %v; want %v", tt.name, v, got, err, tt.give.UpdatedAt)
		}
	}
	if _, err := updatedAtOf([]byte(`{"updatedAt":"garbage`)); err == nil {
		t.Error("updatedAtOf(malformed) succeeded; want an error")
	}
}

func rawKeys(t *testing.T, b *Bolt, bucket []byte) int {
	t.Helper()
	n := 0
	err := b.db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(bucket).Stats().KeyN
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestBoltDeliveriesConformance(t *testing.T) {
	t.Parallel()
	clock := testkit.NewClock()
	b := openTestBolt(t, Options{Now: clock.Now})
	storetest.DeliveriesConformance(t, b, func() { clock.Advance(storetest.DeliveriesWindow + time.Second) })
	if d := store.DeliveriesOf(newCachedOver(t, b)); d != store.Deliveries(b) {
		t.Errorf("DeliveriesOf(Cached over Bolt) = %v; want the Bolt", d)
	}
}

func newCachedOver(t *testing.T, b *Bolt) *cachedstore.Cached {
	t.Helper()
	c, err := cachedstore.New(b, cachedstore.Options{Size: 10, Durable: true})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The window survives a restart: a redelivery after it is still known,
// with its answer; the sweep deletes only expired deliveries.
func TestBoltDeliveriesSurviveReopen(t *testing.T) {
	t.Parallel()
	clock := testkit.NewClock()
	path := filepath.Join(t.TempDir(), "references.db")
	b, err := Open(t.Context(), Options{Path: path, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	want := store.Delivery{Status: 200, Body: []byte(`{"ok":1}`)}
	for _, k := range []string{"id:first", "id:second"} {
		if _, _, err := b.Claim(t.Context(), k, time.Minute); err != nil {
			t.Fatal(err)
		}
		if err := b.Record(t.Context(), k, want); err != nil {
			t.Fatal(err)
		}
		clock.Advance(50 * time.Second)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b = openTestBolt(t, Options{Path: path, Now: clock.Now})
	// Now id:first is 100 s old, past its minute; id:second is 50 s old.
	if n, err := b.SweepDeliveries(t.Context()); err != nil || n != 1 {
		t.Errorf("SweepDeliveries = %d, %v; want 1 deleted", n, err)
	}
	prior, claimed, err := b.Claim(t.Context(), "id:second", time.Minute)
	if err != nil || claimed || prior == nil || string(prior.Body) != `{"ok":1}` {
		t.Errorf("Claim after reopen = %+v, %v, %v; want the recorded answer", prior, claimed, err)
	}
}
