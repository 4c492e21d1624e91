package proxy

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/botsidecar/sidecar/internal/fakes"
	"github.com/botsidecar/sidecar/pacing"
)

// The caller's trace, as a bot or the channel would send it.
const (
	callerTraceID    = "4bf92f3577b34da6a3ce929d0e0e4736"
	callerSpanID     = "00f067aa0ba902b7"
	callerParent     = "00-" + callerTraceID + "-" + callerSpanID + "-01"
	callerState      = "vendor=opaque"
	callerCorrelator = "corr-1"
)

func callerHeaders() http.Header {
	return http.Header{"Traceparent": {callerParent}, "Tracestate": {callerState}, "X-Ms-Correlation-Id": {callerCorrelator}}
}

// newTestTracing is tracing on, every span recorded as it ends.
func newTestTracing(t *testing.T) (Tracing, *tracetest.InMemoryExporter) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return Tracing{Tracer: tp.Tracer("test")}, exp
}

// spansNamed returns the recorded spans with the name, in end order.
func spansNamed(spans tracetest.SpanStubs, name string) []tracetest.SpanStub {
	var out []tracetest.SpanStub
	for _, s := range spans {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
}

func attr(s tracetest.SpanStub, key string) string {
	for _, kv := range s.Attributes {
		if string(kv.Key) == key {
			return kv.Value.String()
		}
	}
	return ""
}

// parentOf reads a traceparent header: the trace id and the parent span id.
func parentOf(t *testing.T, h http.Header) (traceID, spanID string) {
	t.Helper()
	parts := strings.Split(h.Get("Traceparent"), "-")
	if len(parts) != 4 {
		t.Fatalf("traceparent = %q; want version-trace-span-flags", h.Get("Traceparent"))
	}
	return parts[1], parts[2]
}

// assertNoIDs checks that no attribute of any span holds a conversation
// id, a user id, a path or a token.
func assertNoIDs(t *testing.T, spans tracetest.SpanStubs, ids ...string) {
	t.Helper()
	for _, s := range spans {
		for _, kv := range s.Attributes {
			v := kv.Value.String()
			for _, id := range append(ids, "token-", "Bearer") {
				if strings.Contains(v, id) {
					t.Errorf("span %q attribute %s = %q holds %q", s.Name, kv.Key, v, id)
				}
			}
		}
	}
}

func TestOutboundTracing(t *testing.T) {
	t.Parallel()
	tr, exp := newTestTracing(t)
	h := newHarness(t, func(o *OutboundOptions) { o.Tracing = tr })
	h.putRef("a:conv-secret")
	h.conn.Enqueue(fakes.ConnectorResponse{Status: 429, Header: http.Header{"Retry-After": {"0"}}})
	resp, body := h.do("POST", "/v3/conversations/a:conv-secret/activities", `{"type":"message"}`, callerHeaders())
	if resp.StatusCode != 200 {
		t.Fatalf("status = %d %s; want 200", resp.StatusCode, body)
	}
	spans := exp.GetSpans()
	calls := spansNamed(spans, "POST /v3/conversations/{conversationId}/activities")
	attempts := spansNamed(spans, spanAttempt)
	if len(calls) != 1 || len(attempts) != 2 {
		t.Fatalf("spans %v; want one call and two attempts", names(spans))
	}
	call := calls[0]
	if got := call.Parent; !got.IsRemote() || got.TraceID().String() != callerTraceID || got.SpanID().String() != callerSpanID {
		t.Errorf("call span parent = %v; want the bot's span %s", got, callerSpanID)
	}
	if got := call.SpanContext.TraceState().String(); got != callerState {
		t.Errorf("call span tracestate = %q; want the bot's %q", got, callerState)
	}
	for k, want := range map[string]string{
		"http.route": "/v3/conversations/{conversationId}/activities", "http.request.method": "POST",
		"http.response.status_code": "200", "sidecar.attempts": "2", "botframework.correlation_id": callerCorrelator,
	} {
		if got := attr(call, k); got != want {
			t.Errorf("call span %s = %q; want %q", k, got, want)
		}
	}
	if !strings.HasPrefix(attr(call, "botframework.ms_cv"), "fakeCV") {
		t.Errorf("call span ms_cv = %q; want the connector's MS-CV", attr(call, "botframework.ms_cv"))
	}

	reqs := h.conn.Requests()
	if len(reqs) != 2 {
		t.Fatalf("connector got %d requests; want 2", len(reqs))
	}
	for i, a := range attempts {
		if a.Parent.SpanID() != call.SpanContext.SpanID() {
			t.Errorf("attempt %d parent = %v; want the call span", i+1, a.Parent.SpanID())
		}
		if got := attr(a, "sidecar.attempt"); got != []string{"1", "2"}[i] {
			t.Errorf("attempt %d sidecar.attempt = %q", i+1, got)
		}
		// Each attempt is the parent of what the connector does with it.
		traceID, spanID := parentOf(t, reqs[i].Header)
		if traceID != callerTraceID || spanID != a.SpanContext.SpanID().String() {
			t.Errorf("attempt %d sent traceparent %q; want trace %s, parent %s", i+1, reqs[i].Header.Get("Traceparent"), callerTraceID, a.SpanContext.SpanID())
		}
		if got := reqs[i].Header.Get("X-Ms-Correlation-Id"); got != callerCorrelator {
			t.Errorf("attempt %d x-ms-correlation-id = %q; want it passed through", i+1, got)
		}
	}
	if got := attr(attempts[0], "http.response.status_code"); got != "429" {
		t.Errorf("first attempt status = %q; want 429", got)
	}
	if got, first := attr(attempts[1], "sidecar.retry_reason"), attr(attempts[0], "sidecar.retry_reason"); got != "429" || first != "" {
		t.Errorf("retry reasons = %q, %q; want none, then 429", first, got)
	}
	assertNoIDs(t, spans, "a:conv-secret", "29:user-1", "/v3/conversations/a")
}

func names(spans tracetest.SpanStubs) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name)
	}
	return out
}

