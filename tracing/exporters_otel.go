//go:build otel

package tracing

import (
	"context"

	"go.opentelemetry.io/contrib/exporters/autoexport"
	"go.opentelemetry.io/contrib/propagators/autoprop"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// ExportersBuiltIn reports whether this binary has the exporters (the
// build tag "otel").
const ExportersBuiltIn = true

func newExporter(ctx context.Context) (sdktrace.SpanExporter, error) {
	return autoexport.NewSpanExporter(ctx)
}

func namedPropagators(names []string) (propagation.TextMapPropagator, error) {
	return autoprop.TextMapPropagator(names...)
}
