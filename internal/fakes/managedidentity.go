package fakes

import (
	"net/http"
	"strconv"
	"time"
)

// The fake Entra's managed identity side: an App Service style identity
// endpoint, and the check of a managed identity's token presented as an
// app's client assertion (managed identity as a federated credential).

const (
	managedIdentityPath = "/msi/token"
	// ManagedIdentityHeader is the secret the identity endpoint expects in
	// X-IDENTITY-HEADER; MSAL sends IDENTITY_HEADER's value.
	ManagedIdentityHeader = "fake-identity-header"
	// publicTokenExchangeAudience is the public cloud's audience of a
	// federated identity credential.
	publicTokenExchangeAudience = "api://AzureADTokenExchange"
)

// ManagedIdentityEndpoint is the URL of the fake's managed identity endpoint
// in the App Service shape: MSAL's managed identity client uses it when
// IDENTITY_ENDPOINT is this URL and IDENTITY_HEADER is
// ManagedIdentityHeader.
func (e *Entra) ManagedIdentityEndpoint() string { return e.URL + managedIdentityPath }

// ManagedIdentityEnv is the environment that points MSAL's managed identity
// client at the fake.
func (e *Entra) ManagedIdentityEnv() map[string]string {
	return map[string]string{
		"IDENTITY_ENDPOINT": e.ManagedIdentityEndpoint(),
		"IDENTITY_HEADER":   ManagedIdentityHeader,
	}
}

func (e *Entra) exchangeAudience() string {
	if e.opts.TokenExchangeAudience != "" {
		return e.opts.TokenExchangeAudience
	}
	return publicTokenExchangeAudience
}

// managedIdentityToken answers as App Service's identity endpoint
// (api-version 2019-08-01) does: a token of FederatedIdentity for the
// requested resource, whatever it is, as the real endpoint issues one for
// any resource; the token endpoint decides whether it is a good assertion.
func (e *Entra) managedIdentityToken(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	e.miRequests++
	e.mu.Unlock()
	q := r.URL.Query()
	if r.Header.Get("X-IDENTITY-HEADER") != ManagedIdentityHeader {
		entraWriteJSON(w, http.StatusUnauthorized, map[string]any{"statusCode": 401, "message": "missing or wrong X-IDENTITY-HEADER"})
		return
	}
	resource := q.Get("resource")
	id := q.Get("client_id")
	known := e.opts.FederatedIdentity != "" && (e.opts.SystemAssigned && id == "" || !e.opts.SystemAssigned && id == e.opts.FederatedIdentity)
	if resource == "" || !known {
		entraWriteJSON(w, http.StatusBadRequest, map[string]any{"statusCode": 400, "message": "no managed identity " + strconv.Quote(id) + " or no resource"})
		return
	}
	access, expiresIn := e.issue(e.opts.FederatedIdentity, "managed-identity", resource, "2")
	entraWriteJSON(w, http.StatusOK, map[string]any{
		"access_token": access,
		"expires_on":   strconv.FormatInt(time.Now().Add(expiresIn).Unix(), 10),
		"resource":     resource,
		"token_type":   "Bearer",
		"client_id":    e.opts.FederatedIdentity,
	})
}

// federatedAssertionValid checks an assertion the way Entra checks a
// federated identity credential that trusts FederatedIdentity: a token this
// fake issued to that identity, not expired, for the token-exchange
// audience (a token for any other audience is refused, as Entra refuses
// one that matches no federated credential's audiences).
func (e *Entra) federatedAssertionValid(assertion string) bool {
	claims, err := e.Verify(assertion)
	if err != nil {
		return false
	}
	return claims["appid"] == e.opts.FederatedIdentity && claims["aud"] == e.exchangeAudience()
}
