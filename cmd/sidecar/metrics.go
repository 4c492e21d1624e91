package main

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/botsidecar/sidecar/tokencache"
)

// registerTokenMetrics exposes the token source's counts and the seconds
// left on the cached token. tokencache stays free of Prometheus: the
// values are read from it when scraped.
func registerTokenMetrics(reg prometheus.Registerer, src *tokencache.Source, now func() time.Time) error {
	cs := []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "sidecar_token_acquisitions_total",
			Help: "Token requests to the identity provider, failed ones included.",
		}, func() float64 { return float64(src.Stats().Acquisitions) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "sidecar_token_acquisition_failures_total",
			Help: "Token requests that failed.",
		}, func() float64 { return float64(src.Stats().Failures) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "sidecar_token_expiry_seconds",
			Help: "Seconds until the cached token expires (0 without one).",
		}, func() float64 {
			exp := src.ExpiresOn()
			if exp.IsZero() {
				return 0
			}
			return max(0, exp.Sub(now()).Seconds())
		}),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}
