package proxy

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/botsidecar/sidecar/internal/fakes"
	"github.com/botsidecar/sidecar/rewrite"
)

func TestClassify(t *testing.T) {
	t.Parallel()
	reset := errors.New("connection reset by peer")
	tests := []struct {
		name       string
		give       error
		wantStatus int
		wantCode   string
		wantMsg    string // a substring of the safe message
	}{
		{"refusal", refuse(failUnknownRoute, "nope"), 404, CodeUnknownRoute, "nope"},
		{"wrapped refusal", fmt.Errorf("step: %w", refuse(failInvalidHeader, "bad header")), 400, CodeInvalidHeader, "bad header"},
		{"teams rule code wins", &localError{kind: failTeamsCreate, code: CodeGroupChatNotSupported, msg: "no groups"}, 400, CodeGroupChatNotSupported, "no groups"},
		{"bad path", errBadPath, 400, CodeInvalidPath, "dot segments"},
		{"too large", &http.MaxBytesError{Limit: 10}, 413, CodeBodyTooLarge, "limit of 10 bytes"},
		{"malformed json", fmt.Errorf("%w: at offset 3", rewrite.ErrMalformed), 400, CodeMalformedJSON, "not a valid JSON activity"},
		{"token", tokenFailure("app-1", false, errors.New("entra down")), 503, CodeTokenUnavailable, "token for app app-1"},
		{"token after 401", tokenFailure("app-1", true, errors.New("entra down")), 503, CodeTokenUnavailable, "refused the token"},
		{"store read", storeFailure(false, errors.New("redis down")), 503, CodeStoreUnavailable, "could not be read"},
		{"store write", storeFailure(true, errors.New("disk full")), 503, CodeStoreUnavailable, "could not be stored"},
		{"auth", &authFailure{fmt.Errorf("%w: bad signature", ErrUnauthenticated)}, 401, CodeUnauthorized, "valid Bot Framework channel token"},
		{"auth keys", &authFailure{fmt.Errorf("%w: metadata 500", ErrAuthUnavailable)}, 503, CodeAuthUnavailable, "signing keys"},
		{"connector unreachable", &exchangeError{peer: peerConnector, host: "smba.example", err: reset}, 502, CodeUpstreamUnreachable, "smba.example"},
		{"connector timeout", &exchangeError{peer: peerConnector, host: "smba.example", err: errors.Join(context.DeadlineExceeded, reset)}, 504, CodeUpstreamTimeout, "smba.example"},
		{"bot unreachable", &exchangeError{peer: peerBot, err: reset}, 502, CodeBotUnreachable, "SIDECAR_BOT_URL"},
		{"bot answer cut", &exchangeError{peer: peerBot, reading: true, err: reset}, 502, CodeBotUnreachable, "answer could not be read"},
		{"bot timeout", &exchangeError{peer: peerBot, limit: 2 * time.Second, err: context.DeadlineExceeded}, 504, CodeBotTimeout, "(2s)"},
		{"bot timeout mid-answer", &exchangeError{peer: peerBot, limit: time.Second, reading: true, err: context.DeadlineExceeded}, 504, CodeBotTimeout, "finish its answer"},
		// The client's own cancel is the client's, whichever step it hit.
		{"client cancel upstream", &exchangeError{peer: peerConnector, host: "h", err: errors.Join(context.Canceled, reset)}, 499, CodeClientClosed, "closed"},
		{"client cancel token wait", tokenFailure("app-1", false, fmt.Errorf("wait: %w", context.Canceled)), 499, CodeClientClosed, "closed"},
		{"unknown", errors.New("boom"), 500, CodeInternal, "internal error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, code, msg := classify(tt.give)
			if status != tt.wantStatus || code != tt.wantCode || !strings.Contains(msg, tt.wantMsg) {
				t.Errorf("classify(%v) = %d %s %q; want %d %s containing %q", tt.give, status, code, msg, tt.wantStatus, tt.wantCode, tt.wantMsg)
			}
			if strings.Contains(msg, "entra down") || strings.Contains(msg, "redis down") || strings.Contains(msg, "reset by peer") {
				t.Errorf("classify(%v) message %q leaks the internal cause", tt.give, msg)
			}
		})
	}
}

// A bot that gives up while the sidecar backs off is logged as the
// client's 499 at info, not as the connector's 504.
func TestOutboundClientCancelIs499(t *testing.T) {
	t.Parallel()
	sleeping := make(chan struct{}, 1)
	h := newHarness(t, func(o *OutboundOptions) {
		o.Sleep = func(ctx context.Context, _ time.Duration) error {
			sleeping <- struct{}{}
			<-ctx.Done()
			return ctx.Err()
		}
	})
	h.putRef("a:1")
	h.conn.Enqueue(fakes.ConnectorResponse{Status: http.StatusServiceUnavailable, Header: http.Header{"Retry-After": {"1"}}})
	ctx, cancel := context.WithCancel(context.Background())
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, "http://127.0.0.1:3979/v3/conversations/a:1/activities", strings.NewReader(`{"type":"message"}`))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.handler.ServeHTTP(rec, req)
	}()
	select {
	case <-sleeping:
	case <-time.After(30 * time.Second):
		t.Fatal("the handler never backed off after the 503")
	}
	cancel()
	<-done
	entries := h.logs.FilterMessage("outbound call").All()
	if len(entries) != 1 {
		t.Fatalf("got %d log lines; want 1", len(entries))
	}
	e := entries[0]
	fields := e.ContextMap()
	if e.Level != zap.InfoLevel || fields["status"] != int64(StatusClientClosedRequest) || fields["code"] != CodeClientClosed {
		t.Errorf("log line = %v %v; want info, status 499, code %s", e.Level, fields, CodeClientClosed)
	}
	if rec.Body.Len() != 0 {
		t.Errorf("body written to a client that left: %s", rec.Body.String())
	}
}
