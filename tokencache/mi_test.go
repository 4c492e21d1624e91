package tokencache

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// TestManagedIdentityBypassesMSALCache runs the real MSAL managed identity
// client against a fake App Service identity endpoint (MSAL picks the source
// from IDENTITY_ENDPOINT and IDENTITY_HEADER). It pins what bypassClaims
// relies on: each acquisition, including the one after Invalidate, reaches
// the endpoint instead of MSAL's process-wide cache.
//
// Not parallel: it sets process environment variables.
func TestManagedIdentityBypassesMSALCache(t *testing.T) {
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := requests.Add(1)
		q := r.URL.Query()
		if r.Header.Get("X-IDENTITY-HEADER") != "identity-header" || q.Get("client_id") != testApp ||
			q.Get("resource") != "https://api.botframework.com" {
			t.Errorf("identity request = %s %v; want the header, client_id %s and resource without /.default", r.URL, r.Header, testApp)
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{
			"access_token": fmt.Sprintf("mi-token-%d", n),
			"expires_on":   strconv.FormatInt(time.Now().Add(24*time.Hour).Unix(), 10),
			"resource":     q.Get("resource"),
			"token_type":   "Bearer",
			"client_id":    testApp,
		})
	}))
	defer srv.Close()
	t.Setenv("IDENTITY_ENDPOINT", srv.URL)
	t.Setenv("IDENTITY_HEADER", "identity-header")

	s, err := New(Options{ClientID: testApp, Scope: testScope, Credential: ManagedIdentity()})
	if err != nil {
		t.Fatalf("New(managed identity) = %v", err)
	}
	start(t, s)
	first, err := s.Token(context.Background())
	if err != nil || first != "mi-token-1" {
		t.Fatalf("Token() = %q, %v; want mi-token-1", first, err)
	}
	if d := time.Until(s.ExpiresOn()); d < 23*time.Hour {
		t.Errorf("ExpiresOn() in %v; want about a day", d)
	}
	s.Invalidate(first)
	if second, err := s.Token(context.Background()); err != nil || second != "mi-token-2" {
		t.Errorf("Token() after Invalidate = %q, %v; want mi-token-2 from the endpoint", second, err)
	}
	if n := requests.Load(); n != 2 {
		t.Errorf("identity endpoint requests = %d; want 2", n)
	}
}
