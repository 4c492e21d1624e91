package main

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The broadcast benchmark's oracle: the limits Teams publishes, enforced
// exactly, written here again rather than taken from the pacing package,
// so that a mistake in the pacer cannot hide behind the same mistake in
// the service it is measured against.

// window is "no span of Per holds more than Count accepted calls".
type window struct {
	Count int
	Per   time.Duration
}

// limitSpec is a list of windows a key must fit all at once.
type limitSpec []window

// The published limits, per bot: sends into one conversation, and all
// calls into one tenant.
const (
	teamsSendLimit   = "7/1s,8/2s,60/30s,1800/1h"
	teamsTenantLimit = "50/1s"
)

var errBadLimit = errors.New("bad limit")

// parseLimitSpec reads "7/1s,8/2s" (the form SIDECAR_PACING_* take).
func parseLimitSpec(s string) (limitSpec, error) {
	var l limitSpec
	for part := range strings.SplitSeq(s, ",") {
		count, per, ok := strings.Cut(strings.TrimSpace(part), "/")
		n, err := strconv.Atoi(count)
		if !ok || err != nil || n < 1 {
			return nil, fmt.Errorf("window %q: want COUNT/PERIOD: %w", part, errBadLimit)
		}
		d, err := time.ParseDuration(per)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("window %q: period: %w", part, errBadLimit)
		}
		l = append(l, window{Count: n, Per: d})
	}
	return l, nil
}

// scaled multiplies every period by f (the benchmark's time scale) and
// adds margin to it.
func (l limitSpec) scaled(f float64, margin time.Duration) limitSpec {
	out := make(limitSpec, len(l))
	for i, w := range l {
		out[i] = window{Count: w.Count, Per: time.Duration(float64(w.Per)*f) + margin}
	}
	return out
}

// String is the form SIDECAR_PACING_* read.
func (l limitSpec) String() string {
	parts := make([]string, len(l))
	for i, w := range l {
		parts[i] = strconv.Itoa(w.Count) + "/" + w.Per.String()
	}
	return strings.Join(parts, ",")
}

func (l limitSpec) longest() time.Duration {
	var d time.Duration
	for _, w := range l {
		d = max(d, w.Per)
	}
	return d
}

// slidingLog is the accepted calls of one key, oldest first, as far back
// as its longest window reaches.
type slidingLog struct {
	times []time.Time
}

// wait is how long until l admits a call at now: 0 when it does now. A
// window of N per P admits at t when the N-th most recent accepted call
// is at or before t-P.
func (s *slidingLog) wait(l limitSpec, now time.Time) time.Duration {
	var d time.Duration
	for _, w := range l {
		if len(s.times) >= w.Count {
			d = max(d, s.times[len(s.times)-w.Count].Add(w.Per).Sub(now))
		}
	}
	return d
}

func (s *slidingLog) record(l limitSpec, now time.Time) {
	horizon := now.Add(-l.longest())
	i := 0
	for i < len(s.times) && !s.times[i].After(horizon) {
		i++
	}
	s.times = append(s.times[i:], now)
}

// limiter is the connector's rate limiting: per bot and conversation, per
// bot and tenant. A refused call is not counted (the lenient reading:
// Teams does not say whether its 429s count), so a bot that ignores the
// limits is measured at its best. Not safe for concurrent use.
type limiter struct {
	conversation, tenant limitSpec
	convs, tenants       map[string]*slidingLog
}

func newLimiter(conversation, tenant limitSpec) *limiter {
	return &limiter{conversation: conversation, tenant: tenant, convs: map[string]*slidingLog{}, tenants: map[string]*slidingLog{}}
}

// admit counts a call at now if both its conversation and its tenant
// admit it; otherwise it returns how long until both would.
func (l *limiter) admit(bot, tenant, conversation string, now time.Time) (bool, time.Duration) {
	ck, tk := bot+"\x00"+conversation, bot+"\x00"+tenant
	c, t := l.convs[ck], l.tenants[tk]
	if c == nil {
		c = &slidingLog{}
		l.convs[ck] = c
	}
	if t == nil {
		t = &slidingLog{}
		l.tenants[tk] = t
	}
	if d := max(c.wait(l.conversation, now), t.wait(l.tenant, now)); d > 0 {
		return false, d
	}
	c.record(l.conversation, now)
	t.record(l.tenant, now)
	return true, 0
}

// greedy is the schedule that sends as early as every window of l allows,
// starting from nothing: the time of each admission, from 0, up to n of
// them and none after until. No schedule admits more by any time.
func greedy(l limitSpec, n int, until time.Duration) []time.Duration {
	var out []time.Duration
	for len(out) < n {
		var t time.Duration
		for _, w := range l {
			if k := len(out) - w.Count; k >= 0 {
				t = max(t, out[k]+w.Per)
			}
		}
		if t > until {
			break
		}
		out = append(out, t)
	}
	return out
}

// ceiling is how many calls l admits within elapsed.
func ceiling(l limitSpec, elapsed time.Duration) int {
	return len(greedy(l, 1<<30, elapsed))
}

// idealTime is when the n-th call of the fastest schedule l allows goes
// out (the first at 0).
func idealTime(l limitSpec, n int) time.Duration {
	s := greedy(l, n, 1<<62)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)-1]
}

// merged is the windows of both lists (one conversation's calls count
// against both its own and its tenant's), sorted by period.
func merged(a, b limitSpec) limitSpec {
	out := slices.Concat(a, b)
	slices.SortFunc(out, func(x, y window) int { return cmp.Compare(x.Per, y.Per) })
	return out
}
