package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"

	"github.com/botsidecar/sidecar/internal/fakes"
	"github.com/botsidecar/sidecar/pacing"
	"github.com/botsidecar/sidecar/store"
)

// newEvil starts a second fake connector that no channel token vouched for
// and no trust entry names: an attacker's host.
func newEvil(t *testing.T) *fakes.Connector {
	t.Helper()
	evil := fakes.NewConnector(fakes.ConnectorOptions{})
	t.Cleanup(evil.Close)
	return evil
}

// A reference written into the store (a shared Redis anyone on its network
// can write) with "vouched": true does not make its host a token
// destination, and does not vouch for it for later calls either.
func TestStoreIsNotASourceOfTrust(t *testing.T) {
	t.Parallel()
	evil := newEvil(t)
	h := newHarness(t, func(o *OutboundOptions) { o.Transport = evil.Transport() })
	poisoned := store.Reference{ConversationID: "a:1poisoned", ServiceURL: evil.ServiceURL(), Vouched: true, ChannelID: "msteams",
		Bot: json.RawMessage(`{"id":"28:` + testAppID + `"}`), TenantID: "tenant-1"}
	if err := h.store.Put(context.Background(), poisoned); err != nil {
		t.Fatal(err)
	}
	resp, body := h.do("POST", "/v3/conversations/a:1poisoned/activities", `{"type":"message","text":"hi"}`, nil)
	host := strings.TrimPrefix(evil.URL, "https://")
	if resp.StatusCode != http.StatusForbidden || errorCode(t, body) != CodeUntrustedServiceURL ||
		!strings.Contains(string(body), host) || !strings.Contains(string(body), "SIDECAR_TRUSTED_SERVICE_URLS") {
		t.Errorf("send into a poisoned reference = %d %s; want 403 %s naming %s and SIDECAR_TRUSTED_SERVICE_URLS", resp.StatusCode, body, CodeUntrustedServiceURL, host)
	}
	// The refused reference vouched for nothing: the host is still no
	// destination for a call that names it.
	resp, body = h.do("POST", "/v3/conversations/a:1other/activities", `{"type":"message"}`, http.Header{"X-Service-Url": {evil.ServiceURL()}})
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("X-Service-Url naming the poisoned host = %d %s; want 403", resp.StatusCode, body)
	}
	if n := len(evil.Requests()); n != 0 {
		t.Errorf("the attacker's host got %d requests (with the bot's token); want 0", n)
	}
}

// A poisoned tenant pointer (the newest reference of a tenant) does not
// send a create-conversation call, with the token, to its host.
func TestPoisonedTenantPointerIsRefused(t *testing.T) {
	t.Parallel()
	evil := newEvil(t)
	h := newHarness(t, func(o *OutboundOptions) { o.Transport = evil.Transport() })
	if err := h.store.Put(context.Background(), store.Reference{ConversationID: "a:1newest", ServiceURL: evil.ServiceURL(), Vouched: true,
		ChannelID: "msteams", TenantID: "tenant-9"}); err != nil {
		t.Fatal(err)
	}
	resp, body := h.do("POST", "/v3/conversations", `{"isGroup":false,"members":[{"id":"29:u"}],"tenantId":"tenant-9"}`, nil)
	if resp.StatusCode != http.StatusForbidden || errorCode(t, body) != CodeUntrustedServiceURL {
		t.Errorf("create through a poisoned tenant pointer = %d %s; want 403 %s", resp.StatusCode, body, CodeUntrustedServiceURL)
	}
	if n := len(evil.Requests()); n != 0 {
		t.Errorf("the attacker's host got %d requests; want 0", n)
	}
}

