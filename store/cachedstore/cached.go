// Package cachedstore puts a read-through LRU in front of another Store:
// busy conversations are read from memory and an unchanged reference is not
// written again. In front of a shared backend it also queues writes that
// fail while the backend is unavailable and retries them. It imports store,
// golang-lru and zap only.
package cachedstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"go.uber.org/zap"

	"github.com/botsidecar/sidecar/store"
)

// Defaults of Options.
const (
	// DefaultCacheSize is the number of references Cached keeps in memory.
	DefaultCacheSize = 100_000
	// DefaultRetryInterval is the first delay before a queued write is
	// retried; it doubles up to MaxRetryInterval while the backend stays
	// down.
	DefaultRetryInterval = 100 * time.Millisecond
	// MaxRetryInterval bounds the retry delay, and so how late a recovered
	// backend is noticed: queued writes reach it within about this long
	// plus the time it takes to write them.
	MaxRetryInterval = 500 * time.Millisecond
	// DefaultMaxPending bounds the writes queued while the backend is down.
	DefaultMaxPending = 10_000
	// DefaultRefreshAfter is the longest an unchanged reference goes
	// without being written again, which keeps its backend TTL fresh.
	DefaultRefreshAfter = time.Hour
	// DefaultProbeInterval is how often Run asks a shared backend, while
	// it works, whether it still answers and still holds what was written
	// (see Prober).
	DefaultProbeInterval = 5 * time.Second

	closeFlushTimeout = 2 * time.Second
)

// Prober is implemented by a shared backend that can lose its data behind
// this process's back (a Redis restarted empty, replaced or flushed).
type Prober interface {
	// Probe returns an error wrapping store.ErrUnavailable when the
	// backend does not answer, and lost true when it answers but no
	// longer holds what this process wrote to it.
	Probe(ctx context.Context) (lost bool, err error)
}

// Restorer is implemented by a backend that can write a reference only
// where it holds none: a write-back of what the backend lost must not
// overwrite a newer write another replica made since.
type Restorer interface {
	Restore(ctx context.Context, ref store.Reference) error
}

// probeID is the conversation a liveness check reads from a backend that
// is no Prober: no real conversation id is empty-prefixed like it.
const probeID = "\x00probe"

