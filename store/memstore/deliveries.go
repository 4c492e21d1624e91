package memstore

import (
	"context"
	"fmt"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/botsidecar/sidecar/store"
)

// Window is an in-process store.Deliveries: the redelivery window of one
// process, lost on restart. It is bounded by an LRU, so a flood of
// activities costs a missed duplicate at worst, never unbounded memory.
type Window struct {
	now func() time.Time
	mu  sync.Mutex // makes Claim's look-up and insert one step
	rec *lru.Cache[string, store.DeliveryRecord]
}

var _ store.Deliveries = (*Window)(nil)

// NewWindow returns a Window holding at most size deliveries; now is the
// clock (time.Now when nil).
func NewWindow(size int, now func() time.Time) (*Window, error) {
	rec, err := lru.New[string, store.DeliveryRecord](size)
	if err != nil {
		return nil, fmt.Errorf("delivery window: %w", err)
	}
	if now == nil {
		now = time.Now
	}
	return &Window{now: now, rec: rec}, nil
}

// Claim implements store.Deliveries.
func (w *Window) Claim(_ context.Context, key string, ttl time.Duration) (*store.Delivery, bool, error) {
	if err := store.CheckDeliveryKey(key); err != nil {
		return nil, false, err
	}
	now := w.now()
	w.mu.Lock()
	defer w.mu.Unlock()
	if r, ok := w.rec.Get(key); ok && r.Live(now) {
		d := r.Delivery
		return &d, false, nil
	}
	w.rec.Add(key, store.DeliveryRecord{Expires: now.Add(ttl)})
	return nil, true, nil
}

// Record implements store.Deliveries.
func (w *Window) Record(_ context.Context, key string, d store.Delivery) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if r, ok := w.rec.Peek(key); ok && r.Live(w.now()) {
		r.Delivery = d.Bounded()
		w.rec.Add(key, r)
	}
	return nil
}

// Release implements store.Deliveries.
func (w *Window) Release(_ context.Context, key string) error {
	w.rec.Remove(key)
	return nil
}
