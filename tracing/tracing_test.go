package tracing

import (
	"context"
	"net/http"
	"testing"

	"go.opentelemetry.io/otel/propagation"
)

func TestEnabled(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		give map[string]string
		want bool
	}{
		{"nothing set: off, although autoexport would export OTLP", nil, false},
		{"service name alone", map[string]string{"OTEL_SERVICE_NAME": "bot"}, false},
		{"endpoint", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, true},
		{"traces endpoint", map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, true},
		{"exporter otlp", map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}, true},
		{"exporter console", map[string]string{"OTEL_TRACES_EXPORTER": "console"}, true},
		{"exporter none beats the endpoint", map[string]string{"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, false},
		{"SDK disabled beats everything", map[string]string{"OTEL_SDK_DISABLED": "TRUE", "OTEL_TRACES_EXPORTER": "otlp"}, false},
		{"SDK disabled false", map[string]string{"OTEL_SDK_DISABLED": "false", "OTEL_TRACES_EXPORTER": "otlp"}, true},
		{"metrics endpoint only", map[string]string{"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "http://c:4318"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Enabled(tt.give); got != tt.want {
				t.Errorf("Enabled(%v) = %v; want %v", tt.give, got, tt.want)
			}
		})
	}
}

func TestNewOffBuildsNothing(t *testing.T) {
	t.Parallel()
	p, err := New(context.Background(), Options{Environ: map[string]string{"OTEL_TRACES_EXPORTER": "none"}})
	if err != nil || p != nil {
		t.Fatalf("New(none) = %v, %v; want nil, nil", p, err)
	}
	if p.Tracer() != nil || p.Propagator() != nil || p.Shutdown(context.Background()) != nil {
		t.Error("a nil Provider must give a nil tracer and propagator and shut down quietly")
	}
}

func TestPropagator(t *testing.T) {
	t.Parallel()
	const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	tests := []struct {
		name       string
		give       string
		wantFields []string // what the propagator writes
	}{
		{"default: tracecontext and baggage", "", []string{"traceparent", "tracestate", "baggage"}},
		{"a list with blanks", " tracecontext , baggage ", []string{"traceparent", "tracestate", "baggage"}},
		{"none writes nothing", "none", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := propagator(tt.give)
			if err != nil {
				t.Fatalf("propagator(%q) = %v", tt.give, err)
			}
			fields := map[string]bool{}
			for _, f := range p.Fields() {
				fields[f] = true
			}
			for _, f := range tt.wantFields {
				if !fields[f] {
					t.Errorf("propagator(%q) fields %v; want %s among them", tt.give, p.Fields(), f)
				}
			}
			if len(tt.wantFields) == 0 && len(fields) != 0 {
				t.Errorf("propagator(%q) fields %v; want none", tt.give, p.Fields())
			}
			// A traceparent read is written back the same when the
			// propagator carries tracecontext.
			h := http.Header{"Traceparent": {parent}}
			out := http.Header{}
			p.Inject(p.Extract(context.Background(), propagation.HeaderCarrier(h)), propagation.HeaderCarrier(out))
			if fields["traceparent"] && out.Get("Traceparent") != parent {
				t.Errorf("round trip of traceparent = %q; want %q", out.Get("Traceparent"), parent)
			}
		})
	}
}

func TestPropagatorUnknown(t *testing.T) {
	t.Parallel()
	for _, give := range []string{"tracecontxt", "tracecontext,bogus", ","} {
		if _, err := propagator(give); err == nil {
			t.Errorf("propagator(%q) = nil error; want the unknown name refused", give)
		}
	}
}
