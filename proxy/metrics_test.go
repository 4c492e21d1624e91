package proxy

import (
	"os"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/botsidecar/sidecar/internal/fakes"
	"github.com/botsidecar/sidecar/store/memstore"
)

// TestMetricsAfterScriptedRun plays a few calls and compares the counters
// with testdata/metrics.txt.
func TestMetricsAfterScriptedRun(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, func(o *OutboundOptions) {
		o.Metrics = m
		o.References = InstrumentedStore{Store: o.References.(*memstore.Memory), Metrics: m}
	})
	h.putRef("a:1")
	h.do("POST", "/v3/conversations/a:1/activities", `{"type":"message"}`, nil) // 200
	h.conn.Enqueue(fakes.ConnectorResponse{Status: 401})
	h.do("POST", "/v3/conversations/a:1/activities/7", `{"type":"message"}`, nil) // 401, then 200
	h.conn.Enqueue(fakes.ConnectorResponse{Status: 429}, fakes.ConnectorResponse{Status: 503})
	h.do("GET", "/v3/conversations/a:1/members", ``, nil)             // 429, 503, then 200
	h.do("POST", "/v3/conversations/unknown/activities", `{}`, nil)   // local 404
	h.do("POST", "/v3/conversations/a:1/activities", `{"type":`, nil) // local 400

	want, err := os.ReadFile("testdata/metrics.txt")
	if err != nil {
		t.Fatal(err)
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(string(want)),
		"sidecar_requests_total", "sidecar_upstream_retries_total", "sidecar_reference_store_operations_total"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(m.upstreamTime); n != 3 {
		t.Errorf("upstream latency series = %d; want 3 (one per route that went upstream)", n)
	}
	// Labels never carry ids or hosts.
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		for _, metric := range mf.GetMetric() {
			for _, l := range metric.GetLabel() {
				if strings.Contains(l.GetValue(), "a:1") || strings.Contains(l.GetValue(), "127.0.0.1") {
					t.Errorf("metric %s has label %s=%q", mf.GetName(), l.GetName(), l.GetValue())
				}
			}
		}
	}
}
