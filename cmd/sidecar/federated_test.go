package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/botsidecar/sidecar/internal/fakes"
)

// These tests check tokenOptions' mapping of the federated credentials,
// through doctor's token check against the fake Entra. Not parallel: MSAL
// reads the managed identity endpoint from the process environment.

const fedIdentity = "00000000-0000-0000-0000-0000000000b2"

func federatedEnv(e *fakes.Entra, over map[string]string) map[string]string {
	env := map[string]string{
		"MicrosoftAppId":         itAppID,
		"MicrosoftAppTenantId":   itTenant,
		"SIDECAR_AUTHORITY_HOST": e.URL,
		"SIDECAR_STORE":          "memory:",
	}
	for k, v := range over {
		env[k] = v
	}
	return env
}

func tokenCheck(t *testing.T, e *fakes.Entra, env map[string]string) check {
	t.Helper()
	for _, c := range doctorChecks(context.Background(), env, deps{entraClient: e.Client()}) {
		if c.Name == "config" && !c.OK {
			t.Fatalf("config check = %+v", c)
		}
		if c.Name == "token" {
			return c
		}
	}
	t.Fatal("doctor ran no token check")
	return check{}
}

func TestTokenOptionsFederatedManagedIdentity(t *testing.T) {
	tests := []struct {
		name, cloud, audience string
	}{
		{"public", "public", "api://AzureADTokenExchange"},
		{"china", "china", "api://AzureADTokenExchangeChina"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := fakes.NewEntra(fakes.EntraOptions{ClientID: itAppID, AcceptAssertion: true,
				FederatedIdentity: fedIdentity, SystemAssigned: true, TokenExchangeAudience: tt.audience})
			t.Cleanup(e.Close)
			for k, v := range e.ManagedIdentityEnv() {
				t.Setenv(k, v)
			}
			env := federatedEnv(e, map[string]string{
				"SIDECAR_CLOUD": tt.cloud,
				"SIDECAR_FEDERATED_MANAGED_IDENTITY_CLIENT_ID": "system",
			})
			if c := tokenCheck(t, e, env); !c.OK {
				t.Errorf("token check = %+v; want ok", c)
			}
			if n := e.ManagedIdentityRequests(); n != 1 {
				t.Errorf("managed identity requests = %d; want 1", n)
			}
		})
	}
}

// TestTokenOptionsWebhookManagedIdentity: the webhook injected the
// variables for a service account annotated with a managed identity's
// client id; the bot's app trusts that identity.
func TestTokenOptionsWebhookManagedIdentity(t *testing.T) {
	t.Parallel()
	e := fakes.NewEntra(fakes.EntraOptions{ClientID: itAppID, AcceptAssertion: true,
		ExpectedAssertion: "sa.token.jwt", FederatedIdentity: fedIdentity})
	t.Cleanup(e.Close)
	path := filepath.Join(t.TempDir(), "azure-identity-token")
	if err := os.WriteFile(path, []byte("sa.token.jwt"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := federatedEnv(e, map[string]string{
		"MicrosoftAppTenantId":       "",
		"SIDECAR_AUTHORITY_HOST":     "",
		"AZURE_CLIENT_ID":            fedIdentity,
		"AZURE_TENANT_ID":            itTenant,
		"AZURE_AUTHORITY_HOST":       e.URL + "/",
		"AZURE_FEDERATED_TOKEN_FILE": path,
	})
	if c := tokenCheck(t, e, env); !c.OK {
		t.Errorf("token check = %+v; want ok", c)
	}
	if got := e.Assertions(); len(got) != 2 || got[0] != "sa.token.jwt" {
		t.Errorf("assertions = %d; want the file's token, then the identity's", len(got))
	}
}
