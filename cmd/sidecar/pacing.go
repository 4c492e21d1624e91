package main

import (
	"fmt"

	"github.com/botsidecar/sidecar/config"
	"github.com/botsidecar/sidecar/pacing"
	"github.com/botsidecar/sidecar/proxy"
)

// newPacer builds the outbound pacer from SIDECAR_PACING*, or returns nil
// (no pacing) when SIDECAR_PACING is off. Limit errors name their variable.
func newPacer(cfg config.Config) (proxy.Pacer, error) {
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
	p, err := pacing.New(opts)
	if err != nil {
		return nil, fmt.Errorf("pacing: %w", err)
	}
	return p, nil
}