// A browser can reach 127.0.0.1: a cross-site "simple" POST needs no CORS
// preflight, and DNS rebinding sends the attacker's own Host. Neither is
// served, on any route, and nothing reaches the connector.
func TestOutboundRefusesBrowsers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		path     string
		header   http.Header
		wantCode string
	}{
		{"cross-site text/plain", "/v3/conversations/a:1/activities", http.Header{"Origin": {"https://attacker.example"}, "Content-Type": {"text/plain"}}, CodeBrowserRefused},
		{"origin null", "/v3/conversations/a:1/activities", http.Header{"Origin": {"null"}}, CodeBrowserRefused},
		{"fetch metadata without origin", "/v3/conversations/a:1/activities", http.Header{"Sec-Fetch-Site": {"cross-site"}}, CodeBrowserRefused},
		{"same-site fetch", "/v3/conversations/a:1/activities", http.Header{"Sec-Fetch-Site": {"same-site"}}, CodeBrowserRefused},
		{"dns rebinding", "/v3/conversations/a:1/activities", http.Header{"Host": {"attacker.example:3979"}}, CodeHostNotAllowed},
		{"dns rebinding to batch", "/v3/batch/conversation/tenant/", http.Header{"Host": {"attacker.example"}}, CodeHostNotAllowed},
		{"text/plain body", "/v3/conversations/a:1/activities", http.Header{"Content-Type": {"text/plain"}}, CodeUnsupportedMedia},
		{"form body", "/v3/conversations/a:1/activities", http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, CodeUnsupportedMedia},
		{"gzip body", "/v3/conversations/a:1/activities", http.Header{"Content-Encoding": {"gzip"}}, CodeUnsupportedMedia},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			h.putRef("a:1")
			resp, body := h.do("POST", tt.path, `{"type":"message","text":"hi","tenantId":"tenant-1","activity":{"type":"message"}}`, tt.header)
			if resp.StatusCode/100 != 4 || errorCode(t, body) != tt.wantCode {
				t.Errorf("status = %d %s; want a 4xx %s", resp.StatusCode, body, tt.wantCode)
			}
			if n := len(h.conn.Requests()); n != 0 {
				t.Errorf("connector got %d requests; want 0", n)
			}
		})
	}
}

// Programs on loopback get through: no Origin, Sec-Fetch-Site none (a
// user's own navigation, never a page's request), an IP, localhost or the
// configured name as Host, a JSON content type with parameters.
func TestOutboundServesLoopbackPrograms(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(o *OutboundOptions) { o.HostNames = []string{"sidecar.local"} })
	h.putRef("a:1")
	for _, header := range []http.Header{
		nil,
		{"Sec-Fetch-Site": {"none"}},
		{"Host": {"localhost:3979"}},
		{"Host": {"LOCALHOST"}},
		{"Host": {"[::1]:3979"}},
		{"Host": {"sidecar.local:3979"}},
		{"Content-Type": {"application/vnd.microsoft.activity+json"}},
		{"Content-Encoding": {"identity"}},
	} {
		h.conn.Reset()
		resp, body := h.do("POST", "/v3/conversations/a:1/activities", `{"type":"message"}`, header)
		if resp.StatusCode != http.StatusOK || len(h.conn.Requests()) != 1 {
			t.Errorf("with %v: status = %d %s; want 200 from the connector", header, resp.StatusCode, body)
		}
	}
}

// Bodies forwarded without an edit are still checked: one JSON object,
// nothing else.
func TestOutboundValidatesEveryBody(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ method, path string }{
		{"POST", "/v3/conversations/a:1/attachments"},
		{"PUT", "/v3/conversations/a:1/activities/7/reactions/like"},
		{"POST", "/v1/meetings/m1/notification?tenantId=tenant-1"},
	} {
		for _, bad := range []string{`{"type":`, `{"a":1} trailing`, `[1,2]`, "\x1f\x8b\x08\x00junk"} {
			h := newHarness(t)
			h.putRef("a:1")
			resp, body := h.do(tt.method, tt.path, bad, nil)
			if resp.StatusCode != http.StatusBadRequest || errorCode(t, body) != CodeMalformedJSON {
				t.Errorf("%s %s with %q = %d %s; want 400 %s", tt.method, tt.path, bad, resp.StatusCode, body, CodeMalformedJSON)
			}
			if n := len(h.conn.Requests()); n != 0 {
				t.Errorf("%s %s with %q: connector got %d requests; want 0", tt.method, tt.path, bad, n)
			}
		}
	}
}

func TestHostGuard(t *testing.T) {
	t.Parallel()
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	g := HostGuard(ok)
	for host, want := range map[string]int{
		"10.1.2.3:9090":        http.StatusNoContent, // the kubelet probing the pod IP
		"127.0.0.1:9090":       http.StatusNoContent,
		"localhost:9090":       http.StatusNoContent,
		"attacker.example":     http.StatusForbidden,
		"attacker.example:909": http.StatusForbidden,
		"":                     http.StatusForbidden,
	} {
		req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		req.Host = host
		rec := httptest.NewRecorder()
		g.ServeHTTP(rec, req)
		if rec.Code != want {
			t.Errorf("Host %q: status %d; want %d", host, rec.Code, want)
		}
	}
}

