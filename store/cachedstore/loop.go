package cachedstore

// The background half of a Cached in front of a shared backend: the
// retry loop that writes the queue, the probe that notices an outage (or
// its end) without traffic and a backend that lost its data, and the
// flush that writes queued references a few at a time.

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/botsidecar/sidecar/store"
)

// Run writes queued references and probes a shared backend, and runs the
// backend's loop when it has one, until ctx is done. While the backend is
// down it is retried after RetryInterval, backing off to MaxRetryInterval.
func (c *Cached) Run(ctx context.Context) error {
	var (
		wg         sync.WaitGroup
		backendErr error
	)
	if r, ok := c.backend.(store.Runner); ok {
		wg.Go(func() { backendErr = r.Run(ctx) })
	}
	if !c.durable {
		c.loop(ctx)
	} else {
		<-ctx.Done()
	}
	wg.Wait()
	return backendErr
}

// loop is the retry and probe loop of a shared backend.
func (c *Cached) loop(ctx context.Context) {
	delay := c.retry
	t := time.NewTimer(0) // probe at once: a degraded start learns its state
	defer t.Stop()
	for {
		c.mu.Lock()
		failing, work := c.failing, c.hasWorkLocked()
		c.mu.Unlock()
		probe := true
		switch {
		case failing:
			// New writes wake the loop; they must not cut the back-off short.
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		case work:
			// Draining: no wait, no probe, but ctx ends it.
			if ctx.Err() != nil {
				return
			}
			probe = false
		default:
			select {
			case <-ctx.Done():
				return
			case <-c.wake:
				// Writes queued: flush them; a failure a read saw: probe.
				probe = c.Degraded()
			case <-t.C:
			}
		}
		switch {
		case !c.step(ctx, probe):
			delay = min(2*delay, MaxRetryInterval)
			t.Reset(delay)
		case probe:
			delay = c.retry
			t.Reset(c.probeInterval)
		default:
			delay = c.retry
		}
	}
}

// hasWorkLocked reports whether flush has something to write now: a
// queued write not in flight, or a rescan once the queue is empty.
func (c *Cached) hasWorkLocked() bool {
	if len(c.pending) == 0 {
		return c.rescan
	}
	if len(c.pending) > len(c.busy) {
		return true
	}
	inFlight := 0
	for id := range c.busy {
		if _, ok := c.pending[id]; ok {
			inFlight++
		}
	}
	return inFlight < len(c.pending)
}

// step probes the backend when asked to, then writes the queue; it
// reports whether the backend answered throughout.
func (c *Cached) step(ctx context.Context, probe bool) bool {
	if probe {
		if !c.probe(ctx) {
			return false
		}
	}
	return c.flush(ctx)
}

