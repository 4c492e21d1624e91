package authsidecar

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

const (
	testScope  = "https://api.botframework.com/.default"
	testTenant = "0e2e0e2e-1111-4222-8333-444455556666"
	// The tokens look like JWTs so that a leak would be recognisable.
	primaryToken = "eyJhbGciOiJSUzI1NiJ9.eyJhcHBpZCI6InByaW1hcnkifQ.primary-SIGNATURE"
	otherToken   = "eyJhbGciOiJSUzI1NiJ9.eyJhcHBpZCI6Im90aGVyIn0.other-SIGNATURE"
)

// fakeTokens hands out one token and counts the calls.
type fakeTokens struct {
	token string
	err   error
	calls atomic.Int32
}

func (f *fakeTokens) Token(context.Context) (string, error) {
	f.calls.Add(1)
	return f.token, f.err
}

type harness struct {
	t       *testing.T
	srv     *httptest.Server
	primary *fakeTokens
	other   *fakeTokens
	logs    *observer.ObservedLogs
}

// newHarness serves a handler with two identities, "default" and
// "Billing", on a real loopback socket, logging everything at debug.
func newHarness(t *testing.T, primaryErr error) *harness {
	t.Helper()
	core, logs := observer.New(zapcore.DebugLevel)
	h := &harness{t: t, primary: &fakeTokens{token: primaryToken, err: primaryErr}, other: &fakeTokens{token: otherToken}, logs: logs}
	handler, err := New(Options{
		Identities: map[string]Identity{
			"default": {Tokens: h.primary, Scope: testScope, Tenant: testTenant},
			"Billing": {Tokens: h.other, Scope: testScope},
		},
		Signer: testSigner(t, nil),
		Logger: zap.New(core),
	})
	if err != nil {
		t.Fatal(err)
	}
	h.srv = newServer(t, handler)
	t.Cleanup(h.checkNoTokenLogged)
	return h
}

// newServer serves h on a loopback socket until the test ends.
func newServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// get sends GET path (with query) with the given headers.
func (h *harness) get(path string, header http.Header) (*http.Response, []byte) {
	h.t.Helper()
	req, err := http.NewRequest(http.MethodGet, h.srv.URL+path, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return resp, body
}

// checkNoTokenLogged fails the test if any log line, message or field,
// holds a token or its signature.
func (h *harness) checkNoTokenLogged() {
	for _, e := range h.logs.All() {
		line := e.Message
		for k, v := range e.ContextMap() {
			line += " " + k + "=" + toString(v)
		}
		for _, secret := range []string{primaryToken, otherToken, "SIGNATURE"} {
			if strings.Contains(line, secret) {
				h.t.Errorf("a token appears in a log line: %q", line)
			}
		}
	}
	if h.logs.Len() == 0 && h.primary.calls.Load()+h.other.calls.Load() > 0 {
		h.t.Error("tokens were served and nothing was logged; the token check proves nothing")
	}
}

func toString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// sdkQuery is what the Agents SDK's sidecar provider sends for a
// connector token: the resource as the scope, and an app token.
const sdkQuery = "?optionsOverride.Scopes=https%3A%2F%2Fapi.botframework.com&optionsOverride.RequestAppToken=true"

func TestTokenServed(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	for _, path := range []string{
		"/AuthorizationHeaderUnauthenticated/default" + sdkQuery,
		"/AuthorizationHeaderUnauthenticated/default",
		"/AuthorizationHeaderUnauthenticated/DEFAULT?optionsOverride.Scopes=" + testScope,
		"/AuthorizationHeaderUnauthenticated/default?optionsOverride.AcquireTokenOptions.Tenant=" + strings.ToUpper(testTenant),
		"/AuthorizationHeaderUnauthenticated/default?optionsOverride.AcquireTokenOptions.ForceRefresh=true",
	} {
		resp, body := h.get(path, nil)
		var got struct{ AuthorizationHeader string }
		if err := json.Unmarshal(body, &got); err != nil || resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s = %d %s; want 200 and JSON", path, resp.StatusCode, body)
			continue
		}
		if got.AuthorizationHeader != "Bearer "+primaryToken {
			t.Errorf("GET %s: authorizationHeader = %q; want the primary identity's token", path, got.AuthorizationHeader)
		}
		if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("GET %s: Cache-Control = %q; want no-store", path, cc)
		}
	}
}

