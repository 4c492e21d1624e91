package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/botsidecar/sidecar/internal/fakes"
	"github.com/botsidecar/sidecar/store"
	"github.com/botsidecar/sidecar/store/memstore"
)

const testAppID = "00000000-0000-0000-0000-00000000b07a"

// fakeTokens hands out numbered tokens; Invalidate moves to the next one.
type fakeTokens struct {
	// sticky keeps the same token after Invalidate, as a token source
	// that rate-limits forced refreshes does.
	sticky      bool
	mu          sync.Mutex
	gen         int
	calls       int
	invalidated []string
	err         error
}

func (f *fakeTokens) Token(context.Context) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.err != nil {
		return "", f.err
	}
	return fmt.Sprintf("token-%d", f.gen), nil
}

// counts returns the calls and invalidations so far, under the lock: the
// handler writes them on the server's goroutines.
func (f *fakeTokens) counts() (calls int, invalidated []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls, append([]string(nil), f.invalidated...)
}

func (f *fakeTokens) Invalidate(token string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.invalidated = append(f.invalidated, token)
	if !f.sticky && token == fmt.Sprintf("token-%d", f.gen) {
		f.gen++
	}
}

type harness struct {
	t          *testing.T
	conn       *fakes.Connector
	tokens     *fakeTokens
	store      *memstore.Memory
	trust      *TrustList
	handler    *Outbound
	srv        *httptest.Server
	logs       *observer.ObservedLogs
	sleeps     []time.Duration
	sleepsMu   sync.Mutex
	serviceURL string
}

type harnessOption func(*OutboundOptions)

func newHarness(t *testing.T, opts ...harnessOption) *harness {
	t.Helper()
	h := &harness{t: t, conn: fakes.NewConnector(fakes.ConnectorOptions{}), tokens: &fakeTokens{}}
	t.Cleanup(h.conn.Close)
	h.serviceURL = h.conn.ServiceURL()
	var err error
	if h.store, err = memstore.New(100); err != nil {
		t.Fatal(err)
	}
	if h.trust, err = NewTrustList(nil); err != nil {
		t.Fatal(err)
	}
	// The fake connector's host is trusted the way the real one's is after
	// a validated inbound activity: this process vouched for it.
	h.trust.Vouch(h.serviceURL)
	core, logs := observer.New(zap.DebugLevel)
	h.logs = logs
	o := OutboundOptions{
		AppID:        testAppID,
		TenantID:     "tenant-1",
		Tokens:       h.tokens,
		References:   h.store,
		Trust:        h.trust,
		MaxBodyBytes: 1 << 20,
		Transport:    h.conn.Transport(),
		Logger:       zap.New(core),
		Sleep: func(ctx context.Context, d time.Duration) error {
			h.sleepsMu.Lock()
			h.sleeps = append(h.sleeps, d)
			h.sleepsMu.Unlock()
			return ctx.Err()
		},
	}
	for _, f := range opts {
		f(&o)
	}
	if h.handler, err = NewOutbound(o); err != nil {
		t.Fatal(err)
	}
	h.srv = httptest.NewServer(h.handler)
	t.Cleanup(h.srv.Close)
	return h
}

// putRef stores a Teams reference for conversationID on the fake connector.
func (h *harness) putRef(conversationID string) store.Reference {
	ref := store.Reference{
		ConversationID: conversationID,
		ServiceURL:     h.serviceURL,
		Vouched:        true,
		ChannelID:      "msteams",
		Bot:            json.RawMessage(`{"id":"28:` + testAppID + `","name":"Echo"}`),
		User:           json.RawMessage(`{"id":"29:user-1","name":"Ada","aadObjectId":"obj-1"}`),
		Conversation:   json.RawMessage(`{"conversationType":"personal","tenantId":"tenant-1","id":` + strconvQuote(conversationID) + `}`),
		TenantID:       "tenant-1",
		UpdatedAt:      time.Now().Add(-time.Minute),
	}
	if err := h.store.Put(context.Background(), ref); err != nil {
		h.t.Fatal(err)
	}
	return ref
}

