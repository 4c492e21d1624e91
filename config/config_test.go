package config_test

import (
	"errors"
	"flag"
	"io"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/botsidecar/sidecar/config"
	"github.com/botsidecar/sidecar/store"
)

const (
	appID    = "00000000-0000-0000-0000-0000000000a1"
	tenantID = "00000000-0000-0000-0000-0000000000f1"
	// secret is the client secret; tests assert it never shows.
	secret = "Sup3r~S3cret.Value_42"
	// unset deletes a variable from the base environment in withEnv.
	unset = "\x00unset"
)

// withEnv returns a valid single-tenant environment with over applied.
func withEnv(over map[string]string) map[string]string {
	m := map[string]string{
		"MicrosoftAppId":       appID,
		"MicrosoftAppPassword": secret,
		"MicrosoftAppTenantId": tenantID,
	}
	for k, v := range over {
		if v == unset {
			delete(m, k)
			continue
		}
		m[k] = v
	}
	return m
}

func mustLoad(t *testing.T, environ map[string]string) config.Config {
	t.Helper()
	cfg, err := config.Load(environ)
	if err != nil {
		t.Fatalf("Load(%v) error: %v", environ, err)
	}
	return cfg
}

// problems returns the problems of Load's error, failing if there are none.
func problems(t *testing.T, err error) []config.Problem {
	t.Helper()
	if err == nil {
		t.Fatal("Load error = nil; want problems")
	}
	var cerr *config.Error
	if !errors.As(err, &cerr) {
		t.Fatalf("Load error %T is not *config.Error: %v", err, err)
	}
	return cerr.Problems
}

// SIDECAR_STORE is parsed by the store package: Load hands on its Spec.
func TestLoadStore(t *testing.T) {
	t.Parallel()
	for _, give := range []string{"memory:", "bolt:/var/lib/sidecar/refs.db", "rediss+cluster://:pw@h1:7000,h2:7001"} {
		got := mustLoad(t, withEnv(map[string]string{"SIDECAR_STORE": give})).Store
		if want, err := store.ParseSpec(give); err != nil || got != want {
			t.Errorf("Load(SIDECAR_STORE=%q).Store = %v (%s); want %v (%s), %v", give, got, got.Kind(), want, want.Kind(), err)
		}
	}
}

func TestLoadDefaults(t *testing.T) {
	t.Parallel()
	got := mustLoad(t, withEnv(nil))
	defaultStore, err := store.ParseSpec("bolt:./data/references.db")
	if err != nil {
		t.Fatal(err)
	}
	want := config.Config{
		AppID:       appID,
		AppPassword: secret,
		TenantID:    tenantID,
		AppType:     config.AppTypeSingleTenant,
		Cloud:       config.CloudPublic,
		Endpoints: config.Endpoints{
			AuthorityHost:     "https://login.microsoftonline.com",
			TokenScope:        "https://api.botframework.com/.default",
			OpenIDMetadataURL: "https://login.botframework.com/v1/.well-known/openidconfiguration",
			ChannelIssuer:     "https://api.botframework.com",
		},
		InboundAddr:        ":3978",
		OutboundAddr:       "127.0.0.1:3979",
		AdminAddr:          ":9090",
		AdminReferences:    "loopback",
		BotURL:             "http://127.0.0.1:3980/api/messages",
		OutboundURL:        "http://127.0.0.1:3979/",
		Store:              defaultStore,
		ReferenceCacheSize: 100000,
		ReferenceTTL:       365 * 24 * time.Hour,
		BotTimeout:         14 * time.Second,
		ShutdownGrace:      25 * time.Second,
		Pacing:             true,
		PacingSend:         "7/1s,8/2s,60/30s,1800/1h",
		PacingRead:         "14/1s,16/2s,120/30s,3600/1h",
		PacingTenant:       "50/1s",
		PacingMaxWait:      10 * time.Second,
		PacingReplicas:     1,
		PacingMargin:       50 * time.Millisecond,
		MaxBodyBytes:       8 << 20,
		LogLevel:           "info",
		LogFormat:          "json",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Load(defaults) =\n%+v\nwant\n%+v", got, want)
	}
	if got.Credential() != config.CredentialSecret {
		t.Errorf("Credential() = %v; want %v", got.Credential(), config.CredentialSecret)
	}
}

