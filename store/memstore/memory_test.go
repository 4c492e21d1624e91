package memstore_test

import (
	"context"
	"runtime"
	"testing"

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
