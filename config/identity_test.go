package config_test

import (
	"testing"

	"github.com/botsidecar/sidecar/config"
)

func TestAuthority(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		give map[string]string
		want string
	}{
		{"single-tenant public", nil, "https://login.microsoftonline.com/" + tenantID},
		{"multi-tenant public", map[string]string{"MicrosoftAppType": "MultiTenant"},
			"https://login.microsoftonline.com/botframework.com"},
		{"multi-tenant usgov", map[string]string{"MicrosoftAppType": "MultiTenant", "SIDECAR_CLOUD": "usgov"},
			"https://login.microsoftonline.us/MicrosoftServices.onmicrosoft.us"},
		{"multi-tenant usgovdod", map[string]string{"MicrosoftAppType": "MultiTenant", "SIDECAR_CLOUD": "usgovdod"},
			"https://login.microsoftonline.us/MicrosoftServices.onmicrosoft.us"},
		{"multi-tenant china", map[string]string{"MicrosoftAppType": "MultiTenant", "SIDECAR_CLOUD": "china"},
			"https://login.partner.microsoftonline.cn/microsoftservices.partner.onmschina.cn"},
		{"single-tenant usgov", map[string]string{"SIDECAR_CLOUD": "usgov"}, "https://login.microsoftonline.us/" + tenantID},
		{"single-tenant china", map[string]string{"SIDECAR_CLOUD": "china"}, "https://login.partner.microsoftonline.cn/" + tenantID},
		{"managed identity", map[string]string{"MicrosoftAppType": "UserAssignedMSI", "MicrosoftAppPassword": unset},
			"https://login.microsoftonline.com/" + tenantID},
		{"fake host with a slash", map[string]string{"SIDECAR_AUTHORITY_HOST": "https://127.0.0.1:8443/"},
			"https://127.0.0.1:8443/" + tenantID},
		{"multi-tenant fake host", map[string]string{"MicrosoftAppType": "MultiTenant", "SIDECAR_AUTHORITY_HOST": "https://localhost:8443//"},
			"https://localhost:8443/botframework.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := mustLoad(t, withEnv(tt.give))
			if got := cfg.Authority(); got != tt.want {
				t.Errorf("Authority() = %q; want %q", got, tt.want)
			}
		})
	}
	// A Config built by hand is not normalised by Load; the slash still is not doubled.
	hand := config.Config{AppType: config.AppTypeSingleTenant, TenantID: "t", Endpoints: config.Endpoints{AuthorityHost: "https://login.example/"}}
	if got, want := hand.Authority(), "https://login.example/t"; got != want {
		t.Errorf("Authority() = %q; want %q", got, want)
	}
}

func TestCredentialKindString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		give config.CredentialKind
		want string
	}{
		{config.CredentialSecret, "client secret"},
		{config.CredentialSecretFile, "client secret file"},
		{config.CredentialCertFile, "client certificate file"},
		{config.CredentialFederatedFile, "federated token file"},
		{config.CredentialManagedIdentity, "managed identity"},
		{0, "none"},
	}
	for _, tt := range tests {
		if got := tt.give.String(); got != tt.want {
			t.Errorf("CredentialKind(%d).String() = %q; want %q", int(tt.give), got, tt.want)
		}
	}
	if got := (config.Config{}).Credential(); got != 0 {
		t.Errorf("Config{}.Credential() = %v; want none", got)
	}
}

func TestTokenTenant(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		id   config.Identity
		want string
	}{
		{config.Identity{AppType: config.AppTypeSingleTenant, TenantID: "t1"}, "t1"},
		{config.Identity{AppType: config.AppTypeUserAssignedMSI, TenantID: "t2"}, "t2"},
		{config.Identity{AppType: config.AppTypeMultiTenant, TenantID: "t3"}, ""},
	} {
		if got := tt.id.TokenTenant(); got != tt.want {
			t.Errorf("%s with tenant %q: TokenTenant() = %q; want %q", tt.id.AppType, tt.id.TenantID, got, tt.want)
		}
	}
}