var cloudEndpoints = map[string]config.Endpoints{
	"public": {
		AuthorityHost:     "https://login.microsoftonline.com",
		TokenScope:        "https://api.botframework.com/.default",
		OpenIDMetadataURL: "https://login.botframework.com/v1/.well-known/openidconfiguration",
		ChannelIssuer:     "https://api.botframework.com",
	},
	"usgov": {
		AuthorityHost:     "https://login.microsoftonline.us",
		TokenScope:        "https://api.botframework.us/.default",
		OpenIDMetadataURL: "https://login.botframework.azure.us/v1/.well-known/openidconfiguration",
		ChannelIssuer:     "https://api.botframework.us",
	},
	"usgovdod": {
		AuthorityHost:     "https://login.microsoftonline.us",
		TokenScope:        "https://api.botframework.us/.default",
		OpenIDMetadataURL: "https://login.botframework.azure.us/v1/.well-known/openidconfiguration",
		ChannelIssuer:     "https://api.botframework.us",
	},
	"china": {
		AuthorityHost:     "https://login.partner.microsoftonline.cn",
		TokenScope:        "https://api.botframework.azure.cn/.default",
		OpenIDMetadataURL: "https://login.botframework.azure.cn/v1/.well-known/openidconfiguration",
		ChannelIssuer:     "https://api.botframework.azure.cn",
	},
}

func TestLoadCloudDefaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		give      string
		wantCloud config.Cloud
	}{
		{give: "", wantCloud: config.CloudPublic},
		{give: "public", wantCloud: config.CloudPublic},
		{give: "usgov", wantCloud: config.CloudUSGov},
		{give: "USGov", wantCloud: config.CloudUSGov},
		{give: "usgovdod", wantCloud: config.CloudUSGovDoD},
		{give: "china", wantCloud: config.CloudChina},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			t.Parallel()
			got := mustLoad(t, withEnv(map[string]string{"SIDECAR_CLOUD": tt.give}))
			if got.Cloud != tt.wantCloud {
				t.Errorf("Cloud = %q; want %q", got.Cloud, tt.wantCloud)
			}
			if want := cloudEndpoints[string(tt.wantCloud)]; got.Endpoints != want {
				t.Errorf("Endpoints = %+v; want %+v", got.Endpoints, want)
			}
		})
	}
}

func TestLoadEndpointOverrideKeepsOthers(t *testing.T) {
	t.Parallel()
	const fake = "https://127.0.0.1:8443"
	tests := []struct {
		name string
		give string
		set  func(*config.Endpoints)
	}{
		{"SIDECAR_AUTHORITY_HOST", fake, func(e *config.Endpoints) { e.AuthorityHost = fake }},
		{"SIDECAR_TOKEN_SCOPE", fake + "/.default", func(e *config.Endpoints) { e.TokenScope = fake + "/.default" }},
		{"SIDECAR_OPENID_METADATA_URL", fake + "/v1/.well-known/openidconfiguration", func(e *config.Endpoints) {
			e.OpenIDMetadataURL = fake + "/v1/.well-known/openidconfiguration"
		}},
		{"SIDECAR_CHANNEL_ISSUER", fake, func(e *config.Endpoints) { e.ChannelIssuer = fake }},
	}
	for _, cloud := range []string{"public", "usgov", "china"} {
		for _, tt := range tests {
			t.Run(cloud+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				got := mustLoad(t, withEnv(map[string]string{"SIDECAR_CLOUD": cloud, tt.name: tt.give}))
				want := cloudEndpoints[cloud]
				tt.set(&want)
				if got.Endpoints != want {
					t.Errorf("Endpoints = %+v; want %+v", got.Endpoints, want)
				}
			})
		}
	}
}

