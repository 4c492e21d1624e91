//go:build !otel

package tracing

import (
	"context"
	"fmt"

	"go.opentelemetry.io/otel/propagation"
)

// ExportersBuiltIn reports whether this binary has the SDK and its
// exporters (the build tag "otel").
const ExportersBuiltIn = false

func newProvider(context.Context, Options, propagation.TextMapPropagator) (*Provider, error) {
	return nil, ErrNoExporters
}

// namedPropagators knows the W3C propagators, which need no contrib
// module; the others (b3, jaeger, xray, ottrace) come with the tag.
func namedPropagators(names []string) (propagation.TextMapPropagator, error) {
	var ps []propagation.TextMapPropagator
	for _, n := range names {
		switch n {
		case "tracecontext":
			ps = append(ps, propagation.TraceContext{})
		case "baggage":
			ps = append(ps, propagation.Baggage{})
		case "none":
			return propagation.NewCompositeTextMapPropagator(), nil
		default:
			return nil, fmt.Errorf("propagator %q: this build knows tracecontext, baggage and none (build with -tags otel for the others)", n)
		}
	}
	return propagation.NewCompositeTextMapPropagator(ps...), nil
}
