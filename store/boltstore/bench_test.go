package boltstore

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/botsidecar/sidecar/store"
	"github.com/botsidecar/sidecar/store/cachedstore"
	"github.com/botsidecar/sidecar/store/internal/storetest"
)

// BenchmarkGet reads a stored reference (hit) and a missing one (miss).
// For Cached, hit is a memory hit and miss is a memory miss the backend
// serves.
func BenchmarkGet(b *testing.B) {
	newBolt := func(b *testing.B) *Bolt {
		bo := openTestBolt(b, Options{})
		bulkPut(b, bo, storetest.SampleRefs(storetest.BenchRefs))
		return bo
	}
	cached := func(b *testing.B, backend store.Store, size int) *cachedstore.Cached {
		c, err := cachedstore.New(backend, cachedstore.Options{Size: size, Durable: true})
		if err != nil {
			b.Fatal(err)
		}
		return c
	}
	b.Run("Bolt", func(b *testing.B) {
		bo := newBolt(b)
		storetest.BenchGet(b, bo, bo, false)
	})
	b.Run("CachedBolt", func(b *testing.B) {
		bo := newBolt(b)
		storetest.BenchGet(b, cached(b, bo, storetest.BenchRefs), cached(b, bo, 1), true)
	})
}

// BenchmarkCachedBoltPutUnchanged captures the same reference again and
// again, as a busy conversation does: it must cost no disk write.
func BenchmarkCachedBoltPutUnchanged(b *testing.B) {
	bo := openTestBolt(b, Options{})
	c, err := cachedstore.New(bo, cachedstore.Options{Size: 100, Durable: true})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	ref := storetest.SampleRef(1, "tenant")
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
	bo := openTestBolt(b, Options{})
	b.SetParallelism(32) // inbound requests in flight
	var n atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := bo.Put(context.Background(), storetest.SampleRef(int(n.Add(1)), "tenant")); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkBoltSweep measures the hourly sweep's scan, per stored
// reference, when nothing has expired (the common case).
func BenchmarkBoltSweep(b *testing.B) {
	bo := openTestBolt(b, Options{})
	refs := storetest.SampleRefs(100_000)
	bulkPut(b, bo, refs)
	for b.Loop() {
		if n, err := bo.Sweep(context.Background()); err != nil || n != 0 {
			b.Fatalf("Sweep() = %d, %v", n, err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(refs)), "ns/ref")
}

// BenchmarkBoltPerReference measures what one reference costs with
// 1,000,000 in a Bolt file behind a 100,000-entry LRU that a Get of each of
// 100,000 references has filled. Run it with -benchtime 1x.
func BenchmarkBoltPerReference(b *testing.B) {
	path := filepath.Join(b.TempDir(), "references.db")
	bo, err := Open(context.Background(), Options{Path: path})
	if err != nil {
		b.Fatal(err)
	}
	const chunk = 50_000
	for start := 0; start < storetest.PerRefN; start += chunk {
		refs := make([]store.Reference, chunk)
		for i := range refs {
			refs[i] = storetest.SampleRef(start+i, storetest.BenchTenant(start+i))
		}
		bulkPut(b, bo, refs)
	}
	if err := bo.Close(); err != nil {
		b.Fatal(err)
	}
	ids := make([]string, 100_000)
	for i := range ids {
		ids[i] = storetest.SampleRef(i*(storetest.PerRefN/len(ids)), "").ConversationID
	}

	heap0, anon0, file0 := storetest.MemUse()
	bo, err = Open(context.Background(), Options{Path: path})
	if err != nil {
		b.Fatal(err)
	}
	defer bo.Close()
	c, err := cachedstore.New(bo, cachedstore.Options{Size: len(ids), Durable: true})
	if err != nil {
		b.Fatal(err)
	}
	for _, id := range ids {
		if _, err := c.Get(context.Background(), id); err != nil {
			b.Fatal(err)
		}
	}
	heap1, anon1, file1 := storetest.MemUse()
	runtime.KeepAlive(c)
	storetest.ReportPerRef(b, heap1-heap0, anon1-anon0, file1-file0)
	if info, err := os.Stat(path); err == nil {
		b.ReportMetric(float64(info.Size())/storetest.PerRefN, "file-B/ref")
	}
}

// BenchmarkBoltDeliveryWindow is one inbound activity's redelivery
// bookkeeping, alone: two claims before the bot is called, two answers
// recorded after. Each is a durable batch that waits MaxBatchDelay for
// company that a lone activity never has (bbolt's default, 10 ms, made it
// about 45 ms).
func BenchmarkBoltDeliveryWindow(b *testing.B) {
	bo := openTestBolt(b, Options{})
	ctx := context.Background()
	i := 0
	for b.Loop() {
		i++
		id, content := "id:"+strconv.Itoa(i), "content:"+strconv.Itoa(i)
		for _, k := range []string{id, content} {
			if _, _, err := bo.Claim(ctx, k, time.Minute); err != nil {
				b.Fatal(err)
			}
		}
		for _, k := range []string{id, content} {
			if err := bo.Record(ctx, k, store.Delivery{Status: 200}); err != nil {
				b.Fatal(err)
			}
		}
	}
}
