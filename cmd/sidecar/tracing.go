package main

import (
	"context"
	"errors"
	"fmt"

	"go.opentelemetry.io/otel"
	"go.uber.org/zap"

	"github.com/botsidecar/sidecar/config"
	"github.com/botsidecar/sidecar/tracing"
)

// newTracing builds the tracer provider the OTEL_* variables ask for, or
// nil when they ask for no traces (the default). The SDK reports export
// failures through one handler per process: the program owns the process's
// stderr, so it routes them into zap here, as openStore does go-redis's.
func newTracing(ctx context.Context, environ []string, logger *zap.Logger) (*tracing.Provider, error) {
	tp, err := tracing.New(ctx, tracing.Options{Environ: config.EnvironMap(environ), Version: version})
	if errors.Is(err, tracing.ErrNoExporters) {
		// Platforms inject OTEL_* into every pod; a lean sidecar among
		// them runs untraced rather than not at all.
		logger.Warn("tracing off", zap.Error(err))
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("tracing: %w", err)
	}
	if tp != nil {
		log := logger.Named("tracing")
		otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
			log.Warn("trace export", zap.Error(err))
		}))
	}
	return tp, nil
}
