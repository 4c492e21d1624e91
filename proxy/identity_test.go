package proxy

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/botsidecar/sidecar/store"
	"github.com/botsidecar/sidecar/store/memstore"
)

const (
	secondAppID = "00000000-0000-0000-0000-0000000000b2"
	thirdAppID  = "00000000-0000-0000-0000-0000000000b3"
)

// botTokens hands out one bot's token and counts the calls, so that a
// test can tell whose token a call used, and that a refused call used
// none.
type botTokens struct {
	name  string
	mu    sync.Mutex
	calls int
}

func (b *botTokens) Token(context.Context) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls++
	return "token-of-" + b.name, nil
}

func (b *botTokens) Invalidate(string) {}

func (b *botTokens) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.calls
}

// bots is a shared outbound listener for three bots: the primary, "second"
// (served here too) and "third" (on a listener of its own).
type bots struct {
	*harness
	primary, second, third *botTokens
	pacer                  *keyPacer
}

func newBots(t *testing.T, mod ...harnessOption) *bots {
	t.Helper()
	b := &bots{primary: &botTokens{name: "primary"}, second: &botTokens{name: "second"}, third: &botTokens{name: "third"}, pacer: &keyPacer{}}
	opts := append([]harnessOption{func(o *OutboundOptions) {
		o.Identities = []Identity{
			{Name: "default", Primary: true, AppID: testAppID, TenantID: "tenant-1", Tokens: b.primary},
			{Name: "second", AppID: secondAppID, TenantID: "tenant-2", Tokens: b.second},
			{Name: "third", AppID: thirdAppID, TenantID: "tenant-3", Tokens: b.third, Elsewhere: true},
		}
		o.Pacer = b.pacer
	}}, mod...)
	b.harness = newHarness(t, opts...)
	return b
}

// putBotRef stores identity's reference for conversationID, with its bot
// account, as an inbound activity for that bot would.
func (h *harness) putBotRef(identity, appID, conversationID string) {
	h.t.Helper()
	err := h.store.Put(context.Background(), store.Reference{
		ConversationID: conversationID, ServiceURL: h.serviceURL, Vouched: true, ChannelID: "msteams",
		Bot:      json.RawMessage(`{"id":"28:` + appID + `","name":"` + identity + `"}`),
		User:     json.RawMessage(`{"id":"29:user-1"}`),
		TenantID: "tenant-1", UpdatedAt: time.Now(), Identity: identity,
	})
	if err != nil {
		h.t.Fatal(err)
	}
}

// sentAs returns the bearer token and from.id of the connector's only request.
func (h *harness) sentAs() (token, from string) {
	h.t.Helper()
	req := h.onlyRequest()
	var body struct {
		From struct {
			ID string `json:"id"`
		} `json:"from"`
	}
	_ = json.Unmarshal(req.Body, &body)
	return strings.TrimPrefix(req.Header.Get("Authorization"), "Bearer "), body.From.ID
}

const botReply = `{"type":"message","text":"hi"}`

