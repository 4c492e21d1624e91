package pacing

import (
	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// keyState is what the pacer knows of one conversation (per class) or one
// tenant: its recent admissions and the calls waiting on it.
type keyState struct {
	lim Limit
	log callLog
	// queue holds, for a conversation, its waiting calls in arrival order;
	// for a tenant, the conversations' next calls that only the tenant
	// still holds, in the order their conversations admitted them.
	queue queue
	// refs counts the waiters that point here. A state with refs is never
	// evicted: a second state for the same key would double its budget.
	refs int
}

// idle reports whether the state carries nothing any window could see at
// now: no waiter and no admission within the longest period.
func (s *keyState) idle(now int64) bool {
	if s.refs > 0 {
		return false
	}
	t, ok := s.log.newest()
	return !ok || t <= now-int64(s.lim.maxPer())
}

// tableKey is a key a table can own: clone copies its strings, which a
// caller may have cut from a request's buffer; the table must not keep
// that whole buffer alive for as long as it remembers the key.
type tableKey[K any] interface {
	comparable
	clone() K
}

// table is the bounded set of states of one kind, least recently used
// first. It is guarded by the pacer's mutex.
type table[K tableKey[K]] struct {
	lru   *simplelru.LRU[K, *keyState]
	size  int
	which uint8 // the queue link its states' queues use
	// evictedActive counts states dropped while their windows still held
	// admissions: the cap was too small for the traffic, and those keys
	// got a fresh budget early.
	evictedActive uint64
}

func newTable[K tableKey[K]](size int, which uint8) *table[K] {
	// The LRU never evicts on its own (size+1): get makes room first,
	// skipping states that waiters point at.
	lru, err := simplelru.NewLRU[K, *keyState](size+1, nil)
	if err != nil {
		panic(err) // size is checked by New
	}
	return &table[K]{lru: lru, size: size, which: which}
}

// expireBatch is how many idle states are dropped per new key: more than
// one, so that idle states drain faster than new ones arrive.
const expireBatch = 2

// get returns k's state, creating it with lim when it is new. ok is false
// when the table is full of states that calls wait on.
func (t *table[K]) get(k K, lim Limit, now int64) (s *keyState, ok bool) {
	if s, ok := t.lru.Get(k); ok {
		return s, true
	}
	// Idle states carry nothing: drop a few of the oldest, so memory
	// follows the traffic and not only the cap.
	for range expireBatch {
		if _, old, ok := t.lru.GetOldest(); !ok || !old.idle(now) {
			break
		}
		t.lru.RemoveOldest()
	}
	if t.lru.Len() >= t.size && !t.evict(now) {
		return nil, false
	}
	s = &keyState{lim: lim, queue: queue{which: t.which}}
	t.lru.Add(k.clone(), s)
	return s, true
}

// evict drops the least recently used state that no waiter points at.
// States with waiters are moved to the front as they are passed over, so
// the next search does not pass them again.
func (t *table[K]) evict(now int64) bool {
	for range t.lru.Len() {
		k, s, _ := t.lru.GetOldest()
		if s.refs > 0 {
			t.lru.Get(k)
			continue
		}
		if !s.idle(now) {
			t.evictedActive++
		}
		t.lru.RemoveOldest()
		return true
	}
	return false
}
