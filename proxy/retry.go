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

// The replay policy. A call is sent again only when the earlier attempt
// cannot have been applied, because a send (POST …/activities) has no
// idempotency key: a retry after the connector stored the message posts it
// twice, and a duplicate in Teams is a bug.
//
//	status                    GET, PUT, DELETE        POST (send, create, batch, …)
//	401                       once, fresh token       once, fresh token (refused: not applied)
//	429, 412                  retried                 retried (throttled or refused: not applied)
//	503 with Retry-After      retried                 retried (the service said: not now)
//	503 without Retry-After   retried                 passed on
//	502, 504                  retried                 passed on (may have been applied)
//	500, 408, others          passed on               passed on
//	connection failure        passed on               retried only if no byte of the body was read
//
// Statuses Teams documents as retryable (429, 412, 502, 503, 504), within
// the budget of RetryPolicy.

// idempotentMethod reports the methods whose repetition does no harm: a
// read, a PUT of the same update, a DELETE.
func idempotentMethod(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

// replayable reports whether a call that got status may be sent again.
func replayable(idempotent bool, status int, h http.Header) bool {
	switch status {
	case http.StatusTooManyRequests, http.StatusPreconditionFailed:
		return true
	case http.StatusServiceUnavailable:
		return idempotent || hasRetryAfter(h)
	case http.StatusBadGateway, http.StatusGatewayTimeout:
		return idempotent
	}
	return false
}

func hasRetryAfter(h http.Header) bool {
	return h.Get("Retry-After") != "" || h.Get("Retry-After-Ms") != "" || h.Get("X-Ms-Retry-After-Ms") != ""
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