// Options configures New.
type Options struct {
	// Size is the number of references kept in memory; DefaultCacheSize when zero.
	Size int
	// Logger receives the retry loop's messages; a no-op logger when nil.
	Logger *zap.Logger
	// RetryInterval is the first delay before queued writes are retried; it
	// doubles on each failed attempt up to MaxRetryInterval.
	// DefaultRetryInterval when zero.
	RetryInterval time.Duration
	// Durable makes Put return backend failures (a local file: the inbound
	// activity gets 503 and the channel retries it). Otherwise a write that
	// fails with store.ErrUnavailable (a shared Redis) is kept in memory, queued
	// for retry, and Put succeeds, so the activity still reaches the bot.
	Durable bool
	// CallTimeout bounds each backend call of a store that is not Durable,
	// so that a hung backend costs a call at most this long before it
	// takes the degraded path (Put queues, Get serves memory or fails with
	// store.ErrUnavailable). Zero means no bound beyond the caller's ctx.
	CallTimeout time.Duration
	// ProbeInterval is how often Run probes a backend that is not Durable
	// while it works (see Prober); DefaultProbeInterval when zero.
	ProbeInterval time.Duration
	// Unavailable starts the store degraded: the backend did not answer
	// when it was opened. Puts queue at once and Run retries.
	Unavailable bool
	// TTL is the backend's TTL: a cached reference older than that is not
	// served. Zero disables the check.
	TTL time.Duration
	// RefreshAfter is how long an unchanged reference may go unwritten.
	// Zero means TTL/100, capped at DefaultRefreshAfter (1 h): a busy
	// conversation costs at most one write an hour, and its stored
	// UpdatedAt is never more than an hour behind, a negligible part of a
	// TTL of months.
	RefreshAfter time.Duration
	// MaxAge is how long a reference read from or written to the backend is
	// served from memory before Get reads it again, so that replicas sharing
	// a backend see each other's updates. Zero means forever, right for a
	// backend only this process uses.
	MaxAge time.Duration
	// MaxPending bounds the queued writes; DefaultMaxPending when zero.
	MaxPending int
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Cached is a read-through LRU in front of a backend Store. It keeps
// reads of busy conversations in memory, and it skips writing a reference
// that has not changed since it was last written (see
// Options.RefreshAfter), so a busy conversation costs no I/O.
//
// In front of a shared backend (not Durable) it rides out outages: a
// write that fails is queued and acknowledged, and Run writes the queue
// as soon as the backend answers again, while new Puts go straight to the
// backend. A backend that comes back without the data (see Prober), or a
// read that misses a reference held in memory, gets the memory's copy
// written back.
type Cached struct {
	backend       store.Store
	refs          *lru.Cache[string, entry]
	tenants       *lru.Cache[string, string] // tenant id → newest conversation id
	durable       bool
	ttl           time.Duration
	refreshAfter  time.Duration
	maxAge        time.Duration
	maxPending    int
	retry         time.Duration
	callTimeout   time.Duration
	probeInterval time.Duration
	now           func() time.Time
	logger        *zap.Logger

	// gen is the backend's generation: it grows each time the backend is
	// found to have lost its data, so that entries persisted in an older
	// generation count as unwritten.
	gen atomic.Uint64

	// mu orders the LRU updates that race: a queued write, its flush and a
	// fill from the backend must not replace a newer entry with an older.
	// It also keeps one write per conversation in flight (busy), so that a
	// queued older version never lands after a newer direct one.
	mu      sync.Mutex
	pending map[string]queued   // conversation id → latest unwritten reference
	busy    map[string]struct{} // conversation ids with a backend write in flight
	failing bool                // the backend is down: Puts queue without trying
	// rescan is set when the LRU holds unwritten entries that are not
	// queued: the queue was full, or the backend lost its data.
	rescan bool
	wake   chan struct{}

	flushMu sync.Mutex // one flush at a time: Run's and Close's
}

// queued is a write waiting for the backend. A restore writes only where
// the backend holds nothing (see Restorer).
type queued struct {
	ref     store.Reference
	restore bool
}

// entry is a cached reference and what is known of its backend copy.
type entry struct {
	ref store.Reference
	// gen is the backend generation that holds this version, or 0 while
	// the backend lacks it (a queued or dropped write); such an entry is
	// never skipped on Put nor re-read.
	gen uint64
	// checked is when the backend last held this version, for MaxAge.
	checked time.Time
}

var (
	_ store.Store  = (*Cached)(nil)
	_ store.Runner = (*Cached)(nil)
	_ store.Lister = (*Cached)(nil)
)

// New returns a Cached in front of backend. Its Run method runs the
// retry loop and, when the backend is a Runner, the backend's loop too.
func New(backend store.Store, opts Options) (*Cached, error) {
	if backend == nil {
		return nil, errors.New("cached store: nil backend")
	}
	size := opts.Size
	if size == 0 {
		size = DefaultCacheSize
	}
	if size < 0 || opts.MaxPending < 0 {
		return nil, fmt.Errorf("cached store size %d, max pending %d: must not be negative", opts.Size, opts.MaxPending)
	}
	refs, err := lru.New[string, entry](size)
	if err != nil {
		return nil, fmt.Errorf("cached store: %w", err)
	}
	tenants, err := lru.New[string, string](size)
	if err != nil {
		return nil, fmt.Errorf("cached store tenants: %w", err)
	}
	c := &Cached{
		backend:       backend,
		refs:          refs,
		tenants:       tenants,
		durable:       opts.Durable,
		ttl:           opts.TTL,
		refreshAfter:  opts.RefreshAfter,
		maxAge:        opts.MaxAge,
		maxPending:    cmp.Or(opts.MaxPending, DefaultMaxPending),
		retry:         cmp.Or(opts.RetryInterval, DefaultRetryInterval),
		callTimeout:   opts.CallTimeout,
		probeInterval: cmp.Or(opts.ProbeInterval, DefaultProbeInterval),
		now:           opts.Now,
		logger:        opts.Logger,
		pending:       make(map[string]queued),
		busy:          make(map[string]struct{}),
		failing:       opts.Unavailable && !opts.Durable,
		wake:          make(chan struct{}, 1),
	}
	c.gen.Store(1)
	if c.refreshAfter <= 0 {
		c.refreshAfter = DefaultRefreshAfter
		if opts.TTL > 0 {
			c.refreshAfter = min(opts.TTL/100, DefaultRefreshAfter)
		}
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.logger == nil {
		c.logger = zap.NewNop()
	}
	return c, nil
}

// persisted reports whether the backend holds e's version.
func (c *Cached) persisted(e entry) bool { return e.gen != 0 && e.gen == c.gen.Load() }

// bound limits a backend call of a shared store to CallTimeout.
func (c *Cached) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if c.durable || c.callTimeout <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, c.callTimeout)
}

