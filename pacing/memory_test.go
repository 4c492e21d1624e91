package pacing

import (
	"context"
	"strconv"
	"testing"
	"time"
)

func TestMemoryBounds(t *testing.T) {
	t.Parallel()
	p, clock := newFakePacer(t, Options{Send: mustLimit(t, TeamsSend), MaxConversations: 100})
	ctx := context.Background()
	send := func(conv string) {
		t.Helper()
		if _, err := p.Wait(ctx, Key{Conversation: conv, Class: ClassSend}); err != nil {
			t.Fatalf("Wait(%s): %v", conv, err)
		}
	}
	for i := range 1000 {
		send("c" + strconv.Itoa(i))
	}
	if s := p.Stats(); s.Conversations != 100 || s.EvictedActive != 900 {
		t.Fatalf("after 1000 conversations: Stats() = %+v; want the cap, 100, and 900 evicted within their hour", s)
	}
	// Past the longest window the states are idle: new keys drain them
	// faster than they arrive, without touching the active count.
	clock.Advance(time.Hour)
	for i := range 10 {
		send("new" + strconv.Itoa(i))
	}
	if s := p.Stats(); s.Conversations != 100-expireBatch*10+10 || s.EvictedActive != 900 {
		t.Errorf("after an idle hour and 10 new conversations: Stats() = %+v; want %d, still 900", s, 100-expireBatch*10+10)
	}
}

func TestCallLogIsBounded(t *testing.T) {
	t.Parallel()
	lim := mustLimit(t, TeamsSend)
	var l callLog
	// A conversation at the full hourly rate keeps one timestamp per call
	// in the hour, never more.
	step := 2 * time.Second
	for i := range 5000 {
		l.push(int64(time.Duration(i)*step), lim.maxCount(), lim.maxPer())
	}
	if len(l.buf) != 1800 || l.n != 1800 {
		t.Errorf("after 5000 calls 2s apart: %d slots, %d held; want 1800, 1800", len(l.buf), l.n)
	}
	// After a quiet hour one call leaves one timestamp held.
	l.push(int64(time.Duration(5000)*step+time.Hour), lim.maxCount(), lim.maxPer())
	if l.n != 1 {
		t.Errorf("after a quiet hour: %d held; want 1", l.n)
	}
}

// BenchmarkWaitUncontended is the hot path: a known conversation whose
// windows are open and nobody waiting.
func BenchmarkWaitUncontended(b *testing.B) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	p, err := New(Options{
		Send: mustLimit(b, TeamsSend), Tenant: mustLimit(b, TeamsTenant),
		MaxWait: time.Second, Now: func() time.Time { return now },
	})
	if err != nil {
		b.Fatal(err)
	}
	key := Key{Bot: "bot", Tenant: "tenant", Conversation: "a:1conversation", Class: ClassSend}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		// 2.5 s apart: within every Teams send window, so each call is
		// admitted at once.
		now = now.Add(2500 * time.Millisecond)
		if _, err := p.Wait(ctx, key); err != nil {
			b.Fatal(err)
		}
	}
}
