package main

import (
	"context"
	"strings"
	"testing"

	"go.uber.org/zap"
)

func TestNewTracingOffByDefault(t *testing.T) {
	t.Parallel()
	for _, environ := range [][]string{
		nil,
		{"OTEL_SERVICE_NAME=bot"},
		{"OTEL_TRACES_EXPORTER=none", "OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:1"},
		{"OTEL_SDK_DISABLED=true", "OTEL_TRACES_EXPORTER=otlp"},
	} {
		if tp, err := newTracing(context.Background(), environ, zap.NewNop()); tp != nil || err != nil {
			t.Errorf("newTracing(%q) = %v, %v; want nil, nil: no SDK", environ, tp, err)
		}
	}
}

func TestNewTracingRefusesUnknownPropagator(t *testing.T) {
	t.Parallel()
	_, err := newTracing(context.Background(), []string{"OTEL_TRACES_EXPORTER=console", "OTEL_PROPAGATORS=tracecontxt"}, zap.NewNop())
	if err == nil || !strings.Contains(err.Error(), "OTEL_PROPAGATORS") {
		t.Errorf("newTracing(OTEL_PROPAGATORS=tracecontxt) = %v; want an error naming the variable", err)
	}
}
