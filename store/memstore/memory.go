// Package memstore is the memory: store, a process-local Store bounded by
// an LRU. It imports store and golang-lru only.
package memstore

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/botsidecar/sidecar/store"
)

// Memory is a process-local store bounded by an LRU: the least recently used
// references are dropped when it is full. It suits tests and a single
// process in development; references do not survive a restart.
type Memory struct {
	refs      *lru.Cache[string, store.Reference]
	evictions atomic.Uint64
	onEvict   func(total uint64)

	mu     sync.Mutex
	tenant *lru.Cache[string, string] // tenant id → newest conversation id

	*Window // the redelivery window, as short-lived as the references
}

var (
	_ store.Store      = (*Memory)(nil)
	_ store.Deliveries = (*Memory)(nil)
)

// Options configures Open.
type Options struct {
	// Size is the most references kept; it must be positive.
	Size int
	// OnEvict, when set, is called with the running count each time a
	// reference is dropped to make room: a conversation the bot can no
	// longer reach. It runs inside Put and must be quick.
	OnEvict func(total uint64)
	// Now is the redelivery window's clock; time.Now when nil.
	Now func() time.Time
}

// New returns a Memory store holding at most maxEntries references.
func New(maxEntries int) (*Memory, error) { return Open(Options{Size: maxEntries}) }

// Open returns a Memory store as opts says.
func Open(opts Options) (*Memory, error) {
	maxEntries := opts.Size
	if maxEntries <= 0 {
		return nil, fmt.Errorf("memory store size %d: must be positive", maxEntries)
	}
	m := &Memory{onEvict: opts.OnEvict}
	refs, err := lru.New[string, store.Reference](maxEntries)
	if err != nil {
		return nil, fmt.Errorf("memory store: %w", err)
	}
	// Tenants are far fewer than conversations; the same bound is ample.
	tenant, err := lru.New[string, string](maxEntries)
	if err != nil {
		return nil, fmt.Errorf("memory store tenants: %w", err)
	}
	// As many deliveries as references: each activity costs one of each.
	window, err := NewWindow(maxEntries, opts.Now)
	if err != nil {
		return nil, err
	}
	m.refs, m.tenant, m.Window = refs, tenant, window
	return m, nil
}

// Evictions returns how many references were dropped to make room.
func (m *Memory) Evictions() uint64 { return m.evictions.Load() }

// Put implements store.Store.
func (m *Memory) Put(_ context.Context, ref store.Reference) error {
	if ref.ConversationID == "" {
		return fmt.Errorf("put reference: empty conversation id")
	}
	// Add reports an eviction; an eviction callback would count Deletes too.
	if m.refs.Add(ref.Key(), ref) {
		n := m.evictions.Add(1)
		if m.onEvict != nil {
			m.onEvict(n)
		}
	}
	if ref.TenantID != "" {
		m.mu.Lock()
		m.tenant.Add(ref.TenantID, ref.Key())
		m.mu.Unlock()
	}
	return nil
}

// Get implements store.Store.
func (m *Memory) Get(_ context.Context, conversationID string) (store.Reference, error) {
	if ref, ok := m.refs.Get(conversationID); ok {
		return ref, nil
	}
	// Ids stay out of errors: they reach logs, where ids are debug-only.
	return store.Reference{}, store.ErrNotFound
}

// NewestForTenant implements store.Store.
func (m *Memory) NewestForTenant(ctx context.Context, tenantID string) (store.Reference, error) {
	m.mu.Lock()
	id, ok := m.tenant.Get(tenantID)
	m.mu.Unlock()
	if !ok {
		return store.Reference{}, store.ErrNotFound
	}
	return m.Get(ctx, id)
}

// Delete implements store.Store.
func (m *Memory) Delete(_ context.Context, conversationID string) error {
	m.refs.Remove(conversationID)
	return nil
}

// Close implements store.Store.
func (m *Memory) Close() error { return nil }
