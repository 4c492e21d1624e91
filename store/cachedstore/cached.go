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
	"maps"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"go.uber.org/zap"

	"github.com/botsidecar/sidecar/store"
)

// Defaults of Options.
const (
	// DefaultCacheSize is the number of references Cached keeps in memory.
	DefaultCacheSize = 100_000
	// DefaultRetryInterval is the first delay before a queued write is retried.
	DefaultRetryInterval = time.Second
	// DefaultMaxPending bounds the writes queued while the backend is down.
	DefaultMaxPending = 10_000
	// DefaultRefreshAfter is the longest an unchanged reference goes
	// without being written again, which keeps its backend TTL fresh.
	DefaultRefreshAfter = time.Hour

	maxRetryInterval  = 30 * time.Second
	closeFlushTimeout = 2 * time.Second
)

// Options configures New.
type Options struct {
	// Size is the number of references kept in memory; DefaultCacheSize when zero.
	Size int
	// Logger receives the retry loop's messages; a no-op logger when nil.
	Logger *zap.Logger
	// RetryInterval is the first delay before queued writes are retried; it
	// doubles on each failed attempt up to 30 s. DefaultRetryInterval when zero.
	RetryInterval time.Duration
	// Durable makes Put return backend failures (a local file: the inbound
	// activity gets 503 and the channel retries it). Otherwise a write that
	// fails with store.ErrUnavailable (a shared Redis) is kept in memory, queued
	// for retry, and Put succeeds, so the activity still reaches the bot.
	Durable bool
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
type Cached struct {
	backend      store.Store
	refs         *lru.Cache[string, entry]
	tenants      *lru.Cache[string, string] // tenant id → newest conversation id
	durable      bool
	ttl          time.Duration
	refreshAfter time.Duration
	maxAge       time.Duration
	maxPending   int
	retry        time.Duration
	now          func() time.Time
	logger       *zap.Logger

	// mu orders the LRU updates that race: a queued write, its flush and a
	// fill from the backend must not replace a newer entry with an older.
	mu       sync.Mutex
	pending  map[string]store.Reference // conversation id → latest unwritten reference
	failing  bool                       // in a failure burst: Puts queue without trying
	overflow bool                       // the queue was full during this burst
	wake     chan struct{}

	flushMu sync.Mutex // one flush at a time: Run's and Close's
}

// entry is a cached reference and what is known of its backend copy.
type entry struct {
	ref store.Reference
	// persisted is false while the backend lacks this version (a queued or
	// dropped write); such an entry is never skipped on Put nor re-read.
	persisted bool
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
		backend:      backend,
		refs:         refs,
		tenants:      tenants,
		durable:      opts.Durable,
		ttl:          opts.TTL,
		refreshAfter: opts.RefreshAfter,
		maxAge:       opts.MaxAge,
		maxPending:   opts.MaxPending,
		retry:        cmp.Or(opts.RetryInterval, DefaultRetryInterval),
		now:          opts.Now,
		logger:       opts.Logger,
		pending:      make(map[string]store.Reference),
		wake:         make(chan struct{}, 1),
	}
	if c.refreshAfter <= 0 {
		c.refreshAfter = DefaultRefreshAfter
		if opts.TTL > 0 {
			c.refreshAfter = min(opts.TTL/100, DefaultRefreshAfter)
		}
	}
	if c.maxPending == 0 {
		c.maxPending = DefaultMaxPending
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.logger == nil {
		c.logger = zap.NewNop()
	}
	return c, nil
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
	id := ref.ConversationID
	if e, ok := c.refs.Get(id); ok && e.persisted && e.ref.SameAs(ref) &&
		ref.UpdatedAt.Sub(e.ref.UpdatedAt) < c.refreshAfter {
		c.noteTenant(ref)
		return nil
	}
	if !c.durable && c.queueIfFailing(ref) {
		return nil
	}
	err := c.backend.Put(ctx, ref)
	switch {
	case err == nil:
		c.mu.Lock()
		// A write queued meanwhile is newer than this one.
		if _, queued := c.pending[id]; !queued {
			c.refs.Add(id, entry{ref: ref, persisted: true, checked: now})
		}
		c.mu.Unlock()
		c.noteTenant(ref)
		return nil
	case c.durable || !errors.Is(err, store.ErrUnavailable):
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.failing {
		c.failing = true
		// Once per burst; the error names no conversation.
		c.logger.Warn("reference store unavailable, queueing writes for retry", zap.Error(err))
	}
	c.queueLocked(ref)
	return nil
}

// queueIfFailing queues ref without trying the backend while a failure
// burst lasts: each try could cost the inbound activity a timeout.
func (c *Cached) queueIfFailing(ref store.Reference) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.failing {
		return false
	}
	c.queueLocked(ref)
	return true
}

func (c *Cached) queueLocked(ref store.Reference) {
	id := ref.ConversationID
	// The memory copy serves Gets either way, and, not persisted, it makes
	// the next Put of this conversation write again.
	c.refs.Add(id, entry{ref: ref})
	c.noteTenant(ref)
	if _, queued := c.pending[id]; !queued && len(c.pending) >= c.maxPending {
		if !c.overflow {
			c.overflow = true
			c.logger.Warn("reference write queue full, later writes wait for the store to recover",
				zap.Int("max_pending", c.maxPending))
		}
		return
	}
	c.pending[id] = ref
	if ce := c.logger.Check(zap.DebugLevel, "reference write queued"); ce != nil {
		ce.Write(zap.String("conversation_id", id))
	}
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *Cached) noteTenant(ref store.Reference) {
	if ref.TenantID != "" {
		c.tenants.Add(ref.TenantID, ref.ConversationID)
	}
}

// Get implements store.Store. A miss reads the backend; when the backend is
// unavailable, a cached copy older than MaxAge is still served.
func (c *Cached) Get(ctx context.Context, conversationID string) (store.Reference, error) {
	now := c.now()
	e, ok := c.refs.Get(conversationID)
	if ok && c.ttl > 0 && now.Sub(e.ref.UpdatedAt) > c.ttl {
		c.refs.Remove(conversationID)
		ok = false
	}
	if ok && (!e.persisted || c.maxAge <= 0 || now.Sub(e.checked) < c.maxAge) {
		return e.ref, nil
	}
	c.mu.Lock()
	queued, isQueued := c.pending[conversationID] // the LRU may have evicted it
	c.mu.Unlock()
	if isQueued {
		return queued, nil
	}
	ref, err := c.backend.Get(ctx, conversationID)
	switch {
	case err == nil:
		c.fill(ref, now)
		return ref, nil
	case errors.Is(err, store.ErrNotFound):
		if ok { // expired or deleted by another replica
			c.refs.Remove(conversationID)
		}
		return store.Reference{}, err
	case ok && errors.Is(err, store.ErrUnavailable):
		return e.ref, nil
	default:
		return store.Reference{}, err
	}
}

// fill caches a reference read from the backend unless a newer one was
// put while the read was in flight.
func (c *Cached) fill(ref store.Reference, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cur, ok := c.refs.Peek(ref.ConversationID); ok && (!cur.persisted || cur.ref.UpdatedAt.After(ref.UpdatedAt)) {
		return
	}
	c.refs.Add(ref.ConversationID, entry{ref: ref, persisted: true, checked: now})
}

// NewestForTenant implements store.Store. The memory's tenant map knows the
// conversations this process saw, written or not; the backend knows all.
func (c *Cached) NewestForTenant(ctx context.Context, tenantID string) (store.Reference, error) {
	if id, ok := c.tenants.Get(tenantID); ok {
		if ref, err := c.Get(ctx, id); err == nil && ref.TenantID == tenantID {
			return ref, nil
		}
	}
	ref, err := c.backend.NewestForTenant(ctx, tenantID)
	if err != nil {
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

// Run retries queued writes, and runs the backend's loop when it has one,
// until ctx is done. Retries start after RetryInterval and back off to 30 s
// while the backend stays unavailable.
func (c *Cached) Run(ctx context.Context) error {
	var (
		wg         sync.WaitGroup
		backendErr error
	)
	if r, ok := c.backend.(store.Runner); ok {
		wg.Go(func() { backendErr = r.Run(ctx) })
	}
	c.retryLoop(ctx)
	wg.Wait()
	return backendErr
}

func (c *Cached) retryLoop(ctx context.Context) {
	delay := c.retry
	t := time.NewTimer(delay)
	t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.wake:
		}
		for c.Pending() > 0 {
			t.Reset(delay)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			if c.flush(ctx) {
				delay = c.retry
			} else {
				delay = min(2*delay, maxRetryInterval)
			}
		}
	}
}

// flush writes the queued references and reports whether the queue
// emptied. It stops at the first store.ErrUnavailable: the backend is still down.
func (c *Cached) flush(ctx context.Context) bool {
	c.flushMu.Lock()
	defer c.flushMu.Unlock()
	c.mu.Lock()
	batch := maps.Clone(c.pending)
	c.mu.Unlock()
	for id, ref := range batch {
		err := c.backend.Put(ctx, ref)
		if errors.Is(err, store.ErrUnavailable) || ctx.Err() != nil {
			return false
		}
		c.mu.Lock()
		// Only the version written leaves the queue; a newer one stays.
		if cur, ok := c.pending[id]; ok && sameVersion(cur, ref) {
			delete(c.pending, id)
			if e, ok := c.refs.Peek(id); ok && err == nil && sameVersion(e.ref, ref) {
				c.refs.Add(id, entry{ref: ref, persisted: true, checked: c.now()})
			}
		}
		c.mu.Unlock()
		if err != nil {
			c.logger.Warn("queued reference write dropped", zap.Error(err))
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.pending) > 0 {
		return false
	}
	if c.overflow {
		// Writes refused while the queue was full live on, unpersisted, in
		// the LRU (unless evicted since); queue them now there is room.
		c.overflow = false
		for _, id := range c.refs.Keys() {
			e, ok := c.refs.Peek(id)
			if !ok || e.persisted {
				continue
			}
			if len(c.pending) >= c.maxPending {
				c.overflow = true // more next round
				break
			}
			c.pending[id] = e.ref
		}
		if len(c.pending) > 0 {
			return false
		}
	}
	if c.failing {
		c.failing = false
		c.logger.Info("reference store available again, queued writes stored")
	}
	return true
}

func sameVersion(a, b store.Reference) bool {
	return a.SameAs(b) && a.UpdatedAt.Equal(b.UpdatedAt)
}

// Close implements store.Store. It makes one short last attempt at queued writes,
// then closes the backend; the owner stops Run first.
func (c *Cached) Close() error {
	var flushErr error
	if c.Pending() > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), closeFlushTimeout)
		defer cancel()
		if !c.flush(ctx) {
			flushErr = fmt.Errorf("close reference store: %d queued writes not stored: %w", c.Pending(), store.ErrUnavailable)
		}
	}
	return errors.Join(flushErr, c.backend.Close())
}