func TestOutboundTracingOffPassesHeadersThrough(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.putRef("c1")
	if resp, body := h.do("POST", "/v3/conversations/c1/activities", `{"type":"message"}`, callerHeaders()); resp.StatusCode != 200 {
		t.Fatalf("status = %d %s; want 200", resp.StatusCode, body)
	}
	got := h.onlyRequest().Header
	for k, v := range callerHeaders() {
		if got.Get(k) != v[0] {
			t.Errorf("%s = %q; want the bot's %q untouched", k, got.Get(k), v[0])
		}
	}
}

// waitingPacer makes every call wait, as a busy conversation's would.
type waitingPacer struct{ wait time.Duration }

func (p waitingPacer) Wait(context.Context, pacing.Key) (time.Duration, error) { return p.wait, nil }

func TestOutboundTracingPacingWait(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name      string
		wait      time.Duration
		wantSpans int
	}{
		{"a wait is a span as long as the wait", 1500 * time.Millisecond, 1},
		{"no wait, no span", 0, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tr, exp := newTestTracing(t)
			h := newHarness(t, func(o *OutboundOptions) { o.Tracing, o.Pacer = tr, waitingPacer{tt.wait} })
			h.putRef("c1")
			if resp, body := h.do("POST", "/v3/conversations/c1/activities", `{"type":"message"}`, nil); resp.StatusCode != 200 {
				t.Fatalf("status = %d %s; want 200", resp.StatusCode, body)
			}
			spans := exp.GetSpans()
			waits := spansNamed(spans, spanPacing)
			if len(waits) != tt.wantSpans {
				t.Fatalf("pacing spans %d (of %v); want %d", len(waits), names(spans), tt.wantSpans)
			}
			if tt.wantSpans == 0 {
				return
			}
			if d := waits[0].EndTime.Sub(waits[0].StartTime); d != tt.wait {
				t.Errorf("pacing span lasts %v; want the wait, %v", d, tt.wait)
			}
			call := spansNamed(spans, "POST /v3/conversations/{conversationId}/activities")
			if len(call) != 1 || waits[0].Parent.SpanID() != call[0].SpanContext.SpanID() {
				t.Errorf("pacing span parent = %v; want the call span", waits[0].Parent.SpanID())
			}
		})
	}
}