// X-Service-Url is exactly one absolute URL that re-serialises to itself:
// junk after it (a folded line, a space, a list) never reaches the
// upstream path.
func TestServiceURLHeaderIsStrict(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	good := h.serviceURL
	for _, bad := range [][]string{
		{good + " /v3/evil"},
		{good + "\t/v3/evil"},
		{good + ",https://evil.example/"},
		{good, good},
		{good + "?x=1"},
		{good + "#frag"},
		{"//" + strings.TrimPrefix(good, "https://")},
		{strings.Replace(good, "https://", "HTTPS://", 1)},
	} {
		resp, body := h.do("POST", "/v3/conversations/a:1unknown/activities", `{"type":"message"}`, http.Header{"X-Service-Url": bad})
		if resp.StatusCode != http.StatusBadRequest || errorCode(t, body) != CodeInvalidHeader {
			t.Errorf("X-Service-Url %q = %d %s; want 400 %s", bad, resp.StatusCode, body, CodeInvalidHeader)
		}
	}
	if n := len(h.conn.Requests()); n != 0 {
		t.Errorf("connector got %d requests; want 0", n)
	}
	resp, body := h.do("POST", "/v3/conversations/a:1unknown/activities", `{"type":"message"}`, http.Header{"X-Service-Url": {good}})
	if resp.StatusCode != http.StatusOK {
		t.Errorf("X-Service-Url %q = %d %s; want 200", good, resp.StatusCode, body)
	}
}

func FuzzServiceURLHeader(f *testing.F) {
	for _, s := range []string{"https://smba.trafficmanager.net/amer/", "https://a/ b", "https://a/,https://b/", "https://u:p@a/", "https://a/?q", "http://a", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		u, err := parseServiceURLHeader([]string{v})
		if err != nil {
			return
		}
		// What is accepted is one URL with nothing around it: it prints
		// as it came, with no byte a path could carry junk in.
		if u.String() != v || strings.ContainsAny(v, " \t\r\n,") || u.RawQuery != "" || u.Fragment != "" || u.Host == "" {
			t.Fatalf("parseServiceURLHeader(%q) accepted %#v", v, u)
		}
		up := fromURL(u, byHeader)
		if !strings.HasPrefix(up.serviceURL, u.Scheme+"://"+u.Host+"/") {
			t.Fatalf("upstream %q does not start with the header's host", up.serviceURL)
		}
	})
}

// An answer the sidecar reads whole that is larger than the limit is an
// error, not a cut body under the connector's status.
func TestOutboundRefusesOversizedAnswers(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(o *OutboundOptions) { o.MaxBodyBytes = 1024 })
	h.putRef("a:1")
	big := `{"error":{"code":"BadArgument","message":"` + strings.Repeat("x", 2048) + `"}}`
	h.conn.Enqueue(fakes.ConnectorResponse{Status: http.StatusBadRequest, Body: big})
	resp, body := h.do("POST", "/v3/conversations/a:1/activities", `{"type":"message"}`, nil)
	if resp.StatusCode != http.StatusBadGateway || errorCode(t, body) != CodeUpstreamTooLarge {
		t.Errorf("oversized error answer = %d %s; want 502 %s", resp.StatusCode, body, CodeUpstreamTooLarge)
	}
}