// do sends a raw request line to the handler, keeping the path bytes.
func (h *harness) do(method, rawPath, body string, header http.Header) (*http.Response, []byte) {
	h.t.Helper()
	req, err := http.NewRequest(method, h.srv.URL+"/", strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	req.URL.Opaque = rawPath // sent verbatim as the request-target
	if body != "" {
		req.Header.Set("Content-Type", "application/json; charset=utf-8") // as every SDK sends it
	}
	for k, v := range header {
		if k == "Host" {
			req.Host = v[0] // the client sends req.Host, not a Host header
			continue
		}
		req.Header[k] = v
	}
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func (h *harness) onlyRequest() fakes.ConnectorRequest {
	h.t.Helper()
	reqs := h.conn.Requests()
	if len(reqs) != 1 {
		h.t.Fatalf("connector got %d requests; want 1", len(reqs))
	}
	return reqs[0]
}

func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return m
}

func errorCode(t *testing.T, b []byte) string {
	t.Helper()
	var e errorBody
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("error body %s: %v", b, err)
	}
	return e.Error.Code
}

// The classic mistakes: raw app id in from, a Web Chat serviceUrl, no token.
func TestOutboundFixesTheBareForbiddenMistakes(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.putRef("a:1personal")
	body := `{"type":"message","from":{"id":"` + testAppID + `"},"serviceUrl":"https://webchat.botframework.com/","text":"hi"}`
	resp, got := h.do("POST", "/v3/conversations/a%3A1personal/activities", body, http.Header{"Content-Type": {"application/json"}, "X-Ms-Conversation-Id": {"a:1personal"}})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d, body %s; want 200", resp.StatusCode, got)
	}
	req := h.onlyRequest()
	if want := "/amer/v3/conversations/a%3A1personal/activities"; req.RawURI != want {
		t.Errorf("upstream path = %q; want %q", req.RawURI, want)
	}
	if got := req.Header.Get("Authorization"); got != "Bearer token-0" {
		t.Errorf("upstream Authorization = %q; want the cached token", got)
	}
	if got := req.Header.Get("X-Ms-Conversation-Id"); got != "a:1personal" {
		t.Errorf("x-ms-conversation-id = %q; want it passed through", got)
	}
	m := decode(t, req.Body)
	from := m["from"].(map[string]any)
	if from["id"] != "28:"+testAppID || from["name"] != "Echo" {
		t.Errorf("from = %v; want the reference's bot account", from)
	}
	if m["serviceUrl"] != h.serviceURL {
		t.Errorf("serviceUrl = %v; want %v", m["serviceUrl"], h.serviceURL)
	}
	if m["channelId"] != "msteams" || m["recipient"].(map[string]any)["id"] != "29:user-1" {
		t.Errorf("channelId/recipient not filled: %s", req.Body)
	}
	if m["text"] != "hi" {
		t.Errorf("text = %v; want hi", m["text"])
	}
	if resp.Header.Get("MS-CV") == "" {
		t.Error("MS-CV not passed back to the bot")
	}
}

func TestOutboundPreservesPathBytes(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.putRef("19:abc@thread.tacv2")
	for _, path := range []string{
		"/v3/conversations/19:abc@thread.tacv2/activities",
		"/v3/conversations/19%3Aabc%40thread.tacv2/activities",
		"/v3/conversations/19:abc@thread.tacv2;messageid=1712/activities/1712",
		"/v3/conversations/19%3Aabc%40thread.tacv2%3Bmessageid%3D1712/activities",
		"/v3/conversations/19:abc@thread.tacv2/activities?isTargetedActivity=true",
	} {
		h.conn.Reset()
		resp, body := h.do("POST", path, `{"type":"message","text":"x"}`, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST %s = %d %s", path, resp.StatusCode, body)
		}
		if got, want := h.onlyRequest().RawURI, "/amer"+path; got != want {
			t.Errorf("POST %s reached upstream as %q; want %q", path, got, want)
		}
	}
}

