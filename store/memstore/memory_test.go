package memstore_test

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/botsidecar/sidecar/internal/testkit"
	"github.com/botsidecar/sidecar/store/internal/storetest"
	"github.com/botsidecar/sidecar/store/memstore"
)

func TestMemoryConformance(t *testing.T) {
	t.Parallel()
	m, err := memstore.New(100)
	if err != nil {
		t.Fatal(err)
	}
	storetest.Conformance(t, m)
}

func TestNewRejectsSize(t *testing.T) {
	t.Parallel()
	for _, give := range []int{0, -1} {
		if _, err := memstore.New(give); err == nil {
			t.Errorf("New(%d) succeeded; want an error", give)
		}
	}
}

// BenchmarkGet reads a stored reference (hit) and a missing one (miss).
func BenchmarkGet(b *testing.B) {
	b.Run("Memory", func(b *testing.B) {
		m, err := memstore.New(storetest.BenchRefs)
		if err != nil {
			b.Fatal(err)
		}
		storetest.Fill(b, m)
		storetest.BenchGet(b, m, m, false)
	})
}

// BenchmarkMemoryPerReference measures what one reference costs in the
// Memory store with 1,000,000 of them. It runs once whatever b.N is; run it
// with -bench MemoryPerReference -benchtime 1x.
func BenchmarkMemoryPerReference(b *testing.B) {
	heap0, anon0, file0 := storetest.MemUse()
	m, err := memstore.New(storetest.PerRefN)
	if err != nil {
		b.Fatal(err)
	}
	for i := range storetest.PerRefN {
		if err := m.Put(context.Background(), storetest.SampleRef(i, storetest.BenchTenant(i))); err != nil {
			b.Fatal(err)
		}
	}
	heap1, anon1, file1 := storetest.MemUse()
	runtime.KeepAlive(m)
	storetest.ReportPerRef(b, heap1-heap0, anon1-anon0, file1-file0)
}

func TestMemoryCountsEvictions(t *testing.T) {
	t.Parallel()
	var calls []uint64
	m, err := memstore.Open(memstore.Options{Size: 2, OnEvict: func(n uint64) { calls = append(calls, n) }})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"a:1", "a:2", "a:2", "a:3", "a:4"} {
		if err := m.Put(t.Context(), storetest.RefAt(id, "", time.Now())); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Delete(t.Context(), "a:4"); err != nil {
		t.Fatal(err)
	}
	if got := m.Evictions(); got != 2 {
		t.Errorf("Evictions() = %d; want 2 (a Delete is no eviction)", got)
	}
	if len(calls) != 2 || calls[0] != 1 || calls[1] != 2 {
		t.Errorf("OnEvict calls = %v; want [1 2]", calls)
	}
}

func TestWindowConformance(t *testing.T) {
	t.Parallel()
	clock := testkit.NewClock()
	m, err := memstore.Open(memstore.Options{Size: 100, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	storetest.DeliveriesConformance(t, m, func() { clock.Advance(storetest.DeliveriesWindow + time.Second) })
}
