package tokencache

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/botsidecar/sidecar/internal/fakes"
)

// These tests run MSAL's managed identity and confidential clients against
// the fake Entra, whose App Service style identity endpoint MSAL finds
// through IDENTITY_ENDPOINT and IDENTITY_HEADER. Not parallel: they set
// process environment variables, as MSAL reads its managed identity source
// from there.

const testIdentity = "00000000-0000-0000-0000-0000000000b2"

// The token-exchange audience of each cloud.
var exchangeAudiences = map[string]string{
	"public": "api://AzureADTokenExchange",
	"usgov":  "api://AzureADTokenExchangeUSGov",
	"china":  "api://AzureADTokenExchangeChina",
}

func setManagedIdentityEnv(t *testing.T, e *fakes.Entra) {
	t.Helper()
	for k, v := range e.ManagedIdentityEnv() {
		t.Setenv(k, v)
	}
}

// acquireN makes n acquisitions, each of which reaches the token endpoint.
func acquireN(t *testing.T, s *Source, n int) {
	t.Helper()
	for i := range n {
		if _, _, err := s.Acquire(context.Background()); err != nil {
			t.Fatalf("Acquire() #%d = %v", i+1, err)
		}
	}
}

func TestFederatedManagedIdentityPerCloud(t *testing.T) {
	for cloud, audience := range exchangeAudiences {
		t.Run(cloud, func(t *testing.T) {
			e := newEntra(t, fakes.EntraOptions{AcceptAssertion: true, FederatedIdentity: testIdentity, TokenExchangeAudience: audience})
			setManagedIdentityEnv(t, e)
			clock := realClock()
			opts := entraOptions(e, FederatedManagedIdentity(testIdentity, audience))
			opts.Now = clock.Now
			s, err := New(opts)
			if err != nil {
				t.Fatalf("New() = %v", err)
			}

			acquireN(t, s, 3)
			if n := e.ManagedIdentityRequests(); n != 1 {
				t.Errorf("managed identity requests for 3 acquisitions = %d; want 1", n)
			}
			got := e.Assertions()
			if len(got) != 3 || got[0] != got[1] || got[1] != got[2] {
				t.Fatalf("assertions = %d; want the same one 3 times", len(got))
			}
			claims, err := e.Verify(got[0])
			if err != nil || claims["aud"] != audience || claims["appid"] != testIdentity {
				t.Errorf("assertion claims = %v, %v; want aud %s, appid %s", claims, err, audience, testIdentity)
			}

			// The fake's tokens live an hour; within 5 minutes of the
			// end the assertion is fetched anew.
			clock.Advance(56 * time.Minute)
			acquireN(t, s, 1)
			if n := e.ManagedIdentityRequests(); n != 2 {
				t.Errorf("managed identity requests after 56 minutes = %d; want 2", n)
			}
		})
	}
}

func TestFederatedManagedIdentityThroughSource(t *testing.T) {
	e := newEntra(t, fakes.EntraOptions{AcceptAssertion: true, FederatedIdentity: testIdentity})
	setManagedIdentityEnv(t, e)
	clock := realClock()
	opts := entraOptions(e, FederatedManagedIdentity(testIdentity, exchangeAudiences["public"]))
	opts.Now = clock.Now
	s := mustNew(t, opts)
	tok := get(t, s)
	clock.Advance(forcedRefreshInterval)
	s.Invalidate(tok)
	if again := get(t, s); again == tok {
		t.Error("Token() after Invalidate = the dropped token; want a new one")
	}
	if bot, mi := e.Requests(), e.ManagedIdentityRequests(); bot != 2 || mi != 1 {
		t.Errorf("token requests = %d, managed identity requests = %d; want 2 and 1", bot, mi)
	}
}

