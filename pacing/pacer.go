package pacing

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Class is the kind of call, which picks the per-conversation limit it
// counts against. Every class counts against the tenant limit.
type Class uint8

const (
	// ClassOther calls (updates, deletes, attachments, cancelling a
	// batch...) count against the tenant limit only.
	ClassOther Class = iota
	// ClassSend: sending to a conversation and replying in it.
	ClassSend
	// ClassCreate: creating a conversation (key it by the member or
	// channel it is created with).
	ClassCreate
	// ClassRead: reading a conversation's members, or the conversations.
	ClassRead
	numClasses
)

// String names the class for logs and metric labels.
func (c Class) String() string {
	switch c {
	case ClassSend:
		return "send"
	case ClassCreate:
		return "create"
	case ClassRead:
		return "read"
	}
	return "other"
}

// Key names what a call counts against. A call with an empty Conversation
// (or of ClassOther) counts against its tenant only; one with an empty
// Tenant, against its conversation only.
type Key struct {
	Bot          string // the bot's app id; limits are per bot
	Tenant       string
	Conversation string
	Class        Class
}

// Defaults of Options' zero fields.
const (
	DefaultMaxWaiters       = 10000
	DefaultMaxConversations = 100000
	DefaultMaxTenants       = 10000
)

// Options configures a Pacer. The zero Limit admits everything, so the
// zero Options paces nothing; the Teams* constants are the published
// limits.
type Options struct {
	// Send, Create and Read are the per-conversation limits of their
	// classes, per bot.
	Send, Create, Read Limit
	// Tenant is the limit of all calls of one bot in one tenant.
	Tenant Limit
	// MaxWait bounds how long a call is held. 0 holds none: a call that
	// does not fit at once is refused with its Retry-After.
	MaxWait time.Duration
	// MaxWaiters caps the calls held at once; more are refused at once.
	MaxWaiters int
	// MaxConversations and MaxTenants cap the keys remembered.
	MaxConversations, MaxTenants int
	// Replicas is how many sidecars share the limits: each paces its
	// share, every count divided by Replicas (rounded down).
	Replicas int
	// Margin is added to every period, to absorb the jitter between the
	// pacer admitting a call and the service counting it.
	Margin time.Duration
	// SpreadTenant releases the tenant's budget spread out instead of in
	// bursts: at most one call per half of Per/Count of its shortest
	// window (one every 10 ms at 50/1s). The rate is the same; a burst of 50 calls
	// released at one instant would reach the service spread by the
	// network and the host, and its late arrivals would count in the
	// service's next window.
	SpreadTenant bool
	// Now is the clock (time.Now when nil). Calls that wait also use the
	// runtime's timers, so a fake Now suits MaxWait 0 only; tests of
	// waiting run in a testing/synctest bubble instead.
	Now func() time.Time
}

// Pacer holds calls until they fit their limits. It is safe for
// concurrent use.
type Pacer struct {
	now        func() time.Time
	epoch      time.Time
	classes    [numClasses]Limit
	tenantLim  Limit
	maxWait    time.Duration
	maxWaiters int

	mu      sync.Mutex
	waiting int
	convs   *table[convKey]
	tenants *table[tenantKey]
}

type convKey struct {
	bot, conversation string
	class             Class
}

type tenantKey struct{ bot, tenant string }

func (k convKey) clone() convKey {
	return convKey{strings.Clone(k.bot), strings.Clone(k.conversation), k.class}
}

func (k tenantKey) clone() tenantKey {
	return tenantKey{strings.Clone(k.bot), strings.Clone(k.tenant)}
}

// waiter is one held call.
type waiter struct {
	links    [2]link
	conv     *keyState // nil: no conversation limit applies
	tenant   *keyState // nil: no tenant limit applies
	ready    bool      // the conversation admitted it; it is in tenant.queue
	admitted bool
	at       int64 // when it was admitted
	// wake is signalled when the waiter is admitted or becomes the head of
	// a queue, so it looks again and sets its timer.
	wake chan struct{}
}

// New checks opts and returns a Pacer.
func New(opts Options) (*Pacer, error) {
	if opts.MaxWait < 0 || opts.Margin < 0 || opts.MaxWaiters < 0 || opts.MaxConversations < 0 || opts.MaxTenants < 0 || opts.Replicas < 0 {
		return nil, fmt.Errorf("pacing: negative option: %w", ErrInvalidLimit)
	}
	p := &Pacer{
		now:        opts.Now,
		maxWait:    opts.MaxWait,
		maxWaiters: orDefault(opts.MaxWaiters, DefaultMaxWaiters),
		convs:      newTable[convKey](orDefault(opts.MaxConversations, DefaultMaxConversations), inConversation),
		tenants:    newTable[tenantKey](orDefault(opts.MaxTenants, DefaultMaxTenants), inTenant),
	}
	if p.now == nil {
		p.now = time.Now
	}
	p.epoch = p.now()
	replicas := orDefault(opts.Replicas, 1)
	for _, c := range []struct {
		name string
		dst  *Limit
		lim  Limit
	}{
		{"send", &p.classes[ClassSend], opts.Send},
		{"create", &p.classes[ClassCreate], opts.Create},
		{"read", &p.classes[ClassRead], opts.Read},
		{"tenant", &p.tenantLim, opts.Tenant},
	} {
		l, err := c.lim.share(replicas)
		if err != nil {
			return nil, fmt.Errorf("pacing: %s limit: %w", c.name, err)
		}
		*c.dst = l.widen(opts.Margin)
	}
	if opts.SpreadTenant {
		p.tenantLim = p.tenantLim.spread()
	}
	return p, nil
}

