package config_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/botsidecar/sidecar/config"
)

func TestLoadBadValue(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		give map[string]string
		// wantVar is the variable the problem names, wantReason part of
		// what it says.
		wantVar    string
		wantReason string
	}{
		{"app type", map[string]string{"MicrosoftAppType": "Both"}, "MicrosoftAppType", "SingleTenant, MultiTenant or UserAssignedMSI"},
		{"cloud", map[string]string{"SIDECAR_CLOUD": "mars"}, "SIDECAR_CLOUD", "public, usgov, usgovdod or china"},
		{"tenant with a slash", map[string]string{"MicrosoftAppTenantId": "a/b"}, "MicrosoftAppTenantId", "not a tenant id"},
		{"tenant alias with a space", map[string]string{"MicrosoftAppTenantId": unset, "TENANT_ID": "a b"}, "TENANT_ID", "not a tenant id"},
		{"authority host ftp", map[string]string{"SIDECAR_AUTHORITY_HOST": "ftp://login.example"}, "SIDECAR_AUTHORITY_HOST", "not an https URL"},
		{"authority host http", map[string]string{"SIDECAR_AUTHORITY_HOST": "http://login.example"}, "SIDECAR_AUTHORITY_HOST", "not an https URL"},
		// MSAL refuses http authorities, loopback ones too.
		{"authority host loopback http", map[string]string{"SIDECAR_AUTHORITY_HOST": "http://127.0.0.1:8080"}, "SIDECAR_AUTHORITY_HOST", "not an https URL"},
		{"authority host with tenant", map[string]string{"SIDECAR_AUTHORITY_HOST": "https://login.microsoftonline.com/botframework.com"}, "SIDECAR_AUTHORITY_HOST", "has a path"},
		{"authority host with user", map[string]string{"SIDECAR_AUTHORITY_HOST": "https://u:p@login.example"}, "SIDECAR_AUTHORITY_HOST", "user info"},
		{"authority host relative", map[string]string{"SIDECAR_AUTHORITY_HOST": "login.microsoftonline.com"}, "SIDECAR_AUTHORITY_HOST", "not an absolute URL"},
		{"authority host query", map[string]string{"SIDECAR_AUTHORITY_HOST": "https://login.example?x=1"}, "SIDECAR_AUTHORITY_HOST", "has a query"},
		{"token scope", map[string]string{"SIDECAR_TOKEN_SCOPE": "api://botid/.default"}, "SIDECAR_TOKEN_SCOPE", "not an https URL"},
		{"metadata http", map[string]string{"SIDECAR_OPENID_METADATA_URL": "http://login.botframework.com/v1/x"}, "SIDECAR_OPENID_METADATA_URL", "not an https URL"},
		{"metadata fragment", map[string]string{"SIDECAR_OPENID_METADATA_URL": "https://login.botframework.com/v1/x#k"}, "SIDECAR_OPENID_METADATA_URL", "fragment"},
		{"issuer without scheme", map[string]string{"SIDECAR_CHANNEL_ISSUER": "api.botframework.com"}, "SIDECAR_CHANNEL_ISSUER", "not an absolute URL"},
		{"inbound addr without colon", map[string]string{"SIDECAR_INBOUND_ADDR": "3978"}, "SIDECAR_INBOUND_ADDR", "not host:port"},
		{"inbound addr named port", map[string]string{"SIDECAR_INBOUND_ADDR": ":http"}, "SIDECAR_INBOUND_ADDR", "port is not a number"},
		{"inbound addr port too big", map[string]string{"SIDECAR_INBOUND_ADDR": ":70000"}, "SIDECAR_INBOUND_ADDR", "port is not a number"},
		{"outbound addr no port", map[string]string{"SIDECAR_OUTBOUND_ADDR": "127.0.0.1"}, "SIDECAR_OUTBOUND_ADDR", "not host:port"},
		{"admin addr negative port", map[string]string{"SIDECAR_ADMIN_ADDR": ":-1"}, "SIDECAR_ADMIN_ADDR", "port is not a number"},
		{"auth sidecar addr without port", map[string]string{"SIDECAR_AUTH_SIDECAR_ADDR": "127.0.0.1"}, "SIDECAR_AUTH_SIDECAR_ADDR", "not host:port"},
		{"auth sidecar addr named port", map[string]string{"SIDECAR_AUTH_SIDECAR_ADDR": "127.0.0.1:auth"}, "SIDECAR_AUTH_SIDECAR_ADDR", "port is not a number"},
		{"sign inbound without listener", map[string]string{"SIDECAR_SIGN_INBOUND": "true"}, "SIDECAR_SIGN_INBOUND", "needs SIDECAR_AUTH_SIDECAR_ADDR"},
		{"sign inbound not a bool", map[string]string{"SIDECAR_SIGN_INBOUND": "yes"}, "SIDECAR_SIGN_INBOUND", "not true or false"},
		{"bot URL ftp", map[string]string{"SIDECAR_BOT_URL": "ftp://bot/api/messages"}, "SIDECAR_BOT_URL", "not an http or https URL"},
		{"bot URL relative", map[string]string{"SIDECAR_BOT_URL": "/api/messages"}, "SIDECAR_BOT_URL", "not an absolute URL"},
		{"bot URL user", map[string]string{"SIDECAR_BOT_URL": "http://u:p@bot/api/messages"}, "SIDECAR_BOT_URL", "user info"},
		{"outbound URL query", map[string]string{"SIDECAR_OUTBOUND_URL": "http://sidecar/?a=b"}, "SIDECAR_OUTBOUND_URL", "has a query"},
		{"outbound URL no scheme", map[string]string{"SIDECAR_OUTBOUND_URL": "127.0.0.1:3979"}, "SIDECAR_OUTBOUND_URL", "not an absolute URL"},
		{"default service URL http", map[string]string{"SIDECAR_DEFAULT_SERVICE_URL": "http://smba.trafficmanager.net/teams/"}, "SIDECAR_DEFAULT_SERVICE_URL", "not an https URL"},
		{"default service URL loopback http", map[string]string{"SIDECAR_DEFAULT_SERVICE_URL": "http://127.0.0.1:9/"}, "SIDECAR_DEFAULT_SERVICE_URL", "not an https URL"},
		{"accept entra tokens", map[string]string{"SIDECAR_ACCEPT_ENTRA_TOKENS": "yes please"}, "SIDECAR_ACCEPT_ENTRA_TOKENS", "not true or false"},
		{"accept entra tokens without tenant", map[string]string{"SIDECAR_ACCEPT_ENTRA_TOKENS": "true", "MicrosoftAppType": "MultiTenant", "MicrosoftAppTenantId": unset}, "SIDECAR_ACCEPT_ENTRA_TOKENS", "needs MicrosoftAppTenantId"},
		{"entra token app ids alone", map[string]string{"SIDECAR_ENTRA_TOKEN_APP_IDS": "7f0e7a9c-1d2b-4c3d-8e4f-0123456789ab"}, "SIDECAR_ENTRA_TOKEN_APP_IDS", "without SIDECAR_ACCEPT_ENTRA_TOKENS=true"},
		{"entra token app id not a guid", map[string]string{"SIDECAR_ENTRA_TOKEN_APP_IDS": "7f0e7a9c-1d2b-4c3d-8e4f-0123456789ab,my-other-bot"}, "SIDECAR_ENTRA_TOKEN_APP_IDS", "entry 2 is not an app id"},
		{"store bolt without path", map[string]string{"SIDECAR_STORE": "bolt:"}, "SIDECAR_STORE", "bolt:PATH, memory:, redis://"},
		{"store sqlite", map[string]string{"SIDECAR_STORE": "sqlite:x.db"}, "SIDECAR_STORE", "not a store"},
		{"store memory without colon", map[string]string{"SIDECAR_STORE": "memory"}, "SIDECAR_STORE", "not a store"},
		{"store redis without host", map[string]string{"SIDECAR_STORE": "redis://"}, "SIDECAR_STORE", "not a redis URL with a host"},
		{"cache size zero", map[string]string{"SIDECAR_REFERENCE_CACHE_SIZE": "0"}, "SIDECAR_REFERENCE_CACHE_SIZE", "more than 0"},
		{"cache size negative", map[string]string{"SIDECAR_REFERENCE_CACHE_SIZE": "-1"}, "SIDECAR_REFERENCE_CACHE_SIZE", "more than 0"},
		{"cache size word", map[string]string{"SIDECAR_REFERENCE_CACHE_SIZE": "ten"}, "SIDECAR_REFERENCE_CACHE_SIZE", "not a whole number"},
		{"ttl zero", map[string]string{"SIDECAR_REFERENCE_TTL": "0d"}, "SIDECAR_REFERENCE_TTL", "more than 0"},
		{"ttl word", map[string]string{"SIDECAR_REFERENCE_TTL": "forever"}, "SIDECAR_REFERENCE_TTL", "not a duration"},
		{"ttl negative", map[string]string{"SIDECAR_REFERENCE_TTL": "-1h"}, "SIDECAR_REFERENCE_TTL", "more than 0"},
		{"bot timeout zero", map[string]string{"SIDECAR_BOT_TIMEOUT": "0s"}, "SIDECAR_BOT_TIMEOUT", "more than 0"},
		{"bot timeout no unit", map[string]string{"SIDECAR_BOT_TIMEOUT": "14"}, "SIDECAR_BOT_TIMEOUT", "not a duration"},
		{"shutdown grace negative", map[string]string{"SIDECAR_SHUTDOWN_GRACE": "-1s"}, "SIDECAR_SHUTDOWN_GRACE", "must not be negative"},
		{"shutdown grace word", map[string]string{"SIDECAR_SHUTDOWN_GRACE": "soon"}, "SIDECAR_SHUTDOWN_GRACE", "not a duration"},
		{"body size garbage", map[string]string{"SIDECAR_MAX_BODY_BYTES": "8MB!"}, "SIDECAR_MAX_BODY_BYTES", "not a size like 8MiB"},
		{"body size zero", map[string]string{"SIDECAR_MAX_BODY_BYTES": "0"}, "SIDECAR_MAX_BODY_BYTES", "more than 0"},
		{"body size negative", map[string]string{"SIDECAR_MAX_BODY_BYTES": "-1MiB"}, "SIDECAR_MAX_BODY_BYTES", "not a size"},
		{"log level", map[string]string{"SIDECAR_LOG_LEVEL": "verbose"}, "SIDECAR_LOG_LEVEL", "debug, info, warn, error"},
		{"log format", map[string]string{"SIDECAR_LOG_FORMAT": "text"}, "SIDECAR_LOG_FORMAT", "json, console"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := config.Load(withEnv(tt.give))
			ps := problems(t, err)
			if len(ps) != 1 {
				t.Fatalf("Load(%q) problems = %q; want one", tt.give, ps)
			}
			p := ps[0]
			if p.Variable != tt.wantVar || !strings.Contains(p.Reason, tt.wantReason) {
				t.Errorf("Load(%q) problem = %q; want %s with %q", tt.give, p, tt.wantVar, tt.wantReason)
			}
			// The message quotes the value as given, so the user can find
			// it, unless it could hold a secret: a URL's user info, query and
			// fragment are redacted, and a value that is not a short word or
			// a URL is described by its length.
			if given := strings.TrimSpace(tt.give[tt.wantVar]); given != "" {
				shown, ok := redactedForm[tt.name]
				if !ok {
					shown = given
				}
				want := tt.wantVar + `="` + shown + `"`
				if shown == "" {
					want = fmt.Sprintf("%s (%d characters, not shown)", tt.wantVar, len(given))
				}
				if p.Value != shown || !strings.Contains(err.Error(), want) {
					t.Errorf("Load(%q) error %q does not contain %s", tt.give, err, want)
				}
			}
		})
	}
}