// down reports whether err means the backend is down, as opposed to the
// caller having gone away: a cancelled inbound call says nothing of Redis.
func down(ctx context.Context, err error) bool {
	return errors.Is(err, store.ErrUnavailable) && ctx.Err() == nil
}

// Put implements store.Store. An unchanged reference written less than
// RefreshAfter ago is not written again.
func (c *Cached) Put(ctx context.Context, ref store.Reference) error {
	if ref.ConversationID == "" {
		return errors.New("put reference: empty conversation id")
	}
	now := c.now()
	if ref.UpdatedAt.IsZero() {
		ref.UpdatedAt = now
	}
	id := ref.Key()
	if e, ok := c.refs.Get(id); ok && c.persisted(e) && e.ref.SameAs(ref) &&
		ref.UpdatedAt.Sub(e.ref.UpdatedAt) < c.refreshAfter {
		c.noteTenant(ref)
		return nil
	}
	if c.durable {
		if err := c.backend.Put(ctx, ref); err != nil {
			return err
		}
		c.refs.Add(id, entry{ref: ref, gen: c.gen.Load(), checked: now})
		c.noteTenant(ref)
		return nil
	}
	c.mu.Lock()
	_, isQueued := c.pending[id]
	_, isBusy := c.busy[id]
	if c.failing || isQueued || isBusy {
		// Down: each try could cost the inbound activity a timeout. Queued
		// or in flight: writing now could land before the older write.
		c.queueLocked(queued{ref: ref})
		c.mu.Unlock()
		return nil
	}
	c.busy[id] = struct{}{}
	gen := c.gen.Load()
	c.mu.Unlock()

	bctx, cancel := c.bound(ctx)
	err := c.backend.Put(bctx, ref)
	cancel()

	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.busy, id)
	_, isQueued = c.pending[id]
	switch {
	case err == nil:
		if isQueued {
			c.wakeLocked() // a newer version waited for this write
		} else {
			c.refs.Add(id, entry{ref: ref, gen: gen, checked: now})
		}
		c.noteTenant(ref)
		return nil
	case !down(ctx, err):
		if isQueued {
			c.wakeLocked()
		}
		return err
	}
	c.failLocked(err)
	c.queueLocked(queued{ref: ref})
	return nil
}

// failLocked enters a failure burst, logging once per burst.
func (c *Cached) failLocked(err error) {
	if c.failing {
		return
	}
	c.failing = true
	// The error names no conversation.
	c.logger.Warn("reference store unavailable, queueing writes for retry", zap.Error(err))
	c.wakeLocked()
}

func (c *Cached) wakeLocked() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *Cached) queueLocked(q queued) {
	id := q.ref.Key()
	if !q.restore {
		// The memory copy serves Gets either way, and, unwritten, it makes
		// the next Put of this conversation write again.
		c.refs.Add(id, entry{ref: q.ref})
		c.noteTenant(q.ref)
	}
	if _, ok := c.pending[id]; !ok && len(c.pending) >= c.maxPending {
		if !c.rescan {
			c.rescan = true
			c.logger.Warn("reference write queue full, later writes wait for the store to recover",
				zap.Int("max_pending", c.maxPending))
		}
		return
	}
	c.pending[id] = q
	if ce := c.logger.Check(zap.DebugLevel, "reference write queued"); ce != nil {
		ce.Write(zap.String("conversation_id", id), zap.Bool("restore", q.restore))
	}
	c.wakeLocked()
}

func (c *Cached) noteTenant(ref store.Reference) {
	if ref.TenantID != "" {
		c.tenants.Add(ref.TenantID, ref.Key())
	}
}

