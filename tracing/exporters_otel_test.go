//go:build otel

package tracing

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

func TestContribPropagator(t *testing.T) {
	t.Parallel()
	p, err := propagator(" tracecontext , b3 ")
	if err != nil {
		t.Fatal(err)
	}
	fields := map[string]bool{}
	for _, f := range p.Fields() {
		fields[f] = true
	}
	if !fields["traceparent"] || !fields["b3"] {
		t.Errorf("propagator(tracecontext, b3) fields %v; want traceparent and b3", p.Fields())
	}
}

// TestNewExporterFromEnvironment is not parallel: autoexport reads the
// process environment, so this test sets it.
func TestNewExporterFromEnvironment(t *testing.T) {
	t.Setenv("OTEL_TRACES_EXPORTER", "bogus")
	if _, err := New(context.Background(), Options{Environ: map[string]string{"OTEL_TRACES_EXPORTER": "bogus"}}); err == nil {
		t.Error("New(OTEL_TRACES_EXPORTER=bogus) = nil error; want the unknown exporter refused")
	}
	t.Setenv("OTEL_TRACES_EXPORTER", "otlp")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "carrier-pigeon")
	if _, err := New(context.Background(), Options{Environ: map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}}); err == nil {
		t.Error("New(protocol carrier-pigeon) = nil error; want the unknown protocol refused")
	}
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf")
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1")
	p, err := New(context.Background(), Options{Environ: map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}})
	if err != nil || p == nil || p.Tracer() == nil {
		t.Fatalf("New(otlp) = %v, %v; want a provider", p, err)
	}
	// Nothing was queued: the flush has nothing to send to the closed port.
	if err := p.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown() = %v", err)
	}
}

func TestNewExportsWithResource(t *testing.T) {
	t.Parallel()
	exp := tracetest.NewInMemoryExporter()
	p, err := NewWithExporter(context.Background(), "v1.2.3", exp)
	if err != nil {
		t.Fatal(err)
	}
	_, span := p.Tracer().Start(context.Background(), "x")
	span.End()
	spans := exp.GetSpans() // before Shutdown, which empties the exporter
	if len(spans) != 1 {
		t.Fatalf("%d spans; want 1", len(spans))
	}
	got := map[string]string{}
	for _, kv := range spans[0].Resource.Attributes() {
		got[string(kv.Key)] = kv.Value.String()
	}
	// OTEL_SERVICE_NAME is unset in the test's environment.
	if got["service.name"] != ServiceName || got["service.version"] != "v1.2.3" || got["telemetry.sdk.language"] != "go" {
		t.Errorf("resource = %v; want service.name %s, service.version v1.2.3 and the SDK's", got, ServiceName)
	}
	if got := spans[0].InstrumentationScope.Name; got != instrumentationName {
		t.Errorf("scope = %q; want %q", got, instrumentationName)
	}
	if err := p.Shutdown(context.Background()); err != nil {
		t.Error(err)
	}
}