// redactedForm is how TestLoadBadValue's cases show their value when it is
// not shown as given ("" for not at all).
var redactedForm = map[string]string{
	"entra token app id not a guid": "", // a list of ids, described by its length
	"entra token app ids alone":     "",
	"tenant with a slash":           "",
	"tenant alias with a space":     "",
	"authority host with user":      "https://[redacted]@login.example",
	"authority host relative":       "",
	"authority host query":          "https://login.example?[redacted]",
	"metadata fragment":             "https://login.botframework.com/v1/x#[redacted]",
	"issuer without scheme":         "",
	"bot URL relative":              "",
	"bot URL user":                  "http://[redacted]@bot/api/messages",
	"outbound URL query":            "http://sidecar/?[redacted]",
	"outbound URL no scheme":        "",
	"accept entra tokens":           "",
	"body size garbage":             "",
}

func TestLoadRequired(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		give    map[string]string
		wantVar string
	}{
		{"app id", map[string]string{"MicrosoftAppId": unset}, "MicrosoftAppId (or CLIENT_ID)"},
		{"app id empty", map[string]string{"MicrosoftAppId": "", "CLIENT_ID": ""}, "MicrosoftAppId (or CLIENT_ID)"},
		{"tenant for SingleTenant", map[string]string{"MicrosoftAppTenantId": unset}, "MicrosoftAppTenantId (or TENANT_ID)"},
		{"tenant for UserAssignedMSI", map[string]string{
			"MicrosoftAppTenantId": unset, "MicrosoftAppType": "UserAssignedMSI", "MicrosoftAppPassword": unset,
		}, "MicrosoftAppTenantId (or TENANT_ID)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := config.Load(withEnv(tt.give))
			ps := problems(t, err)
			if len(ps) != 1 || ps[0].Variable != tt.wantVar {
				t.Errorf("Load(%q) problems = %q; want one naming %s", tt.give, ps, tt.wantVar)
			}
		})
	}
	// MultiTenant needs no tenant.
	cfg := mustLoad(t, withEnv(map[string]string{"MicrosoftAppTenantId": unset, "MicrosoftAppType": "MultiTenant"}))
	if cfg.TenantID != "" {
		t.Errorf("TenantID = %q; want empty", cfg.TenantID)
	}
}

