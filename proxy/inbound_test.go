package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/botsidecar/sidecar/store"
	"github.com/botsidecar/sidecar/store/memstore"
)

// fakeAuth accepts the token "good" (vouching) and "entra" (not vouching).
// It counts the header checks, so that a test can tell they came first.
type fakeAuth struct {
	unavailable bool
	verified    *atomic.Int32 // optional
}

func (f fakeAuth) Verify(_ context.Context, authz string) (VerifiedToken, error) {
	if f.verified != nil {
		f.verified.Add(1)
	}
	switch {
	case f.unavailable:
		return nil, fmt.Errorf("%w: metadata 503", ErrAuthUnavailable)
	case authz == "Bearer good":
		return fakeToken{vouches: true}, nil
	case authz == "Bearer entra":
		return fakeToken{}, nil
	}
	return nil, fmt.Errorf("%w: invalid signature", ErrUnauthenticated)
}

// fakeToken is a verified token; it binds to Teams activities only.
type fakeToken struct{ vouches bool }

// App is the primary bot's: the handler's tests of several bots give
// their own token.
func (t fakeToken) App() string { return testAppID }

func (t fakeToken) CheckActivity(channelID, _ string) (bool, error) {
	if channelID != "msteams" {
		return false, fmt.Errorf("%w: channel not endorsed by signing key", ErrUnauthenticated)
	}
	return t.vouches, nil
}

// failingStore fails every Put, like a full disk.
type failingStore struct{}

func (failingStore) Put(context.Context, store.Reference) error {
	return errors.New("write references.db: no space left on device")
}

type inboundHarness struct {
	t       *testing.T
	store   *memstore.Memory
	trust   *TrustList
	srv     *httptest.Server
	mu      sync.Mutex
	botGot  []*http.Request
	botBody [][]byte
	// refAtBot is what the store held when the bot was called.
	refAtBot []error
}

func newInboundHarness(t *testing.T, bot http.HandlerFunc, mod func(*InboundOptions)) *inboundHarness {
	t.Helper()
	h := &inboundHarness{t: t}
	h.store, _ = memstore.New(100)
	h.trust, _ = NewTrustList(nil)
	botSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		_, err := h.store.Get(r.Context(), "a:conv1")
		h.mu.Lock()
		h.botGot, h.botBody, h.refAtBot = append(h.botGot, r), append(h.botBody, b), append(h.refAtBot, err)
		h.mu.Unlock()
		bot(w, r)
	}))
	t.Cleanup(botSrv.Close)
	o := InboundOptions{
		Auth: fakeAuth{}, References: h.store, Trust: h.trust,
		BotURL: botSrv.URL + "/api/messages", OutboundURL: "http://127.0.0.1:3979/",
		MaxBodyBytes: 64 << 10, BotTimeout: 2 * time.Second, Logger: zap.NewNop(),
	}
	if mod != nil {
		mod(&o)
	}
	in, err := NewInbound(o)
	if err != nil {
		t.Fatal(err)
	}
	h.srv = httptest.NewServer(in)
	t.Cleanup(h.srv.Close)
	return h
}