// Get implements store.Store. A miss reads the backend; when the backend is
// unavailable, a cached copy older than MaxAge is still served. When the
// backend lacks a reference held in memory and not expired, it lost it
// (restarted empty, flushed): the copy is served and written back.
func (c *Cached) Get(ctx context.Context, conversationID string) (store.Reference, error) {
	now := c.now()
	e, ok := c.refs.Get(conversationID)
	if ok && c.ttl > 0 && now.Sub(e.ref.UpdatedAt) > c.ttl {
		c.refs.Remove(conversationID)
		ok = false
	}
	if ok && (!c.persisted(e) || c.maxAge <= 0 || now.Sub(e.checked) < c.maxAge) {
		return e.ref, nil
	}
	c.mu.Lock()
	q, isQueued := c.pending[conversationID] // the LRU may have evicted it
	failing := c.failing
	c.mu.Unlock()
	switch {
	case isQueued && !q.restore:
		return q.ref, nil
	case failing && ok:
		return e.ref, nil
	case failing:
		// Known down: answer at once rather than wait out another timeout.
		return store.Reference{}, fmt.Errorf("get reference: %w: not in memory while the store is down", store.ErrUnavailable)
	}
	bctx, cancel := c.bound(ctx)
	ref, err := c.backend.Get(bctx, conversationID)
	cancel()
	switch {
	case err == nil:
		c.fill(ref, now)
		return ref, nil
	case errors.Is(err, store.ErrNotFound) && ok && !c.durable:
		c.restore(e.ref)
		return e.ref, nil
	case errors.Is(err, store.ErrNotFound):
		if ok { // a local file that lacks it: deleted or expired
			c.refs.Remove(conversationID)
		}
		return store.Reference{}, err
	case errors.Is(err, store.ErrUnavailable) && !c.durable:
		if down(ctx, err) {
			c.mu.Lock()
			c.failLocked(err)
			c.mu.Unlock()
		}
		if ok {
			return e.ref, nil
		}
		return store.Reference{}, err
	case errors.Is(err, store.ErrUnavailable) && ok:
		return e.ref, nil
	default:
		return store.Reference{}, err
	}
}

// restore queues a write-back of ref, which the backend lacks, unless a
// newer version is in memory or queued already.
func (c *Cached) restore(ref store.Reference) {
	c.mu.Lock()
	defer c.mu.Unlock()
	id := ref.Key()
	if cur, ok := c.refs.Peek(id); ok && !sameVersion(cur.ref, ref) {
		return
	}
	if _, ok := c.pending[id]; ok {
		return
	}
	// Unwritten until the restore lands, so the next Put writes too.
	c.refs.Add(id, entry{ref: ref})
	c.queueLocked(queued{ref: ref, restore: true})
}

// fill caches a reference read from the backend unless a newer one was
// put while the read was in flight.
func (c *Cached) fill(ref store.Reference, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cur, ok := c.refs.Peek(ref.Key()); ok && (!c.persisted(cur) || cur.ref.UpdatedAt.After(ref.UpdatedAt)) {
		return
	}
	c.refs.Add(ref.Key(), entry{ref: ref, gen: c.gen.Load(), checked: now})
}

// NewestForTenant implements store.Store. The memory's tenant map knows the
// conversations this process saw, written or not; the backend knows all.
func (c *Cached) NewestForTenant(ctx context.Context, tenantID string) (store.Reference, error) {
	if id, ok := c.tenants.Get(tenantID); ok {
		if ref, err := c.Get(ctx, id); err == nil && ref.TenantID == tenantID {
			return ref, nil
		}
	}
	if c.Degraded() {
		return store.Reference{}, fmt.Errorf("get tenant reference: %w: not in memory while the store is down", store.ErrUnavailable)
	}
	bctx, cancel := c.bound(ctx)
	ref, err := c.backend.NewestForTenant(bctx, tenantID)
	cancel()
	if err != nil {
		if !c.durable && down(ctx, err) {
			c.mu.Lock()
			c.failLocked(err)
			c.mu.Unlock()
		}
		return store.Reference{}, err
	}
	c.fill(ref, c.now())
	return ref, nil
}

// Delete implements store.Store; it also drops a queued write of the reference.
func (c *Cached) Delete(ctx context.Context, conversationID string) error {
	c.mu.Lock()
	delete(c.pending, conversationID)
	c.refs.Remove(conversationID)
	c.mu.Unlock()
	return c.backend.Delete(ctx, conversationID)
}

// List implements store.Lister through the backend; queued writes are not listed.
func (c *Cached) List(ctx context.Context, fn func(store.Reference) bool) error {
	l, ok := c.backend.(store.Lister)
	if !ok {
		return errors.New("list references: the backend cannot list")
	}
	return l.List(ctx, fn)
}

// Pending returns the number of writes queued for retry.
func (c *Cached) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.pending)
}

// Degraded reports whether the backend is known to be down: writes are
// queued in memory, reads are served from memory only.
func (c *Cached) Degraded() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.failing
}

// Close implements store.Store. It makes one short last attempt at queued writes,
// then closes the backend; the owner stops Run first.
func (c *Cached) Close() error {
	var flushErr error
	if c.Pending() > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), closeFlushTimeout)
		defer cancel()
		if !c.flush(ctx) || c.Pending() > 0 {
			flushErr = fmt.Errorf("close reference store: %d queued writes not stored: %w", c.Pending(), store.ErrUnavailable)
		}
	}
	return errors.Join(flushErr, c.backend.Close())
}
