package storetest

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"

	"github.com/botsidecar/sidecar/store"
)

// BenchRefs is the number of references the Get benchmarks store.
const BenchRefs = 10_000

// BenchTenant spreads references over a realistic number of tenants.
func BenchTenant(i int) string { return fmt.Sprintf("tenant-%04d", i%1000) }

// Fill puts BenchRefs references into s, one Put each.
func Fill(b *testing.B, s store.Store) {
	b.Helper()
	for i := range BenchRefs {
		if err := s.Put(context.Background(), SampleRef(i, BenchTenant(i))); err != nil {
			b.Fatal(err)
		}
	}
}

// SampleRefs returns the first n references Fill stores.
func SampleRefs(n int) []store.Reference {
	refs := make([]store.Reference, n)
	for i := range refs {
		refs[i] = SampleRef(i, BenchTenant(i))
	}
	return refs
}

// BenchGet runs the hit and miss sub-benchmarks of a store holding the
// BenchRefs references Fill stores: hit reads stored ones, miss reads a
// missing one. When missCached, miss is a size-1 Cached in front of the
// same backend, so miss is a memory miss the backend serves.
func BenchGet(b *testing.B, hit, miss store.Store, missCached bool) {
	ids := make([]string, BenchRefs)
	for i := range ids {
		ids[i] = SampleRef(i, "").ConversationID
	}
	b.Run("hit", func(b *testing.B) {
		ctx := context.Background()
		for i := range ids { // warm the LRU
			_, _ = hit.Get(ctx, ids[i])
		}
		i := 0
		for b.Loop() {
			if _, err := hit.Get(ctx, ids[i%BenchRefs]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("miss", func(b *testing.B) {
		ctx := context.Background()
		i := 0
		for b.Loop() {
			if missCached { // a size-1 LRU: every other id misses
				if _, err := miss.Get(ctx, ids[i%BenchRefs]); err != nil {
					b.Fatal(err)
				}
			} else if _, err := miss.Get(ctx, "a:missing"); err == nil {
				b.Fatal("Get(missing) found a reference")
			}
			i++
		}
	})
}

// PerRefN is the number of references the memory benchmarks hold.
const PerRefN = 1_000_000

// ReportPerRef reports memory use per reference of PerRefN references.
func ReportPerRef(b *testing.B, heap int64, anon, file int64) {
	b.ReportMetric(float64(heap)/PerRefN, "heap-B/ref")
	b.ReportMetric(float64(anon)/PerRefN, "rss-anon-B/ref")
	b.ReportMetric(float64(file)/PerRefN, "rss-file-B/ref")
	b.ReportMetric(0, "ns/op") // the time of one load says nothing
}

// MemUse returns the heap in use after a full collection, and the
// anonymous and file-backed resident memory (RssAnon, RssFile) after
// returning freed memory to the OS. Bolt's file pages count as RssFile:
// page cache the kernel can reclaim, not memory the process holds.
func MemUse() (heap, anon, file int64) {
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	status, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(status), "\n") {
		name, value, _ := strings.Cut(line, ":")
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
		if err != nil {
			continue
		}
		switch name {
		case "RssAnon":
			anon = kb << 10
		case "RssFile":
			file = kb << 10
		}
	}
	return int64(ms.HeapInuse), anon, file
}
