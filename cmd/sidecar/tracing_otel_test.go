//go:build otel

package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/botsidecar/sidecar/internal/testkit"
	"github.com/botsidecar/sidecar/tracing"
)

// keptExporter keeps its spans past Shutdown (tracetest's exporter drops
// them) and records that the app shut it down.
type keptExporter struct {
	*tracetest.InMemoryExporter
	shutdown atomic.Bool
}

func (e *keptExporter) Shutdown(context.Context) error {
	e.shutdown.Store(true)
	return nil
}

// The wiring, end to end: a channel activity's trace continues through
// the sidecar to the bot, the bot's reply is traced to the connector, the
// token acquisition is a span, and the spans are flushed at shutdown.
func TestIntegrationTracing(t *testing.T) {
	exp := &keptExporter{InMemoryExporter: tracetest.NewInMemoryExporter()}
	const channelTrace, channelSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	t.Run("round trip", func(t *testing.T) {
		tp, err := tracing.NewWithExporter(context.Background(), version, exp)
		if err != nil {
			t.Fatal(err)
		}
		s := startStackWith(t, nil, func(d *deps) { d.tracing = tp })
		s.waitReady()
		su := s.conn.ServiceURL()
		req, _ := http.NewRequest("POST", s.inbound+"/api/messages", strings.NewReader(s.teamsActivity("a:1conv", su)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+s.channel.Token(itAppID, su))
		req.Header.Set("Traceparent", "00-"+channelTrace+"-"+channelSpan+"-01")
		req.Header.Set("X-Ms-Correlation-Id", "corr-7")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("inbound = %d; want 200", resp.StatusCode)
		}
		want := []string{"acquire token", "validate channel token", "forward to bot", "POST /api/messages",
			"upstream attempt", "POST /v3/conversations/{conversationId}/activities/{activityId}"}
		byName := map[string]tracetest.SpanStub{}
		testkit.WaitFor(t, 10*time.Second, func() bool {
			for _, sp := range exp.GetSpans() {
				byName[sp.Name] = sp
			}
			return len(byName) >= len(want)
		}, "the round trip's spans")
		for _, name := range want {
			if _, ok := byName[name]; !ok {
				t.Errorf("no span %q among %v", name, byName)
			}
		}
		if in := byName["POST /api/messages"]; in.Parent.TraceID().String() != channelTrace || in.Parent.SpanID().String() != channelSpan {
			t.Errorf("activity span parent = %v; want the channel's span", in.Parent)
		}
		// The echo bot sends the traceparent it got on with its reply, as
		// an instrumented SDK does: the reply continues the channel's
		// trace, under the forwarding span, and the connector sees the
		// sidecar's attempt as its parent.
		forward := byName["forward to bot"]
		send := byName["POST /v3/conversations/{conversationId}/activities/{activityId}"]
		if send.SpanContext.TraceID().String() != channelTrace || send.Parent.SpanID() != forward.SpanContext.SpanID() {
			t.Errorf("reply span: trace %s, parent %s; want the channel's trace %s under the forwarding span %s",
				send.SpanContext.TraceID(), send.Parent.SpanID(), channelTrace, forward.SpanContext.SpanID())
		}
		attempt := byName["upstream attempt"]
		reqs := s.conn.Requests()
		if len(reqs) != 1 {
			t.Fatalf("connector got %d requests; want 1", len(reqs))
		}
		if got, want := reqs[0].Header.Get("Traceparent"), "00-"+attempt.SpanContext.TraceID().String()+"-"+attempt.SpanContext.SpanID().String()+"-01"; got != want {
			t.Errorf("connector traceparent = %q; want the attempt's %q", got, want)
		}
	})
	// The subtest's cleanup stopped the app.
	if !exp.shutdown.Load() {
		t.Error("the app stopped without shutting the tracer provider down (its queued spans would be lost)")
	}
}
