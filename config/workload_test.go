package config_test

import (
	"strings"
	"testing"

	"github.com/botsidecar/sidecar/config"
)

const (
	miClientID = "00000000-0000-0000-0000-0000000000b2"
	tokenFile  = "/var/run/secrets/azure/tokens/azure-identity-token"
)

// webhookEnv is what the Azure Workload Identity webhook injects, for a
// service account annotated with clientID, on the public cloud.
func webhookEnv(clientID string) map[string]string {
	return map[string]string{
		"MicrosoftAppPassword":       unset,
		"AZURE_CLIENT_ID":            clientID,
		"AZURE_TENANT_ID":            tenantID,
		"AZURE_AUTHORITY_HOST":       "https://login.microsoftonline.com/",
		"AZURE_FEDERATED_TOKEN_FILE": tokenFile,
	}
}

func merge(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

func TestLoadWebhookVariables(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		give         map[string]string
		wantCred     config.CredentialKind
		wantIdentity string
		wantTenant   string
		wantHost     string
	}{
		{"federated on the bot's app", merge(webhookEnv(appID), map[string]string{"MicrosoftAppTenantId": unset}),
			config.CredentialFederatedFile, "", tenantID, "https://login.microsoftonline.com"},
		{"client id in upper case is the bot's app", webhookEnv(strings.ToUpper(appID)),
			config.CredentialFederatedFile, "", tenantID, "https://login.microsoftonline.com"},
		{"federated on a managed identity", webhookEnv(miClientID),
			config.CredentialFederatedWorkloadIdentity, miClientID, tenantID, "https://login.microsoftonline.com"},
		{"tenant agrees in another case", merge(webhookEnv(appID), map[string]string{"MicrosoftAppTenantId": strings.ToUpper(tenantID)}),
			config.CredentialFederatedFile, "", strings.ToUpper(tenantID), "https://login.microsoftonline.com"},
		{"host agrees without the slash", merge(webhookEnv(appID), map[string]string{"SIDECAR_AUTHORITY_HOST": "https://login.microsoftonline.com"}),
			config.CredentialFederatedFile, "", tenantID, "https://login.microsoftonline.com"},
		{"usgov host with usgov cloud", merge(webhookEnv(appID), map[string]string{"SIDECAR_CLOUD": "usgov", "AZURE_AUTHORITY_HOST": "https://login.microsoftonline.us/"}),
			config.CredentialFederatedFile, "", tenantID, "https://login.microsoftonline.us"},
		{"host of no cloud (a proxy)", merge(webhookEnv(appID), map[string]string{"AZURE_AUTHORITY_HOST": "https://127.0.0.1:8443/"}),
			config.CredentialFederatedFile, "", tenantID, "https://127.0.0.1:8443"},
		{"client id without token file is ignored", map[string]string{"AZURE_CLIENT_ID": "not-a-guid"},
			config.CredentialSecret, "", tenantID, "https://login.microsoftonline.com"},
		{"tenant alone fills the tenant", map[string]string{"MicrosoftAppTenantId": unset, "AZURE_TENANT_ID": tenantID},
			config.CredentialSecret, "", tenantID, "https://login.microsoftonline.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := mustLoad(t, withEnv(tt.give))
			if got := cfg.Credential(); got != tt.wantCred {
				t.Errorf("Credential() = %v; want %v", got, tt.wantCred)
			}
			if got := cfg.FederatedTokenIdentity(); got != tt.wantIdentity {
				t.Errorf("FederatedTokenIdentity() = %q; want %q", got, tt.wantIdentity)
			}
			if cfg.TenantID != tt.wantTenant || cfg.AuthorityHost != tt.wantHost {
				t.Errorf("tenant, authority host = %q, %q; want %q, %q", cfg.TenantID, cfg.AuthorityHost, tt.wantTenant, tt.wantHost)
			}
		})
	}
}

func TestLoadWebhookConflicts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		give map[string]string
		// want is the whole problem; every case has exactly one.
		want string
	}{
		{"tenant", merge(webhookEnv(appID), map[string]string{"MicrosoftAppTenantId": "00000000-0000-0000-0000-0000000000f2"}),
			"MicrosoftAppTenantId and AZURE_TENANT_ID (injected by the Azure Workload Identity webhook) disagree; unset MicrosoftAppTenantId or make the two equal (" + tenantHint + ")"},
		{"tenant alias", merge(webhookEnv(appID), map[string]string{"MicrosoftAppTenantId": unset, "TENANT_ID": "contoso.onmicrosoft.com"}),
			"TENANT_ID and AZURE_TENANT_ID (injected by the Azure Workload Identity webhook) disagree; unset TENANT_ID or make the two equal (" + tenantHint + ")"},
		{"authority host", merge(webhookEnv(appID), map[string]string{"SIDECAR_AUTHORITY_HOST": "https://127.0.0.1:8443"}),
			"SIDECAR_AUTHORITY_HOST and AZURE_AUTHORITY_HOST (injected by the Azure Workload Identity webhook) disagree; unset SIDECAR_AUTHORITY_HOST or make the two equal (the webhook injects the login host of the cluster's cloud)"},
		{"authority host of another cloud", merge(webhookEnv(appID), map[string]string{"AZURE_AUTHORITY_HOST": "https://login.partner.microsoftonline.cn/"}),
			`AZURE_AUTHORITY_HOST="https://login.partner.microsoftonline.cn/": is the login host of SIDECAR_CLOUD=china, but SIDECAR_CLOUD is public; set SIDECAR_CLOUD=china`},
		{"client id not a guid", webhookEnv("my-identity"),
			"AZURE_CLIENT_ID (11 characters, not shown): not a client id (a GUID like 00000000-0000-0000-0000-000000000000)"},
		{"managed identity without tenant", merge(webhookEnv(miClientID), map[string]string{"MicrosoftAppType": "MultiTenant", "MicrosoftAppTenantId": unset, "AZURE_TENANT_ID": unset}),
			"AZURE_CLIENT_ID (36 characters, not shown): names another identity than MicrosoftAppId, whose token the federated token file gets in its own tenant: set MicrosoftAppTenantId (or AZURE_TENANT_ID)"},
		{"token file with a secret", merge(webhookEnv(miClientID), map[string]string{"MicrosoftAppPassword": secret}),
			"more than one credential is set (MicrosoftAppPassword, AZURE_FEDERATED_TOKEN_FILE); keep exactly one of " + credentialsList},
		{"token file with UserAssignedMSI", merge(webhookEnv(appID), map[string]string{"MicrosoftAppType": "UserAssignedMSI"}),
			`MicrosoftAppType="UserAssignedMSI": takes no secret; unset AZURE_FEDERATED_TOKEN_FILE`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			wantOneProblem(t, withEnv(tt.give), tt.want)
		})
	}
}