func TestTokenPerServiceName(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	resp, body := h.get("/AuthorizationHeaderUnauthenticated/billing"+sdkQuery, nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), otherToken) {
		t.Errorf("GET billing = %d %s; want 200 with the Billing identity's token", resp.StatusCode, body)
	}
	if n := h.primary.calls.Load(); n != 0 {
		t.Errorf("the primary identity was asked %d times for a Billing token", n)
	}

	resp, body = h.get("/AuthorizationHeaderUnauthenticated/payroll"+sdkQuery, nil)
	p := decodeProblem(t, resp, body)
	if resp.StatusCode != http.StatusNotFound || p.Status != 404 || p.Title != "Service not configured" || !strings.Contains(p.Detail, `"payroll"`) {
		t.Errorf("GET payroll = %d %+v; want 404 Service not configured naming it", resp.StatusCode, p)
	}
}

func TestTokenRequestsRefused(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		query     string
		wantTitle string
	}{
		{"agentic instance", "?AgentIdentity=6f1b2c3d-0000-4000-8000-000000000001&optionsOverride.RequestAppToken=true", "Agentic identities not supported"},
		{"agentic user", "?AgentIdentity=6f1b2c3d-0000-4000-8000-000000000001&AgentUsername=ada@contoso.com", "Agentic identities not supported"},
		{"agentic user id", "?AgentIdentity=a&AgentUserId=6f1b2c3d-0000-4000-8000-000000000002", "Agentic identities not supported"},
		{"graph scope", "?optionsOverride.Scopes=https%3A%2F%2Fgraph.microsoft.com%2F.default", "Scope not served"},
		{"one scope of two", "?optionsOverride.Scopes=https%3A%2F%2Fapi.botframework.com&optionsOverride.Scopes=User.Read", "Scope not served"},
		{"scope with a suffix", "?optionsOverride.Scopes=https%3A%2F%2Fapi.botframework.com.attacker.example", "Scope not served"},
		{"other tenant", "?optionsOverride.AcquireTokenOptions.Tenant=common", "Tenant not served"},
		{"delegated", "?optionsOverride.RequestAppToken=false", "App tokens only"},
		{"proof of possession", "?optionsOverride.AcquireTokenOptions.PopPublicKey=AAAA", "Proof-of-possession not supported"},
	}
	h := newHarness(t, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := h.get("/AuthorizationHeaderUnauthenticated/default"+tt.query, nil)
			p := decodeProblem(t, resp, body)
			if resp.StatusCode != http.StatusBadRequest || p.Title != tt.wantTitle {
				t.Errorf("GET %s = %d %+v; want 400 %q", tt.query, resp.StatusCode, p, tt.wantTitle)
			}
		})
	}
	if n := h.primary.calls.Load(); n != 0 {
		t.Errorf("the token source was asked %d times for refused requests; want 0", n)
	}
}

func TestTokenUnavailable(t *testing.T) {
	t.Parallel()
	h := newHarness(t, errors.New("acquire token for 7a1c2e2e: AADSTS7000215: invalid client secret"))
	resp, body := h.get("/AuthorizationHeaderUnauthenticated/default"+sdkQuery, nil)
	p := decodeProblem(t, resp, body)
	// A 5xx, which the SDK retries.
	if resp.StatusCode != http.StatusServiceUnavailable || p.Title != "Token unavailable" {
		t.Errorf("GET = %d %+v; want 503 Token unavailable", resp.StatusCode, p)
	}
	// The cause is for the log, not for the caller.
	if strings.Contains(string(body), "AADSTS") {
		t.Errorf("the token error reached the caller: %s", body)
	}
	if h.logs.FilterMessage("auth sidecar token refused").FilterFieldKey("error").Len() != 1 {
		t.Errorf("the token error was not logged: %v", h.logs.All())
	}
}