func TestOutboundIdentityOfACall(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		refs      []string // identities with a reference for a:chat ("" the primary)
		path      string
		wantToken string
		wantFrom  string
	}{
		{name: "primary's conversation", refs: []string{""}, path: "/v3/conversations/a:chat/activities",
			wantToken: "token-of-primary", wantFrom: "28:" + testAppID},
		{name: "prefix names the second bot", refs: []string{"second"}, path: "/bots/second/v3/conversations/a:chat/activities",
			wantToken: "token-of-second", wantFrom: "28:" + secondAppID},
		{name: "prefix name in another case", refs: []string{"second"}, path: "/bots/SECOND/v3/conversations/a:chat/activities",
			wantToken: "token-of-second", wantFrom: "28:" + secondAppID},
		{name: "the reference decides without a prefix", refs: []string{"second"}, path: "/v3/conversations/a:chat/activities",
			wantToken: "token-of-second", wantFrom: "28:" + secondAppID},
		{name: "group chat of two, no prefix: the primary's", refs: []string{"", "second"}, path: "/v3/conversations/a:chat/activities",
			wantToken: "token-of-primary", wantFrom: "28:" + testAppID},
		{name: "group chat of two, prefix: the second's", refs: []string{"", "second"}, path: "/bots/second/v3/conversations/a:chat/activities",
			wantToken: "token-of-second", wantFrom: "28:" + secondAppID},
		{name: "the primary named by its name", refs: []string{"", "second"}, path: "/bots/default/v3/conversations/a:chat/activities",
			wantToken: "token-of-primary", wantFrom: "28:" + testAppID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := newBots(t)
			for _, id := range tt.refs {
				app := testAppID
				if id == "second" {
					app = secondAppID
				}
				b.putBotRef(id, app, "a:chat")
			}
			resp, body := b.do("POST", tt.path, botReply, nil)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("POST %s = %d %s; want 200", tt.path, resp.StatusCode, body)
			}
			token, from := b.sentAs()
			if token != tt.wantToken || from != tt.wantFrom {
				t.Errorf("POST %s sent with %q as %q; want %q as %q", tt.path, token, from, tt.wantToken, tt.wantFrom)
			}
			if got, want := b.onlyRequest().RawURI, "/amer/v3/conversations/a:chat/activities"; got != want {
				t.Errorf("upstream path = %q; want %q (the prefix is the sidecar's, not the connector's)", got, want)
			}
			b.pacer.mu.Lock()
			defer b.pacer.mu.Unlock()
			if wantBot := map[string]string{"token-of-primary": testAppID, "token-of-second": secondAppID}[tt.wantToken]; len(b.pacer.keys) != 1 || b.pacer.keys[0].Bot != wantBot {
				t.Errorf("paced as %+v; want bot %s", b.pacer.keys, wantBot)
			}
		})
	}
}

// No call is made as a bot with a listener of its own, or into another
// bot's conversation as a bot that named itself: 403, and no token of
// either is asked for.
func TestOutboundRefusesAnotherBotsIdentity(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		refs []string
		path string
	}{
		{name: "prefix of a bot with its own listener", refs: []string{"third"}, path: "/bots/third/v3/conversations/a:chat/activities"},
		{name: "conversation only a bot with its own listener knows", refs: []string{"third"}, path: "/v3/conversations/a:chat/activities"},
		{name: "named bot, another bot's conversation", refs: []string{""}, path: "/bots/second/v3/conversations/a:chat/activities"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := newBots(t)
			for _, id := range tt.refs {
				b.putBotRef(id, thirdAppID, "a:chat")
			}
			resp, body := b.do("POST", tt.path, botReply, nil)
			if resp.StatusCode != http.StatusForbidden || errorCode(t, body) != CodeForbidden {
				t.Fatalf("POST %s = %d %s; want 403 %s", tt.path, resp.StatusCode, body, CodeForbidden)
			}
			if n := len(b.conn.Requests()); n != 0 {
				t.Errorf("connector got %d requests; want none", n)
			}
			if n := b.primary.count() + b.second.count() + b.third.count(); n != 0 {
				t.Errorf("%d tokens asked for; want none", n)
			}
		})
	}
}

func TestOutboundUnknownBotPrefix(t *testing.T) {
	t.Parallel()
	b := newBots(t)
	resp, body := b.do("POST", "/bots/nobody/v3/conversations/a:chat/activities", botReply, nil)
	if resp.StatusCode != http.StatusNotFound || errorCode(t, body) != CodeUnknownRoute {
		t.Fatalf("unknown prefix = %d %s; want 404 %s", resp.StatusCode, body, CodeUnknownRoute)
	}
}

