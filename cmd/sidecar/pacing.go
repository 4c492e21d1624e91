package main

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/botsidecar/sidecar/config"
	"github.com/botsidecar/sidecar/pacing"
	"github.com/botsidecar/sidecar/proxy"
)

// newPacer builds the outbound pacer from SIDECAR_PACING*, or returns nil
// (no pacing) when SIDECAR_PACING is off. Limit errors name their variable.
// reg, when not nil, gets the pacer's gauges.
func newPacer(cfg config.Config, reg prometheus.Registerer) (proxy.Pacer, error) {
	if !cfg.Pacing {
		return nil, nil
	}
	var opts pacing.Options
	for _, l := range []struct {
		name  string
		value string
		into  *pacing.Limit
	}{
		{"SIDECAR_PACING_SEND", cfg.PacingSend, &opts.Send},
		{"SIDECAR_PACING_SEND", cfg.PacingSend, &opts.Create}, // Teams counts creates with sends
		{"SIDECAR_PACING_READ", cfg.PacingRead, &opts.Read},
		{"SIDECAR_PACING_TENANT", cfg.PacingTenant, &opts.Tenant},
	} {
		limit, err := pacing.ParseLimit(l.value)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", l.name, err)
		}
		*l.into = limit
	}
	opts.MaxWait = cfg.PacingMaxWait
	opts.Replicas = cfg.PacingReplicas
	opts.Margin = cfg.PacingMargin
	// A broadcast released 50 at a time reaches the connector spread
	// over more than the margin; released evenly it does not.
	opts.SpreadTenant = true
	p, err := pacing.New(opts)
	if err != nil {
		return nil, fmt.Errorf("SIDECAR_PACING_REPLICAS=%d: %w", cfg.PacingReplicas, err)
	}
	if reg != nil {
		if err := registerPacerMetrics(reg, p); err != nil {
			return nil, fmt.Errorf("metrics: %w", err)
		}
	}
	return p, nil
}

// registerPacerMetrics exposes the pacer's counts, read when scraped.
func registerPacerMetrics(reg prometheus.Registerer, p *pacing.Pacer) error {
	for _, c := range []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "sidecar_pacing_waiting",
			Help: "Outbound calls the pacer holds now.",
		}, func() float64 { return float64(p.Stats().Waiting) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "sidecar_pacing_conversations",
			Help: "Conversations whose recent calls the pacer remembers.",
		}, func() float64 { return float64(p.Stats().Conversations) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "sidecar_pacing_evicted_active_total",
			Help: "Pacer states dropped while their windows still held calls: non-zero means the pacer's caps are too small for the traffic.",
		}, func() float64 { return float64(p.Stats().EvictedActive) }),
	} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}
