package tokencache

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/botsidecar/sidecar/internal/fakes"
	"github.com/botsidecar/sidecar/internal/testkit"
)

// These tests run the real MSAL client against the fake Entra, the way the
// sidecar runs it against login.microsoftonline.com.

const (
	testTenant = "11111111-2222-3333-4444-555555555555"
	testScope  = "https://api.botframework.com/.default"
	testSecret = "fake-secret~value.1234567890"
)

func newEntra(t *testing.T, opts fakes.EntraOptions) *fakes.Entra {
	t.Helper()
	opts.ClientID = testApp
	opts.Scope = testScope
	e := fakes.NewEntra(opts)
	t.Cleanup(e.Close)
	return e
}

func entraOptions(e *fakes.Entra, cred Credential) Options {
	return Options{
		AuthorityHost: e.URL,
		Tenant:        testTenant,
		ClientID:      testApp,
		Scope:         testScope,
		Credential:    cred,
		HTTPClient:    e.Client(),
	}
}

// realClock returns a fake clock that starts at the real time, for tests
// whose tokens come from the fake Entra (which issues them on the real
// clock) and that need to step past forcedRefreshInterval.
func realClock() *testkit.Clock {
	c := testkit.NewClock()
	c.Set(time.Now())
	return c
}

// mustNew returns a Source for opts whose Run runs until the test ends.
func mustNew(t *testing.T, opts Options) *Source {
	t.Helper()
	s, err := New(opts)
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	start(t, s)
	return s
}

func get(t *testing.T, s *Source) string {
	t.Helper()
	v, err := s.Token(context.Background())
	if err != nil {
		t.Fatalf("Token() = %v", err)
	}
	return v
}

func TestMSALSequentialCallsOneRequest(t *testing.T) {
	t.Parallel()
	e := newEntra(t, fakes.EntraOptions{ClientSecret: testSecret})
	s := mustNew(t, entraOptions(e, ClientSecret(testSecret)))

	first := get(t, s)
	for range 49 {
		if got := get(t, s); got != first {
			t.Fatal("Token() changed on a fresh cache")
		}
	}
	if n := e.Requests(); n != 1 {
		t.Errorf("token requests = %d; want 1", n)
	}
	claims, err := e.Verify(first)
	if err != nil {
		t.Fatalf("Verify(token) = %v", err)
	}
	if claims["aud"] != "https://api.botframework.com" || claims["appid"] != testApp || claims["tid"] != testTenant {
		t.Errorf("claims = %v; want aud https://api.botframework.com, appid %s, tid %s", claims, testApp, testTenant)
	}
	if d := time.Until(s.ExpiresOn()); d < 59*time.Minute || d > time.Hour {
		t.Errorf("ExpiresOn() in %v; want about an hour", d)
	}
}

func TestMSALConcurrentColdCallsOneRequest(t *testing.T) {
	t.Parallel()
	e := newEntra(t, fakes.EntraOptions{ClientSecret: testSecret})
	e.SetDelay(100 * time.Millisecond) // let the callers pile up
	s := mustNew(t, entraOptions(e, ClientSecret(testSecret)))

	var wg sync.WaitGroup
	got := make([]string, 40)
	for i := range got {
		wg.Go(func() { got[i] = get(t, s) })
	}
	wg.Wait()
	for i, v := range got {
		if v != got[0] {
			t.Fatalf("caller %d got a different token", i)
		}
	}
	if n := e.Requests(); n != 1 {
		t.Errorf("token requests = %d; want 1", n)
	}
}

func TestMSALWrongSecret(t *testing.T) {
	t.Parallel()
	e := newEntra(t, fakes.EntraOptions{ClientSecret: testSecret})
	const wrong = "wrong-secret~do-not-print"
	s := mustNew(t, entraOptions(e, ClientSecret(wrong)))

	_, err := s.Token(context.Background())
	if err == nil {
		t.Fatal("Token() with a wrong secret = nil error")
	}
	msg := err.Error()
	if !strings.Contains(msg, "invalid_client") || !strings.Contains(msg, testApp) || !errors.Is(err, ErrNoToken) {
		t.Errorf("Token() error = %q; want ErrNoToken naming %s and invalid_client", msg, testApp)
	}
	if strings.Contains(msg, wrong) {
		t.Errorf("Token() error contains the secret: %q", msg)
	}
	if s.Ready() || s.LastError() == nil {
		t.Errorf("Ready() = %v, LastError() = %v; want false and the error", s.Ready(), s.LastError())
	}
}

