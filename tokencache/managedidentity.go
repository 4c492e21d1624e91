package tokencache

import (
	"context"
	"fmt"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/managedidentity"
)

// ManagedIdentity gets tokens from the user-assigned managed identity whose
// client id is Options.ClientID (MicrosoftAppType=UserAssignedMSI). It
// needs no AuthorityHost or Tenant.
func ManagedIdentity() Credential { return managedIdentity{} }

// SystemManagedIdentity gets tokens from the system-assigned managed
// identity of the host, whose client id is Options.ClientID (the Agents
// SDK's AuthType=SystemManagedIdentity). It needs no AuthorityHost or Tenant.
func SystemManagedIdentity() Credential { return managedIdentity{identity: SystemAssignedIdentity} }

// managedIdentity is the user-assigned identity Options.ClientID, or the
// system-assigned one when identity is SystemAssignedIdentity.
type managedIdentity struct{ identity string }

func (managedIdentity) authority(Options) (string, error) { return "managed-identity", nil }

func (c managedIdentity) newAcquirer(opts Options) (acquirer, error) {
	var id managedidentity.ID = managedidentity.UserAssignedClientID(opts.ClientID)
	if c.identity == SystemAssignedIdentity {
		id = managedidentity.SystemAssigned()
	}
	// MSAL picks the managed identity source (IMDS, App Service, ...) from
	// the environment, at New. New set the HTTP client to one that never
	// follows redirects.
	client, err := managedidentity.New(id, managedidentity.WithHTTPClient(opts.HTTPClient))
	if err != nil {
		return nil, fmt.Errorf("managed identity client: %w", err)
	}
	return &managedIdentityAcquirer{client: client, resource: opts.Scope}, nil
}

// managedIdentityAcquirer gets tokens from a user-assigned managed identity.
type managedIdentityAcquirer struct {
	client   managedidentity.Client
	resource string
}

// bypassClaims is passed to every managed identity request to skip MSAL's
// (process-wide) managed identity cache. In MSAL Go v1.10.1 WithClaims does
// nothing else: the claims are not sent to the endpoint, they only make
// AcquireToken ignore cached tokens (managedidentity.go, AcquireToken).
// Without it, a refresh at half-life or after Invalidate would get the cached
// token back, and a failed MSAL-internal refresh would be hidden from our
// back-off. It is a syntactically valid, empty claims request, in case a
// later MSAL forwards it. TestManagedIdentityBypassesMSALCache pins this.
const bypassClaims = `{"access_token":{}}`

func (a *managedIdentityAcquirer) acquire(ctx context.Context) (string, time.Time, error) {
	res, err := a.client.AcquireToken(ctx, a.resource, managedidentity.WithClaims(bypassClaims))
	if err != nil {
		return "", time.Time{}, err
	}
	return res.AccessToken, res.ExpiresOn, nil
}