// wantOneProblem checks that Load(environ) reports exactly want.
func wantOneProblem(t *testing.T, environ map[string]string, want string) {
	t.Helper()
	_, err := config.Load(environ)
	if ps := problems(t, err); len(ps) != 1 || ps[0].Error() != want {
		t.Errorf("Load(%q) problems = %q; want %q", environ, ps, want)
	}
}

const tenantHint = "the webhook injects the service account's azure.workload.identity/tenant-id annotation, else the cluster's tenant"

const credentialsList = "MicrosoftAppPassword (or CLIENT_SECRET), SIDECAR_CLIENT_SECRET_FILE, SIDECAR_CLIENT_CERT_FILE, AZURE_FEDERATED_TOKEN_FILE or SIDECAR_FEDERATED_MANAGED_IDENTITY_CLIENT_ID"

func TestLoadFederatedManagedIdentity(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		give string
		want string
	}{
		{"user-assigned", miClientID, miClientID},
		{"user-assigned in upper case", strings.ToUpper(miClientID), miClientID},
		{"system-assigned", "System", config.SystemAssigned},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := mustLoad(t, withEnv(map[string]string{"MicrosoftAppPassword": unset, "SIDECAR_FEDERATED_MANAGED_IDENTITY_CLIENT_ID": tt.give}))
			if cfg.Credential() != config.CredentialFederatedManagedIdentity || cfg.FederatedManagedIdentity != tt.want {
				t.Errorf("Load(%q) = %v, %q; want %v, %q", tt.give, cfg.Credential(), cfg.FederatedManagedIdentity,
					config.CredentialFederatedManagedIdentity, tt.want)
			}
		})
	}

	bad := []struct {
		name string
		give map[string]string
		want string
	}{
		{"not a guid", map[string]string{"MicrosoftAppPassword": unset, "SIDECAR_FEDERATED_MANAGED_IDENTITY_CLIENT_ID": "user"},
			`SIDECAR_FEDERATED_MANAGED_IDENTITY_CLIENT_ID (4 characters, not shown): not a managed identity's client id (a GUID) or system`},
		{"with a secret", map[string]string{"SIDECAR_FEDERATED_MANAGED_IDENTITY_CLIENT_ID": "system"},
			"more than one credential is set (MicrosoftAppPassword, SIDECAR_FEDERATED_MANAGED_IDENTITY_CLIENT_ID); keep exactly one of " + credentialsList},
		{"with the token file", map[string]string{"MicrosoftAppPassword": unset, "SIDECAR_FEDERATED_MANAGED_IDENTITY_CLIENT_ID": "system", "AZURE_FEDERATED_TOKEN_FILE": tokenFile},
			"more than one credential is set (AZURE_FEDERATED_TOKEN_FILE, SIDECAR_FEDERATED_MANAGED_IDENTITY_CLIENT_ID); keep exactly one of " + credentialsList},
		{"with UserAssignedMSI", map[string]string{"MicrosoftAppPassword": unset, "MicrosoftAppType": "UserAssignedMSI", "SIDECAR_FEDERATED_MANAGED_IDENTITY_CLIENT_ID": miClientID},
			`MicrosoftAppType="UserAssignedMSI": takes no secret; unset SIDECAR_FEDERATED_MANAGED_IDENTITY_CLIENT_ID`},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			wantOneProblem(t, withEnv(tt.give), tt.want)
		})
	}
}

func TestTokenExchangeAudience(t *testing.T) {
	t.Parallel()
	tests := []struct {
		give, want string
	}{
		{"public", "api://AzureADTokenExchange"},
		{"usgov", "api://AzureADTokenExchangeUSGov"},
		{"usgovdod", "api://AzureADTokenExchangeUSGov"},
		{"china", "api://AzureADTokenExchangeChina"},
	}
	for _, tt := range tests {
		cfg := mustLoad(t, withEnv(map[string]string{"SIDECAR_CLOUD": tt.give}))
		if got := cfg.TokenExchangeAudience(); got != tt.want {
			t.Errorf("TokenExchangeAudience(SIDECAR_CLOUD=%s) = %q; want %q", tt.give, got, tt.want)
		}
	}
}