func TestFederatedManagedIdentitySystemAssigned(t *testing.T) {
	e := newEntra(t, fakes.EntraOptions{AcceptAssertion: true, FederatedIdentity: testIdentity, SystemAssigned: true})
	setManagedIdentityEnv(t, e)
	s, err := New(entraOptions(e, FederatedManagedIdentity(SystemAssignedIdentity, exchangeAudiences["public"])))
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	acquireN(t, s, 2)
	if n := e.ManagedIdentityRequests(); n != 1 {
		t.Errorf("managed identity requests = %d; want 1", n)
	}
}

// TestFederatedManagedIdentityWrongAudience: the fake's federated
// credential names the US Gov audience, the sidecar asks for the public one.
// Entra refuses the assertion, and the refused assertion is not reused.
func TestFederatedManagedIdentityWrongAudience(t *testing.T) {
	e := newEntra(t, fakes.EntraOptions{AcceptAssertion: true, FederatedIdentity: testIdentity,
		TokenExchangeAudience: exchangeAudiences["usgov"]})
	setManagedIdentityEnv(t, e)
	s, err := New(entraOptions(e, FederatedManagedIdentity(testIdentity, exchangeAudiences["public"])))
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	for range 2 {
		if _, _, err := s.Acquire(context.Background()); !errors.Is(err, ErrNoToken) {
			t.Fatalf("Acquire() with the wrong audience = %v; want ErrNoToken", err)
		}
	}
	if n := e.ManagedIdentityRequests(); n != 2 {
		t.Errorf("managed identity requests = %d; want 2: a refused assertion is fetched anew", n)
	}
	if len(e.Issued()) != 2 {
		t.Errorf("issued = %d tokens; want only the 2 managed identity tokens", len(e.Issued()))
	}
}

func TestFederatedManagedIdentityEndpointDown(t *testing.T) {
	e := newEntra(t, fakes.EntraOptions{AcceptAssertion: true, FederatedIdentity: testIdentity})
	setManagedIdentityEnv(t, e)
	t.Setenv("IDENTITY_HEADER", "wrong")
	s, err := New(entraOptions(e, FederatedManagedIdentity(testIdentity, exchangeAudiences["public"])))
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	if _, _, err := s.Acquire(context.Background()); !errors.Is(err, ErrNoToken) {
		t.Errorf("Acquire() with a refusing identity endpoint = %v; want ErrNoToken", err)
	}
	if n := e.Requests(); n != 0 {
		t.Errorf("token requests = %d; want 0: without an assertion MSAL does not call Entra", n)
	}
}

func TestFederatedWorkloadIdentity(t *testing.T) {
	t.Parallel()
	e := newEntra(t, fakes.EntraOptions{AcceptAssertion: true, ExpectedAssertion: "sa.token.jwt", FederatedIdentity: testIdentity})
	path := filepath.Join(t.TempDir(), "azure-identity-token")
	if err := os.WriteFile(path, []byte("sa.token.jwt\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	w := WorkloadIdentity{TokenFile: path, ClientID: testIdentity, Tenant: testTenant}
	s, err := New(entraOptions(e, FederatedWorkloadIdentity(w, exchangeAudiences["public"])))
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	acquireN(t, s, 3)
	got := e.Assertions()
	if len(got) != 4 || got[0] != "sa.token.jwt" || got[1] != got[3] {
		t.Fatalf("assertions = %d; want the file's token once, then the exchanged token 3 times", len(got))
	}
	if claims, err := e.Verify(got[1]); err != nil || claims["aud"] != exchangeAudiences["public"] || claims["appid"] != testIdentity {
		t.Errorf("exchanged assertion = %v, %v; want a token of %s for the exchange audience", claims, err, testIdentity)
	}
}

func TestFederatedWorkloadIdentityValidates(t *testing.T) {
	t.Parallel()
	_, err := New(Options{AuthorityHost: "https://login.example", Tenant: testTenant, ClientID: testApp, Scope: testScope,
		Credential: FederatedWorkloadIdentity(WorkloadIdentity{TokenFile: "/f"}, exchangeAudiences["public"])})
	if err == nil {
		t.Error("New(workload identity without client id and tenant) = nil; want an error")
	}
}
