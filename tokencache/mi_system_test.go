package tokencache

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"
)

// TestSystemManagedIdentity runs the real MSAL managed identity client
// against a fake App Service identity endpoint: the system-assigned
// identity is asked for the token without naming a client id, where the
// user-assigned one names Options.ClientID.
//
// Not parallel: it sets process environment variables.
func TestSystemManagedIdentity(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Has("client_id") || q.Has("mi_res_id") || q.Has("object_id") || q.Get("resource") != "https://api.botframework.com" {
			t.Errorf("identity request = %s; want the system-assigned identity (no client_id) for the Bot Connector", r.URL)
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{
			"access_token": "system-mi-token",
			"expires_on":   strconv.FormatInt(time.Now().Add(24*time.Hour).Unix(), 10),
			"resource":     q.Get("resource"),
			"token_type":   "Bearer",
		})
	}))
	defer srv.Close()
	t.Setenv("IDENTITY_ENDPOINT", srv.URL)
	t.Setenv("IDENTITY_HEADER", "identity-header")

	s, err := New(Options{ClientID: testApp, Scope: testScope, Credential: SystemManagedIdentity()})
	if err != nil {
		t.Fatalf("New(system-assigned managed identity) = %v", err)
	}
	start(t, s)
	if tok, err := s.Token(context.Background()); err != nil || tok != "system-mi-token" {
		t.Fatalf("Token() = %q, %v; want system-mi-token", tok, err)
	}
}