func (h *inboundHarness) post(authz, body string, header http.Header) (*http.Response, string) {
	h.t.Helper()
	req, _ := http.NewRequest("POST", h.srv.URL+"/api/messages", strings.NewReader(body))
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

const inboundActivity = `{"type":"message","id":"1712","serviceUrl":"https://smba.trafficmanager.net/amer/","channelId":"msteams",` +
	`"from":{"id":"29:user-1","name":"Ada"},"recipient":{"id":"28:` + testAppID + `","name":"Echo"},` +
	`"conversation":{"conversationType":"personal","tenantId":"tenant-1","id":"a:conv1"},` +
	`"channelData":{"tenant":{"id":"tenant-1"}},"text":"hello \u00e9 🌍","big":123456789012345678901234}`

func okBot(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }

func TestInboundForwardsAndCaptures(t *testing.T) {
	t.Parallel()
	h := newInboundHarness(t, okBot, nil)
	resp, body := h.post("Bearer good", inboundActivity, http.Header{"X-Ms-Conversation-Id": {"a:conv1"}, "X-Ms-Tenant-Id": {"tenant-1"}, "Ms-Cv": {"cv.1"}})
	if resp.StatusCode != 200 {
		t.Fatalf("status = %d %s; want 200", resp.StatusCode, body)
	}
	if len(h.botGot) != 1 {
		t.Fatalf("bot called %d times; want 1", len(h.botGot))
	}
	got := h.botGot[0]
	if got.Header.Get("Authorization") != "" {
		t.Error("Authorization reached the bot")
	}
	for _, k := range []string{"X-Ms-Conversation-Id", "X-Ms-Tenant-Id", "Ms-Cv"} {
		if got.Header.Get(k) == "" {
			t.Errorf("header %s not forwarded", k)
		}
	}
	want := strings.Replace(inboundActivity, `"serviceUrl":"https://smba.trafficmanager.net/amer/"`, `"serviceUrl":"http://127.0.0.1:3979/"`, 1)
	if string(h.botBody[0]) != want {
		t.Errorf("bot got\n%s\nwant\n%s", h.botBody[0], want)
	}
	if h.refAtBot[0] != nil {
		t.Errorf("reference not stored before the bot was called: %v", h.refAtBot[0])
	}
	ref, err := h.store.Get(context.Background(), "a:conv1")
	if err != nil {
		t.Fatal(err)
	}
	if ref.ServiceURL != "https://smba.trafficmanager.net/amer/" || !ref.Vouched || ref.ChannelID != "msteams" ||
		ref.TenantID != "tenant-1" || !strings.Contains(string(ref.Bot), "28:"+testAppID) || !strings.Contains(string(ref.User), "29:user-1") {
		t.Errorf("reference = %+v", ref)
	}
}

func TestInboundRelaysInvokeResponse(t *testing.T) {
	t.Parallel()
	h := newInboundHarness(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotImplemented)
		_, _ = io.WriteString(w, `{"status":501,"body":{"x":1}}`)
	}, nil)
	resp, body := h.post("Bearer good", strings.Replace(inboundActivity, `"type":"message"`, `"type":"invoke"`, 1), nil)
	if resp.StatusCode != 501 || body != `{"status":501,"body":{"x":1}}` || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("relayed %d %q %q; want the bot's 501 and body", resp.StatusCode, body, resp.Header.Get("Content-Type"))
	}
}

func TestInboundRefusals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		authz      string
		body       string
		mod        func(*InboundOptions)
		wantStatus int
		wantCode   string
	}{
		{"no token", "", inboundActivity, nil, 401, CodeUnauthorized},
		{"bad token", "Bearer forged", inboundActivity, nil, 401, CodeUnauthorized},
		{"keys unavailable", "Bearer good", inboundActivity, func(o *InboundOptions) { o.Auth = fakeAuth{unavailable: true} }, 503, CodeAuthUnavailable},
		{"bad token and bad body", "Bearer forged", `{"type":`, nil, 401, CodeUnauthorized},
		{"good token, bad body", "Bearer good", `{"type":`, nil, 400, CodeMalformedJSON},
		{"good token, no type", "Bearer good", `{"text":"x"}`, nil, 400, CodeMalformedJSON},
		{"good token, other channel", "Bearer good", strings.Replace(inboundActivity, `"msteams"`, `"slack"`, 1), nil, 401, CodeUnauthorized},
		{"bad token, too large", "Bearer forged", `{"type":"message","text":"` + strings.Repeat("x", 64<<10) + `"}`, nil, 401, CodeUnauthorized},
		{"too large", "Bearer good", `{"type":"message","text":"` + strings.Repeat("x", 64<<10) + `"}`, nil, 413, CodeBodyTooLarge},
		{"store fails", "Bearer good", inboundActivity, func(o *InboundOptions) { o.References = failingStore{} }, 503, CodeStoreUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newInboundHarness(t, okBot, tt.mod)
			resp, body := h.post(tt.authz, tt.body, nil)
			if resp.StatusCode != tt.wantStatus || errorCode(t, []byte(body)) != tt.wantCode {
				t.Fatalf("status = %d %s; want %d %s", resp.StatusCode, body, tt.wantStatus, tt.wantCode)
			}
			if len(h.botGot) != 0 {
				t.Error("the bot was called")
			}
			if _, err := h.store.Get(context.Background(), "a:conv1"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("a reference was stored: %v", err)
			}
			if strings.Contains(body, "invalid signature") || strings.Contains(body, "no space") {
				t.Errorf("internal error in the body: %s", body)
			}
		})
	}
}