func TestOutboundThreadUsesChannelReference(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.putRef("19:abc@thread.tacv2")
	resp, body := h.do("POST", "/v3/conversations/19:abc@thread.tacv2;messageid=9/activities", `{"type":"message"}`, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d %s", resp.StatusCode, body)
	}
	m := decode(t, h.onlyRequest().Body)
	if conv := m["conversation"].(map[string]any); conv["id"] != "19:abc@thread.tacv2;messageid=9" {
		t.Errorf("conversation = %v; want the thread id", conv)
	}
}

func TestOutboundRetriesOnceAfter401(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.putRef("c1")
	h.conn.Enqueue(fakes.ConnectorResponse{Status: 401, Body: `{"message":"Authorization has been denied for this request."}`})
	resp, body := h.do("POST", "/v3/conversations/c1/activities", `{"type":"message"}`, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d %s; want 200 after one refresh", resp.StatusCode, body)
	}
	reqs := h.conn.Requests()
	if len(reqs) != 2 || reqs[0].Header.Get("Authorization") != "Bearer token-0" || reqs[1].Header.Get("Authorization") != "Bearer token-1" {
		t.Fatalf("upstream saw %d requests; want token-0 then token-1", len(reqs))
	}
	if _, invalidated := h.tokens.counts(); len(invalidated) != 1 || invalidated[0] != "token-0" {
		t.Errorf("invalidated = %v; want [token-0]", invalidated)
	}
}

func TestOutboundSecond401PassesThrough(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.putRef("c1")
	deny := fakes.ConnectorResponse{Status: 401, Body: `{"message":"denied"}`}
	h.conn.Enqueue(deny, deny)
	resp, body := h.do("POST", "/v3/conversations/c1/activities", `{"type":"message"}`, nil)
	if resp.StatusCode != 401 || !strings.Contains(string(body), "denied") {
		t.Fatalf("status = %d %s; want the upstream 401 and body", resp.StatusCode, body)
	}
	if n := len(h.conn.Requests()); n != 2 {
		t.Errorf("upstream requests = %d; want 2", n)
	}
}

func TestOutboundRetryAfter(t *testing.T) {
	t.Parallel()
	later := http.Header{"Retry-After": {"0"}}
	tests := []struct {
		name       string
		method     string // POST (a send) unless set
		script     []fakes.ConnectorResponse
		wantStatus int
		wantCalls  int
		wantSleeps []time.Duration
	}{
		{"429 honoured", "", []fakes.ConnectorResponse{{Status: 429, Header: http.Header{"Retry-After": {"1"}}}}, 200, 2, []time.Duration{time.Second}},
		{"429 beyond budget passes on", "", []fakes.ConnectorResponse{{Status: 429, Header: http.Header{"Retry-After": {"60"}}, Body: `{"error":{"code":"Throttled"}}`}}, 429, 1, nil},
		{"503 with Retry-After three times then success", "", []fakes.ConnectorResponse{{Status: 503, Header: later}, {Status: 503, Header: later}, {Status: 412, Header: http.Header{"Retry-After": {"2"}}}}, 200, 4, nil},
		{"503 four times gives up", "", []fakes.ConnectorResponse{{Status: 503, Body: "x", Header: later}, {Status: 503, Body: "x", Header: later}, {Status: 503, Body: "x", Header: later}, {Status: 503, Body: "busy", Header: later}}, 503, 4, nil},
		{"500 is not retried", "", []fakes.ConnectorResponse{{Status: 500, Body: `{"error":{"code":"ServiceError"}}`}}, 500, 1, nil},
		// A send may have been applied behind these: never replayed.
		{"send: 504 is passed on", "", []fakes.ConnectorResponse{{Status: 504, Body: "gateway"}}, 504, 1, nil},
		{"send: 502 is passed on", "", []fakes.ConnectorResponse{{Status: 502, Body: "bad gateway"}}, 502, 1, nil},
		{"send: 503 without Retry-After is passed on", "", []fakes.ConnectorResponse{{Status: 503, Body: "busy"}}, 503, 1, nil},
		// Reads keep every retry.
		{"read: 504 and 502 retried", "GET", []fakes.ConnectorResponse{{Status: 504}, {Status: 502}}, 200, 3, nil},
		{"read: 503 without Retry-After retried", "GET", []fakes.ConnectorResponse{{Status: 503}}, 200, 2, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			h.putRef("c1")
			h.conn.Enqueue(tt.script...)
			method, path, body := "POST", "/v3/conversations/c1/activities", `{"type":"message"}`
			if tt.method == "GET" {
				method, path, body = "GET", "/v3/conversations/c1/members", ""
			}
			resp, got := h.do(method, path, body, nil)
			body = string(got)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d %s; want %d", resp.StatusCode, body, tt.wantStatus)
			}
			if n := len(h.conn.Requests()); n != tt.wantCalls {
				t.Errorf("upstream calls = %d; want %d", n, tt.wantCalls)
			}
			h.sleepsMu.Lock()
			sleeps := fmt.Sprint(h.sleeps)
			h.sleepsMu.Unlock()
			if tt.wantSleeps != nil && sleeps != fmt.Sprint(tt.wantSleeps) {
				t.Errorf("sleeps = %v; want %v", sleeps, tt.wantSleeps)
			}
		})
	}
}

