package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/botsidecar/sidecar/config"
	"github.com/botsidecar/sidecar/store"
)

// memory: past its size drops conversations: counted in a metric, and the
// first one logged at warn.
func TestMemoryStoreEvictions(t *testing.T) {
	t.Parallel()
	spec, err := store.ParseSpec("memory:")
	if err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zapcore.WarnLevel)
	s, err := openStore(t.Context(), config.Config{Store: spec, ReferenceCacheSize: 2, AppID: "app"}, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	reg := prometheus.NewRegistry()
	if err := registerStoreMetrics(reg, s); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		ref := store.Reference{ConversationID: fmt.Sprintf("a:%d", i), ServiceURL: "https://smba.trafficmanager.net/amer/"}
		if err := s.Put(t.Context(), ref); err != nil {
			t.Fatal(err)
		}
	}
	want := `
# HELP sidecar_reference_store_evictions_total References the memory: store dropped to make room (SIDECAR_REFERENCE_CACHE_SIZE); their conversations can no longer be reached.
# TYPE sidecar_reference_store_evictions_total counter
sidecar_reference_store_evictions_total 3
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "sidecar_reference_store_evictions_total"); err != nil {
		t.Error(err)
	}
	if n := logs.FilterMessageSnippet("memory store full").Len(); n != 1 {
		t.Errorf("eviction warnings = %d; want 1, for the first eviction:\n%s", n, fmt.Sprint(logs.All()))
	}
}