func TestLoadNormalises(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		give map[string]string
		got  func(config.Config) any
		want any
	}{
		{
			name: "authority host loses its trailing slash",
			give: map[string]string{"SIDECAR_AUTHORITY_HOST": "https://login.microsoftonline.com/"},
			got:  func(c config.Config) any { return c.AuthorityHost },
			want: "https://login.microsoftonline.com",
		},
		{
			name: "token scope given as a resource gets /.default",
			give: map[string]string{"SIDECAR_TOKEN_SCOPE": "https://api.botframework.com/"},
			got:  func(c config.Config) any { return c.TokenScope },
			want: "https://api.botframework.com/.default",
		},
		{
			name: "outbound URL gains a slash",
			give: map[string]string{"SIDECAR_OUTBOUND_URL": "http://sidecar:3979"},
			got:  func(c config.Config) any { return c.OutboundURL },
			want: "http://sidecar:3979/",
		},
		{
			name: "outbound URL keeps exactly one slash",
			give: map[string]string{"SIDECAR_OUTBOUND_URL": "https://sidecar.example/bf//"},
			got:  func(c config.Config) any { return c.OutboundURL },
			want: "https://sidecar.example/bf/",
		},
		{
			name: "trusted service URLs are split, trimmed and lower-cased",
			give: map[string]string{"SIDECAR_TRUSTED_SERVICE_URLS": " Smba.Example.com ,, *.Bots.Example:8443,"},
			got:  func(c config.Config) any { return c.TrustedServiceURLs },
			want: []string{"smba.example.com", "*.bots.example:8443"},
		},
		{
			name: "entra token app ids are split, trimmed and lower-cased",
			give: map[string]string{"SIDECAR_ACCEPT_ENTRA_TOKENS": "true", "SIDECAR_ENTRA_TOKEN_APP_IDS": " 7F0E7A9C-1D2B-4C3D-8E4F-0123456789AB ,, 0b5f1c7e-2a3d-4e8f-9a1b-c2d3e4f5a6b7,"},
			got:  func(c config.Config) any { return c.EntraTokenAppIDs },
			want: []string{"7f0e7a9c-1d2b-4c3d-8e4f-0123456789ab", "0b5f1c7e-2a3d-4e8f-9a1b-c2d3e4f5a6b7"},
		},
		{
			name: "app type ignores case",
			give: map[string]string{"MicrosoftAppType": "multitenant"},
			got:  func(c config.Config) any { return c.AppType },
			want: config.AppTypeMultiTenant,
		},
		{
			name: "UserAssignedMsi as botbuilder spells it",
			give: map[string]string{"MicrosoftAppType": "UserAssignedMsi", "MicrosoftAppPassword": unset},
			got:  func(c config.Config) any { return c.AppType },
			want: config.AppTypeUserAssignedMSI,
		},
		{
			name: "log level ignores case",
			give: map[string]string{"SIDECAR_LOG_LEVEL": "DEBUG", "SIDECAR_LOG_FORMAT": "Console"},
			got:  func(c config.Config) any { return c.LogLevel + "/" + c.LogFormat },
			want: "debug/console",
		},
		{
			name: "surrounding spaces are trimmed",
			give: map[string]string{"MicrosoftAppId": " " + appID + "\r", "SIDECAR_BOT_TIMEOUT": " 5s "},
			got:  func(c config.Config) any { return c.AppID + " " + c.BotTimeout.String() },
			want: appID + " 5s",
		},
		{
			name: "an empty value is unset",
			give: map[string]string{"SIDECAR_INBOUND_ADDR": "", "SIDECAR_MAX_BODY_BYTES": "  "},
			got:  func(c config.Config) any { return c.InboundAddr + " " + c.MaxBodyBytes.String() },
			want: ":3978 8MiB",
		},
		{
			name: "days",
			give: map[string]string{"SIDECAR_REFERENCE_TTL": "30d", "SIDECAR_SHUTDOWN_GRACE": "0"},
			got:  func(c config.Config) any { return []time.Duration{c.ReferenceTTL, c.ShutdownGrace} },
			want: []time.Duration{30 * 24 * time.Hour, 0},
		},
		{
			name: "loopback https for a fake authority",
			give: map[string]string{"SIDECAR_AUTHORITY_HOST": "https://127.0.0.1:8443/"},
			got:  func(c config.Config) any { return c.AuthorityHost },
			want: "https://127.0.0.1:8443",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := mustLoad(t, withEnv(tt.give))
			if got := tt.got(cfg); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Load(%q) = %#v; want %#v", tt.give, got, tt.want)
			}
		})
	}
}

