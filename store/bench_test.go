package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
)

// benchRefs is the number of references the Get benchmarks store.
const benchRefs = 10_000

// benchTenant spreads references over a realistic number of tenants.
func benchTenant(i int) string { return fmt.Sprintf("tenant-%04d", i%1000) }

// BenchmarkGet reads a stored reference (hit) and a missing one (miss).
// For Cached, hit is a memory hit and miss is a memory miss the backend
// serves.
func BenchmarkGet(b *testing.B) {
	fill := func(b *testing.B, s Store) {
		for i := range benchRefs {
			if err := s.Put(context.Background(), sampleRef(i, benchTenant(i))); err != nil {
				b.Fatal(err)
			}
		}
	}
	newBolt := func(b *testing.B) *Bolt {
		bo := openTestBolt(b, BoltOptions{})
		refs := make([]Reference, benchRefs)
		for i := range refs {
			refs[i] = sampleRef(i, benchTenant(i))
		}
		bulkPut(b, bo, refs)
		return bo
	}
	newRedis := func(b *testing.B) *Redis {
		r := openTestRedis(b, startRedis(b).URL(), RedisOptions{})
		fill(b, r)
		return r
	}
	cached := func(b *testing.B, backend Store, size int) *Cached {
		c, err := NewCached(backend, CachedOptions{Size: size, Durable: true})
		if err != nil {
			b.Fatal(err)
		}
		return c
	}
	tests := []struct {
		name string
		open func(b *testing.B) (hit, miss Store)
	}{
		{"Memory", func(b *testing.B) (Store, Store) {
			m, err := NewMemory(benchRefs)
			if err != nil {
				b.Fatal(err)
			}
			fill(b, m)
			return m, m
		}},
		{"Bolt", func(b *testing.B) (Store, Store) { bo := newBolt(b); return bo, bo }},
		{"Redis", func(b *testing.B) (Store, Store) { r := newRedis(b); return r, r }},
		{"CachedBolt", func(b *testing.B) (Store, Store) {
			bo := newBolt(b)
			return cached(b, bo, benchRefs), cached(b, bo, 1)
		}},
		{"CachedRedis", func(b *testing.B) (Store, Store) {
			r := newRedis(b)
			return cached(b, r, benchRefs), cached(b, r, 1)
		}},
	}
	ids := make([]string, benchRefs)
	for i := range ids {
		ids[i] = sampleRef(i, "").ConversationID
	}
	for _, tt := range tests {
		b.Run(tt.name, func(b *testing.B) {
			hit, miss := tt.open(b)
			_, isCached := miss.(*Cached)
			b.Run("hit", func(b *testing.B) {
				ctx := context.Background()
				for i := range ids { // warm the LRU
					_, _ = hit.Get(ctx, ids[i])
				}
				i := 0
				for b.Loop() {
					if _, err := hit.Get(ctx, ids[i%benchRefs]); err != nil {
						b.Fatal(err)
					}
					i++
				}
			})
			b.Run("miss", func(b *testing.B) {
				ctx := context.Background()
				i := 0
				for b.Loop() {
					if isCached { // a size-1 LRU: every other id misses
						if _, err := miss.Get(ctx, ids[i%benchRefs]); err != nil {
							b.Fatal(err)
						}
					} else if _, err := miss.Get(ctx, "a:missing"); err == nil {
						b.Fatal("Get(missing) found a reference")
					}
					i++
				}
			})
		})
	}
}

// BenchmarkCachedBoltPutUnchanged captures the same reference again and
// again, as a busy conversation does: it must cost no disk write.
func BenchmarkCachedBoltPutUnchanged(b *testing.B) {
	bo := openTestBolt(b, BoltOptions{})
	c, err := NewCached(bo, CachedOptions{Size: 100, Durable: true})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	ref := sampleRef(1, "tenant")
	if err := c.Put(ctx, ref); err != nil {
		b.Fatal(err)
	}
	stats := bo.db.Stats()
	before := stats.TxStats.GetWrite()
	for b.Loop() {
		if err := c.Put(ctx, ref); err != nil {
			b.Fatal(err)
		}
	}
	stats = bo.db.Stats()
	b.ReportMetric(float64(stats.TxStats.GetWrite()-before)/float64(b.N), "pages-written/op")
}

