package fakes

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
)

const entraTestIdentity = "00000000-0000-0000-0000-0000000000b2"

// getManagedIdentityToken asks the fake's identity endpoint as MSAL does
// for the App Service source.
func getManagedIdentityToken(t *testing.T, e *Entra, header string, q url.Values) (int, map[string]any) {
	t.Helper()
	q.Set("api-version", "2019-08-01")
	req, _ := http.NewRequest(http.MethodGet, e.ManagedIdentityEndpoint()+"?"+q.Encode(), nil)
	req.Header.Set("X-IDENTITY-HEADER", header)
	resp, err := e.Client().Do(req)
	if err != nil {
		t.Fatalf("get managed identity token: %v", err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("decode managed identity response: %v", err)
	}
	return resp.StatusCode, body
}

func assertionForm(assertion string) url.Values {
	f := entraSecretForm("")
	f.Del("client_secret")
	f.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
	f.Set("client_assertion", assertion)
	return f
}

func TestEntraManagedIdentityAsFederatedCredential(t *testing.T) {
	t.Parallel()
	const govAudience = "api://AzureADTokenExchangeUSGov"
	e := NewEntra(EntraOptions{ClientID: entraTestApp, AcceptAssertion: true,
		FederatedIdentity: entraTestIdentity, TokenExchangeAudience: govAudience})
	defer e.Close()

	miToken := func(resource string) string {
		t.Helper()
		status, body := getManagedIdentityToken(t, e, ManagedIdentityHeader, url.Values{"resource": {resource}, "client_id": {entraTestIdentity}})
		if status != http.StatusOK || body["client_id"] != entraTestIdentity || body["expires_on"] == "" {
			t.Fatalf("managed identity token = %d %v; want 200 with client_id and expires_on", status, body)
		}
		return body["access_token"].(string)
	}
	good := miToken(govAudience)
	if claims, err := e.Verify(good); err != nil || claims["aud"] != govAudience || claims["appid"] != entraTestIdentity {
		t.Fatalf("Verify(managed identity token) = %v, %v; want aud %s, appid %s", claims, err, govAudience, entraTestIdentity)
	}
	tests := []struct {
		name       string
		give       string
		wantStatus int
	}{
		{"token for the exchange audience", good, http.StatusOK},
		{"token for the public audience", miToken("api://AzureADTokenExchange"), http.StatusUnauthorized},
		{"token for the bot framework", miToken("https://api.botframework.com"), http.StatusUnauthorized},
		{"tampered token", good[:len(good)-4] + "AAAA", http.StatusUnauthorized},
	}
	for _, tt := range tests {
		if status, body := postEntraToken(t, e, "tenant-1", assertionForm(tt.give)); status != tt.wantStatus {
			t.Errorf("token with %s = %d %v; want %d", tt.name, status, body["error"], tt.wantStatus)
		}
	}
	if n := e.ManagedIdentityRequests(); n != 3 {
		t.Errorf("ManagedIdentityRequests() = %d; want 3", n)
	}
}

func TestEntraManagedIdentityRefuses(t *testing.T) {
	t.Parallel()
	e := NewEntra(EntraOptions{FederatedIdentity: entraTestIdentity, SystemAssigned: true})
	defer e.Close()
	tests := []struct {
		name       string
		header     string
		give       url.Values
		wantStatus int
	}{
		{"system-assigned", ManagedIdentityHeader, url.Values{"resource": {"api://AzureADTokenExchange"}}, http.StatusOK},
		{"no header", "", url.Values{"resource": {"api://AzureADTokenExchange"}}, http.StatusUnauthorized},
		{"user-assigned on a system-assigned fake", ManagedIdentityHeader,
			url.Values{"resource": {"api://AzureADTokenExchange"}, "client_id": {entraTestIdentity}}, http.StatusBadRequest},
		{"no resource", ManagedIdentityHeader, url.Values{}, http.StatusBadRequest},
	}
	for _, tt := range tests {
		if status, body := getManagedIdentityToken(t, e, tt.header, tt.give); status != tt.wantStatus {
			t.Errorf("managed identity token (%s) = %d %v; want %d", tt.name, status, body, tt.wantStatus)
		}
	}
}

// TestEntraWorkloadIdentityExchange: the federated identity exchanges a
// workload identity token for a token for the exchange audience, which is
// then the app's assertion.
func TestEntraWorkloadIdentityExchange(t *testing.T) {
	t.Parallel()
	e := NewEntra(EntraOptions{ClientID: entraTestApp, AcceptAssertion: true, ExpectedAssertion: "sa.token.jwt",
		FederatedIdentity: entraTestIdentity})
	defer e.Close()

	hop := assertionForm("sa.token.jwt")
	hop.Set("client_id", entraTestIdentity)
	if status, body := postEntraToken(t, e, "tenant-1", hop); status != http.StatusBadRequest || body["error"] != "invalid_scope" {
		t.Errorf("exchange for the bot framework scope = %d %v; want 400 invalid_scope", status, body["error"])
	}
	hop.Set("scope", "api://AzureADTokenExchange/.default openid offline_access profile")
	status, body := postEntraToken(t, e, "tenant-1", hop)
	if status != http.StatusOK {
		t.Fatalf("exchange = %d %v; want 200", status, body)
	}
	exchanged := body["access_token"].(string)
	wrongHop := assertionForm(exchanged)
	wrongHop.Set("client_id", entraTestIdentity)
	wrongHop.Set("scope", "api://AzureADTokenExchange/.default")
	if status, _ := postEntraToken(t, e, "tenant-1", wrongHop); status != http.StatusUnauthorized {
		t.Errorf("exchange with its own token = %d; want 401: the hop takes the workload identity token only", status)
	}
	if status, body := postEntraToken(t, e, "tenant-1", assertionForm(exchanged)); status != http.StatusOK {
		t.Errorf("app token with the exchanged assertion = %d %v; want 200", status, body)
	}
}
