package config_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/botsidecar/sidecar/config"
)

func TestSecretFormatting(t *testing.T) {
	t.Parallel()
	tests := []struct {
		give config.Secret
		want string
	}{
		{give: "hunter2", want: "[redacted]"},
		{give: "", want: ""},
	}
	for _, tt := range tests {
		s := tt.give
		if got := s.Value(); got != string(tt.give) {
			t.Errorf("Secret(%q).Value() = %q", tt.give, got)
		}
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%d", "%x", "%X", "%10s", "%-5v"} {
			if got := fmt.Sprintf(verb, s); got != tt.want {
				t.Errorf("Sprintf(%q, Secret(%q)) = %q; want %q", verb, tt.give, got, tt.want)
			}
		}
		if got := fmt.Sprintf("%q", s); got != fmt.Sprintf("%q", tt.want) {
			t.Errorf("Sprintf(%%q, Secret(%q)) = %s", tt.give, got)
		}
		if got := s.String(); got != tt.want {
			t.Errorf("Secret(%q).String() = %q; want %q", tt.give, got, tt.want)
		}
		if got := s.GoString(); got != tt.want {
			t.Errorf("Secret(%q).GoString() = %q; want %q", tt.give, got, tt.want)
		}
		if got, _ := s.MarshalText(); string(got) != tt.want {
			t.Errorf("Secret(%q).MarshalText() = %q; want %q", tt.give, got, tt.want)
		}
		if got, _ := json.Marshal(s); string(got) != `"`+tt.want+`"` {
			t.Errorf("json.Marshal(Secret(%q)) = %s", tt.give, got)
		}
	}
}

// assertHidden fails if any of the values appears in s.
func assertHidden(t *testing.T, what, s string, values ...string) {
	t.Helper()
	for _, v := range values {
		if strings.Contains(s, v) {
			t.Errorf("%s shows %q: %s", what, v, s)
		}
	}
}

func TestSecretsNeverShown(t *testing.T) {
	t.Parallel()
	const redisPassword = "R3dis-Pa55"
	hidden := []string{secret, redisPassword}

	t.Run("config", func(t *testing.T) {
		t.Parallel()
		cfg := mustLoad(t, withEnv(map[string]string{"SIDECAR_STORE": "rediss://:" + redisPassword + "@cache.example:6380/0"}))
		if cfg.AppPassword.Value() != secret || !strings.Contains(cfg.Store.Value(), redisPassword) {
			t.Fatalf("Load lost the secrets: %q, %q", cfg.AppPassword.Value(), cfg.Store.Value())
		}
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%d", "%x", "%q"} {
			assertHidden(t, "Sprintf("+verb+", cfg)", fmt.Sprintf(verb, cfg), hidden...)
			assertHidden(t, "Sprintf("+verb+", &cfg)", fmt.Sprintf(verb, &cfg), hidden...)
		}
		b, err := json.Marshal(cfg)
		if err != nil {
			t.Fatal(err)
		}
		assertHidden(t, "json.Marshal(cfg)", string(b), hidden...)
		if !strings.Contains(string(b), `"AppPassword":"[redacted]"`) {
			t.Errorf("json.Marshal(cfg) = %s; want AppPassword redacted, not absent", b)
		}
	})

	errorCases := []struct {
		name string
		give map[string]string
	}{
		{"with other problems", map[string]string{"SIDECAR_LOG_LEVEL": "x", "MicrosoftAppType": "nope"}},
		{"two credentials", map[string]string{"CLIENT_SECRET": secret, "SIDECAR_CLIENT_CERT_FILE": "/c"}},
		{"managed identity with a secret", map[string]string{"MicrosoftAppType": "UserAssignedMSI", "CLIENT_SECRET": secret}},
		{"secret in the alias only", map[string]string{"MicrosoftAppPassword": unset, "CLIENT_SECRET": secret, "AZURE_FEDERATED_TOKEN_FILE": "/t"}},
		{"bad redis URL", map[string]string{"SIDECAR_STORE": "redis://:" + redisPassword + "@/0"}},
		{"unparseable redis URL", map[string]string{"SIDECAR_STORE": "redis://:" + redisPassword + "@host:port:bad/%zz"}},
	}
	for _, tt := range errorCases {
		t.Run("error/"+tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := config.Load(withEnv(tt.give))
			ps := problems(t, err)
			assertHidden(t, "Load error", err.Error(), hidden...)
			assertHidden(t, "Load error %+v", fmt.Sprintf("%+v", err), hidden...)
			assertHidden(t, "Load problems", fmt.Sprintf("%#v", ps), hidden...)
		})
	}
}