// BenchmarkBoltPut is what a changed reference costs: a durable write,
// shared with the concurrent ones (bbolt Batch).
func BenchmarkBoltPut(b *testing.B) {
	bo := openTestBolt(b, BoltOptions{})
	b.SetParallelism(32) // inbound requests in flight
	var n atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := bo.Put(context.Background(), sampleRef(int(n.Add(1)), "tenant")); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkBoltSweep measures the hourly sweep's scan, per stored
// reference, when nothing has expired (the common case).
func BenchmarkBoltSweep(b *testing.B) {
	bo := openTestBolt(b, BoltOptions{})
	refs := make([]Reference, 100_000)
	for i := range refs {
		refs[i] = sampleRef(i, benchTenant(i))
	}
	bulkPut(b, bo, refs)
	for b.Loop() {
		if n, err := bo.Sweep(context.Background()); err != nil || n != 0 {
			b.Fatalf("Sweep() = %d, %v", n, err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(refs)), "ns/ref")
}

// perRefN is the number of references the memory benchmarks hold.
const perRefN = 1_000_000

// BenchmarkMemoryPerReference measures what one reference costs in the
// Memory store with 1,000,000 of them. It runs once whatever b.N is; run it
// with -bench MemoryPerReference -benchtime 1x.
func BenchmarkMemoryPerReference(b *testing.B) {
	heap0, anon0, file0 := memUse()
	m, err := NewMemory(perRefN)
	if err != nil {
		b.Fatal(err)
	}
	for i := range perRefN {
		if err := m.Put(context.Background(), sampleRef(i, benchTenant(i))); err != nil {
			b.Fatal(err)
		}
	}
	heap1, anon1, file1 := memUse()
	runtime.KeepAlive(m)
	reportPerRef(b, heap1-heap0, anon1-anon0, file1-file0)
}

// BenchmarkBoltPerReference measures what one reference costs with
// 1,000,000 in a Bolt file behind a 100,000-entry LRU that a Get of each of
// 100,000 references has filled. Run it with -benchtime 1x.
func BenchmarkBoltPerReference(b *testing.B) {
	path := filepath.Join(b.TempDir(), "references.db")
	bo, err := OpenBolt(context.Background(), BoltOptions{Path: path})
	if err != nil {
		b.Fatal(err)
	}
	const chunk = 50_000
	for start := 0; start < perRefN; start += chunk {
		refs := make([]Reference, chunk)
		for i := range refs {
			refs[i] = sampleRef(start+i, benchTenant(start+i))
		}
		bulkPut(b, bo, refs)
	}
	if err := bo.Close(); err != nil {
		b.Fatal(err)
	}
	ids := make([]string, 100_000)
	for i := range ids {
		ids[i] = sampleRef(i*(perRefN/len(ids)), "").ConversationID
	}

	heap0, anon0, file0 := memUse()
	bo, err = OpenBolt(context.Background(), BoltOptions{Path: path})
	if err != nil {
		b.Fatal(err)
	}
	defer bo.Close()
	c, err := NewCached(bo, CachedOptions{Size: len(ids), Durable: true})
	if err != nil {
		b.Fatal(err)
	}
	for _, id := range ids {
		if _, err := c.Get(context.Background(), id); err != nil {
			b.Fatal(err)
		}
	}
	heap1, anon1, file1 := memUse()
	runtime.KeepAlive(c)
	reportPerRef(b, heap1-heap0, anon1-anon0, file1-file0)
	if info, err := os.Stat(path); err == nil {
		b.ReportMetric(float64(info.Size())/perRefN, "file-B/ref")
	}
}

func reportPerRef(b *testing.B, heap int64, anon, file int64) {
	b.ReportMetric(float64(heap)/perRefN, "heap-B/ref")
	b.ReportMetric(float64(anon)/perRefN, "rss-anon-B/ref")
	b.ReportMetric(float64(file)/perRefN, "rss-file-B/ref")
	b.ReportMetric(0, "ns/op") // the time of one load says nothing
}

// memUse returns the heap in use after a full collection, and the
// anonymous and file-backed resident memory (RssAnon, RssFile) after
// returning freed memory to the OS. Bolt's file pages count as RssFile:
// page cache the kernel can reclaim, not memory the process holds.
func memUse() (heap, anon, file int64) {
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
