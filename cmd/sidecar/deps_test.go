package main

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/botsidecar/sidecar"

// TestDependencyDirection guards the architecture (docs/contributing.md),
// after tailscale's deptest: each package may only import what its row
// allows, so that the one-way dependency graph cannot rot silently.
func TestDependencyDirection(t *testing.T) {
	tests := []struct {
		pkg string
		// allowed are import path prefixes outside the std lib.
		allowed []string
		why     string
	}{
		{"config", []string{"github.com/caarlos0/env", module + "/store"}, "config is read only by cmd/sidecar and must stay pure; it uses the leaf store package's Spec, which links no driver"},
		{"rewrite", nil, "rewrite is pure []byte edits on the hot path: std lib only"},
		{"store", nil, "store is the leaf that proxy and config import: std lib only, no storage driver"},
		{"store/memstore", []string{module + "/store", "github.com/hashicorp/golang-lru"}, "a backend imports store and its own driver only"},
		{"store/cachedstore", []string{module + "/store", "github.com/hashicorp/golang-lru", "go.uber.org/"}, "a backend imports store and its own driver only"},
		{"store/boltstore", []string{module + "/store", "go.etcd.io/bbolt", "go.uber.org/", "golang.org/x/sys"}, "a backend imports store and its own driver only"},
		{"store/redisstore", []string{module + "/store", "github.com/redis/go-redis", "go.uber.org/", "github.com/cespare/xxhash", "github.com/dgryski/go-rendezvous", "golang.org/x/sys"}, "a backend imports store and its own driver only"},
		{"tokencache", []string{"github.com/AzureAD/microsoft-authentication-library-for-go", "go.uber.org/", "github.com/hashicorp/golang-lru", "golang.org/x/sync", "github.com/kylelemons/godebug", "github.com/pkg/browser", "golang.org/x/sys", "github.com/golang-jwt/jwt", "github.com/google/uuid"},
			"tokencache knows nothing of proxy, store, rewrite or config"},
		{"proxy", []string{module + "/rewrite", module + "/store", "go.uber.org/", "github.com/prometheus/", "github.com/hashicorp/golang-lru", "github.com/beorn7/perks", "github.com/cespare/xxhash", "github.com/munnerz/goautoneg", "google.golang.org/protobuf", "golang.org/x/sys", "go.yaml.in/yaml"},
			"proxy reaches tokens, validation and the store through interfaces it declares; it never imports config or tokencache"},
	}
	for _, tt := range tests {
		t.Run(tt.pkg, func(t *testing.T) {
			for _, dep := range goListDeps(t, module+"/"+tt.pkg) {
				if isStd(dep) || dep == module+"/"+tt.pkg {
					continue
				}
				ok := false
				for _, a := range tt.allowed {
					if strings.HasPrefix(dep, a) {
						ok = true
						break
					}
				}
				if !ok {
					t.Errorf("%s imports %s: %s", tt.pkg, dep, tt.why)
				}
			}
		})
	}
}

func TestFakesOnlyInTestsAndDemo(t *testing.T) {
	for _, pkg := range []string{"config", "rewrite", "store", "tokencache", "proxy", "channelauth"} {
		for _, dep := range goListDeps(t, module+"/"+pkg) {
			if dep == module+"/internal/fakes" {
				t.Errorf("%s imports internal/fakes: the fakes are for tests and the demo only", pkg)
			}
		}
	}
}

func goListDeps(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", "-json=ImportPath,Standard", pkg).Output()
	if err != nil {
		t.Fatalf("go list %s: %v", pkg, err)
	}
	var deps []string
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p struct {
			ImportPath string
			Standard   bool
		}
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		if !p.Standard {
			deps = append(deps, p.ImportPath)
		}
	}
	return deps
}

func isStd(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".")
}