func TestOutboundRefusesUntrustedUpstreams(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		ref        *store.Reference
		header     http.Header
		wantStatus int
		wantCode   string
	}{
		{"plain http reference", &store.Reference{ConversationID: "c1", ServiceURL: "http://smba.trafficmanager.net/amer/", Vouched: true}, nil, 403, CodeUntrustedServiceURL},
		{"unvouched unknown host", &store.Reference{ConversationID: "c1", ServiceURL: "https://evil.example/"}, nil, 403, CodeUntrustedServiceURL},
		{"untrusted X-Service-Url", nil, http.Header{"X-Service-Url": {"https://evil.example/"}}, 403, CodeUntrustedServiceURL},
		{"X-Service-Url with userinfo", nil, http.Header{"X-Service-Url": {"https://smba.trafficmanager.net@evil.example/"}}, 403, CodeUntrustedServiceURL},
		{"http X-Service-Url", nil, http.Header{"X-Service-Url": {"http://smba.trafficmanager.net/amer/"}}, 403, CodeUntrustedServiceURL},
		{"no reference", nil, nil, 404, CodeNoReference},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			if tt.ref != nil {
				if err := h.store.Put(context.Background(), *tt.ref); err != nil {
					t.Fatal(err)
				}
			}
			resp, body := h.do("POST", "/v3/conversations/c1/activities", `{"type":"message"}`, tt.header)
			if resp.StatusCode != tt.wantStatus || errorCode(t, body) != tt.wantCode {
				t.Fatalf("status = %d %s; want %d %s", resp.StatusCode, body, tt.wantStatus, tt.wantCode)
			}
			if n := len(h.conn.Requests()); n != 0 {
				t.Errorf("connector got %d requests; want none", n)
			}
			if calls, _ := h.tokens.counts(); calls != 0 {
				t.Errorf("token requested %d times for a refused call; want 0", calls)
			}
		})
	}
}

func TestOutboundTrustedXServiceURLAndDefault(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	// The fake listens on 127.0.0.1 with its own port: trust it explicitly.
	host := strings.TrimPrefix(h.conn.URL, "https://")
	trust, err := NewTrustList([]string{host})
	if err != nil {
		t.Fatal(err)
	}
	h.handler.opts.Trust = trust
	resp, body := h.do("GET", "/v3/conversations/unknown/members", "", http.Header{"X-Service-Url": {h.serviceURL}})
	if resp.StatusCode != 200 {
		t.Fatalf("status = %d %s; want 200 via X-Service-Url", resp.StatusCode, body)
	}
	req := h.onlyRequest()
	if req.Header.Get("X-Service-Url") != "" {
		t.Error("X-Service-Url was forwarded upstream")
	}
	if req.RawURI != "/amer/v3/conversations/unknown/members" {
		t.Errorf("upstream path = %q", req.RawURI)
	}

	h2 := newHarness(t, func(o *OutboundOptions) {
		o.Trust = trust
		o.DefaultServiceURL = h.serviceURL
	})
	h2.conn = h.conn
	h.conn.Reset()
	resp, body = h2.do("GET", "/v3/conversations/unknown/members", "", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("status = %d %s; want 200 via the default service url", resp.StatusCode, body)
	}
}

