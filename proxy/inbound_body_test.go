package proxy

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/zap"

	"github.com/botsidecar/sidecar/store/memstore"
)

// spyBody is a request body that never ends and counts its reads.
type spyBody struct{ reads atomic.Int32 }

func (b *spyBody) Read(p []byte) (int, error) {
	b.reads.Add(1)
	for i := range p {
		p[i] = ' '
	}
	return len(p), nil
}

func (b *spyBody) Close() error { return nil }

// TestInboundVerifiesBeforeReadingBody: a sender without a valid token is
// answered 401 from its headers, however large its body claims to be; not
// one byte of the body is read.
func TestInboundVerifiesBeforeReadingBody(t *testing.T) {
	t.Parallel()
	h := newInboundHarness(t, okBot, nil)
	in := h.srv.Config.Handler
	for _, tt := range []struct {
		name   string
		authz  string
		length int64
		want   int
	}{
		{"no token, endless body", "", -1, 401},
		{"forged token, endless body", "Bearer forged", -1, 401},
		{"forged token, a terabyte announced", "Bearer forged", 1 << 40, 401},
		{"valid token, a terabyte announced", "Bearer good", 1 << 40, 413},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			body := &spyBody{}
			req := httptest.NewRequest("POST", "/api/messages", body)
			req.ContentLength = tt.length
			if tt.authz != "" {
				req.Header.Set("Authorization", tt.authz)
			}
			rec := httptest.NewRecorder()
			in.ServeHTTP(rec, req)
			if rec.Code != tt.want {
				t.Errorf("status = %d %s; want %d", rec.Code, rec.Body, tt.want)
			}
			if n := body.reads.Load(); n != 0 {
				t.Errorf("the body was read %d times before the request was refused", n)
			}
		})
	}
}

// TestInboundUnauthenticatedEndlessBodyOverTheWire: the same through a
// real connection: an unauthenticated upload that never ends gets its 401
// while the client is still sending.
func TestInboundUnauthenticatedEndlessBodyOverTheWire(t *testing.T) {
	t.Parallel()
	h := newInboundHarness(t, okBot, nil)
	for _, length := range []int64{-1, 1 << 40} {
		body := &spyBody{}
		req, _ := http.NewRequest("POST", h.srv.URL+"/api/messages", body)
		req.ContentLength = length
		req.Header.Set("Authorization", "Bearer forged")
		resp, err := h.srv.Client().Do(req)
		if err != nil {
			t.Fatalf("Content-Length %d: %v", length, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 401 || errorCode(t, b) != CodeUnauthorized {
			t.Errorf("Content-Length %d: status = %d %s; want 401 %s", length, resp.StatusCode, b, CodeUnauthorized)
		}
	}
}

// blockingBot is a bot transport that answers 200 once released; it
// ignores the call's context, so that only the test decides when it ends.
type blockingBot struct {
	mu      sync.Mutex
	calls   int
	release chan struct{}
}

func (b *blockingBot) RoundTrip(r *http.Request) (*http.Response, error) {
	b.mu.Lock()
	b.calls++
	b.mu.Unlock()
	<-b.release
	return &http.Response{StatusCode: 200, Body: http.NoBody, Header: http.Header{}, Request: r}, nil
}

func (b *blockingBot) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.calls
}

// TestInboundBodyBudget: at most MaxConcurrentBodies bodies of the limit
// are held at once; a further one waits, honouring its context, and is
// answered 503 when the budget stays spent past the bot timeout.
func TestInboundBodyBudget(t *testing.T) {
	t.Parallel()
	const limit = 1 << 10
	activity := strings.Replace(inboundActivity, `"text":`, `"pad":"`+strings.Repeat("x", 200)+`","text":`, 1)
	synctest.Test(t, func(t *testing.T) {
		bot := &blockingBot{release: make(chan struct{})}
		refs, _ := memstore.New(100)
		trust, _ := NewTrustList(nil)
		in, err := NewInbound(InboundOptions{
			Auth: fakeAuth{}, References: refs, Trust: trust,
			BotURL: "http://bot.invalid/api/messages", OutboundURL: "http://127.0.0.1:3979/",
			MaxBodyBytes: limit, MaxConcurrentBodies: 2, BotTimeout: 10 * time.Second,
			Transport: bot, Logger: zap.NewNop(),
		})
		if err != nil {
			t.Fatal(err)
		}
		// post serves one request; length -1 is a chunked body, which
		// counts as the whole limit.
		post := func(ctx context.Context, length int64) *httptest.ResponseRecorder {
			req := httptest.NewRequestWithContext(ctx, "POST", "/api/messages", strings.NewReader(activity))
			req.ContentLength = length
			req.Header.Set("Authorization", "Bearer good")
			rec := httptest.NewRecorder()
			in.ServeHTTP(rec, req)
			return rec
		}
		results := make(chan *httptest.ResponseRecorder, 10)
		start := func(ctx context.Context, length int64) {
			go func() { results <- post(ctx, length) }()
		}

		start(t.Context(), -1)
		start(t.Context(), -1)
		synctest.Wait()
		if got := bot.count(); got != 2 {
			t.Fatalf("bot calls = %d; want 2 bodies held", got)
		}

		// A third unsized body waits for a share; its client gives up.
		ctx, cancel := context.WithCancel(t.Context())
		start(ctx, -1)
		synctest.Wait()
		if got := bot.count(); got != 2 {
			t.Fatalf("bot calls = %d with the budget spent; want 2", got)
		}
		cancel()
		// Nobody is waiting for an answer: none is written.
		if rec := <-results; rec.Body.Len() != 0 || bot.count() != 2 {
			t.Errorf("cancelled waiter answered %q, bot calls %d; want no answer and no call", rec.Body, bot.count())
		}

		// A fourth waits past the bot timeout: the channel is told to retry.
		// Everything blocks, so the bubble's clock jumps to the timeout.
		start(t.Context(), -1)
		if rec := <-results; rec.Code != http.StatusServiceUnavailable || errorCode(t, rec.Body.Bytes()) != CodeInboundBusy {
			t.Errorf("waiter past the bot timeout = %d %s; want 503 %s", rec.Code, rec.Body, CodeInboundBusy)
		}

		close(bot.release)
		for range 2 {
			if rec := <-results; rec.Code != 200 {
				t.Errorf("held request = %d %s; want 200", rec.Code, rec.Body)
			}
		}
		// The budget is free again: a sized body goes straight through.
		if rec := post(t.Context(), int64(len(activity))); rec.Code != 200 {
			t.Errorf("after release = %d %s; want 200", rec.Code, rec.Body)
		}
		if got := bot.count(); got != 3 {
			t.Errorf("bot calls = %d; want 3", got)
		}
	})
}
