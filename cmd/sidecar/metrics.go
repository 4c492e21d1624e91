package main

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/botsidecar/sidecar/store"
)

// registerTokenMetrics exposes each bot's token source: its counts and
// the seconds left on its cached token. tokencache stays free of
// Prometheus: the values are read from it when scraped. With several bots
// each series carries connection, the bot's name (never an id); one bot's
// have no label, as before there could be several.
func registerTokenMetrics(reg prometheus.Registerer, bots []*bot, now func() time.Time) error {
	cs := []prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	}
	for _, b := range bots {
		src := b.tokens
		var labels prometheus.Labels
		if len(bots) > 1 {
			labels = prometheus.Labels{"connection": b.cfg.Name}
		}
		cs = append(cs,
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name:        "sidecar_token_acquisitions_total",
				Help:        "Token requests to the identity provider, failed ones included.",
				ConstLabels: labels,
			}, func() float64 { return float64(src.Stats().Acquisitions) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name:        "sidecar_token_acquisition_failures_total",
				Help:        "Token requests that failed.",
				ConstLabels: labels,
			}, func() float64 { return float64(src.Stats().Failures) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name:        "sidecar_token_expiry_seconds",
				Help:        "Seconds until the cached token expires (0 without one).",
				ConstLabels: labels,
			}, func() float64 {
				exp := src.ExpiresOn()
				if exp.IsZero() {
					return 0
				}
				return max(0, exp.Sub(now()).Seconds())
			}),
		)
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// registerStoreMetrics exposes the state of the reference store, read from
// it when scraped: whether a shared store is degraded and how many writes
// wait for it, and how many references memory: dropped to make room. A
// store without the state has no such metric.
func registerStoreMetrics(reg prometheus.Registerer, s store.Store) error {
	var cs []prometheus.Collector
	if d, ok := s.(degradable); ok {
		cs = append(cs,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "sidecar_reference_store_degraded",
				Help: "1 while the shared reference store (Redis) does not answer: writes are queued in memory and reads served from memory; else 0.",
			}, func() float64 {
				if d.Degraded() {
					return 1
				}
				return 0
			}),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "sidecar_reference_store_pending_writes",
				Help: "Reference writes queued in memory for the shared store; a crash loses them.",
			}, func() float64 { return float64(d.Pending()) }),
		)
	}
	if e, ok := s.(interface{ Evictions() uint64 }); ok {
		cs = append(cs, prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "sidecar_reference_store_evictions_total",
			Help: "References the memory: store dropped to make room (SIDECAR_REFERENCE_CACHE_SIZE); their conversations can no longer be reached.",
		}, func() float64 { return float64(e.Evictions()) }))
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}
