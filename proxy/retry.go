package proxy

import (
	"context"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"
)

// RetryPolicy bounds retries of the statuses Teams documents as retryable
// (429, 412, 502, 503, 504): at most MaxRetries within Budget in all.
type RetryPolicy struct {
	MaxRetries int           // default 3
	Budget     time.Duration // default 30 s, counted from the first attempt
	BaseDelay  time.Duration // default 500 ms, doubled per retry, with equal jitter
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxRetries == 0 {
		p.MaxRetries = 3
	}
	if p.Budget == 0 {
		p.Budget = 30 * time.Second
	}
	if p.BaseDelay == 0 {
		p.BaseDelay = 500 * time.Millisecond
	}
	return p
}

// retryableStatus reports the statuses Teams says to retry
// (build-conversational-capability, "Status codes from bot conversational APIs").
func retryableStatus(status int) bool {
	switch status {
	case http.StatusTooManyRequests, http.StatusPreconditionFailed,
		http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// delay returns how long to wait before retry number n (0-based) and
// whether the wait fits: false means pass the status on now.
func (p RetryPolicy) delay(n int, h http.Header, now, start time.Time) (time.Duration, bool) {
	if n >= p.MaxRetries {
		return 0, false
	}
	d, ok := retryAfter(h, now)
	if !ok {
		// Equal jitter (between half the exponential step and the step),
		// so that many bots that were throttled together do not retry
		// together, and no retry comes sooner than half the step.
		ceiling := p.BaseDelay << n
		d = ceiling/2 + rand.N(ceiling/2+1)
	}
	if now.Add(d).Sub(start) > p.Budget {
		return 0, false
	}
	return d, true
}

// maxRetryAfter caps a server's wait: beyond any retry budget, and far
// from overflowing a time.Duration.
const maxRetryAfter = 24 * time.Hour

// retryAfter parses Retry-After (seconds or an HTTP date) and the
// millisecond variants Azure services also send.
func retryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	for _, k := range [...]string{"Retry-After-Ms", "X-Ms-Retry-After-Ms"} {
		if d, ok := parseWait(h.Get(k), time.Millisecond); ok {
			return d, true
		}
	}
	v := h.Get("Retry-After")
	if d, ok := parseWait(v, time.Second); ok {
		return d, true
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d, true
		}
		return 0, true
	}
	return 0, false
}

// parseWait reads a non-negative decimal count of unit. A count too large
// for a time.Duration is maxRetryAfter, beyond any budget: an overflow
// must not turn into a short wait.
func parseWait(v string, unit time.Duration) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n > int64(maxRetryAfter/unit) {
		return maxRetryAfter, true // only a range error is left
	}
	return time.Duration(n) * unit, true
}

// sleepCtx waits d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