func TestMSALEntraOutage(t *testing.T) {
	t.Parallel()
	e := newEntra(t, fakes.EntraOptions{ClientSecret: testSecret})
	e.FailNext(1, http.StatusServiceUnavailable)
	opts := entraOptions(e, ClientSecret(testSecret))
	// Frozen, so that Run's own retry after the back-off cannot come
	// first, however slow the machine; at the real time, because MSAL
	// stamps the token's expiry from the real clock.
	clock := testkit.NewClock()
	clock.Set(time.Now())
	opts.Now = clock.Now
	s := mustNew(t, opts)

	for range 2 { // the second call is answered from the failure, no request
		if _, err := s.Token(context.Background()); err == nil || !strings.Contains(err.Error(), "503") {
			t.Errorf("Token() during an outage = %v; want an error with the 503", err)
		}
	}
	// After failureHold a caller gets the last error at once and asks Run
	// for a fresh attempt, which Entra, back again, answers.
	clock.Advance(failureHold)
	testkit.WaitFor(t, 30*time.Second, func() bool {
		_, err := s.Token(context.Background())
		return err == nil
	}, "a token once Entra is back")
	if n := e.Requests(); n != 2 {
		t.Errorf("token requests = %d; want 2", n)
	}
}

// writeCertPEM writes a self-signed certificate and its key in one PEM file.
func writeCertPEM(t *testing.T) (string, *x509.Certificate) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "bot"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(key)
	data := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})...)
	path := filepath.Join(t.TempDir(), "bot.pem")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path, cert
}

func TestMSALCertificate(t *testing.T) {
	t.Parallel()
	path, cert := writeCertPEM(t)
	e := newEntra(t, fakes.EntraOptions{AcceptAssertion: true, ClientCertificate: cert})
	s := mustNew(t, entraOptions(e, CertificateFile(path)))
	if _, err := e.Verify(get(t, s)); err != nil {
		t.Errorf("Verify(token) = %v", err)
	}

	// A certificate Entra does not know is refused.
	otherPath, _ := writeCertPEM(t)
	other := mustNew(t, entraOptions(e, CertificateFile(otherPath)))
	if _, err := other.Token(context.Background()); err == nil || !strings.Contains(err.Error(), "invalid_client") {
		t.Errorf("Token() with an unknown certificate = %v; want invalid_client", err)
	}
}

func TestMSALBadCertificateFile(t *testing.T) {
	t.Parallel()
	const content = "not a pem at all, but maybe a secret"
	path := filepath.Join(t.TempDir(), "bad.pem")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := New(entraOptions(newEntra(t, fakes.EntraOptions{}), CertificateFile(path)))
	if err == nil || !strings.Contains(err.Error(), path) || strings.Contains(err.Error(), content) {
		t.Errorf("New(bad cert) error = %v; want one naming %s without its content", err, path)
	}
}

func TestMSALAssertionFileReread(t *testing.T) {
	t.Parallel()
	e := newEntra(t, fakes.EntraOptions{AcceptAssertion: true, AcceptAnyAssertion: true})
	issuer := fakes.MustSigner("k8s")
	path := filepath.Join(t.TempDir(), "azure-identity-token")
	write := func(sub string) string {
		a := issuer.Sign(map[string]any{"sub": sub, "aud": "api://AzureADTokenExchange"})
		if err := os.WriteFile(path, []byte(a), 0o600); err != nil {
			t.Fatal(err)
		}
		return a
	}
	first := write("system:serviceaccount:bots:one")
	clock := realClock()
	opts := entraOptions(e, AssertionFile(path))
	opts.Now = clock.Now
	s := mustNew(t, opts)
	tok := get(t, s)

	second := write("system:serviceaccount:bots:two") // the kubelet rotated it
	s.Invalidate(tok)
	get(t, s)
	if got := e.Assertions(); len(got) != 2 || got[0] != first || got[1] != second {
		t.Errorf("assertions received = %d; want the first, then the rotated file content", len(got))
	}

	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	clock.Advance(forcedRefreshInterval)
	s.Invalidate(get(t, s))
	if _, err := s.Token(context.Background()); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("Token() with an empty assertion file = %v; want an error naming %s", err, path)
	}
}

