package tokencache

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
)

// Log messages of the refresh loop: constant, so that alerts can match them.
const (
	msgAcquired       = "token acquired"
	msgAcquireFailed  = "token acquisition failed"
	msgRefreshStopped = "token refresh stopped"
)

// Back-off between failed acquisitions: 1 s doubling to 60 s. Entra
// throttles clients that retry hard, and a wrong credential will not fix
// itself quickly; a minute keeps a broken pod's "not ready" fresh enough.
const (
	backoffBase = time.Second
	backoffCap  = time.Minute
)

// errRunning is Run's answer when another Run of the Source is running: two
// drivers would acquire twice.
var errRunning = errors.New("already running")

// backoff returns the wait after the given number of consecutive failures:
// the exponential step with "equal jitter" (between half the step and the
// step), so that replicas that failed together do not retry together, and the
// cap is a real cap.
func backoff(attempt int) time.Duration {
	d := backoffCap
	if attempt >= 1 && attempt <= 7 { // 1s<<6 = 64s is past the cap already
		d = min(backoffBase<<(attempt-1), backoffCap)
	}
	return d/2 + rand.N(d/2+1)
}

// Run makes every acquisition of the Source until ctx is done: the first
// token at start-up, the proactive refresh at the token's refresh point (so
// that callers of Token rarely see one due), a new token after Invalidate,
// one for callers that have none, and after a failure retries with
// back-off, logging each outcome (no caller is waiting for a failed
// refresh's error, so the loop logs it).
//
// It returns nil once ctx is done, after the acquisition in flight
// (cancelled) has returned; from then on callers without a usable token get
// ErrNoToken at once. It returns an error at once if another Run of the
// Source is running.
func (s *Source) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return fmt.Errorf("token source for %s: %w", s.clientID, errRunning)
	}
	defer s.running.Store(false)
	defer s.log.Debug(msgRefreshStopped, zap.String("client_id", s.clientID))
	s.setStopped(false)
	defer s.setStopped(true)

	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		if wait := s.plan(s.state.Load(), s.now()); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-s.wake:
			case <-ctx.Done():
				return nil
			}
			continue
		}
		s.refresh(ctx)
		if ctx.Err() != nil {
			return nil
		}
	}
}

// plan returns how long Run waits before the next acquisition; zero or less
// means now.
func (s *Source) plan(st *state, now time.Time) time.Duration {
	t := st.tok
	if t != nil && now.Before(t.refreshAt) {
		return t.refreshAt.Sub(now)
	}
	due := st.retryAt // zero after a success: at once
	if st.wanted.Load() && (t == nil || !now.Before(t.staleAt)) {
		// A caller has no usable token: it does not wait out the back-off,
		// only failureHold (only one acquisition runs at a time anyway).
		if hold := st.failedAt.Add(failureHold); hold.Before(due) {
			due = hold
		}
	}
	return due.Sub(now)
}

// refresh makes one acquisition, publishes its outcome and logs it.
func (s *Source) refresh(ctx context.Context) {
	actx, cancel := context.WithTimeout(ctx, acquireTimeout)
	actx, span := s.startAcquire(actx)
	value, exp, err := s.Acquire(actx)
	endAcquire(span, err)
	cancel()
	now := s.now()
	s.acquisitions.Add(1)
	if err != nil {
		s.failed.Add(1)
	}
	var st status
	s.publish(func(next *status) bool {
		if err != nil {
			next.failures++
			next.err, next.failedAt = err, now
			next.retryAt = now.Add(backoff(next.failures))
		} else {
			next.tok = schedule(value, exp, now, s.refreshBefore)
			next.err, next.failedAt, next.failures, next.retryAt = nil, time.Time{}, 0, time.Time{}
			next.ready = true
		}
		st = *next
		return true
	})
	if ctx.Err() != nil {
		return // Run is stopping: that is not the acquisition's fault
	}
	s.report(st, now)
}

// setStopped publishes whether Run has returned, so that callers waiting for
// a token get an answer.
func (s *Source) setStopped(stopped bool) {
	s.publish(func(st *status) bool {
		if st.stopped == stopped {
			return false
		}
		st.stopped = stopped
		return true
	})
}

// report logs the outcome of an acquisition. Never the token.
func (s *Source) report(st status, now time.Time) {
	if st.err != nil {
		s.log.Warn(msgAcquireFailed,
			zap.String("client_id", s.clientID),
			zap.String("authority", s.authority),
			zap.Int("attempt", st.failures),
			zap.Duration("retry_in", st.retryAt.Sub(now)),
			zap.Error(st.err))
		return
	}
	s.log.Info(msgAcquired,
		zap.String("client_id", s.clientID),
		zap.String("authority", s.authority),
		zap.Duration("expires_in", st.tok.expiresOn.Sub(now).Round(time.Second)))
}

// spanAcquire names the span of one acquisition.
const spanAcquire = "acquire token"

// startAcquire starts the span of one acquisition: a root span, since no
// caller's request waits on Run's acquisitions. Its attributes say which
// attempt it is and nothing else: no client or tenant id, never a token.
func (s *Source) startAcquire(ctx context.Context) (context.Context, trace.Span) {
	if s.tracer == nil {
		return ctx, nil
	}
	return s.tracer.Start(ctx, spanAcquire, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.Int("sidecar.attempt", s.state.Load().failures+1)))
}

// endAcquire ends span with the acquisition's outcome. A failure is
// marked by its kind only: the error's text, which may name the
// authority and the client, is the log line's.
func endAcquire(span trace.Span, err error) {
	if span == nil {
		return
	}
	if err != nil {
		span.SetStatus(codes.Error, ErrNoToken.Error())
		kind := "acquire"
		switch {
		case errors.Is(err, context.DeadlineExceeded):
			kind = "timeout"
		case errors.Is(err, context.Canceled):
			kind = "canceled" // Run is stopping
		}
		span.SetAttributes(attribute.String("error.type", kind))
	}
	span.End()
}