func orDefault(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// Wait holds the call named by key until every window of its conversation
// class and of its tenant admits it, and counts it in all of them. It
// returns how long the call was held. A call that cannot fit within
// MaxWait gets a *ThrottledError (errors.Is ErrThrottled) at once, or when
// the bound passes; ctx ending gets ctx's cause. A call that was not
// admitted is not counted.
func (p *Pacer) Wait(ctx context.Context, key Key) (time.Duration, error) {
	var lim Limit // an unknown class counts against the tenant only
	if key.Class < numClasses {
		lim = p.classes[key.Class]
	}
	if (lim.Off() || key.Conversation == "") && (p.tenantLim.Off() || key.Tenant == "") {
		return 0, nil
	}
	p.mu.Lock()
	start := p.now()
	now := p.nanos(start)
	var conv, tenant *keyState
	if !lim.Off() && key.Conversation != "" {
		s, ok := p.convs.get(convKey{key.Bot, key.Conversation, key.Class}, lim, now)
		if !ok {
			p.mu.Unlock()
			return 0, p.full()
		}
		conv = s
	}
	if !p.tenantLim.Off() && key.Tenant != "" {
		s, ok := p.tenants.get(tenantKey{key.Bot, key.Tenant}, p.tenantLim, now)
		if !ok {
			p.mu.Unlock()
			return 0, p.full()
		}
		tenant = s
	}
	// The uncontended path: nobody queued ahead and every window open.
	est := p.estimate(conv, tenant, now)
	if est.at == now && (conv == nil || conv.queue.n == 0) && (tenant == nil || tenant.queue.n == 0) {
		record(conv, tenant, now)
		p.mu.Unlock()
		return 0, nil
	}
	if time.Duration(est.at-now) > p.maxWait {
		p.mu.Unlock()
		return 0, est.refuse(ReasonWait, now)
	}
	if p.waiting >= p.maxWaiters {
		p.mu.Unlock()
		return 0, est.refuse(ReasonFull, now)
	}
	w := &waiter{conv: conv, tenant: tenant, wake: make(chan struct{}, 1)}
	p.enqueue(w)
	next, done := p.advance(w, now)
	p.mu.Unlock()
	if done {
		return time.Duration(w.at - now), nil
	}
	return p.hold(ctx, w, now, next)
}

// hold is Wait's slow path: w sleeps until it is admitted, its next event
// is due, ctx ends or the bound passes.
func (p *Pacer) hold(ctx context.Context, w *waiter, arrived, next int64) (time.Duration, error) {
	deadline := arrived + int64(p.maxWait)
	timer := time.NewTimer(time.Duration(min(next, deadline) - arrived))
	defer timer.Stop()
	for {
		select {
		case <-w.wake:
		case <-timer.C:
		case <-ctx.Done():
		}
		p.mu.Lock()
		if w.admitted {
			p.mu.Unlock()
			return time.Duration(w.at - arrived), nil
		}
		now := p.nanos(p.now())
		if ctx.Err() != nil {
			p.dequeue(w)
			p.mu.Unlock()
			return 0, fmt.Errorf("pacing: %w", context.Cause(ctx))
		}
		if now >= deadline {
			p.dequeue(w)
			// What a retry now would wait: the queues without this call.
			err := p.estimate(w.conv, w.tenant, now).refuse(ReasonTimeout, now)
			p.mu.Unlock()
			return 0, err
		}
		next, done := p.advance(w, now)
		p.mu.Unlock()
		if done {
			return time.Duration(w.at - arrived), nil
		}
		timer.Reset(time.Duration(min(next, deadline) - now))
	}
}

// full is the refusal when the key tables hold nothing but keys with
// waiting calls: a retry fits once those calls have gone, within MaxWait.
func (p *Pacer) full() *ThrottledError {
	return &ThrottledError{Reason: ReasonFull, retryAfter: max(p.maxWait, minRetryAfter)}
}

func (p *Pacer) nanos(t time.Time) int64 { return int64(t.Sub(p.epoch)) }

// estimate is when a call arriving now could go, and which window holds
// it longest.
type estimate struct {
	at     int64
	scope  string // "" when no window holds it
	window Window
}

// estimate returns when a call arriving now at conv and tenant could go,
// behind the calls queued there. It is a lower bound: calls of other
// conversations that become due first take tenant slots too.
func (p *Pacer) estimate(conv, tenant *keyState, now int64) estimate {
	e := estimate{at: now}
	for _, s := range [...]struct {
		name  string
		state *keyState
	}{{"conversation", conv}, {"tenant", tenant}} {
		if s.state == nil {
			continue
		}
		if t, i := s.state.log.earliest(s.state.lim, now, s.state.queue.n); t > e.at {
			e = estimate{at: t, scope: s.name, window: s.state.lim.windows[i]}
		}
	}
	return e
}

// minRetryAfter keeps a refusal's Retry-After positive: a caller told
// "0" would come straight back.
const minRetryAfter = time.Millisecond

// refuse is the error of a call refused at now for reason.
func (e estimate) refuse(reason Reason, now int64) *ThrottledError {
	return &ThrottledError{Reason: reason, Scope: e.scope, Window: e.window, retryAfter: max(time.Duration(e.at-now), minRetryAfter)}
}

// record counts an admission at now in every window it passed.
func record(conv, tenant *keyState, now int64) {
	for _, s := range [...]*keyState{conv, tenant} {
		if s != nil {
			s.log.push(now, s.lim.maxCount(), s.lim.maxPer())
		}
	}
}

func (p *Pacer) enqueue(w *waiter) {
	p.waiting++
	if w.conv != nil {
		w.conv.refs++
		w.conv.queue.push(w)
	}
	if w.tenant != nil {
		w.tenant.refs++
	}
}

// dequeue takes w out of every queue it is in, uncounted, and tells the
// waiters that move up.
func (p *Pacer) dequeue(w *waiter) {
	p.waiting--
	if c := w.conv; c != nil {
		c.refs--
		c.queue.remove(w)
		signal(c.queue.head)
	}
	if t := w.tenant; t != nil {
		t.refs--
		if w.ready {
			t.queue.remove(w)
			signal(t.queue.head)
		}
	}
}

// progress moves w on as far as it can at now: the head of its
// conversation's queue joins its tenant's queue once the conversation
// admits it, and the tenant admits the calls at the head of its queue
// while it can.
//
// Fairness lives here. A conversation has at most one call in its
// tenant's queue, its head, and the next joins only after that one is
// admitted; the tenant takes its queue in order. So the tenant goes round
// the conversations that have a call due: a burst in one conversation
// holds another's first call back by at most one tenant slot per
// conversation with a call due, never by the burst.
func (p *Pacer) progress(w *waiter, now int64) {
	if !w.ready {
		if c := w.conv; c != nil {
			if c.queue.head != w {
				return
			}
			if at, _ := c.log.earliest(c.lim, now, 0); at > now {
				return
			}
		}
		if w.tenant == nil {
			p.admit(w, now)
			return
		}
		w.ready = true
		w.tenant.queue.push(w)
	}
	// Admitting a head tells the next one (dequeue), which sets its timer.
	t := w.tenant
	for h := t.queue.head; h != nil; h = t.queue.head {
		if at, _ := t.log.earliest(t.lim, now, 0); at > now {
			return
		}
		p.admit(h, now)
	}
}

// admit counts w at now and lets it go.
func (p *Pacer) admit(w *waiter, now int64) {
	record(w.conv, w.tenant, now)
	p.dequeue(w)
	w.admitted, w.at = true, now
	signal(w)
}

// advance moves w on at now and reports whether it is admitted, or else
// when it should look again. w.at is final once done: only admit writes
// it, under the mutex.
func (p *Pacer) advance(w *waiter, now int64) (next int64, done bool) {
	p.progress(w, now)
	if w.admitted {
		return 0, true
	}
	return p.nextWake(w, now), false
}

// nextWake returns when w should look again by itself (its queues' heads
// are told when they move), or the far future.
func (p *Pacer) nextWake(w *waiter, now int64) int64 {
	var s *keyState
	switch {
	case !w.ready && w.conv != nil && w.conv.queue.head == w:
		s = w.conv
	case w.ready && w.tenant.queue.head == w:
		s = w.tenant
	default:
		return never
	}
	at, _ := s.log.earliest(s.lim, now, 0)
	return at
}

const never = int64(1<<63 - 1)

func signal(w *waiter) {
	if w == nil {
		return
	}
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Stats is a snapshot of the pacer's state, for metrics.
type Stats struct {
	Waiting       int // calls held now
	Conversations int // conversation states remembered
	Tenants       int // tenant states remembered
	// EvictedActive counts states dropped by the caps while their windows
	// still held calls; non-zero means a cap is too small.
	EvictedActive uint64
}

// Stats returns the pacer's counts.
func (p *Pacer) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return Stats{
		Waiting:       p.waiting,
		Conversations: p.convs.lru.Len(),
		Tenants:       p.tenants.lru.Len(),
		EvictedActive: p.convs.evictedActive + p.tenants.evictedActive,
	}
}