// A bot on a listener of its own sends as itself only: into its own
// conversations, never the primary's.
func TestOutboundOwnListener(t *testing.T) {
	t.Parallel()
	third, primary := &botTokens{name: "third"}, &botTokens{name: "primary"}
	h := newHarness(t, func(o *OutboundOptions) {
		o.Identities = []Identity{
			{Name: "third", AppID: thirdAppID, Tokens: third},
			{Name: "default", Primary: true, AppID: testAppID, Elsewhere: true},
		}
	})
	h.putBotRef("third", thirdAppID, "a:mine")
	h.putBotRef("", testAppID, "a:theirs")
	if resp, body := h.do("POST", "/v3/conversations/a:theirs/activities", botReply, nil); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("send into the primary's conversation = %d %s; want 403", resp.StatusCode, body)
	}
	if resp, body := h.do("POST", "/bots/default/v3/conversations/a:theirs/activities", botReply, nil); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("naming the primary = %d %s; want 403", resp.StatusCode, body)
	}
	if n := len(h.conn.Requests()); n != 0 || primary.count() != 0 {
		t.Fatalf("connector got %d requests; want none", n)
	}
	if resp, body := h.do("POST", "/v3/conversations/a:mine/activities", botReply, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("send into its own conversation = %d %s; want 200", resp.StatusCode, body)
	}
	if token, from := h.sentAs(); token != "token-of-third" || from != "28:"+thirdAppID {
		t.Errorf("sent with %q as %q; want the third bot's token and account", token, from)
	}
}

// A call that no reference resolves goes where the connections map says,
// with that bot's tenant filled in; one the map leaves alone is the
// primary's.
func TestOutboundConnectionsMap(t *testing.T) {
	t.Parallel()
	var routed []string
	var mu sync.Mutex
	b := newBots(t, func(o *OutboundOptions) {
		o.Route = func(serviceURL string) string {
			mu.Lock()
			defer mu.Unlock()
			routed = append(routed, serviceURL)
			return "second"
		}
	})
	create := `{"isGroup":false,"members":[{"id":"29:user-9"}],"activity":{"type":"message","text":"hi"}}`
	resp, body := b.do("POST", "/v3/conversations", create, http.Header{"X-Service-Url": {b.serviceURL}})
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		t.Fatalf("create = %d %s; want success", resp.StatusCode, body)
	}
	req := b.onlyRequest()
	if got := req.Header.Get("Authorization"); got != "Bearer token-of-second" {
		t.Errorf("create sent with %q; want the second bot's token", got)
	}
	m := decode(t, req.Body)
	if m["tenantId"] != "tenant-2" {
		t.Errorf("create body = %s; want the second bot's tenant", req.Body)
	}
	if len(routed) != 1 || routed[0] != b.serviceURL {
		t.Errorf("map asked for %q; want the upstream %q", routed, b.serviceURL)
	}
	// The conversation it created is the second bot's: its first send
	// resolves, as that bot.
	var created struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(body, &created)
	b.conn.Reset()
	resp, body = b.do("POST", "/bots/second/v3/conversations/"+created.ID+"/activities", botReply, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("send into the created conversation = %d %s; want 200", resp.StatusCode, body)
	}
	if token, _ := b.sentAs(); token != "token-of-second" {
		t.Errorf("send sent with %q; want the second bot's token", token)
	}
}

// The map cannot hand a bot with a listener of its own to this one.
func TestOutboundConnectionsMapRefusesElsewhere(t *testing.T) {
	t.Parallel()
	b := newBots(t, func(o *OutboundOptions) { o.Route = func(string) string { return "third" } })
	resp, body := b.do("POST", "/v3/conversations", `{"isGroup":false,"members":[{"id":"29:u"}]}`, http.Header{"X-Service-Url": {b.serviceURL}})
	if resp.StatusCode != http.StatusForbidden || b.third.count() != 0 {
		t.Fatalf("create mapped to a bot with its own listener = %d %s, %d of its tokens; want 403 and none", resp.StatusCode, body, b.third.count())
	}
}