func TestInboundTracing(t *testing.T) {
	t.Parallel()
	tr, exp := newTestTracing(t)
	h := newInboundHarness(t, okBot, func(o *InboundOptions) { o.Tracing = tr })
	hdr := callerHeaders()
	hdr.Set("MS-CV", "cv.1")
	if resp, body := h.post("Bearer good", inboundActivity, hdr); resp.StatusCode != 200 {
		t.Fatalf("status = %d %s; want 200", resp.StatusCode, body)
	}
	spans := exp.GetSpans()
	in, verify, forward := spansNamed(spans, spanInbound), spansNamed(spans, spanVerify), spansNamed(spans, spanForward)
	if len(in) != 1 || len(verify) != 1 || len(forward) != 1 {
		t.Fatalf("spans %v; want the activity, its validation and its forwarding", names(spans))
	}
	if p := in[0].Parent; !p.IsRemote() || p.TraceID().String() != callerTraceID || p.SpanID().String() != callerSpanID {
		t.Errorf("activity span parent = %v; want the channel's span", p)
	}
	for _, child := range []tracetest.SpanStub{verify[0], forward[0]} {
		if child.Parent.SpanID() != in[0].SpanContext.SpanID() {
			t.Errorf("%s parent = %v; want the activity span", child.Name, child.Parent.SpanID())
		}
	}
	for k, want := range map[string]string{
		"botframework.ms_cv": "cv.1", "botframework.correlation_id": callerCorrelator, "botframework.channel_id": "msteams",
		"botframework.activity_type": "message", "http.response.status_code": "200", "sidecar.bot_status": "200",
	} {
		if got := attr(in[0], k); got != want {
			t.Errorf("activity span %s = %q; want %q", k, got, want)
		}
	}
	bot := h.botGot[0].Header
	if traceID, spanID := parentOf(t, bot); traceID != callerTraceID || spanID != forward[0].SpanContext.SpanID().String() {
		t.Errorf("bot got traceparent %q; want trace %s, parent the forwarding span %s", bot.Get("Traceparent"), callerTraceID, forward[0].SpanContext.SpanID())
	}
	if bot.Get("Tracestate") != callerState || bot.Get("X-Ms-Correlation-Id") != callerCorrelator {
		t.Errorf("bot got tracestate %q, x-ms-correlation-id %q; want the channel's", bot.Get("Tracestate"), bot.Get("X-Ms-Correlation-Id"))
	}
	assertNoIDs(t, spans, "a:conv1", "29:user-1", "1712")
}

func TestInboundTracingRejectedToken(t *testing.T) {
	t.Parallel()
	tr, exp := newTestTracing(t)
	h := newInboundHarness(t, okBot, func(o *InboundOptions) { o.Tracing = tr })
	if resp, _ := h.post("Bearer forged", inboundActivity, nil); resp.StatusCode != 401 {
		t.Fatalf("status = %d; want 401", resp.StatusCode)
	}
	spans := exp.GetSpans()
	verify := spansNamed(spans, spanVerify)
	if len(verify) != 1 || verify[0].Status.Description != ErrUnauthenticated.Error() {
		t.Fatalf("validation spans %+v; want one, failed with %q", verify, ErrUnauthenticated)
	}
	if n := len(spansNamed(spans, spanForward)); n != 0 {
		t.Errorf("%d forwarding spans for a rejected activity; want 0", n)
	}
}

// outboundAllocsBefore is what one outbound call allocated, measured as
// below, on the commit before tracing existed. Tracing off must not add
// to it; raise it only for a change that is not tracing's. 137, then 140:
// the attempt's body became one the transport knows is in memory (headers
// and body in one write, not two), with its progress watched by httptrace.
const outboundAllocsBefore = 140

// TestOutboundTracingOffAllocs is not parallel: AllocsPerRun measures the
// whole process. Off, a call allocates what it did before tracing; on, it
// allocates more (the spans), which shows the measurement sees the path.
func TestOutboundTracingOffAllocs(t *testing.T) {
	measure := func(tr Tracing) float64 {
		bh, _ := newBenchOutbound(t)
		bh.tracing = tr
		return testing.AllocsPerRun(200, func() {
			req := httptest.NewRequest("POST", "http://127.0.0.1:3979/v3/conversations/a%3A1personal/activities/1712345678901", strings.NewReader(benchActivity))
			req.Header.Set("Content-Type", "application/json; charset=utf-8")
			req.Header.Set("Traceparent", callerParent)
			w := httptest.NewRecorder()
			bh.ServeHTTP(w, req)
			if w.Code != 200 {
				t.Fatalf("status %d %s", w.Code, w.Body)
			}
		})
	}
	off := measure(Tracing{})
	on, _ := newTestTracing(t)
	withSpans := measure(on)
	if !raceEnabled && off > outboundAllocsBefore {
		t.Errorf("tracing off: %.0f allocations per call; want at most %d, as before tracing", off, outboundAllocsBefore)
	}
	if withSpans <= off {
		t.Errorf("tracing on: %.0f allocations per call, off %.0f; want more on (the spans)", withSpans, off)
	}
	t.Logf("allocations per call: %.0f off, %.0f on", off, withSpans)
}
