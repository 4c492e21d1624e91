package tokencache

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// Run's acquisitions are spans, failures marked by kind only; the tokens
// callers take from the cache are not.
func TestRunTracesAcquisitions(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		exp := tracetest.NewInMemoryExporter()
		tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
		defer func() { _ = tp.Shutdown(context.Background()) }()
		acq := &fakeAcquirer{fn: func(ctx context.Context, n int) (string, time.Time, error) {
			if n == 1 {
				return "", time.Time{}, errIdP
			}
			return tokensFor(time.Now, time.Hour)(ctx, n)
		}}
		s := newSource(Options{ClientID: testApp, Tracer: tp.Tracer("test")}, testAuthority, acq)
		stop := runSource(t, s)
		defer stop()

		time.Sleep(2 * time.Second) // the retry after ≤1 s succeeds
		for range 100 {
			if _, err := s.Token(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		spans := exp.GetSpans()
		if len(spans) != 2 {
			t.Fatalf("%d spans for 2 acquisitions and 100 cached tokens; want 2", len(spans))
		}
		failed, ok := spans[0], spans[1]
		if failed.Name != spanAcquire || failed.Status.Code != codes.Error || attrOf(failed, "error.type") != "acquire" || attrOf(failed, "sidecar.attempt") != "1" {
			t.Errorf("failed acquisition span = %s %v %v; want %s, an error of type acquire, attempt 1", failed.Name, failed.Status, failed.Attributes, spanAcquire)
		}
		if ok.Status.Code == codes.Error || attrOf(ok, "sidecar.attempt") != "2" || ok.Parent.IsValid() {
			t.Errorf("successful acquisition span = %v %v parent %v; want no error, attempt 2, a root span", ok.Status, ok.Attributes, ok.Parent)
		}
		for _, sp := range spans {
			all := sp.Status.Description
			for _, kv := range sp.Attributes {
				all += " " + kv.Value.String()
			}
			for _, secret := range []string{"tok-", testApp, testAuthority, errIdP.Error()} {
				if strings.Contains(all, secret) {
					t.Errorf("span %s holds %q: %s", sp.Name, secret, all)
				}
			}
		}
	})
}

func attrOf(s tracetest.SpanStub, key string) string {
	for _, kv := range s.Attributes {
		if string(kv.Key) == key {
			return kv.Value.String()
		}
	}
	return ""
}