// Everything on the listener is refused to a browser and to a name of
// someone else's that resolves to loopback (DNS rebinding), before the
// token source is asked.
func TestBrowsersAndForeignHostsRefused(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	for _, tt := range []struct {
		name   string
		header http.Header
	}{
		{"origin", http.Header{"Origin": {"https://attacker.example"}}},
		{"cross-site fetch", http.Header{"Sec-Fetch-Site": {"cross-site"}}},
	} {
		resp, body := h.get("/AuthorizationHeaderUnauthenticated/default"+sdkQuery, tt.header)
		if p := decodeProblem(t, resp, body); resp.StatusCode != http.StatusForbidden || p.Title != "Not a loopback caller" {
			t.Errorf("%s: GET = %d %+v; want 403", tt.name, resp.StatusCode, p)
		}
	}
	req, _ := http.NewRequest(http.MethodGet, h.srv.URL+"/AuthorizationHeaderUnauthenticated/default", nil)
	req.Host = "rebind.attacker.example:5178"
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || strings.Contains(string(body), primaryToken) {
		t.Errorf("foreign Host: GET = %d %s; want 403", resp.StatusCode, body)
	}
	if n := h.primary.calls.Load(); n != 0 {
		t.Errorf("the token source was asked %d times for refused requests; want 0", n)
	}
	if h.logs.FilterMessage("auth sidecar request refused").Len() != 3 {
		t.Errorf("refusals logged: %v; want 3 warnings", h.logs.All())
	}
}

// A connection that does not come from loopback (a listener bound wider
// than it should be, or a proxy in the pod) never gets a token.
func TestNonLoopbackPeerRefused(t *testing.T) {
	t.Parallel()
	tokens := &fakeTokens{token: primaryToken}
	handler, err := New(Options{Identities: map[string]Identity{"default": {Tokens: tokens, Scope: testScope}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name   string
		local  net.Addr
		remote string
	}{
		{"remote peer", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5178}, "10.244.0.8:41234"},
		{"pod address", &net.TCPAddr{IP: net.IPv4(10, 244, 0, 7), Port: 5178}, "127.0.0.1:41234"},
	} {
		r := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:5178/AuthorizationHeaderUnauthenticated/default", nil)
		r = r.WithContext(context.WithValue(r.Context(), http.LocalAddrContextKey, tt.local))
		r.RemoteAddr = tt.remote
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, r)
		if w.Code != http.StatusForbidden || strings.Contains(w.Body.String(), primaryToken) {
			t.Errorf("%s: status = %d %s; want 403", tt.name, w.Code, w.Body)
		}
	}
	if n := tokens.calls.Load(); n != 0 {
		t.Errorf("the token source was asked %d times; want 0", n)
	}
}

func TestRoutes(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	resp, body := h.get("/healthz", nil)
	if resp.StatusCode != http.StatusOK || string(body) != `{"status":"Healthy"}` {
		t.Errorf("GET /healthz = %d %s; want 200 Healthy", resp.StatusCode, body)
	}
	for _, path := range []string{"/AuthorizationHeader/default", "/DownstreamApi/default", "/", "/AuthorizationHeaderUnauthenticated/"} {
		resp, body := h.get(path, nil)
		if p := decodeProblem(t, resp, body); resp.StatusCode != http.StatusNotFound || p.Status != 404 {
			t.Errorf("GET %s = %d %+v; want 404 problem", path, resp.StatusCode, p)
		}
	}
	resp, err := h.srv.Client().Post(h.srv.URL+"/AuthorizationHeaderUnauthenticated/default", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != http.MethodGet {
		t.Errorf("POST = %d Allow %q; want 405 Allow GET", resp.StatusCode, resp.Header.Get("Allow"))
	}
}

func TestNewRefusesIncompleteOptions(t *testing.T) {
	t.Parallel()
	for _, opts := range []Options{
		{},
		{Identities: map[string]Identity{"default": {Scope: testScope}}},
		{Identities: map[string]Identity{"default": {Tokens: &fakeTokens{}}}},
		{Identities: map[string]Identity{"": {Tokens: &fakeTokens{}, Scope: testScope}}},
	} {
		if _, err := New(opts); err == nil {
			t.Errorf("New(%+v) error = nil; want one", opts)
		}
	}
}

type problemBody struct {
	Type   string
	Title  string
	Status int
	Detail string
}

// decodeProblem decodes an RFC 7807 body, failing unless it is one.
func decodeProblem(t *testing.T, resp *http.Response, body []byte) problemBody {
	t.Helper()
	var p problemBody
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type = %q; want application/problem+json", ct)
	}
	if err := json.Unmarshal(body, &p); err != nil || p.Title == "" || p.Status != resp.StatusCode {
		t.Errorf("body %s is not a problem of status %d (%v)", body, resp.StatusCode, err)
	}
	return p
}
