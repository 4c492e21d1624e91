package pacing

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The limits Teams publishes for one bot ("Rate limiting for agents"), in
// the form ParseLimit reads. Creates have the same limits as sends, but
// Teams counts them as a scenario of their own.
const (
	TeamsSend   = "7/1s,8/2s,60/30s,1800/1h"
	TeamsCreate = TeamsSend
	TeamsRead   = "14/1s,16/2s,120/30s,3600/1h"
	TeamsTenant = "50/1s"
)

// Bounds on a limit. MaxCount bounds memory: the pacer keeps one timestamp
// per call inside a key's longest window, up to the largest count.
const (
	MaxWindows = 8
	MaxCount   = 10000
)

// ErrInvalidLimit is wrapped by every error of ParseLimit and of New's
// checks of a limit.
var ErrInvalidLimit = errors.New("invalid limit")

// Window is one "Count calls per Per" rule: no span of length Per holds
// more than Count calls.
type Window struct {
	Count int
	Per   time.Duration
}

// String returns the window as ParseLimit reads it ("8/2s").
func (w Window) String() string {
	return strconv.Itoa(w.Count) + "/" + formatPer(w.Per)
}

// formatPer prints whole hours and minutes as "1h" and "5m" rather than
// time.Duration's "1h0m0s".
func formatPer(d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	}
	return d.String()
}

// Limit is the list of windows one class of calls must fit, all at once,
// sorted by Per. The zero Limit admits everything.
type Limit struct {
	windows []Window
}

// Windows returns a copy of the limit's windows, shortest first.
func (l Limit) Windows() []Window { return slices.Clone(l.windows) }

// Off reports whether the limit admits everything.
func (l Limit) Off() bool { return len(l.windows) == 0 }

// String returns the limit as ParseLimit reads it, "off" for none.
func (l Limit) String() string {
	if l.Off() {
		return "off"
	}
	parts := make([]string, len(l.windows))
	for i, w := range l.windows {
		parts[i] = w.String()
	}
	return strings.Join(parts, ",")
}

// UnmarshalText parses text with ParseLimit, so configuration decoders
// that honour encoding.TextUnmarshaler read a Limit directly.
func (l *Limit) UnmarshalText(text []byte) error {
	v, err := ParseLimit(string(text))
	if err != nil {
		return err
	}
	*l = v
	return nil
}

// MarshalText returns the limit's String.
func (l Limit) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

// ParseLimit reads a comma-separated list of windows, each COUNT/PERIOD:
// "7/1s,8/2s,60/30s,1800/1h". PERIOD is a Go duration; a bare unit means
// one of it ("50/s"). "off" (or "none") is the limit that admits
// everything. Spaces around the parts are ignored.
func ParseLimit(s string) (Limit, error) {
	s = strings.TrimSpace(s)
	switch strings.ToLower(s) {
	case "off", "none":
		return Limit{}, nil
	case "":
		return Limit{}, fmt.Errorf("parse limit: empty; want windows like %q, or \"off\": %w", TeamsSend, ErrInvalidLimit)
	}
	var ws []Window
	for part := range strings.SplitSeq(s, ",") {
		w, err := parseWindow(strings.TrimSpace(part))
		if err != nil {
			return Limit{}, fmt.Errorf("parse limit %q: window %q: %w", s, part, err)
		}
		ws = append(ws, w)
	}
	l, err := NewLimit(ws...)
	if err != nil {
		return Limit{}, fmt.Errorf("parse limit %q: %w", s, err)
	}
	return l, nil
}

func parseWindow(s string) (Window, error) {
	count, per, ok := strings.Cut(s, "/")
	if !ok {
		return Window{}, fmt.Errorf("want COUNT/PERIOD like 8/2s: %w", ErrInvalidLimit)
	}
	count, per = strings.TrimSpace(count), strings.TrimSpace(per)
	n, err := strconv.Atoi(count)
	if err != nil {
		return Window{}, fmt.Errorf("count %q is not a whole number: %w", count, ErrInvalidLimit)
	}
	if per != "" && (per[0] < '0' || per[0] > '9') && per[0] != '.' {
		per = "1" + per // "50/s"
	}
	d, err := time.ParseDuration(per)
	if err != nil {
		return Window{}, fmt.Errorf("period %q is not a duration like 1s, 30s or 1h: %w", per, ErrInvalidLimit)
	}
	return Window{Count: n, Per: d}, nil
}