// A connection that breaks in the middle of the connector's answer reaches
// the bot as a cut body under the status already sent; the call's log line
// says it failed.
func TestOutboundCutAnswerIsLoggedAsFailure(t *testing.T) {
	t.Parallel()
	cut := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Length", "1000")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"id":"1`))
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // reset the connection mid-body
	}))
	t.Cleanup(cut.Close)
	h := newHarness(t, func(o *OutboundOptions) { o.Transport = cut.Client().Transport })
	h.trust.Vouch(cut.URL + "/")
	if err := h.store.Put(context.Background(), store.Reference{ConversationID: "a:cut", ServiceURL: cut.URL + "/", ChannelID: "msteams"}); err != nil {
		t.Fatal(err)
	}
	resp, _ := h.do("POST", "/v3/conversations/a:cut/activities", `{"type":"message"}`, nil)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("status = %d; want the connector's 201, already sent", resp.StatusCode)
	}
	entries := h.logs.FilterMessage("outbound call").All()
	if len(entries) != 1 || entries[0].Level != zap.WarnLevel || entries[0].ContextMap()["error"] == nil {
		t.Errorf("log lines = %v; want one warning with the relay's error", entries)
	}
}

// failFirst fails the first round trip, after reading its body or not.
type failFirst struct {
	next     http.RoundTripper
	readBody bool
	mu       sync.Mutex
	failed   bool
}

func (f *failFirst) RoundTrip(r *http.Request) (*http.Response, error) {
	f.mu.Lock()
	first := !f.failed
	f.failed = true
	f.mu.Unlock()
	if first {
		if f.readBody && r.Body != nil {
			// The send went out, then the connection broke: a transport
			// reports the headers written before it copies the body.
			if t := httptrace.ContextClientTrace(r.Context()); t != nil && t.WroteHeaders != nil {
				t.WroteHeaders()
			}
			_, _ = io.Copy(io.Discard, r.Body)
		}
		return nil, errors.New("read tcp: connection reset by peer")
	}
	return f.next.RoundTrip(r)
}

// A send is replayed after a connection failure only when its body never
// left: otherwise the connector may have stored the message.
func TestOutboundReplaysASendOnlyIfItNeverLeft(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name       string
		readBody   bool
		wantStatus int
		wantCalls  int
	}{
		{"body never read: replayed", false, http.StatusOK, 1},
		{"body sent: passed on", true, http.StatusBadGateway, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, func(o *OutboundOptions) { o.Transport = &failFirst{next: o.Transport, readBody: tt.readBody} })
			h.putRef("a:1")
			resp, body := h.do("POST", "/v3/conversations/a:1/activities", `{"type":"message","text":"once"}`, nil)
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status = %d %s; want %d", resp.StatusCode, body, tt.wantStatus)
			}
			if n := len(h.conn.Requests()); n != tt.wantCalls {
				t.Errorf("messages at the connector = %d; want %d", n, tt.wantCalls)
			}
		})
	}
}

// With a real transport: a send whose connection could not be opened is
// replayed, since the transport never wrote it, and arrives once.
func TestOutboundReplaysAfterAFailedDial(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(o *OutboundOptions) {
		tr := o.Transport.(*http.Transport)
		var dials atomic.Int32
		dial := tr.DialContext
		if dial == nil {
			dial = (&net.Dialer{}).DialContext
		}
		tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			if dials.Add(1) == 1 {
				return nil, &net.OpError{Op: "dial", Net: network, Err: errors.New("connection refused")}
			}
			return dial(ctx, network, addr)
		}
	})
	h.putRef("a:1")
	resp, body := h.do("POST", "/v3/conversations/a:1/activities", `{"type":"message","text":"once"}`, nil)
	if resp.StatusCode != http.StatusOK {
		t.Errorf("status = %d %s; want 200 after one replay", resp.StatusCode, body)
	}
	if reqs := h.conn.Requests(); len(reqs) != 1 || !strings.Contains(string(reqs[0].Body), `"text":"once"`) {
		t.Errorf("connector got %d requests; want the message once", len(reqs))
	}
}

// With a pacer, a send that does not fit the conversation's limit is not
// sent into a 429: it is refused locally with the pacer's Retry-After, and
// another conversation's send is not held up.
func TestOutboundPacesSends(t *testing.T) {
	t.Parallel()
	one, err := pacing.ParseLimit("1/1s")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	p, err := pacing.New(pacing.Options{Send: one, Create: one, Read: one, Tenant: pacing.Limit{}, MaxWait: 0, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, func(o *OutboundOptions) { o.Pacer = p; o.Metrics = m })
	h.putRef("a:1")
	h.putRef("a:2")
	if resp, body := h.do("POST", "/v3/conversations/a:1/activities", `{"type":"message"}`, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("first send = %d %s; want 200", resp.StatusCode, body)
	}
	resp, body := h.do("POST", "/v3/conversations/a:1/activities", `{"type":"message"}`, nil)
	if resp.StatusCode != http.StatusTooManyRequests || errorCode(t, body) != CodeThrottled || resp.Header.Get("Retry-After") != "1" {
		t.Errorf("second send in the same second = %d %q %s; want 429 %s with Retry-After 1", resp.StatusCode, resp.Header.Get("Retry-After"), body, CodeThrottled)
	}
	if resp, body := h.do("POST", "/v3/conversations/a:2/activities", `{"type":"message"}`, nil); resp.StatusCode != http.StatusOK {
		t.Errorf("another conversation's send = %d %s; want 200", resp.StatusCode, body)
	}
	if n := len(h.conn.Requests()); n != 2 {
		t.Errorf("connector got %d sends; want 2", n)
	}
	// The two sends that went out were admitted at once; one was refused.
	want := `
# HELP sidecar_pacing_refused_total Upstream attempts refused by the pacer (the bot got 429 Throttled with the pacer's Retry-After), by class.
# TYPE sidecar_pacing_refused_total counter
sidecar_pacing_refused_total{class="send"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "sidecar_pacing_refused_total"); err != nil {
		t.Error(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "sidecar_pacing_wait_seconds" {
			continue
		}
		for _, series := range mf.GetMetric() {
			want := uint64(0)
			if series.GetLabel()[0].GetValue() == "send" {
				want = 2
			}
			if h := series.GetHistogram(); h.GetSampleCount() != want || h.GetSampleSum() != 0 {
				t.Errorf("pacing waits %v: %d observed, sum %v; want %d admitted at once", series.GetLabel(), h.GetSampleCount(), h.GetSampleSum(), want)
			}
		}
	}
}
