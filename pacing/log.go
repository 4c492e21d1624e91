package pacing

import "time"

// callLog is the admission times of one key, oldest first, in a ring that
// grows on demand up to the limit's largest count: a conversation that
// sends once costs one slot, a busy one at most the largest count. Times
// are nanoseconds since the pacer's epoch.
//
// One log serves every window of a limit, because every call counts in
// every window: a window of Count N admits a call at t exactly when the
// N-th most recent admission is at or before t-Per. That is the sliding
// window itself, not an approximation: no span of Per ever holds N+1.
type callLog struct {
	buf   []int64
	first int // index of the oldest time in buf
	n     int // times held
}

// kth returns the k-th most recent time, 1-based; k must be in 1..n.
func (l *callLog) kth(k int) int64 {
	return l.buf[(l.first+l.n-k)%len(l.buf)]
}

// newest returns the most recent time, ok false when the log is empty.
func (l *callLog) newest() (int64, bool) {
	if l.n == 0 {
		return 0, false
	}
	return l.kth(1), true
}

// push records an admission at t. Times at or before t-maxPer can never
// matter again and are dropped first, so a quiet key shrinks back to a
// few live entries; when the ring holds maxCount it overwrites the oldest,
// which no window looks at any more.
func (l *callLog) push(t int64, maxCount int, maxPer time.Duration) {
	for l.n > 0 && l.buf[l.first] <= t-int64(maxPer) {
		l.first = (l.first + 1) % len(l.buf)
		l.n--
	}
	if l.n == len(l.buf) {
		if l.n >= maxCount {
			l.buf[l.first] = t
			l.first = (l.first + 1) % len(l.buf)
			return
		}
		l.grow(min(max(4, 2*len(l.buf)), maxCount))
	}
	l.buf[(l.first+l.n)%len(l.buf)] = t
	l.n++
}

func (l *callLog) grow(size int) {
	buf := make([]int64, size)
	for i := range l.n {
		buf[i] = l.buf[(l.first+i)%len(l.buf)]
	}
	l.buf, l.first = buf, 0
}

// earliest returns the earliest time at or after now at which lim admits
// one more call after ahead others that go first, and the index of the
// window that sets it (-1 when none delays it).
//
// For one window of N per Per the answer is exact: the queued calls go as
// early as the window lets them, so this call takes the slot that the
// (N - ahead mod N)-th most recent admission frees, ahead/N whole periods
// later. Over several windows the maximum
// of the per-window answers is a lower bound (exact when ahead is 0), which
// is what an estimate of a wait needs.
func (l *callLog) earliest(lim Limit, now int64, ahead int) (int64, int) {
	at, bound := now, -1
	for i, w := range lim.windows {
		rounds, slot := ahead/w.Count, ahead%w.Count
		t := now
		if k := w.Count - slot; k <= l.n {
			t = max(now, l.kth(k)+int64(w.Per))
		}
		t += int64(rounds) * int64(w.Per)
		if t > at {
			at, bound = t, i
		}
	}
	return at, bound
}