// NewLimit checks and sorts windows into a Limit: every count is between 1
// and MaxCount, every period positive, no two windows share a period, and
// there are at most MaxWindows.
func NewLimit(windows ...Window) (Limit, error) {
	if len(windows) > MaxWindows {
		return Limit{}, fmt.Errorf("%d windows, more than %d: %w", len(windows), MaxWindows, ErrInvalidLimit)
	}
	ws := slices.Clone(windows)
	slices.SortFunc(ws, func(a, b Window) int { return cmp.Compare(a.Per, b.Per) })
	for i, w := range ws {
		switch {
		case w.Count < 1:
			return Limit{}, fmt.Errorf("window %s: count below 1: %w", w, ErrInvalidLimit)
		case w.Count > MaxCount:
			return Limit{}, fmt.Errorf("window %s: count above %d (the pacer keeps a timestamp per call in the window): %w", w, MaxCount, ErrInvalidLimit)
		case w.Per <= 0:
			return Limit{}, fmt.Errorf("window %s: period not positive: %w", w, ErrInvalidLimit)
		case i > 0 && ws[i-1].Per == w.Per:
			return Limit{}, fmt.Errorf("windows %s and %s: the same period twice: %w", ws[i-1], w, ErrInvalidLimit)
		}
	}
	return Limit{windows: ws}, nil
}

// share is one replica's part of l when replicas share it evenly: each
// count divided by replicas, rounded down, so that the replicas together
// never exceed l however the calls fall among them. A count that would
// drop to 0 is an error: that replica could never send.
func (l Limit) share(replicas int) (Limit, error) {
	if replicas <= 1 || l.Off() {
		return l, nil
	}
	ws := slices.Clone(l.windows)
	for i := range ws {
		ws[i].Count /= replicas
		if ws[i].Count == 0 {
			return Limit{}, fmt.Errorf("window %s cannot be shared by %d replicas: %w", l.windows[i], replicas, ErrInvalidLimit)
		}
	}
	return Limit{windows: ws}, nil
}

// widen adds margin to every period: the margin absorbs the jitter between
// the moment the pacer admits a call and the moment the service counts it.
func (l Limit) widen(margin time.Duration) Limit {
	if margin <= 0 || l.Off() {
		return l
	}
	ws := slices.Clone(l.windows)
	for i := range ws {
		ws[i].Per += margin
	}
	return Limit{windows: ws}
}

// minSpreadGap is the shortest gap spread imposes. Below it timers are not
// that precise, and a limit that high (over 500 calls a second) is far
// from any channel's: holding calls for it would cost more than it saves.
const minSpreadGap = time.Millisecond

// spread adds to l a window of one call per half of Per/Count of its
// shortest window, so that its budget is not released in one burst. Half,
// so that the shortest window still binds: were the gap the full
// Per/Count, every late wake-up would delay all the calls after it, and
// the delays would add up to a lower rate.
func (l Limit) spread() Limit {
	if l.Off() || l.windows[0].Count == 1 {
		return l
	}
	gap := l.windows[0].Per / time.Duration(2*l.windows[0].Count)
	if gap < minSpreadGap {
		return l
	}
	return Limit{windows: append([]Window{{Count: 1, Per: gap}}, l.windows...)}
}

// maxCount is the largest count of l: how many timestamps a key keeps.
func (l Limit) maxCount() int {
	m := 0
	for _, w := range l.windows {
		m = max(m, w.Count)
	}
	return m
}

// maxPer is the longest period of l: how long a timestamp matters.
func (l Limit) maxPer() time.Duration {
	if l.Off() {
		return 0
	}
	return l.windows[len(l.windows)-1].Per
}
