package config

import (
	"strings"

	"github.com/botsidecar/sidecar/internal/guid"
)

// The Azure Workload Identity webhook injects AZURE_CLIENT_ID,
// AZURE_TENANT_ID, AZURE_AUTHORITY_HOST and AZURE_FEDERATED_TOKEN_FILE into
// the containers of a pod labelled azure.workload.identity/use=true. The
// sidecar honours them as injected, so a chart needs to set nothing else:
// AZURE_TENANT_ID and AZURE_AUTHORITY_HOST supply the tenant and the
// authority host when the sidecar's own variables leave them unset, and a
// disagreement between the two is a start-up error, because which one is
// right cannot be guessed.

const (
	varAuthorityHost      = "SIDECAR_AUTHORITY_HOST"
	varAzureAuthorityHost = "AZURE_AUTHORITY_HOST"
	varAzureClientID      = "AZURE_CLIENT_ID"
)

// webhookFallback is a setting with the webhook's variable for it.
type webhookFallback struct {
	name, webhook string
	// same reports whether two values mean the same.
	same func(a, b string) bool
	// hint says where the webhook takes its value from.
	hint string
}

func webhookFallbacks() []webhookFallback {
	return []webhookFallback{
		// Tenant ids and domain names compare in any case.
		{varTenantID, "AZURE_TENANT_ID", strings.EqualFold,
			"the webhook injects the service account's azure.workload.identity/tenant-id annotation, else the cluster's tenant"},
		// The webhook writes the host with a trailing "/".
		{varAuthorityHost, varAzureAuthorityHost, func(a, b string) bool {
			return strings.EqualFold(strings.TrimRight(a, "/"), strings.TrimRight(b, "/"))
		}, "the webhook injects the login host of the cluster's cloud"},
	}
}

// resolveWebhook fills a setting left unset from its webhook variable, and
// reports a setting whose webhook variable says otherwise.
func (l *loader) resolveWebhook(environ map[string]string) {
	for _, f := range webhookFallbacks() {
		val := strings.TrimSpace(environ[f.webhook])
		if val == "" {
			continue
		}
		cur, set := l.raw[f.name]
		if !set {
			l.raw[f.name], l.from[f.name] = val, f.webhook
			l.present[f.name] = append(l.present[f.name], f.webhook)
			continue
		}
		if !f.same(cur, val) {
			l.add(f.name, Problem{Reason: l.from[f.name] + " and " + f.webhook + " (injected by the Azure Workload Identity webhook) " +
				"disagree; unset " + l.from[f.name] + " or make the two equal (" + f.hint + ")"})
		}
	}
}

// checkFederatedIDs checks and lower-cases the identity a federated token
// file was issued for (AZURE_CLIENT_ID) and the managed identity used as
// a federated credential.
func (l *loader) checkFederatedIDs(id *Identity, n identityNames) {
	if id.FederatedTokenFile != "" && id.FederatedTokenClientID != "" {
		id.FederatedTokenClientID = strings.ToLower(id.FederatedTokenClientID)
		switch {
		case !guid.Is(id.FederatedTokenClientID):
			l.fail(n.federatedTokenClientID, "not a client id (a GUID like 00000000-0000-0000-0000-000000000000)")
		case id.FederatedTokenIdentity() != "" && id.TenantID == "":
			l.fail(n.federatedTokenClientID, "names another identity than "+n.appID+", whose token the federated token file gets "+
				"in its own tenant: set "+n.tenantHint)
		}
	}
	if id.FederatedManagedIdentity != "" {
		id.FederatedManagedIdentity = strings.ToLower(id.FederatedManagedIdentity)
		if id.FederatedManagedIdentity != SystemAssigned && !guid.Is(id.FederatedManagedIdentity) {
			l.fail(n.federatedMI, "not a managed identity's client id (a GUID) or "+SystemAssigned)
		}
	}
}

// checkWebhookAuthorityHost checks the webhook's AZURE_AUTHORITY_HOST
// against SIDECAR_CLOUD. It runs after checkEndpoints.
func (l *loader) checkWebhookAuthorityHost(c *Config) {
	if l.from[varAuthorityHost] == varAzureAuthorityHost && !l.failed[varAuthorityHost] {
		// The webhook's host follows the cluster's cloud; another
		// cloud's login host than SIDECAR_CLOUD's would ask the wrong
		// cloud for the token.
		for _, other := range []Cloud{CloudPublic, CloudUSGov, CloudChina} {
			host := defaultsFor(other).AuthorityHost
			if strings.EqualFold(c.AuthorityHost, host) && host != defaultsFor(c.Cloud).AuthorityHost {
				l.fail(varAuthorityHost, "is the login host of SIDECAR_CLOUD="+string(other)+
					", but SIDECAR_CLOUD is "+string(c.Cloud)+"; set SIDECAR_CLOUD="+string(other))
			}
		}
	}
}