func TestNewOutboundRefusesAmbiguousIdentities(t *testing.T) {
	t.Parallel()
	trust, _ := NewTrustList(nil)
	tok := &botTokens{}
	for _, ids := range [][]Identity{
		{{Name: "a", AppID: testAppID, Tokens: tok}, {Name: "A", AppID: secondAppID, Tokens: tok}},
		{{Name: "a", AppID: testAppID, Tokens: tok}, {AppID: secondAppID, Tokens: tok}},
		{{Name: "a", AppID: testAppID, Tokens: tok}, {Name: "b/c", AppID: secondAppID, Tokens: tok}},
		{{Name: "a", AppID: testAppID, Elsewhere: true}, {Name: "b", AppID: secondAppID, Tokens: tok}},
	} {
		_, err := NewOutbound(OutboundOptions{Identities: ids, References: &memRefs{}, Trust: trust, MaxBodyBytes: 1})
		if err == nil {
			t.Errorf("NewOutbound(%s) = nil error; want one", fmt.Sprint(ids))
		}
	}
}

// memRefs resolves nothing.
type memRefs struct{}

func (memRefs) Get(context.Context, string) (store.Reference, error) {
	return store.Reference{}, store.ErrNotFound
}

func (memRefs) NewestForTenant(context.Context, string) (store.Reference, error) {
	return store.Reference{}, store.ErrNotFound
}

// appAuth accepts "Bearer <app id>" as a vouching token for that app.
type appAuth struct{}

func (appAuth) Verify(_ context.Context, authz string) (VerifiedToken, error) {
	return appToken(strings.TrimPrefix(authz, "Bearer ")), nil
}

type appToken string

func (t appToken) App() string                              { return string(t) }
func (appToken) CheckActivity(string, string) (bool, error) { return true, nil }

// Two bots in one group chat: each gets the channel's activity at its own
// URL with its own serviceUrl, and each keeps its own reference and its
// own redelivery window.
func TestInboundTwoBotsInOneChat(t *testing.T) {
	t.Parallel()
	type got struct{ bot, serviceURL string }
	var mu sync.Mutex
	var received []got
	bot := func(name string) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var a struct {
				ServiceURL string `json:"serviceUrl"`
			}
			_ = json.NewDecoder(r.Body).Decode(&a)
			mu.Lock()
			received = append(received, got{name, a.ServiceURL})
			mu.Unlock()
			w.WriteHeader(http.StatusOK)
		}))
		t.Cleanup(srv.Close)
		return srv.URL + "/api/messages"
	}
	h := newInboundHarness(t, okBot, func(o *InboundOptions) {
		o.Auth = appAuth{}
		o.Identities = []Identity{
			{Name: "default", Primary: true, AppID: testAppID, BotURL: bot("default"), OutboundURL: "http://127.0.0.1:3979/"},
			{Name: "second", AppID: secondAppID, BotURL: bot("second"), OutboundURL: "http://127.0.0.1:3979/bots/second/"},
		}
		window, err := memstore.NewWindow(100, time.Now)
		if err != nil {
			t.Fatal(err)
		}
		o.Redeliveries = window
	})
	for _, app := range []string{testAppID, secondAppID, secondAppID} { // the last one a redelivery
		if resp, body := h.post("Bearer "+strings.ToUpper(app), inboundActivity, nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("activity for %s = %d %s; want 200", app, resp.StatusCode, body)
		}
	}
	want := []got{{"default", "http://127.0.0.1:3979/"}, {"second", "http://127.0.0.1:3979/bots/second/"}}
	if fmt.Sprint(received) != fmt.Sprint(want) {
		t.Errorf("bots received %v; want %v (the redelivery answered from the second's window)", received, want)
	}
	primary, err := h.store.Get(t.Context(), "a:conv1")
	if err != nil || primary.Identity != "" {
		t.Errorf("primary's reference = %+v, %v; want one under the bare id", primary, err)
	}
	second, err := h.store.Get(t.Context(), store.Key("second", "a:conv1"))
	if err != nil || second.Identity != "second" || second.ServiceURL != "https://smba.trafficmanager.net/amer/" {
		t.Errorf("second's reference = %+v, %v; want its own, with the real serviceUrl", second, err)
	}
}
