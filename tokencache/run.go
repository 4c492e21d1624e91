package tokencache

import (
	"context"
	"math/rand/v2"
	"time"

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

// Run acquires the first token and then keeps it fresh until ctx is done:
// it refreshes at the token's refresh point, so that callers of Token rarely
// see one due, and after a failure retries with back-off, logging each
// failed attempt (no caller is waiting for that error, so the loop logs it).
// It returns nil once ctx is done, after the acquisition it was waiting on
// (cancelled) has returned: no goroutine of the Source outlives Run except an
// acquisition that a Token caller starts later, which its timeout bounds.
func (s *Source) Run(ctx context.Context) error {
	defer s.log.Debug(msgRefreshStopped, zap.String("client_id", s.clientID))
	for {
		f, wait := s.plan(ctx)
		if f != nil {
			select {
			case <-f.done:
				s.report(f)
			case <-ctx.Done():
				f.cancel()
				<-f.done
				return nil
			}
			continue
		}
		timer := time.NewTimer(wait)
		select {
		case <-timer.C:
		case <-s.wake:
			timer.Stop()
		case <-ctx.Done():
			timer.Stop()
			return nil
		}
	}
}

// plan decides Run's next step: wait for an acquisition (joining the one in
// flight or starting one when due), or sleep for the returned duration.
func (s *Source) plan(ctx context.Context) (*flight, time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.flight != nil {
		return s.flight, 0
	}
	now := s.now()
	if t := s.tok.Load(); t != nil && now.Before(t.refreshAt) {
		return nil, t.refreshAt.Sub(now)
	}
	if now.Before(s.retryAt) {
		return nil, s.retryAt.Sub(now)
	}
	return s.startLocked(ctx), 0
}

// report logs the outcome of an acquisition Run waited for. Never the token.
func (s *Source) report(f *flight) {
	if f.err != nil {
		s.log.Warn(msgAcquireFailed,
			zap.String("client_id", s.clientID),
			zap.String("authority", s.authority),
			zap.Int("attempt", f.attempt),
			zap.Duration("retry_in", f.retryIn),
			zap.Error(f.err))
		return
	}
	s.log.Info(msgAcquired,
		zap.String("client_id", s.clientID),
		zap.String("authority", s.authority),
		zap.Duration("expires_in", f.tok.expiresOn.Sub(s.now()).Round(time.Second)))
}
