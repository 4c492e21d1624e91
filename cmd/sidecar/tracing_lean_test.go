//go:build !otel

package main

import (
	"context"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// A sidecar built without the exporters, in a pod the platform injected
// OTEL_* into, runs untraced and says so once.
func TestNewTracingLeanBuildRunsUntraced(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zap.WarnLevel)
	tp, err := newTracing(context.Background(), []string{"OTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4318"}, zap.New(core))
	if tp != nil || err != nil {
		t.Errorf("newTracing(lean build, endpoint set) = %v, %v; want nil, nil", tp, err)
	}
	if n := logs.FilterMessage("tracing off").Len(); n != 1 {
		t.Errorf("%d warnings; want one saying tracing is off", n)
	}
}