func TestLoadAliases(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		give       map[string]string
		wantID     string
		wantSecret string
		wantTenant string
	}{
		{
			name: "Teams SDK names",
			give: map[string]string{
				"CLIENT_ID": "id-alias", "CLIENT_SECRET": "secret-alias", "TENANT_ID": "tenant-alias",
			},
			wantID: "id-alias", wantSecret: "secret-alias", wantTenant: "tenant-alias",
		},
		{
			name: "canonical beats alias",
			give: map[string]string{
				"MicrosoftAppId": "id", "CLIENT_ID": "id-alias",
				"MicrosoftAppPassword": "secret", "CLIENT_SECRET": "secret-alias",
				"MicrosoftAppTenantId": "tenant", "TENANT_ID": "tenant-alias",
			},
			wantID: "id", wantSecret: "secret", wantTenant: "tenant",
		},
		{
			name: "empty canonical falls back to alias",
			give: map[string]string{
				"MicrosoftAppId": "", "CLIENT_ID": "id-alias",
				"MicrosoftAppPassword": "", "CLIENT_SECRET": "secret-alias",
				"MicrosoftAppTenantId": " ", "TENANT_ID": "tenant-alias",
			},
			wantID: "id-alias", wantSecret: "secret-alias", wantTenant: "tenant-alias",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := mustLoad(t, tt.give)
			if cfg.AppID != tt.wantID || cfg.AppPassword.Value() != tt.wantSecret || cfg.TenantID != tt.wantTenant {
				t.Errorf("Load = (%q, %q, %q); want (%q, %q, %q)",
					cfg.AppID, cfg.AppPassword.Value(), cfg.TenantID, tt.wantID, tt.wantSecret, tt.wantTenant)
			}
		})
	}
}

