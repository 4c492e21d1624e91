package pacing

import (
	"errors"
	"strconv"
	"time"
)

// ErrThrottled is matched (errors.Is) by every *ThrottledError: the call
// did not fit within the bounded wait, and the caller should answer 429.
var ErrThrottled = errors.New("throttled by the pacer")

// Reason says why the pacer gave a call up.
type Reason uint8

const (
	// ReasonWait: the computed wait exceeds the bound, so the call was
	// refused at once rather than held to fail later.
	ReasonWait Reason = iota + 1
	// ReasonTimeout: the call waited the whole bound (the estimate was
	// beaten by calls of other conversations of its tenant).
	ReasonTimeout
	// ReasonFull: the cap on waiting calls (or on keys with waiting calls)
	// is reached.
	ReasonFull
)

func (r Reason) String() string {
	switch r {
	case ReasonWait:
		return "the wait exceeds the bound"
	case ReasonTimeout:
		return "waited the whole bound"
	case ReasonFull:
		return "too many calls are waiting"
	}
	return "reason " + strconv.Itoa(int(r))
}

// ThrottledError is a call the pacer did not admit. Its RetryAfter is the
// pacer's estimate of when the same call would be admitted; proxies put
// it in a Retry-After header.
type ThrottledError struct {
	Reason Reason
	// Scope is "conversation" or "tenant": whose limit holds the call
	// longest. Empty for ReasonFull.
	Scope string
	// Window is the window of that limit that holds it.
	Window Window

	retryAfter time.Duration
}

// Error names the limit, not the key: conversation and tenant ids are not
// for every log line.
func (e *ThrottledError) Error() string {
	msg := "pacing: " + e.Reason.String()
	if e.Scope != "" {
		msg += " (" + e.Scope + " limit " + e.Window.String() + ")"
	}
	return msg + "; retry after " + e.retryAfter.String()
}

// RetryAfter says how long the caller should wait before trying again.
func (e *ThrottledError) RetryAfter() time.Duration { return e.retryAfter }

// Is makes errors.Is(err, ErrThrottled) true.
func (e *ThrottledError) Is(target error) bool { return target == ErrThrottled }
