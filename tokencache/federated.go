package tokencache

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
	msalerrors "github.com/AzureAD/microsoft-authentication-library-for-go/apps/errors"
	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/managedidentity"
)

// This file holds the federated credentials whose client assertion is
// itself an Entra token: the token of another identity (a managed identity)
// for the cloud's token-exchange audience, which the bot's app trusts
// through a federated identity credential (issuer
// {authority host}/{tenant}/v2.0, subject the identity's object id). That is
// Microsoft's secretless setup for a single-tenant app.
//
// The token-exchange audience is api://AzureADTokenExchange on the public
// cloud, api://AzureADTokenExchangeUSGov on US Government and
// api://AzureADTokenExchangeChina on China; the caller passes the cloud's.

// SystemAssignedIdentity, as the identity of FederatedManagedIdentity,
// selects the resource's system-assigned managed identity.
const SystemAssignedIdentity = "system"

// FederatedManagedIdentity proves the app's identity with a token of a
// managed identity for audience (the cloud's token-exchange audience), got
// with MSAL's managed identity client: identity is the managed identity's
// client id, or SystemAssignedIdentity. The app (Options.ClientID) must
// trust that identity with a federated identity credential.
//
// The managed identity token is kept and reused as the assertion of every
// acquisition until shortly before it expires (managed identity tokens live
// about 24 hours), where the Agents SDKs fetch it anew each time.
func FederatedManagedIdentity(identity, audience string) Credential {
	return federatedManagedIdentity{identity: identity, audience: audience}
}

type federatedManagedIdentity struct {
	entra
	identity, audience string
}

func (c federatedManagedIdentity) newAcquirer(opts Options) (acquirer, error) {
	var id managedidentity.ID = managedidentity.UserAssignedClientID(c.identity)
	if strings.EqualFold(c.identity, SystemAssignedIdentity) {
		id = managedidentity.SystemAssigned()
	}
	// MSAL picks the managed identity source (IMDS, App Service, ...) from
	// the environment, at New.
	client, err := managedidentity.New(id, managedidentity.WithHTTPClient(opts.HTTPClient))
	if err != nil {
		return nil, fmt.Errorf("managed identity client for %s: %w", c.identity, err)
	}
	return newFederatedAcquirer(opts, &managedIdentityAcquirer{client: client, resource: c.audience})
}

// WorkloadIdentity is the identity a Kubernetes federated token file
// (AZURE_FEDERATED_TOKEN_FILE) was issued for, when it is not the bot's app:
// a managed identity (or another app) whose federated credential trusts the
// service account, and which the bot's app trusts in turn.
type WorkloadIdentity struct {
	// TokenFile is the service account token, re-read at each exchange
	// because the kubelet rotates it.
	TokenFile string
	// ClientID is the identity's client id (AZURE_CLIENT_ID).
	ClientID string
	// Tenant is the identity's tenant (AZURE_TENANT_ID); the exchange is
	// made at Options.AuthorityHost/Tenant.
	Tenant string
}

// FederatedWorkloadIdentity proves the app's identity in two hops: the
// token file is the client assertion of w's identity, whose token for
// audience (the cloud's token-exchange audience) is then the client
// assertion of the app. The identity's token is reused like
// FederatedManagedIdentity's.
func FederatedWorkloadIdentity(w WorkloadIdentity, audience string) Credential {
	return federatedWorkloadIdentity{w: w, audience: audience}
}

type federatedWorkloadIdentity struct {
	entra
	w        WorkloadIdentity
	audience string
}

func (c federatedWorkloadIdentity) authority(opts Options) (string, error) {
	if c.w.TokenFile == "" || c.w.ClientID == "" || c.w.Tenant == "" {
		return "", errors.New("workload identity needs a token file, a client id and a tenant")
	}
	return c.entra.authority(opts)
}

func (c federatedWorkloadIdentity) newAcquirer(opts Options) (acquirer, error) {
	hop := opts
	hop.ClientID, hop.Tenant, hop.Scope = c.w.ClientID, c.w.Tenant, strings.TrimSuffix(c.audience, "/")+"/.default"
	exchange, err := newConfidentialAcquirer(hop, assertionFile{path: c.w.TokenFile}.credential())
	if err != nil {
		return nil, fmt.Errorf("workload identity %s: %w", c.w.ClientID, err)
	}
	return newFederatedAcquirer(opts, exchange)
}

// newFederatedAcquirer returns the app's acquirer whose client assertion is
// the token that identity gets, kept in an assertionCache.
func newFederatedAcquirer(opts Options, identity acquirer) (acquirer, error) {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	cache := &assertionCache{acq: identity, now: now}
	// MSAL calls the callback from the acquiring goroutine; the cache's
	// lock makes it safe for concurrent use anyway (Acquire from doctor).
	app, err := newConfidentialAcquirer(opts, confidential.NewCredFromAssertionCallback(
		func(ctx context.Context, _ confidential.AssertionRequestOptions) (string, error) {
			return cache.get(ctx)
		}))
	if err != nil {
		return nil, err
	}
	return federatedAcquirer{app: app, cache: cache}, nil
}

// federatedAcquirer gets the app's token with the cached assertion.
type federatedAcquirer struct {
	app   acquirer
	cache *assertionCache
}

func (a federatedAcquirer) acquire(ctx context.Context) (string, time.Time, error) {
	tok, exp, err := a.app.acquire(ctx)
	var call msalerrors.CallErr
	if errors.As(err, &call) && call.Resp != nil && call.Resp.StatusCode >= 400 && call.Resp.StatusCode < 500 {
		// Entra refused the request, perhaps the assertion (a revoked or
		// re-created identity): the next acquisition fetches a new one.
		// An outage (5xx) keeps it, so retries cost the identity nothing.
		a.cache.drop()
	}
	return tok, exp, err
}

// assertionMargin: an assertion is not used in its last moments, so that it
// is still valid when Entra checks it. A quarter of a short lifetime at
// most, so that a short-lived token is still reused.
const assertionMargin = 5 * time.Minute

// assertionCache keeps the identity's token between acquisitions of the
// app's token.
type assertionCache struct {
	acq acquirer
	now func() time.Time

	mu         sync.Mutex // held across a fetch: one fetch at a time
	token      string
	reuseUntil time.Time
}

// get returns the kept token, or a new one once it is due.
func (c *assertionCache) get(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if c.token != "" && now.Before(c.reuseUntil) {
		return c.token, nil
	}
	tok, exp, err := c.acq.acquire(ctx)
	if err != nil {
		return "", fmt.Errorf("client assertion: %w", err)
	}
	c.token = tok
	c.reuseUntil = exp.Add(-min(assertionMargin, exp.Sub(now)/4))
	return tok, nil
}

// drop forgets the kept token.
func (c *assertionCache) drop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.token, c.reuseUntil = "", time.Time{}
}