// probe asks the backend whether it answers and, for a Prober, whether it
// lost its data; it ends a failure burst that no queued write would end.
func (c *Cached) probe(ctx context.Context) bool {
	bctx, cancel := c.bound(ctx)
	defer cancel()
	var (
		lost bool
		err  error
	)
	if p, ok := c.backend.(Prober); ok {
		lost, err = p.Probe(bctx)
	} else {
		_, err = c.backend.Get(bctx, probeID)
		if errors.Is(err, store.ErrNotFound) {
			err = nil
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		if down(ctx, err) {
			c.failLocked(err)
		}
		return false
	}
	if lost {
		// Every entry persisted so far now counts as unwritten: the next Put
		// of each writes, and the rescan writes the rest back.
		c.gen.Add(1)
		c.rescan = true
		c.logger.Warn("reference store lost its data, writing back the references held in memory",
			zap.Int("references", c.refs.Len()))
	}
	if c.failing && len(c.pending) == 0 {
		c.recoveredLocked()
	}
	return true
}

func (c *Cached) recoveredLocked() {
	c.failing = false
	c.logger.Info("reference store available again")
}

// flush writes the queued references and reports whether the backend
// took them. It stops at the first store.ErrUnavailable: the backend is
// still down. Its first successful write ends a failure burst, so that new
// Puts go straight to the backend while the queue drains.
func (c *Cached) flush(ctx context.Context) bool {
	c.flushMu.Lock()
	defer c.flushMu.Unlock()
	for {
		batch := c.takeBatch()
		if len(batch) == 0 {
			return true
		}
		if !c.writeAll(ctx, batch) {
			return false
		}
	}
}

// flushWorkers is how many queued writes are in flight at once: a queue
// of an outage's writes drains in a fraction of a second, not one round
// trip after the other.
const flushWorkers = 16

// writeAll writes batch with flushWorkers writers; it stops taking new
// items at the first failure, and reports whether every write got an answer.
func (c *Cached) writeAll(ctx context.Context, batch []queued) bool {
	var (
		next   atomic.Int64
		failed atomic.Bool
		wg     sync.WaitGroup
	)
	for range min(flushWorkers, len(batch)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(batch) {
					return
				}
				if failed.Load() || !c.write(ctx, batch[i]) {
					failed.Store(true)
					c.release(batch[i : i+1])
				}
			}
		})
	}
	wg.Wait()
	return !failed.Load()
}

// takeBatch marks every queued write that is not in flight busy and
// returns it; after the queue, it queues the unwritten entries a rescan
// asks for.
func (c *Cached) takeBatch() []queued {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.pending) == 0 && c.rescan {
		c.rescanLocked()
	}
	var batch []queued
	for id, q := range c.pending {
		if _, ok := c.busy[id]; ok {
			continue // its Put wakes the loop when it ends
		}
		c.busy[id] = struct{}{}
		batch = append(batch, q)
	}
	return batch
}

// rescanLocked queues the LRU's unwritten entries, up to the queue bound.
func (c *Cached) rescanLocked() {
	c.rescan = false
	for _, id := range c.refs.Keys() {
		e, ok := c.refs.Peek(id)
		if !ok || c.persisted(e) {
			continue
		}
		if _, ok := c.busy[id]; ok {
			continue
		}
		if len(c.pending) >= c.maxPending {
			c.rescan = true // more next round
			return
		}
		// An entry written in an older generation is a write-back: the
		// backend may hold a newer one by now. One never written is not.
		c.pending[id] = queued{ref: e.ref, restore: e.gen != 0}
	}
}

func (c *Cached) release(batch []queued) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, q := range batch {
		delete(c.busy, q.ref.Key())
	}
}

// write stores one queued reference and reports whether the backend
// answered.
func (c *Cached) write(ctx context.Context, q queued) bool {
	id := q.ref.Key()
	gen := c.gen.Load()
	bctx, cancel := c.bound(ctx)
	var err error
	if r, ok := c.backend.(Restorer); ok && q.restore {
		err = r.Restore(bctx, q.ref)
	} else {
		err = c.backend.Put(bctx, q.ref)
	}
	cancel()
	c.mu.Lock()
	defer c.mu.Unlock()
	if errors.Is(err, store.ErrUnavailable) || ctx.Err() != nil {
		if down(ctx, err) {
			c.failLocked(err)
		}
		return false
	}
	delete(c.busy, id)
	if c.failing {
		c.recoveredLocked()
	}
	// Only the version written leaves the queue; a newer one stays.
	if cur, ok := c.pending[id]; ok && sameVersion(cur.ref, q.ref) {
		delete(c.pending, id)
		if e, ok := c.refs.Peek(id); ok && err == nil && sameVersion(e.ref, q.ref) {
			c.refs.Add(id, entry{ref: q.ref, gen: gen, checked: c.now()})
		}
	}
	if err != nil {
		c.logger.Warn("queued reference write dropped", zap.Error(err))
	}
	return true
}

func sameVersion(a, b store.Reference) bool {
	return a.SameAs(b) && a.UpdatedAt.Equal(b.UpdatedAt)
}