func TestLoadReportsEveryProblem(t *testing.T) {
	t.Parallel()
	give := withEnv(map[string]string{
		"MicrosoftAppId":              unset,
		"SIDECAR_CLIENT_CERT_FILE":    "/certs/bot.pem",
		"SIDECAR_INBOUND_ADDR":        "nope",
		"SIDECAR_MAX_BODY_BYTES":      "8MB!",
		"SIDECAR_STORE":               "sqlite:x",
		"SIDECAR_OPENID_METADATA_URL": "http://example.com",
		"SIDECAR_LOG_LEVEL":           "loud",
	})
	_, err := config.Load(give)
	ps := problems(t, err)
	want := []string{
		"MicrosoftAppId",
		"SIDECAR_OPENID_METADATA_URL",
		"SIDECAR_INBOUND_ADDR",
		"SIDECAR_STORE",
		"SIDECAR_MAX_BODY_BYTES",
		"SIDECAR_LOG_LEVEL",
		"", // the two credentials
	}
	if len(ps) != len(want) {
		t.Fatalf("Load problems = %q; want %d", ps, len(want))
	}
	// Problems come in table order, the multi-variable ones last.
	for i, p := range ps {
		if !strings.HasPrefix(p.Variable, want[i]) || (want[i] == "") != (p.Variable == "") {
			t.Errorf("problem %d = %q; want one about %q", i, p, want[i])
		}
	}
	msg := err.Error()
	for _, w := range []string{"7 problems", `SIDECAR_MAX_BODY_BYTES (4 characters, not shown): not a size like 8MiB`, "SIDECAR_CLIENT_CERT_FILE"} {
		if !strings.Contains(msg, w) {
			t.Errorf("error %q does not contain %q", msg, w)
		}
	}
}

