package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/botsidecar/sidecar/config"
)

// With SIDECAR_PACING on, a send past the conversation's limit is refused
// by the sidecar with 429 Throttled and a Retry-After, and never reaches
// the connector.
func TestIntegrationPacing(t *testing.T) {
	s := startStack(t, map[string]string{"SIDECAR_PACING": "true", "SIDECAR_PACING_SEND": "1/1m", "SIDECAR_PACING_MAX_WAIT": "0s"})
	s.waitReady()
	s.putRef("a:1", s.conn.ServiceURL())
	if status, body := s.send("a:1", `{"type":"message"}`); status != 200 {
		t.Fatalf("first send = %d %s; want 200", status, body)
	}
	req, _ := http.NewRequest("POST", s.base+"/v3/conversations/a:1/activities", strings.NewReader(`{"type":"message"}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Errorf("second send = %d, Retry-After %q; want 429 with a Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if n := len(s.conn.Requests()); n != 1 {
		t.Errorf("connector got %d sends; want 1", n)
	}
	metrics := metricValues(t, s.get(s.admin+"/metrics"))
	for name, want := range map[string]float64{
		`sidecar_pacing_refused_total{class="send"}`:      1,
		`sidecar_pacing_wait_seconds_count{class="send"}`: 1,
		"sidecar_pacing_conversations":                    1,
		"sidecar_pacing_waiting":                          0,
	} {
		if got, ok := metrics[name]; !ok || got != want {
			t.Errorf("/metrics %s = %v (present %v); want %v", name, got, ok, want)
		}
	}
}

func TestNewPacerNamesTheVariable(t *testing.T) {
	t.Parallel()
	cfg := config.Config{Pacing: true, PacingSend: "seven per second", PacingRead: "off", PacingTenant: "off"}
	if _, err := newPacer(cfg, nil); err == nil || !strings.Contains(err.Error(), "SIDECAR_PACING_SEND") {
		t.Errorf("newPacer(bad send limit) = %v; want an error naming SIDECAR_PACING_SEND", err)
	}
	if p, err := newPacer(config.Config{}, nil); p != nil || err != nil {
		t.Errorf("newPacer(off) = %v, %v; want no pacer", p, err)
	}
}

// Each replica paces its share of the limits; a share of 0 is refused,
// naming the variable.
func TestNewPacerReplicas(t *testing.T) {
	t.Parallel()
	cfg := config.Config{Pacing: true, PacingSend: "8/1s", PacingRead: "off", PacingTenant: "50/1s", PacingReplicas: 2}
	if _, err := newPacer(cfg, nil); err != nil {
		t.Errorf("newPacer(2 replicas) = %v; want a pacer", err)
	}
	cfg.PacingReplicas = 9
	if _, err := newPacer(cfg, nil); err == nil || !strings.Contains(err.Error(), "SIDECAR_PACING_REPLICAS=9") {
		t.Errorf("newPacer(9 replicas of 8/1s) = %v; want an error naming SIDECAR_PACING_REPLICAS", err)
	}
}