func TestMSALSecretFileRotation(t *testing.T) {
	t.Parallel()
	e := newEntra(t, fakes.EntraOptions{ClientSecret: "secret-one"})
	path := filepath.Join(t.TempDir(), "client-secret")
	if err := os.WriteFile(path, []byte("secret-one\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	clock := realClock()
	opts := entraOptions(e, ClientSecretFile(path))
	opts.Now = clock.Now
	s := mustNew(t, opts)
	tok := get(t, s)

	e.SetClientSecret("secret-two")
	if err := os.WriteFile(path, []byte("secret-two"), 0o600); err != nil {
		t.Fatal(err)
	}
	s.Invalidate(tok)
	get(t, s)

	if err := os.WriteFile(path, []byte(" \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	clock.Advance(forcedRefreshInterval)
	s.Invalidate(get(t, s))
	if _, err := s.Token(context.Background()); err == nil || !strings.Contains(err.Error(), "is empty") {
		t.Errorf("Token() with an empty secret file = %v; want an error saying it is empty", err)
	}
}

func TestMSALInvalidate(t *testing.T) {
	t.Parallel()
	e := newEntra(t, fakes.EntraOptions{ClientSecret: testSecret})
	clock := realClock()
	opts := entraOptions(e, ClientSecret(testSecret))
	opts.Now = clock.Now
	s := mustNew(t, opts)

	stale := get(t, s)
	s.Invalidate(stale)
	fresh := get(t, s)
	a, _ := e.Verify(stale)
	b, _ := e.Verify(fresh)
	if fresh == stale || a["jti"] == b["jti"] {
		t.Fatal("Token() after Invalidate returned the rejected token")
	}
	if n := e.Requests(); n != 2 {
		t.Fatalf("token requests = %d; want 2", n)
	}

	// Many requests get a 401 for the same token at once: one new token.
	clock.Advance(forcedRefreshInterval)
	var wg sync.WaitGroup
	for range 30 {
		wg.Go(func() {
			s.Invalidate(fresh)
			if get(t, s) == fresh {
				t.Error("Token() returned the invalidated token")
			}
		})
	}
	wg.Wait()
	if n := e.Requests(); n != 3 {
		t.Errorf("token requests = %d; want 3", n)
	}
}

// TestMSALCacheBypassed pins the MSAL behaviour noCache relies on: with it,
// every AcquireTokenByCredential reaches the token endpoint; without it (the
// control), MSAL answers the second call from its cache.
func TestMSALCacheBypassed(t *testing.T) {
	t.Parallel()
	e := newEntra(t, fakes.EntraOptions{ClientSecret: testSecret})
	opts := entraOptions(e, ClientSecret(testSecret))

	acq, err := opts.Credential.newAcquirer(opts)
	if err != nil {
		t.Fatal(err)
	}
	v1, _, err1 := acq.acquire(context.Background())
	v2, _, err2 := acq.acquire(context.Background())
	if err1 != nil || err2 != nil || v1 == v2 || e.Requests() != 2 {
		t.Fatalf("two acquisitions: errors %v, %v, same token %v, requests %d; want two new tokens", err1, err2, v1 == v2, e.Requests())
	}

	cred, _ := confidential.NewCredFromSecret(testSecret)
	plain, err := confidential.New(e.Authority(testTenant), testApp, cred,
		confidential.WithInstanceDiscovery(false), confidential.WithHTTPClient(e.Client()))
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := plain.AcquireTokenByCredential(context.Background(), []string{testScope}); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.Requests(); n != 3 {
		t.Errorf("requests with MSAL's own cache = %d; want 3 (the control must hit MSAL's cache)", n)
	}
}

// TestMSALLogsNoSecrets runs the refresh loop through a failure and a
// success and checks that nothing logged contains a token or the secret.
func TestMSALLogsNoSecrets(t *testing.T) {
	t.Parallel()
	e := newEntra(t, fakes.EntraOptions{ClientSecret: testSecret})
	e.FailNext(1, http.StatusServiceUnavailable)
	core, logs := observer.New(zapcore.DebugLevel)
	opts := entraOptions(e, ClientSecret(testSecret))
	opts.Logger = zap.New(core)
	s, err := New(opts)
	if err != nil {
		t.Fatalf("New() = %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()
	testkit.WaitFor(t, 10*time.Second, s.Ready, "Run's token after the failed first acquisition")
	s.Invalidate(get(t, s))
	get(t, s)
	cancel()
	<-done

	if logs.FilterMessage(msgAcquireFailed).Len() != 1 || logs.FilterMessage(msgAcquired).Len() == 0 {
		t.Fatalf("log lines = %v; want one failure and a success", logs.AllUntimed())
	}
	secrets := append(e.Issued(), testSecret)
	for _, entry := range logs.AllUntimed() {
		line := fmt.Sprint(entry.Message, entry.ContextMap())
		for _, secret := range secrets {
			if strings.Contains(line, secret) {
				t.Errorf("log line %q contains a token or the secret", entry.Message)
			}
		}
	}
}

// TestMSALDoesNotFollowRedirect: an authority that answers the token request
// with a 307 (or 308) to another host must not get the client secret posted
// there. The acquisition fails instead, and the other host sees nothing.
func TestMSALDoesNotFollowRedirect(t *testing.T) {
	t.Parallel()
	for _, status := range []int{http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			t.Parallel()
			var stolen atomic.Int32
			thief := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				stolen.Add(1)
				http.Error(w, "thanks", http.StatusBadRequest)
			}))
			t.Cleanup(thief.Close)

			e := newEntra(t, fakes.EntraOptions{ClientSecret: testSecret})
			// The authority's token endpoint redirects; everything else
			// (discovery, metadata) is the fake Entra's. httptest servers
			// share one certificate, so e's client trusts the thief too.
			client := e.Client()
			client.Transport = redirectingTransport{
				next:     client.Transport,
				path:     "/" + testTenant + "/oauth2/v2.0/token",
				status:   status,
				location: thief.URL + "/steal",
			}
			opts := entraOptions(e, ClientSecret(testSecret))
			opts.HTTPClient = client
			s, err := New(opts)
			if err != nil {
				t.Fatalf("New() = %v", err)
			}
			if _, _, err := s.Acquire(context.Background()); !errors.Is(err, ErrNoToken) {
				t.Errorf("Acquire() with a redirecting authority = %v; want ErrNoToken", err)
			}
			if n := stolen.Load(); n != 0 {
				t.Errorf("the redirect target received %d requests; want 0 (it would hold the client secret)", n)
			}
		})
	}
}

// redirectingTransport answers POSTs to path with a redirect to location
// and passes every other request on.
type redirectingTransport struct {
	next     http.RoundTripper
	path     string
	status   int
	location string
}

func (rt redirectingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method != http.MethodPost || r.URL.Path != rt.path {
		return rt.next.RoundTrip(r)
	}
	if r.Body != nil {
		_ = r.Body.Close()
	}
	return &http.Response{
		StatusCode: rt.status,
		Status:     http.StatusText(rt.status),
		Proto:      "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:  http.Header{"Location": {rt.location}},
		Body:    http.NoBody,
		Request: r,
	}, nil
}

// TestNoRedirectsWithoutAClient: production passes no HTTP client; the one
// New builds for MSAL must refuse redirects too, and a caller's client is
// copied, not changed.
func TestNoRedirectsWithoutAClient(t *testing.T) {
	t.Parallel()
	given := &http.Client{Timeout: time.Minute}
	for _, c := range []*http.Client{nil, given} {
		got := noRedirects(c)
		if got == c || got.CheckRedirect == nil || !errors.Is(got.CheckRedirect(nil, nil), http.ErrUseLastResponse) {
			t.Errorf("noRedirects(%v) does not refuse redirects on a copy", c)
		}
	}
	if given.CheckRedirect != nil || noRedirects(given).Timeout != time.Minute {
		t.Error("noRedirects changed the caller's client or lost its settings")
	}
}
