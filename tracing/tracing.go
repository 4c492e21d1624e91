// Package tracing sets up OpenTelemetry traces from the standard OTEL_*
// variables, and only when they ask for traces: [New] returns a nil
// *Provider otherwise, so that no SDK is built and the handlers, given a
// nil trace.Tracer, do no tracing work at all.
//
// The exporter comes from go.opentelemetry.io/contrib/exporters/autoexport
// (OTEL_TRACES_EXPORTER, OTEL_EXPORTER_OTLP_*), the sampler and the batch
// processor from the SDK's own variables (OTEL_TRACES_SAMPLER, OTEL_BSP_*),
// the resource from OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES, and the
// propagators from OTEL_PROPAGATORS. The libraries read those from the
// process environment; this package decides from the environ it is given,
// which in production is the same.
//
// The SDK, the exporters (autoexport: OTLP over gRPC and HTTP, Zipkin,
// console) and the contrib propagators are built in with the build tag
// "otel" only: they double the binary and add 7 MiB to every sidecar's
// idle memory, traced or not. Without the tag the package links the trace
// API alone; New reports ErrNoExporters when traces are asked for, and
// OTEL_PROPAGATORS knows tracecontext, baggage and none.
//
// The packages that trace (proxy, tokencache) see only the trace API
// (trace.Tracer and a propagation.TextMapPropagator); the SDK and the
// exporters stay here.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// ServiceName is the service.name of the sidecar's spans unless
// OTEL_SERVICE_NAME (or service.name in OTEL_RESOURCE_ATTRIBUTES) names
// another: the SDK's own default, unknown_service:sidecar, says nothing.
const ServiceName = "bot-sidecar"

// The variables that decide whether traces are on.
const (
	envSDKDisabled    = "OTEL_SDK_DISABLED"
	envTracesExporter = "OTEL_TRACES_EXPORTER"
	envEndpoint       = "OTEL_EXPORTER_OTLP_ENDPOINT"
	envTracesEndpoint = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	envPropagators    = "OTEL_PROPAGATORS"
)

// Enabled reports whether environ asks for traces: OTEL_SDK_DISABLED is
// not "true", and either OTEL_TRACES_EXPORTER names an exporter other than
// "none", or it is unset and OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set.
//
// autoexport alone would export OTLP to localhost:4318 when nothing is
// set; a sidecar that nobody asked to trace must not pay for spans, nor
// log export errors about a collector that does not exist.
func Enabled(environ map[string]string) bool {
	if strings.EqualFold(strings.TrimSpace(environ[envSDKDisabled]), "true") {
		return false
	}
	switch exporter := strings.TrimSpace(environ[envTracesExporter]); exporter {
	case "none":
		return false
	case "":
		return environ[envEndpoint] != "" || environ[envTracesEndpoint] != ""
	}
	return true
}

// Options configures New.
type Options struct {
	// Environ is the process environment, as a map: it decides whether
	// traces are on (see Enabled) and which propagators carry them.
	Environ map[string]string
	// Version is the service.version of the spans.
	Version string
}

// Provider is the tracer provider built from the environment. A nil
// *Provider is tracing off: its Tracer is nil and Shutdown does nothing.
type Provider struct {
	tracer     trace.Tracer
	propagator propagation.TextMapPropagator
	shutdown   func(context.Context) error
}

// New builds the provider the environment asks for, or returns nil (and no
// error) when it asks for no traces. An exporter, protocol or propagator
// name the libraries do not know is an error, so that a typo is not a
// silent loss of every trace; a build without the exporters answers
// ErrNoExporters.
func New(ctx context.Context, opts Options) (*Provider, error) {
	if !Enabled(opts.Environ) {
		return nil, nil
	}
	prop, err := propagator(opts.Environ[envPropagators])
	if err != nil {
		return nil, err
	}
	return newProvider(ctx, opts, prop)
}

// propagator is what OTEL_PROPAGATORS names (a comma-separated list, blanks
// around names allowed), tracecontext and baggage when it is unset, or an
// error for a name autoprop does not know.
func propagator(names string) (propagation.TextMapPropagator, error) {
	if strings.TrimSpace(names) == "" {
		return propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}), nil
	}
	list := strings.Split(names, ",")
	for i := range list {
		list[i] = strings.TrimSpace(list[i])
	}
	p, err := namedPropagators(list)
	if err != nil {
		// Even with some names known: a typo must not drop a propagator
		// silently.
		return nil, fmt.Errorf("%s=%q: %w", envPropagators, names, err)
	}
	return p, nil
}

// Tracer is the sidecar's tracer, or nil when tracing is off: the
// handlers test for nil and skip every span.
func (p *Provider) Tracer() trace.Tracer {
	if p == nil {
		return nil
	}
	return p.tracer
}

// Propagator reads and writes the trace headers (traceparent, tracestate,
// baggage by default), or is nil when tracing is off: the headers then
// pass through untouched.
func (p *Provider) Propagator() propagation.TextMapPropagator {
	if p == nil {
		return nil
	}
	return p.propagator
}

// Shutdown exports the spans still queued and stops the exporter. ctx
// bounds it: an unreachable collector must not hold up the exit.
func (p *Provider) Shutdown(ctx context.Context) error {
	if p == nil {
		return nil
	}
	if err := p.shutdown(ctx); err != nil {
		return fmt.Errorf("flush traces: %w", err)
	}
	return nil
}

// ErrNoExporters is New's answer when the environment asks for traces and
// the binary was built without the tag "otel".
var ErrNoExporters = errors.New("the OTEL_* variables ask for traces, but this build has no exporters: use the sidecar built with -tags otel (the image built with --build-arg GO_TAGS=otel)")
