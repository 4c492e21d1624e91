//go:build otel

package tracing

import (
	"context"
	"fmt"

	"go.opentelemetry.io/contrib/exporters/autoexport"
	"go.opentelemetry.io/contrib/propagators/autoprop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// instrumentationName is the tracer's scope: the module.
const instrumentationName = "github.com/botsidecar/sidecar"

// ExportersBuiltIn reports whether this binary has the SDK and its
// exporters (the build tag "otel").
const ExportersBuiltIn = true

// newProvider builds the SDK with the exporter the environment names.
func newProvider(ctx context.Context, opts Options, prop propagation.TextMapPropagator) (*Provider, error) {
	exp, err := autoexport.NewSpanExporter(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", envTracesExporter, err)
	}
	return sdkProvider(ctx, opts.Version, prop, sdktrace.WithBatcher(exp))
}

// NewWithExporter builds a provider that hands each span to exp as it
// ends, whatever the environment says: tests use tracetest's in-memory
// exporter.
func NewWithExporter(ctx context.Context, version string, exp sdktrace.SpanExporter) (*Provider, error) {
	prop, err := propagator("")
	if err != nil {
		return nil, err
	}
	return sdkProvider(ctx, version, prop, sdktrace.WithSyncer(exp))
}

func sdkProvider(ctx context.Context, version string, prop propagation.TextMapPropagator, export sdktrace.TracerProviderOption) (*Provider, error) {
	res, err := resource.New(ctx,
		// Ours first: the environment's, merged after, win.
		resource.WithAttributes(semconv.ServiceName(ServiceName), semconv.ServiceVersion(version)),
		resource.WithFromEnv(),
		resource.WithTelemetrySDK(),
	)
	if err != nil {
		return nil, fmt.Errorf("OTEL_RESOURCE_ATTRIBUTES: %w", err)
	}
	tp := sdktrace.NewTracerProvider(export, sdktrace.WithResource(res))
	return &Provider{tracer: tp.Tracer(instrumentationName), propagator: prop, shutdown: tp.Shutdown}, nil
}

func namedPropagators(names []string) (propagation.TextMapPropagator, error) {
	return autoprop.TextMapPropagator(names...)
}
