package main

import (
	"encoding/json"
	"maps"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/botsidecar/sidecar"

// depRule is one package's row of the architecture, after tailscale's
// deptest. allow lists the only packages outside the standard library that
// the package may import directly: module packages by their path below the
// module ("rewrite"), others by module path ("go.uber.org/zap"). forbid
// names packages that must not appear anywhere in its dependencies, even
// indirectly, each with the reason (see covers).
type depRule struct {
	allow  []string
	forbid map[string]string
}

// Reasons shared by several rows.
const (
	whyFakes   = "the fakes stand in for Entra, the channel and the connector in tests and the demo; a library that imports them would ship them"
	whyTestkit = "the test kit starts servers and fakes time: tests only"
	whyDriver  = "a storage driver in its dependencies means a store backend leaked through the leaf package"
	whySDK     = "the handlers see the OpenTelemetry trace API only; the SDK and its exporters (gRPC among them) are the tracing package's, wired by cmd/sidecar"
)

// traceAPI is what a package that records spans may import of OpenTelemetry.
var traceAPI = []string{"go.opentelemetry.io/otel/trace", "go.opentelemetry.io/otel/attribute", "go.opentelemetry.io/otel/codes"}

// noSDK forbids the OpenTelemetry SDK, the exporters and the tracing
// package, whatever else a row forbids.
func noSDK(m map[string]string) map[string]string {
	for _, p := range []string{"go.opentelemetry.io/otel/sdk", "go.opentelemetry.io/otel/exporters", "go.opentelemetry.io/contrib", "google.golang.org/grpc", module + "/tracing"} {
		m[p] = whySDK
	}
	return m
}

// product is the forbid map every package of the shipped binary shares,
// plus extra.
func product(extra map[string]string) map[string]string {
	m := map[string]string{
		module + "/internal/fakes":   whyFakes,
		module + "/internal/testkit": whyTestkit,
	}
	maps.Copy(m, extra)
	return m
}

var depRules = map[string]depRule{
	"authsidecar": {
		allow: []string{"proxy", "go.uber.org/zap"},
		forbid: product(map[string]string{
			module + "/tokencache": "authsidecar declares the TokenSource it needs, so its tests never touch MSAL",
			module + "/config":     "authsidecar takes Options from cmd/sidecar",
		}),
	},
	"channelauth": {
		allow: []string{"internal/ascii", "internal/guid", "github.com/lestrrat-go/jwx/v3", "go.uber.org/zap"},
		forbid: product(map[string]string{
			module + "/proxy":  "proxy declares the Authenticator it needs; cmd/sidecar adapts channelauth to it, so neither knows the other",
			module + "/config": "channelauth takes its Options from cmd/sidecar, never reads the configuration itself",
			module + "/store":  "validating a token needs no references",
		}),
	},
	"cmd/sidecar": {
		allow: []string{
			"authsidecar", "channelauth", "config", "pacing", "proxy", "store", "store/backends", "store/redisstore", "tokencache", "tracing", "internal/fakes", "internal/framing",
			"github.com/prometheus/client_golang", "go.opentelemetry.io/otel", "github.com/redis/go-redis/v9", "go.uber.org/zap", "golang.org/x/net", "golang.org/x/sync",
		},
		forbid: map[string]string{module + "/internal/testkit": whyTestkit},
	},
	"config": {
		allow: []string{"store", "internal/guid", "github.com/caarlos0/env/v11"},
		forbid: product(map[string]string{
			module + "/store/":     "config parses SIDECAR_STORE with the leaf's Spec; the backends are opened by cmd/sidecar",
			module + "/proxy":      "config is read by cmd/sidecar only, which maps it into each package's options",
			module + "/tokencache": "config is read by cmd/sidecar only, which maps it into each package's options",
			"go.etcd.io/bbolt":     whyDriver,
		}),
	},
	"internal/fakes": {
		forbid: map[string]string{
			module + "/proxy":       "the fakes play the outside world; they must not share code with what they test",
			module + "/tokencache":  "the fakes play the outside world; they must not share code with what they test",
			module + "/channelauth": "the fakes play the outside world; they must not share code with what they test",
		},
	},
	"internal/ascii":   {},
	"internal/framing": {},
	"internal/guid":    {},
	"internal/loadtest": {
		allow: []string{"internal/fakes"},
		forbid: map[string]string{
			module + "/proxy": "the load test measures the built binary from outside, against nginx and a bare ReverseProxy",
		},
	},
	"internal/loadtest/reverseproxy": {
		forbid: map[string]string{
			module + "/": "the baseline is a bare httputil.ReverseProxy: anything of ours in it and it is no baseline",
		},
	},
	"internal/testkit": {},
	"pacing": {
		allow: []string{"github.com/hashicorp/golang-lru/v2"},
		forbid: product(map[string]string{
			module + "/proxy":  "the pacer knows nothing of its callers",
			module + "/config": "pacing takes Options from cmd/sidecar",
			"net/http":         "pacing is scheduling only: no I/O",
		}),
	},
	"proxy": {
		allow: append([]string{"rewrite", "store", "pacing", "internal/ascii", "internal/guid", "github.com/hashicorp/golang-lru/v2", "github.com/prometheus/client_golang", "go.uber.org/zap", "golang.org/x/sync",
			"go.opentelemetry.io/otel/propagation"}, traceAPI...),
		forbid: noSDK(product(map[string]string{
			module + "/store/":          "proxy sees references through its References interface and the leaf's types; backends are wired by cmd/sidecar",
			module + "/tokencache":      "proxy declares the TokenSource it needs, so its tests never touch MSAL",
			module + "/channelauth":     "proxy declares the Authenticator it needs",
			module + "/config":          "proxy takes Options from cmd/sidecar",
			"go.etcd.io/bbolt":          whyDriver,
			"github.com/redis/go-redis": whyDriver,
		})),
	},
	"rewrite": {
		forbid: product(map[string]string{
			"net/http":        "rewrite is pure []byte edits on the hot path: no I/O",
			"go.uber.org/zap": "rewrite returns errors; it does not log",
		}),
	},
	"store": {
		forbid: product(map[string]string{
			"go.etcd.io/bbolt":                   "the leaf is imported by proxy and config: " + whyDriver,
			"github.com/redis/go-redis":          "the leaf is imported by proxy and config: " + whyDriver,
			"github.com/hashicorp/golang-lru/v2": "the leaf holds types and the spec only; caching is cachedstore's",
		}),
	},
	"store/backends": {
		allow:  []string{"store", "store/boltstore", "store/cachedstore", "store/memstore", "store/redisstore", "go.uber.org/zap"},
		forbid: product(nil),
	},
	"store/boltstore": {
		allow:  []string{"store", "go.etcd.io/bbolt", "go.uber.org/zap"},
		forbid: product(map[string]string{"github.com/redis/go-redis": "each backend links its own driver only"}),
	},
	"store/cachedstore": {
		allow:  []string{"store", "github.com/hashicorp/golang-lru/v2", "go.uber.org/zap"},
		forbid: product(map[string]string{"go.etcd.io/bbolt": whyDriver, "github.com/redis/go-redis": whyDriver}),
	},
	"store/internal/storetest": {
		allow: []string{"store"},
	},
	"store/memstore": {
		allow:  []string{"store", "github.com/hashicorp/golang-lru/v2"},
		forbid: product(nil),
	},
	"store/redisstore": {
		allow:  []string{"store", "github.com/redis/go-redis/v9", "go.uber.org/zap"},
		forbid: product(map[string]string{"go.etcd.io/bbolt": "each backend links its own driver only"}),
	},
	"tokencache": {
		allow: append([]string{"github.com/AzureAD/microsoft-authentication-library-for-go", "go.uber.org/zap", "software.sslmate.com/src/go-pkcs12"}, traceAPI...),
		forbid: noSDK(product(map[string]string{
			module + "/proxy":   "tokencache knows nothing of its callers",
			module + "/store":   "tokencache knows nothing of references",
			module + "/rewrite": "tokencache knows nothing of activities",
			module + "/config":  "tokencache takes Options; cmd/sidecar maps the configuration",
		})),
	},
	"tracing": {
		allow: []string{"go.opentelemetry.io/otel", "go.opentelemetry.io/contrib/exporters/autoexport", "go.opentelemetry.io/contrib/propagators/autoprop"},
		forbid: product(map[string]string{
			module + "/proxy":      "tracing builds the provider; the handlers take its tracer from cmd/sidecar",
			module + "/tokencache": "tracing builds the provider; the token source takes its tracer from cmd/sidecar",
			module + "/config":     "tracing reads the standard OTEL_* variables, never the sidecar's configuration",
		}),
	},
}

// goPackage is what `go list -json` says of one package.
type goPackage struct {
	ImportPath string
	Imports    []string // direct, without tests
	Deps       []string // transitive, without tests
}

func listPackages(t *testing.T) map[string]goPackage {
	t.Helper()
	out, err := exec.Command("go", "list", "-json=ImportPath,Imports,Deps", module+"/...").Output()
	if err != nil {
		t.Fatalf("go list %s/...: %v", module, err)
	}
	pkgs := map[string]goPackage{}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p goPackage
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs[strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")] = p
	}
	return pkgs
}

// TestDependencyDirection guards the architecture: a row for every package,
// direct imports only from the row's list, and no forbidden edge anywhere
// in a package's dependencies, so the one-way graph cannot rot silently.
func TestDependencyDirection(t *testing.T) {
	pkgs := listPackages(t)
	if got, want := slices.Sorted(maps.Keys(pkgs)), slices.Sorted(maps.Keys(depRules)); !slices.Equal(got, want) {
		t.Fatalf("packages %v; depRules has rows for %v: give every package a row, and delete rows of packages that are gone", got, want)
	}
	for name, p := range pkgs {
		rule := depRules[name]
		t.Run(name, func(t *testing.T) {
			for _, imp := range p.Imports {
				if isStd(imp) || rule.allows(imp) {
					continue
				}
				t.Errorf("%s imports %s, which its row does not allow", name, imp)
			}
			for _, dep := range p.Deps {
				for path, why := range rule.forbid {
					if covers(path, dep) {
						t.Errorf("%s depends on %s: %s", name, dep, why)
					}
				}
			}
		})
	}
}

// allows reports whether imp is on the row's list: a module package
// exactly, another module's package by its module path.
func (r depRule) allows(imp string) bool {
	for _, a := range r.allow {
		if isStd(strings.SplitN(a, "/", 2)[0]) {
			if imp == module+"/"+a {
				return true
			}
			continue
		}
		if imp == a || strings.HasPrefix(imp, a+"/") {
			return true
		}
	}
	return false
}

// covers reports whether a forbid entry names dep: the package itself or
// any package below it; an entry ending in "/" names only the packages
// below it ("store/" forbids the backends, not the leaf).
func covers(entry, dep string) bool {
	return dep == entry || strings.HasPrefix(dep, strings.TrimSuffix(entry, "/")+"/")
}

func isStd(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".")
}