func TestInboundBotFailures(t *testing.T) {
	t.Parallel()
	t.Run("bot down", func(t *testing.T) {
		t.Parallel()
		h := newInboundHarness(t, okBot, func(o *InboundOptions) { o.BotURL = "http://127.0.0.1:1/api/messages" })
		resp, body := h.post("Bearer good", inboundActivity, nil)
		if resp.StatusCode != 502 || errorCode(t, []byte(body)) != CodeBotUnreachable {
			t.Errorf("status = %d %s; want 502 %s", resp.StatusCode, body, CodeBotUnreachable)
		}
	})
	t.Run("bot answer too large", func(t *testing.T) {
		t.Parallel()
		h := newInboundHarness(t, func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"status":200,"body":"`+strings.Repeat("x", 70<<10)+`"}`)
		}, nil)
		resp, body := h.post("Bearer good", inboundActivity, nil)
		if resp.StatusCode != 502 || errorCode(t, []byte(body)) != CodeBotAnswerTooLarge {
			t.Errorf("status = %d %.200s; want 502 %s, not the bot's 200 over cut JSON", resp.StatusCode, body, CodeBotAnswerTooLarge)
		}
	})
	t.Run("bot slow", func(t *testing.T) {
		t.Parallel()
		release := make(chan struct{})
		h := newInboundHarness(t, heldBot(release, ""), func(o *InboundOptions) { o.BotTimeout = 100 * time.Millisecond })
		defer close(release)
		resp, body := h.post("Bearer good", inboundActivity, nil)
		if resp.StatusCode != 504 || errorCode(t, []byte(body)) != CodeBotTimeout {
			t.Errorf("status = %d %s; want 504 %s", resp.StatusCode, body, CodeBotTimeout)
		}
	})
}

func TestInboundRoutes(t *testing.T) {
	t.Parallel()
	h := newInboundHarness(t, okBot, nil)
	resp, err := http.Get(h.srv.URL + "/api/messages")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 || resp.Header.Get("Allow") != "POST" {
		t.Errorf("GET /api/messages = %d; want 405 with Allow: POST", resp.StatusCode)
	}
	resp, err = http.Post(h.srv.URL+"/other", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("POST /other = %d; want 404", resp.StatusCode)
	}
}

func TestInboundExpectRepliesAreCorrected(t *testing.T) {
	t.Parallel()
	h := newInboundHarness(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"activities":[{"type":"message","text":"one","serviceUrl":"http://127.0.0.1:3979/","from":{"id":"`+testAppID+`"}},{"type":"message","text":"two"}]}`)
	}, nil)
	act := strings.Replace(inboundActivity, `"type":"message"`, `"type":"message","deliveryMode":"expectReplies"`, 1)
	resp, body := h.post("Bearer good", act, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("status = %d %s", resp.StatusCode, body)
	}
	if strings.Contains(body, "127.0.0.1") || strings.Count(body, `"serviceUrl":"https://smba.trafficmanager.net/amer/"`) != 2 ||
		strings.Count(body, `"from":{"id":"28:`+testAppID+`","name":"Echo"}`) != 2 || !strings.Contains(body, `"text":"two"`) {
		t.Errorf("expectReplies answer = %s; want each activity with the real serviceUrl and the bot's account", body)
	}
}