func TestOutboundLocalRefusals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		method     string
		path       string
		body       string
		wantStatus int
		wantCode   string
	}{
		{"dot segments", "POST", "/v3/conversations/%2e%2e/activities", `{}`, 400, CodeInvalidPath},
		{"malformed json", "POST", "/v3/conversations/c1/activities", `{"type":`, 400, CodeMalformedJSON},
		{"not an object", "POST", "/v3/conversations/c1/activities", `[1,2]`, 400, CodeMalformedJSON},
		{"too large", "POST", "/v3/conversations/c1/activities", `{"text":"` + strings.Repeat("x", 1<<20) + `"}`, 413, CodeBodyTooLarge},
		{"unknown route", "GET", "/v3/whatever", ``, 404, CodeUnknownRoute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			h.putRef("c1")
			resp, body := h.do(tt.method, tt.path, tt.body, nil)
			if resp.StatusCode != tt.wantStatus || errorCode(t, body) != tt.wantCode {
				t.Fatalf("status = %d %s; want %d %s", resp.StatusCode, body, tt.wantStatus, tt.wantCode)
			}
			if n := len(h.conn.Requests()); n != 0 {
				t.Errorf("connector got %d requests; want none", n)
			}
		})
	}
}

func TestOutboundRefusesControlCharactersInHeaders(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.putRef("c1")
	req := httptest.NewRequest("POST", "/v3/conversations/c1/activities", strings.NewReader(`{}`))
	req.Header.Set("X-Custom", "a\x01b")
	w := httptest.NewRecorder()
	h.handler.ServeHTTP(w, req)
	if w.Code != 400 || errorCode(t, w.Body.Bytes()) != CodeInvalidHeader {
		t.Fatalf("status = %d %s; want 400 %s", w.Code, w.Body, CodeInvalidHeader)
	}
	if len(h.conn.Requests()) != 0 {
		t.Error("request reached the connector")
	}
}

func TestOutboundTokenUnavailable(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.putRef("c1")
	h.tokens.err = errors.New("acquire token: AADSTS7000215 invalid client secret")
	resp, body := h.do("POST", "/v3/conversations/c1/activities", `{}`, nil)
	if resp.StatusCode != 503 || errorCode(t, body) != CodeTokenUnavailable {
		t.Fatalf("status = %d %s; want 503 %s", resp.StatusCode, body, CodeTokenUnavailable)
	}
	if strings.Contains(string(body), "AADSTS") {
		t.Errorf("internal error leaked into the body: %s", body)
	}
}

// retryLater is a token source's error that says when to ask again.
type retryLater struct{ after time.Duration }

func (e retryLater) Error() string             { return "entra is failing" }
func (e retryLater) RetryAfter() time.Duration { return e.after }

