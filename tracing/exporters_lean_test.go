//go:build !otel

package tracing

import (
	"context"
	"errors"
	"testing"
)

// Without the tag "otel" the binary has no exporters: traces asked for are
// refused with ErrNoExporters (cmd logs it and runs untraced), and only the
// W3C propagators are known.
func TestLeanBuild(t *testing.T) {
	t.Parallel()
	p, err := New(context.Background(), Options{Environ: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}})
	if p != nil || !errors.Is(err, ErrNoExporters) {
		t.Errorf("New(OTLP endpoint) = %v, %v; want ErrNoExporters", p, err)
	}
	if p, err := New(context.Background(), Options{Environ: map[string]string{}}); p != nil || err != nil {
		t.Errorf("New(nothing asked) = %v, %v; want off, no error", p, err)
	}
	if _, err := propagator("tracecontext,b3"); err == nil {
		t.Error("propagator(b3) = nil error; want it refused in this build")
	}
}