func TestLoadCredential(t *testing.T) {
	t.Parallel()
	none := map[string]string{"MicrosoftAppPassword": unset}
	tests := []struct {
		name string
		give map[string]string
		want config.CredentialKind
	}{
		{"secret", nil, config.CredentialSecret},
		{"secret alias", map[string]string{"MicrosoftAppPassword": unset, "CLIENT_SECRET": secret}, config.CredentialSecret},
		{"secret under both names is one", map[string]string{"CLIENT_SECRET": "other"}, config.CredentialSecret},
		{"secret file", map[string]string{"MicrosoftAppPassword": unset, "SIDECAR_CLIENT_SECRET_FILE": "/s/secret"}, config.CredentialSecretFile},
		{"cert file", map[string]string{"MicrosoftAppPassword": unset, "SIDECAR_CLIENT_CERT_FILE": "/s/bot.pem"}, config.CredentialCertFile},
		{"federated file", map[string]string{"MicrosoftAppPassword": unset, "AZURE_FEDERATED_TOKEN_FILE": "/var/run/secrets/azure/tokens/azure-identity-token"}, config.CredentialFederatedFile},
		{"managed identity", map[string]string{"MicrosoftAppPassword": unset, "MicrosoftAppType": "UserAssignedMSI"}, config.CredentialManagedIdentity},
		{"multi-tenant secret", map[string]string{"MicrosoftAppType": "MultiTenant"}, config.CredentialSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := mustLoad(t, withEnv(tt.give))
			if got := cfg.Credential(); got != tt.want {
				t.Errorf("Credential() = %v; want %v", got, tt.want)
			}
		})
	}

	t.Run("none", func(t *testing.T) {
		t.Parallel()
		for _, appType := range []string{"SingleTenant", "MultiTenant"} {
			give := withEnv(none)
			give["MicrosoftAppType"] = appType
			_, err := config.Load(give)
			ps := problems(t, err)
			if len(ps) != 1 {
				t.Fatalf("Load(%s, no credential) problems = %q; want one", appType, ps)
			}
			for _, name := range []string{"MicrosoftAppPassword", "CLIENT_SECRET", "SIDECAR_CLIENT_SECRET_FILE", "SIDECAR_CLIENT_CERT_FILE", "AZURE_FEDERATED_TOKEN_FILE"} {
				if !strings.Contains(err.Error(), name) {
					t.Errorf("Load(no credential) error %q does not name %s", err, name)
				}
			}
		}
	})

	twos := []struct {
		name string
		give map[string]string
		want []string
	}{
		{"secret and cert", map[string]string{"SIDECAR_CLIENT_CERT_FILE": "/c.pem"}, []string{"MicrosoftAppPassword", "SIDECAR_CLIENT_CERT_FILE"}},
		{"alias secret and federated", map[string]string{"MicrosoftAppPassword": unset, "CLIENT_SECRET": secret, "AZURE_FEDERATED_TOKEN_FILE": "/t"}, []string{"CLIENT_SECRET", "AZURE_FEDERATED_TOKEN_FILE"}},
		{"files", map[string]string{"MicrosoftAppPassword": unset, "SIDECAR_CLIENT_SECRET_FILE": "/s", "SIDECAR_CLIENT_CERT_FILE": "/c.pem"}, []string{"SIDECAR_CLIENT_SECRET_FILE", "SIDECAR_CLIENT_CERT_FILE"}},
	}
	for _, tt := range twos {
		t.Run("two/"+tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := config.Load(withEnv(tt.give))
			ps := problems(t, err)
			if len(ps) != 1 || !strings.Contains(ps[0].Reason, "more than one credential is set ("+strings.Join(tt.want, ", ")+")") {
				t.Errorf("Load(%q) problems = %q; want one naming %q", tt.give, ps, tt.want)
			}
		})
	}

	msi := []struct {
		name string
		give map[string]string
		want string
	}{
		{"secret", map[string]string{}, "unset MicrosoftAppPassword"},
		{"both secret names", map[string]string{"CLIENT_SECRET": "x"}, "unset MicrosoftAppPassword, CLIENT_SECRET"},
		{"cert", map[string]string{"MicrosoftAppPassword": unset, "SIDECAR_CLIENT_CERT_FILE": "/c.pem"}, "unset SIDECAR_CLIENT_CERT_FILE"},
		{"federated", map[string]string{"MicrosoftAppPassword": unset, "AZURE_FEDERATED_TOKEN_FILE": "/t"}, "unset AZURE_FEDERATED_TOKEN_FILE"},
	}
	for _, tt := range msi {
		t.Run("msi/"+tt.name, func(t *testing.T) {
			t.Parallel()
			give := withEnv(tt.give)
			give["MicrosoftAppType"] = "UserAssignedMSI"
			_, err := config.Load(give)
			ps := problems(t, err)
			want := `MicrosoftAppType="UserAssignedMSI": takes no secret; ` + tt.want
			if len(ps) != 1 || ps[0].Error() != want {
				t.Errorf("Load(%q) problems = %q; want %q", give, ps, want)
			}
		})
	}
}