// 503 TokenUnavailable carries the token source's Retry-After, rounded up
// to whole seconds.
func TestOutboundTokenUnavailableRetryAfter(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.putRef("c1")
	h.tokens.err = fmt.Errorf("no token: %w", retryLater{1500 * time.Millisecond})
	resp, body := h.do("POST", "/v3/conversations/c1/activities", `{}`, nil)
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "2" {
		t.Errorf("status = %d, Retry-After %q, %s; want 503 with Retry-After 2", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
}

func TestOutboundBareForbiddenDiagnostics(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.putRef("a:1personal")
	h.conn.Enqueue(fakes.ConnectorResponse{Status: 403, Header: http.Header{"Request-Id": {"req-77"}}})
	resp, body := h.do("POST", "/v3/conversations/a:1personal/activities", `{"type":"message","from":{"id":"`+testAppID+`"}}`, nil)
	if resp.StatusCode != 403 {
		t.Fatalf("status = %d; want 403", resp.StatusCode)
	}
	var got struct {
		Error struct {
			Code           string
			InnerHTTPError struct{ StatusCode int } `json:"innerHttpError"`
		}
		Diagnostics diagnostics
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("body %s: %v", body, err)
	}
	d := got.Diagnostics
	if got.Error.Code != CodeUpstreamEmptyError || got.Error.InnerHTTPError.StatusCode != 403 {
		t.Errorf("error = %+v", got.Error)
	}
	if d.SentFromID != "28:"+testAppID || d.SentServiceURL != h.serviceURL || d.MSCV == "" || d.MSCV != resp.Header.Get("MS-CV") || d.RequestID != "fake-op" {
		t.Errorf("diagnostics = %+v", d)
	}
	if d.Reference == nil || d.Reference.BotID != "28:"+testAppID || d.Reference.ChannelID != "msteams" || d.Reference.AgeSeconds < 59 {
		t.Errorf("reference summary = %+v", d.Reference)
	}
	if strings.Contains(string(body), "token-0") {
		t.Error("token in diagnostics")
	}
}

func TestOutboundBodyBytesPreserved(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.putRef("c1")
	long := strings.Repeat("päivää 🌍 ", 5000)
	body := `{"type":"message",  "id":"x","seq":12345678901234567890,"text":"` + long + `","channelData":{"deep":{"unknown":[1,2.50,{"k":"\u00e9\/\""}]}},"entities":[]}`
	resp, got := h.do("POST", "/v3/conversations/c1/activities", body, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d %s", resp.StatusCode, got)
	}
	sent := string(h.onlyRequest().Body)
	for _, want := range []string{`"seq":12345678901234567890`, `"text":"` + long + `"`, `"channelData":{"deep":{"unknown":[1,2.50,{"k":"\u00e9\/\""}]}}`, `{"type":"message",  "id":"x",`} {
		if !strings.Contains(sent, want) {
			t.Errorf("upstream body lost %.80q", want)
		}
	}
}

func TestOutboundCreateConversation(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.putRef("a:1personal") // newest reference of tenant-1
	resp, body := h.do("POST", "/v3/conversations", `{"isGroup":false,"members":[{"id":"29:user-2"}],"activity":{"type":"message","text":"hello"}}`, nil)
	if resp.StatusCode != 201 {
		t.Fatalf("status = %d %s; want 201", resp.StatusCode, body)
	}
	m := decode(t, h.onlyRequest().Body)
	if m["tenantId"] != "tenant-1" || m["bot"].(map[string]any)["id"] != "28:"+testAppID {
		t.Errorf("create body = %v; want tenantId and bot filled", m)
	}
	if act := m["activity"].(map[string]any); act["from"].(map[string]any)["id"] != "28:"+testAppID || act["conversation"] != nil {
		t.Errorf("nested activity = %v; want from set and no conversation copied", act)
	}
}

func TestOutboundLogsOneLinePerCallWithoutSecrets(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.putRef("c1")
	h.do("POST", "/v3/conversations/c1/activities", `{"type":"message"}`, http.Header{"Authorization": {"Bearer bot-own-secret"}})
	h.do("POST", "/v3/conversations/missing/activities", `{"type":"message"}`, nil)
	entries := h.logs.FilterMessage("outbound call").All()
	if len(entries) != 2 {
		t.Fatalf("log lines = %d; want 2", len(entries))
	}
	ok := entries[0].ContextMap()
	for _, k := range []string{"method", "route", "upstream_host", "status", "latency", "ms_cv", "attempts"} {
		if _, found := ok[k]; !found {
			t.Errorf("log line lacks %q: %v", k, ok)
		}
	}
	if ok["route"] != "/v3/conversations/{conversationId}/activities" || ok["status"] != int64(200) || ok["attempts"] != int64(1) {
		t.Errorf("log line = %v", ok)
	}
	if entries[1].ContextMap()["code"] != CodeNoReference {
		t.Errorf("refused call log = %v", entries[1].ContextMap())
	}
	for _, e := range h.logs.All() {
		line := fmt.Sprint(e.Message, e.ContextMap())
		if strings.Contains(line, "token-0") || strings.Contains(line, "bot-own-secret") {
			t.Errorf("secret in log line: %s", line)
		}
	}
	if got := h.onlyRequest().Header.Get("Authorization"); got != "Bearer token-0" {
		t.Errorf("bot's own Authorization reached upstream: %q", got)
	}
}

// A stock SDK creates a 1:1 and sends into it at once; the new chat has no
// reference yet and resolves through the create call.
func TestOutboundSendAfterCreate(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.putRef("a:1personal")
	resp, body := h.do("POST", "/v3/conversations", `{"isGroup":false,"members":[{"id":"29:user-2"}]}`, nil)
	if resp.StatusCode != 201 {
		t.Fatalf("create = %d %s", resp.StatusCode, body)
	}
	var created struct{ ID string }
	_ = json.Unmarshal(body, &created)
	h.conn.Reset()
	resp, body = h.do("POST", "/v3/conversations/"+created.ID+"/activities", `{"type":"message","text":"first"}`, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("send into the new chat = %d %s; want 200", resp.StatusCode, body)
	}
	m := decode(t, h.onlyRequest().Body)
	if m["from"].(map[string]any)["id"] != "28:"+testAppID || m["recipient"].(map[string]any)["id"] != "29:user-2" ||
		m["conversation"].(map[string]any)["id"] != created.ID {
		t.Errorf("first message = %v; want from the bot to the member in the new conversation", m)
	}
	// Not written to the store: only validated channel tokens write there.
	if _, err := h.store.Get(context.Background(), created.ID); err == nil {
		t.Error("the created conversation was written to the reference store")
	}
}

func TestNewOutboundRefusesUntrustedDefault(t *testing.T) {
	t.Parallel()
	trust, _ := NewTrustList(nil)
	mem, _ := memstore.New(1)
	_, err := NewOutbound(OutboundOptions{AppID: testAppID, Tokens: &fakeTokens{}, References: mem, Trust: trust,
		MaxBodyBytes: 1, DefaultServiceURL: "https://evil.example/"})
	if err == nil || !strings.Contains(err.Error(), "SIDECAR_DEFAULT_SERVICE_URL") {
		t.Errorf("NewOutbound(untrusted default) = %v; want an error naming SIDECAR_DEFAULT_SERVICE_URL", err)
	}
}

// The M365 Agents SDK spells the paged members route "pagedMembers": it is
// served, and the connector gets the bot's path bytes unchanged.
func TestOutboundForwardsThePathSpellingAsSent(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.putRef("a:1")
	resp, body := h.do("GET", "/v3/conversations/a%3A1/pagedMembers?pageSize=50", "", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET pagedMembers = %d %s; want 200", resp.StatusCode, body)
	}
	if got, want := h.onlyRequest().RawURI, "/amer/v3/conversations/a%3A1/pagedMembers?pageSize=50"; got != want {
		t.Errorf("upstream request-target = %q; want %q", got, want)
	}
}

// When the token source will not replace a refused token yet (it limits
// forced refreshes), the 401 goes back to the bot at once instead of a
// retry with the same token.
func TestOutbound401WithoutAFreshTokenPassesThrough(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.tokens.sticky = true
	h.putRef("a:1")
	h.conn.Enqueue(fakes.ConnectorResponse{Status: http.StatusUnauthorized, Body: `{"message":"Authorization has been denied for this request."}`})
	resp, body := h.do("POST", "/v3/conversations/a:1/activities", `{"type":"message"}`, nil)
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), "diagnostics") {
		t.Errorf("status = %d %s; want the connector's 401 with diagnostics", resp.StatusCode, body)
	}
	if n := len(h.conn.Requests()); n != 1 {
		t.Errorf("connector got %d requests; want 1 (no retry with the same token)", n)
	}
}