func TestFlagsBeatEnv(t *testing.T) {
	t.Parallel()
	environ := withEnv(map[string]string{
		"SIDECAR_INBOUND_ADDR":         ":1111",
		"SIDECAR_BOT_TIMEOUT":          "3s",
		"SIDECAR_TRUSTED_SERVICE_URLS": "env.example",
		"SIDECAR_CLOUD":                "public",
	})
	fs := flag.NewFlagSet("sidecar", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	config.Flags(fs, environ)
	err := fs.Parse([]string{
		"--inbound-addr", ":2222",
		"--accept-entra-tokens",
		"--trusted-service-urls", "a.example",
		"--trusted-service-urls=b.example,c.example",
		"--cloud=china",
		"--max-body-bytes", "1MB",
	})
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	cfg := mustLoad(t, environ)
	if cfg.InboundAddr != ":2222" {
		t.Errorf("InboundAddr = %q; want the flag's %q", cfg.InboundAddr, ":2222")
	}
	if cfg.BotTimeout != 3*time.Second {
		t.Errorf("BotTimeout = %v; want the variable's 3s", cfg.BotTimeout)
	}
	if !cfg.AcceptEntraTokens {
		t.Error("AcceptEntraTokens = false; want true from a bare --accept-entra-tokens")
	}
	if want := []string{"a.example", "b.example", "c.example"}; !slices.Equal(cfg.TrustedServiceURLs, want) {
		t.Errorf("TrustedServiceURLs = %q; want %q", cfg.TrustedServiceURLs, want)
	}
	if cfg.Cloud != config.CloudChina || cfg.AuthorityHost != "https://login.partner.microsoftonline.cn" {
		t.Errorf("Cloud, AuthorityHost = %q, %q; want china defaults", cfg.Cloud, cfg.AuthorityHost)
	}
	if cfg.MaxBodyBytes != 1e6 {
		t.Errorf("MaxBodyBytes = %d; want 1000000", cfg.MaxBodyBytes)
	}
}

func TestFlagsOnePerSidecarVariable(t *testing.T) {
	t.Parallel()
	fs := flag.NewFlagSet("sidecar", flag.ContinueOnError)
	config.Flags(fs, map[string]string{})
	var sidecarVars int
	for _, v := range config.Variables() {
		name := v.Flag()
		if !strings.HasPrefix(v.Name, "SIDECAR_") {
			if name != "" {
				t.Errorf("%s.Flag() = %q; want no flag", v.Name, name)
			}
			continue
		}
		sidecarVars++
		f := fs.Lookup(name)
		if f == nil {
			t.Errorf("no flag %q for %s", name, v.Name)
			continue
		}
		if !strings.Contains(f.Usage, v.Name) || v.Usage == "" {
			t.Errorf("flag %q usage %q does not explain %s", name, f.Usage, v.Name)
		}
		if f.DefValue != v.Default {
			t.Errorf("flag %q DefValue = %q; want %q", name, f.DefValue, v.Default)
		}
	}
	var flags int
	fs.VisitAll(func(*flag.Flag) { flags++ })
	if flags != sidecarVars {
		t.Errorf("%d flags for %d SIDECAR_* variables", flags, sidecarVars)
	}
	for _, name := range []string{"inbound-addr", "trusted-service-urls", "max-body-bytes", "openid-metadata-url", "client-cert-file"} {
		if fs.Lookup(name) == nil {
			t.Errorf("no flag %q", name)
		}
	}
}

func TestVariables(t *testing.T) {
	t.Parallel()
	vars := config.Variables()
	byName := map[string]config.Variable{}
	for _, v := range vars {
		if _, dup := byName[v.Name]; dup {
			t.Errorf("variable %s listed twice", v.Name)
		}
		byName[v.Name] = v
	}
	tests := []config.Variable{
		{Name: "MicrosoftAppId", Alias: "CLIENT_ID"},
		{Name: "MicrosoftAppPassword", Alias: "CLIENT_SECRET"},
		{Name: "MicrosoftAppTenantId", Alias: "TENANT_ID"},
		{Name: "MicrosoftAppType", Default: "SingleTenant"},
		{Name: "SIDECAR_CLIENT_SECRET_FILE"},
		{Name: "SIDECAR_CLIENT_CERT_FILE"},
		{Name: "SIDECAR_CLIENT_KEY_FILE"},
		{Name: "SIDECAR_CLIENT_CERT_PASSWORD"},
		{Name: "SIDECAR_CLIENT_CERT_SEND_X5C", Default: "false"},
		{Name: "AZURE_FEDERATED_TOKEN_FILE"},
		{Name: "AZURE_CLIENT_ID"},
		{Name: "SIDECAR_FEDERATED_MANAGED_IDENTITY_CLIENT_ID"},
		{Name: "SIDECAR_CLOUD", Default: "public"},
		{Name: "SIDECAR_AUTHORITY_HOST", Default: "https://login.microsoftonline.com"},
		{Name: "SIDECAR_TOKEN_SCOPE", Default: "https://api.botframework.com/.default"},
		{Name: "SIDECAR_OPENID_METADATA_URL", Default: "https://login.botframework.com/v1/.well-known/openidconfiguration"},
		{Name: "SIDECAR_CHANNEL_ISSUER", Default: "https://api.botframework.com"},
		{Name: "SIDECAR_INBOUND_ADDR", Default: ":3978"},
		{Name: "SIDECAR_OUTBOUND_ADDR", Default: "127.0.0.1:3979"},
		{Name: "SIDECAR_OUTBOUND_NON_LOOPBACK_I_UNDERSTAND", Default: "false"},
		{Name: "SIDECAR_ADMIN_ADDR", Default: ":9090"},
		{Name: "SIDECAR_ADMIN_REFERENCES", Default: "loopback"},
		{Name: "SIDECAR_AUTH_SIDECAR_ADDR"},
		{Name: "SIDECAR_SIGN_INBOUND", Default: "false"},
		{Name: "SIDECAR_BOT_URL", Default: "http://127.0.0.1:3980/api/messages"},
		{Name: "SIDECAR_OUTBOUND_URL", Default: "http://127.0.0.1:3979/"},
		{Name: "SIDECAR_TRUSTED_SERVICE_URLS"},
		{Name: "SIDECAR_TRUST_SHARED_HOSTS_I_UNDERSTAND", Default: "false"},
		{Name: "SIDECAR_DEFAULT_SERVICE_URL"},
		{Name: "SIDECAR_ACCEPT_ENTRA_TOKENS", Default: "false"},
		{Name: "SIDECAR_ENTRA_TOKEN_APP_IDS"},
		{Name: "SIDECAR_STORE", Default: "bolt:./data/references.db"},
		{Name: "SIDECAR_REFERENCE_CACHE_SIZE", Default: "100000"},
		{Name: "SIDECAR_REFERENCE_TTL", Default: "365d"},
		{Name: "SIDECAR_BOT_TIMEOUT", Default: "14s"},
		{Name: "SIDECAR_SHUTDOWN_GRACE", Default: "25s"},
		{Name: "SIDECAR_PACING", Default: "true"},
		{Name: "SIDECAR_PACING_SEND", Default: "7/1s,8/2s,60/30s,1800/1h"},
		{Name: "SIDECAR_PACING_READ", Default: "14/1s,16/2s,120/30s,3600/1h"},
		{Name: "SIDECAR_PACING_TENANT", Default: "50/1s"},
		{Name: "SIDECAR_PACING_MAX_WAIT", Default: "10s"},
		{Name: "SIDECAR_PACING_MARGIN", Default: "50ms"},
		{Name: "SIDECAR_PACING_REPLICAS", Default: "1"},
		{Name: "SIDECAR_MAX_BODY_BYTES", Default: "8MiB"},
		{Name: "SIDECAR_LOG_LEVEL", Default: "info"},
		{Name: "SIDECAR_LOG_FORMAT", Default: "json"},
	}
	if len(vars) != len(tests) {
		t.Errorf("Variables() has %d entries; want %d", len(vars), len(tests))
	}
	for _, want := range tests {
		got, ok := byName[want.Name]
		if !ok {
			t.Errorf("Variables() lacks %s", want.Name)
			continue
		}
		if got.Alias != want.Alias || got.Default != want.Default || got.Usage == "" {
			t.Errorf("Variables()[%s] = %+v; want alias %q, default %q and a usage", want.Name, got, want.Alias, want.Default)
		}
	}
}

func TestFlagsNilEnvironPanics(t *testing.T) {
	t.Parallel()
	defer func() {
		if recover() == nil {
			t.Error("Flags(fs, nil) did not panic")
		}
	}()
	config.Flags(flag.NewFlagSet("x", flag.ContinueOnError), nil)
}

func TestEnvironMap(t *testing.T) {
	t.Parallel()
	got := config.EnvironMap([]string{
		"A=1", "B=x=y", "EMPTY=", "A=2", "NOEQUALS", "=C:=C:\\", "SIDECAR_STORE=memory:",
	})
	want := map[string]string{"A": "1", "B": "x=y", "EMPTY": "", "SIDECAR_STORE": "memory:"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("EnvironMap = %q; want %q", got, want)
	}
}

func TestLoadNilEnviron(t *testing.T) {
	t.Parallel()
	// A nil map must not make env fall back to the process environment.
	ps := problems(t, func() error { _, err := config.Load(nil); return err }())
	if ps[0].Variable != "MicrosoftAppId (or CLIENT_ID)" {
		t.Errorf("first problem = %v; want the missing app id", ps[0])
	}
}
