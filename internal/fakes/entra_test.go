package fakes

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

const (
	entraTestApp   = "00000000-0000-0000-0000-0000000000a1"
	entraTestScope = "https://api.botframework.com/.default"
)

func postEntraToken(t *testing.T, e *Entra, tenant string, form url.Values) (int, map[string]any) {
	t.Helper()
	resp, err := e.Client().PostForm(e.TokenEndpoint(tenant), form)
	if err != nil {
		t.Fatalf("post token: %v", err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("decode token response: %v", err)
	}
	return resp.StatusCode, body
}

func entraSecretForm(secret string) url.Values {
	return url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {entraTestApp},
		"client_secret": {secret},
		// MSAL always appends the OIDC scopes.
		"scope": {entraTestScope + " openid offline_access profile"},
	}
}

func TestEntraIssuesVerifiableTokens(t *testing.T) {
	t.Parallel()
	e := NewEntra(EntraOptions{ClientID: entraTestApp, ClientSecret: "s3cret", ExpiresIn: 10 * time.Minute})
	defer e.Close()

	var tokens []string
	for range 2 {
		status, body := postEntraToken(t, e, "tenant-1", entraSecretForm("s3cret"))
		if status != http.StatusOK {
			t.Fatalf("token status = %d (%v); want 200", status, body)
		}
		if body["token_type"] != "Bearer" || body["expires_in"] != float64(600) {
			t.Errorf("token body = %v; want Bearer, expires_in 600", body)
		}
		tokens = append(tokens, body["access_token"].(string))
	}
	claims, err := e.Verify(tokens[0])
	if err != nil {
		t.Fatalf("Verify = %v", err)
	}
	want := map[string]any{
		"aud":   "https://api.botframework.com",
		"iss":   "https://sts.windows.net/tenant-1/",
		"appid": entraTestApp,
		"azp":   entraTestApp,
		"tid":   "tenant-1",
		"ver":   "1.0",
	}
	for k, v := range want {
		if claims[k] != v {
			t.Errorf("claim %s = %v; want %v", k, claims[k], v)
		}
	}
	other, _ := e.Verify(tokens[1])
	if claims["jti"] == other["jti"] {
		t.Errorf("two tokens share jti %v", claims["jti"])
	}
	if got := e.Issued(); len(got) != 2 || got[0] != tokens[0] {
		t.Errorf("Issued() = %d tokens; want the 2 issued", len(got))
	}
	if e.Requests() != 2 {
		t.Errorf("Requests() = %d; want 2", e.Requests())
	}
	if _, err := e.Verify(tokens[0][:len(tokens[0])-4] + "AAAA"); err == nil {
		t.Error("Verify(tampered) = nil; want error")
	}
}

func TestEntraRefusesBadRequests(t *testing.T) {
	t.Parallel()
	e := NewEntra(EntraOptions{ClientID: entraTestApp, ClientSecret: "s3cret", ExpectedAssertion: "a.b.c", AcceptAssertion: true})
	defer e.Close()

	tests := []struct {
		name       string
		give       func(url.Values)
		wantStatus int
		wantError  string
	}{
		{"wrong secret", func(f url.Values) { f.Set("client_secret", "nope") }, 401, "invalid_client"},
		{"wrong client", func(f url.Values) { f.Set("client_id", "other") }, 400, "unauthorized_client"},
		{"wrong grant", func(f url.Values) { f.Set("grant_type", "password") }, 400, "unsupported_grant_type"},
		{"scope without .default", func(f url.Values) { f.Set("scope", "https://api.botframework.com") }, 400, "invalid_scope"},
		{"wrong assertion", func(f url.Values) {
			f.Del("client_secret")
			f.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
			f.Set("client_assertion", "x.y.z")
		}, 401, "invalid_client"},
		{"expected assertion", func(f url.Values) {
			f.Del("client_secret")
			f.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
			f.Set("client_assertion", "a.b.c")
		}, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			form := entraSecretForm("s3cret")
			tt.give(form)
			status, body := postEntraToken(t, e, "tenant-1", form)
			if status != tt.wantStatus || (tt.wantError != "" && body["error"] != tt.wantError) {
				t.Errorf("token(%s) = %d %v; want %d %q", tt.name, status, body["error"], tt.wantStatus, tt.wantError)
			}
		})
	}
}

func TestEntraFailNext(t *testing.T) {
	t.Parallel()
	e := NewEntra(EntraOptions{ClientSecret: "s3cret"})
	defer e.Close()
	e.FailNext(1, http.StatusServiceUnavailable)
	if status, _ := postEntraToken(t, e, "t", entraSecretForm("s3cret")); status != http.StatusServiceUnavailable {
		t.Errorf("first token status = %d; want 503", status)
	}
	if status, _ := postEntraToken(t, e, "t", entraSecretForm("s3cret")); status != http.StatusOK {
		t.Errorf("second token status = %d; want 200", status)
	}
}

func TestEntraMetadata(t *testing.T) {
	t.Parallel()
	e := NewEntra(EntraOptions{})
	defer e.Close()

	get := func(path string) map[string]any {
		t.Helper()
		resp, err := e.Client().Get(e.URL + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		var v map[string]any
		if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&v) != nil {
			t.Fatalf("GET %s = %d; want 200 JSON", path, resp.StatusCode)
		}
		return v
	}
	cfg := get("/tenant-1/v2.0/.well-known/openid-configuration")
	if cfg["token_endpoint"] != e.TokenEndpoint("tenant-1") || cfg["issuer"] != e.URL+"/tenant-1/v2.0" ||
		cfg["jwks_uri"] != e.URL+"/tenant-1/discovery/v2.0/keys" {
		t.Errorf("openid configuration = %v", cfg)
	}
	keys := get("/tenant-1/discovery/v2.0/keys")["keys"].([]any)
	if len(keys) != 1 || keys[0].(map[string]any)["kid"] != e.Signer().KID {
		t.Errorf("keys = %v; want the signer's key", keys)
	}
	disc := get("/common/discovery/instance?api-version=1.1&authorization_endpoint=" +
		url.QueryEscape(e.URL+"/tenant-1/oauth2/v2.0/authorize"))
	if !strings.HasSuffix(disc["tenant_discovery_endpoint"].(string), "/tenant-1/v2.0/.well-known/openid-configuration") {
		t.Errorf("instance discovery = %v", disc)
	}
	if !strings.Contains(string(e.CertificatePEM()), "BEGIN CERTIFICATE") {
		t.Error("CertificatePEM() has no certificate")
	}
}
