package main

// End-to-end tests: the promise that matters most (the README's
// picture). A bot written with a stock Bot Framework SDK, configured with
// an EMPTY app id and password, and a bot with no SDK at all, work behind
// the REAL sidecar binary with no auth code. Everything runs as in a pod:
// the binary built from this directory, the bots in e2e/ under node, and
// the fake Entra, channel and connector on loopback TLS. Node and
// e2e/node_modules are required (`npm ci` in e2e/; ./scripts/test does it):
// without them these tests fail, they never skip.

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/botsidecar/sidecar/internal/fakes"
)

func TestE2E(t *testing.T) {
	dir := e2eDir(t)
	bin := e2eBuildSidecar(t, t.TempDir())

	// Each bot gets its own sidecar and fakes; the subtests of one bot
	// share them and run in order.
	t.Run("BotbuilderBot", func(t *testing.T) {
		t.Parallel()
		s := e2eStartStack(t, bin, dir, "botbuilder-bot.js")
		for _, tt := range e2eMessageCases {
			t.Run(tt.name, func(t *testing.T) { s.checkEchoReply(t, tt, true) })
		}
		t.Run("update and delete", s.checkUpdateDelete)
		t.Run("proactive", s.checkProactive)
		t.Run("create conversation", s.checkCreateConversation)
		t.Run("create and send", s.checkCreateAndSend)
		t.Run("expectReplies", s.checkExpectReplies)
		t.Run("invoke", s.checkInvokes)
	})
	t.Run("FetchBot", func(t *testing.T) {
		t.Parallel()
		s := e2eStartStack(t, bin, dir, "fetch-bot.js")
		for _, tt := range e2eMessageCases {
			t.Run(tt.name, func(t *testing.T) { s.checkEchoReply(t, tt, false) })
		}
	})
	t.Run("AgentsBot", func(t *testing.T) {
		t.Parallel()
		s := e2eStartStack(t, bin, dir, "agents-bot.js")
		t.Run("channel thread", s.checkAgentsThreadReply)
		t.Run("proactive top-level post", s.checkAgentsProactivePost)
		t.Run("create channel post", s.checkAgentsCreatePost)
		t.Run("paged members and team details", s.checkAgentsTeamReads)
	})
	t.Run("AgentsBotProduction", func(t *testing.T) {
		t.Parallel()
		testE2EAgentsBotProduction(t, bin, dir)
	})
	t.Run("FakesAreFaithful", func(t *testing.T) {
		t.Parallel()
		testE2EFakesAreFaithful(t, dir)
	})
}

// e2eMessageCase is a Teams conversation a message arrives in.
type e2eMessageCase struct {
	name             string
	conversationID   string
	conversationType string
	activityID       string
	// wantPath is where the reply must land at the connector: the real
	// service URL's path, with the conversation id as both bots encode it
	// (encodeURIComponent), byte for byte.
	wantPath string
}

var e2eMessageCases = []e2eMessageCase{
	{
		name:             "personal",
		conversationID:   "a:1e2e-Personal_Chat.xYz-0123",
		conversationType: "personal",
		activityID:       "1700000000101",
		wantPath:         "/amer/v3/conversations/a%3A1e2e-Personal_Chat.xYz-0123/activities/1700000000101",
	},
	{
		name:             "channel thread",
		conversationID:   "19:e2e-General_0123@thread.tacv2;messageid=1700000000200",
		conversationType: "channel",
		activityID:       "1700000000202",
		wantPath:         "/amer/v3/conversations/19%3Ae2e-General_0123%40thread.tacv2%3Bmessageid%3D1700000000200/activities/1700000000202",
	},
}

// sendMessage plays the channel: a signed Teams message with text in
// conversationID, through the sidecar; it wants the bot's 200. The
// connector's earlier requests are forgotten first.
func (s *e2eStack) sendMessage(t *testing.T, conversationID, conversationType, activityID, text, extra string) string {
	t.Helper()
	s.conn.Reset()
	activity := e2eTeamsActivity("message", activityID, conversationID, conversationType, s.conn.ServiceURL(),
		`,"text":`+e2eJSONString(t, text)+extra)
	resp, body := s.postInbound(activity, conversationID)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("inbound POST = %d %s; want 200", resp.StatusCode, body)
	}
	return activity
}

func e2eJSONString(t *testing.T, s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// e2eUpstreamActivity is what the checks read of an activity the
// connector received.
type e2eUpstreamActivity struct {
	Type         string
	ID           string
	Text         string
	ReplyToID    string `json:"replyToId"`
	ServiceURL   string `json:"serviceUrl"`
	ChannelID    string `json:"channelId"`
	From         struct{ ID string }
	Recipient    struct{ ID string }
	Conversation struct{ ID string }
}

// checkUpstream checks what every call the sidecar makes upstream must
// carry: the fake Entra's token for this bot's app and tenant, and no
// trace of the sidecar's own loopback address.
func (s *e2eStack) checkUpstream(t *testing.T, r fakes.ConnectorRequest) {
	t.Helper()
	claims, err := s.entra.Verify(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
	if err != nil {
		t.Errorf("%s %s: Authorization does not verify against the fake Entra: %v", r.Method, r.RawURI, err)
	} else if claims["tid"] != e2eTenant || claims["appid"] != e2eAppID {
		t.Errorf("%s %s: token claims tid=%v appid=%v; want %s and %s", r.Method, r.RawURI, claims["tid"], claims["appid"], e2eTenant, e2eAppID)
	}
	if local := strings.TrimPrefix(strings.TrimSuffix(s.outbound, "/"), "http://"); strings.Contains(string(r.Body), local) {
		t.Errorf("%s %s: the sidecar's own address %s leaked upstream:\n%s", r.Method, r.RawURI, local, r.Body)
	}
}

// checkActivity decodes an upstream activity and checks the fields the
// sidecar pins: from is the Teams bot account, serviceUrl the real one,
// and conversation, recipient and channelId are this conversation's.
func (s *e2eStack) checkActivity(t *testing.T, r fakes.ConnectorRequest, conversationID string) e2eUpstreamActivity {
	t.Helper()
	s.checkUpstream(t, r)
	var a e2eUpstreamActivity
	if err := json.Unmarshal(r.Body, &a); err != nil {
		t.Fatalf("%s %s: body is not JSON: %v\n%s", r.Method, r.RawURI, err, r.Body)
	}
	if a.From.ID != "28:"+e2eAppID {
		t.Errorf("%s %s: from.id = %q; want 28:%s", r.Method, r.RawURI, a.From.ID, e2eAppID)
	}
	if su := s.conn.ServiceURL(); a.ServiceURL != su {
		t.Errorf("%s %s: serviceUrl = %q; want the real one, %q", r.Method, r.RawURI, a.ServiceURL, su)
	}
	if a.Conversation.ID != conversationID || a.Recipient.ID != e2eUserID || a.ChannelID != "msteams" {
		t.Errorf("%s %s: conversation=%q recipient=%q channelId=%q; want %q, %q, msteams",
			r.Method, r.RawURI, a.Conversation.ID, a.Recipient.ID, a.ChannelID, conversationID, e2eUserID)
	}
	return a
}

// checkEchoReply sends a signed Teams message through the sidecar and
// checks both hops: what the bot received, and the echo reply the
// connector received. sdk says the bot is botbuilder (which sends
// x-ms-conversation-id on replies); else it is fetch-bot.js, which puts
// the raw app id in `from`, a Web Chat serviceUrl in the body, and no
// conversation, recipient or channelId.
func (s *e2eStack) checkEchoReply(t *testing.T, tt e2eMessageCase, sdk bool) {
	before := len(s.botReceived())
	text := `hello "e2e" ` + tt.name
	activity := s.sendMessage(t, tt.conversationID, tt.conversationType, tt.activityID, text, "")

	// Hop 1: the bot got the activity with the sidecar as serviceUrl,
	// every other byte as the channel sent it, no Authorization, and the
	// channel's correlation headers.
	got := s.botReceived()
	if len(got) != before+1 {
		t.Fatalf("the bot received %d requests for one inbound activity; want 1", len(got)-before)
	}
	in := got[before]
	su := s.conn.ServiceURL()
	want := strings.Replace(activity, `"serviceUrl":"`+su+`"`, `"serviceUrl":"`+s.outbound+`"`, 1)
	if in.Body != want {
		t.Errorf("the bot received\n%s\nwant (only serviceUrl changed)\n%s", in.Body, want)
	}
	if a, ok := in.Headers["authorization"]; ok {
		t.Errorf("the bot received Authorization %q; want none", a)
	}
	for k, v := range e2eChannelHeaders(tt.conversationID) {
		if g := in.Headers[strings.ToLower(k)]; g != v {
			t.Errorf("the bot received %s = %q; want %q", k, g, v)
		}
	}

	// Hop 2: the reply reached the connector at the real service URL,
	// authenticated by the fake Entra's token for this bot, fixed up.
	r, err := s.onlyRequest()
	if err != nil {
		t.Fatal(err)
	}
	if r.Method != http.MethodPost || r.RawURI != tt.wantPath {
		t.Errorf("upstream request = %s %s; want POST %s", r.Method, r.RawURI, tt.wantPath)
	}
	a := s.checkActivity(t, r, tt.conversationID)
	if a.Type != "message" || a.Text != "echo: "+text || a.ReplyToID != tt.activityID {
		t.Errorf("upstream activity type=%q text=%q replyToId=%q; want message, %q, %q", a.Type, a.Text, a.ReplyToID, "echo: "+text, tt.activityID)
	}
	if sdk {
		// botbuilder sends the header on replies; it must pass through.
		if g := r.Header.Get("x-ms-conversation-id"); g != tt.conversationID {
			t.Errorf("upstream x-ms-conversation-id = %q; want %q", g, tt.conversationID)
		}
	}
}

// checkUpdateDelete: botbuilder replies, then edits (PUT) and deletes
// (DELETE) its reply, each through the sidecar to the real service URL.
func (s *e2eStack) checkUpdateDelete(t *testing.T) {
	const conv = "a:1e2e-Update_Chat"
	const wantPrefix = "/amer/v3/conversations/a%3A1e2e-Update_Chat/activities/"
	s.sendMessage(t, conv, "personal", "1700000000401", "update please", "")
	reqs := s.conn.Requests()
	var got []string
	for _, r := range reqs {
		got = append(got, r.Method)
	}
	if !reflect.DeepEqual(got, []string{"POST", "PUT", "DELETE"}) {
		t.Fatalf("upstream methods = %v; want [POST PUT DELETE]", got)
	}
	if want := wantPrefix + "1700000000401"; reqs[0].RawURI != want {
		t.Errorf("reply = POST %s; want POST %s", reqs[0].RawURI, want)
	}
	put, del := reqs[1], reqs[2]
	if !strings.HasPrefix(put.RawURI, wantPrefix) || put.RawURI == wantPrefix || del.RawURI != put.RawURI {
		t.Errorf("update = PUT %s, delete = DELETE %s; want both at %s<reply id>", put.RawURI, del.RawURI, wantPrefix)
	}
	if a := s.checkActivity(t, put, conv); a.Text != "edited: update please" || wantPrefix+a.ID != put.RawURI {
		t.Errorf("updated activity id=%q text=%q; want the reply's id and %q", a.ID, a.Text, "edited: update please")
	}
	s.checkUpstream(t, del)
}

// checkProactive: botbuilder's continueConversationAsync with the stored
// conversation reference, the way a notification bot sends later.
func (s *e2eStack) checkProactive(t *testing.T) {
	const conv = "a:1e2e-Proactive_Chat"
	s.sendMessage(t, conv, "personal", "1700000000501", "proactive please", "")
	r, err := s.onlyRequest()
	if err != nil {
		t.Fatal(err)
	}
	// botbuilder replies to its continuation activity's generated id.
	if prefix := "/amer/v3/conversations/a%3A1e2e-Proactive_Chat/activities"; r.Method != http.MethodPost || !strings.HasPrefix(r.RawURI, prefix) {
		t.Errorf("proactive send = %s %s; want POST %s…", r.Method, r.RawURI, prefix)
	}
	if a := s.checkActivity(t, r, conv); a.Text != "proactive: proactive please" {
		t.Errorf("proactive text = %q; want %q", a.Text, "proactive: proactive please")
	}
}

// checkCreateConversation: botbuilder's createConversationAsync for a 1:1
// with the sender. The sidecar resolves the upstream from the tenant's
// newest reference and sends the bot's account and tenant.
func (s *e2eStack) checkCreateConversation(t *testing.T) {
	s.sendMessage(t, "a:1e2e-Create_Chat", "personal", "1700000000601", "create please", "")
	r, err := s.onlyRequest()
	if err != nil {
		t.Fatal(err)
	}
	if r.Method != http.MethodPost || r.RawURI != "/amer/v3/conversations" {
		t.Errorf("create = %s %s; want POST /amer/v3/conversations", r.Method, r.RawURI)
	}
	s.checkUpstream(t, r)
	var p struct {
		IsGroup  bool   `json:"isGroup"`
		TenantID string `json:"tenantId"`
		Bot      struct{ ID string }
		Members  []struct{ ID string }
	}
	if err := json.Unmarshal(r.Body, &p); err != nil {
		t.Fatalf("create body is not JSON: %v\n%s", err, r.Body)
	}
	if p.IsGroup || p.TenantID != e2eTenant || p.Bot.ID != "28:"+e2eAppID || len(p.Members) != 1 || p.Members[0].ID != e2eUserID {
		t.Errorf("create body = %s; want a 1:1 of bot 28:%s with %s in tenant %s", r.Body, e2eAppID, e2eUserID, e2eTenant)
	}
}

// checkCreateAndSend: the usual proactive 1:1, creating the chat and
// sending into it at once. The new conversation has no reference yet (the
// user has not written in it); the sidecar resolves it through the create
// call it just forwarded.
func (s *e2eStack) checkCreateAndSend(t *testing.T) {
	s.sendMessage(t, "a:1e2e-Create_Send", "personal", "1700000000602", "create and send please", "")
	reqs := s.conn.Requests()
	if len(reqs) != 2 {
		t.Fatalf("connector got %d requests; want the create and the first message", len(reqs))
	}
	if reqs[0].RawURI != "/amer/v3/conversations" {
		t.Errorf("first request = %s %s; want the create", reqs[0].Method, reqs[0].RawURI)
	}
	newID := "a:fake-1on1-" + e2eUserID
	if !strings.HasPrefix(reqs[1].RawURI, "/amer/v3/conversations/"+url.PathEscape(newID)) && !strings.HasPrefix(reqs[1].RawURI, "/amer/v3/conversations/"+strings.ReplaceAll(url.QueryEscape(newID), "+", "%20")) {
		t.Errorf("second request = %s %s; want a send into %s", reqs[1].Method, reqs[1].RawURI, newID)
	}
	if a := s.checkActivity(t, reqs[1], newID); a.Text != "created: create and send please" {
		t.Errorf("first message text = %q", a.Text)
	}
}

// checkExpectReplies: with deliveryMode expectReplies botbuilder sends
// nothing to the connector; its replies travel back in the answer to the
// channel's POST.
func (s *e2eStack) checkExpectReplies(t *testing.T) {
	const conv = "a:1e2e-ExpectReplies_Chat"
	s.conn.Reset()
	activity := e2eTeamsActivity("message", "1700000000701", conv, "personal", s.conn.ServiceURL(),
		`,"text":"buffered","deliveryMode":"expectReplies"`)
	resp, body := s.postInbound(activity, conv)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("inbound POST = %d %s; want 200", resp.StatusCode, body)
	}
	var got struct{ Activities []e2eUpstreamActivity }
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("expectReplies answer %q is not JSON: %v", body, err)
	}
	if len(got.Activities) != 1 || got.Activities[0].Text != "echo: buffered" || got.Activities[0].From.ID != "28:"+e2eAppID {
		t.Errorf("expectReplies answer = %s; want one activity from 28:%s with text %q", body, e2eAppID, "echo: buffered")
	}
	// The channel must not see the sidecar's loopback address.
	if len(got.Activities) == 1 && got.Activities[0].ServiceURL != s.conn.ServiceURL() {
		t.Errorf("expectReplies serviceUrl = %q; want the real %q", got.Activities[0].ServiceURL, s.conn.ServiceURL())
	}
	if n := len(s.conn.Requests()); n != 0 {
		t.Errorf("the connector received %d requests for expectReplies; want none", n)
	}
}

// checkInvokes sends Teams invokes through the sidecar to the botbuilder
// bot: the invoke response the SDK produces (status and body) must come
// back to the channel as the answer to its POST, and nothing goes to the
// connector.
func (s *e2eStack) checkInvokes(t *testing.T) {
	tests := []struct {
		name       string
		invokeName string
		value      string
		wantStatus int
		wantBody   string // JSON; "" for none
	}{
		{
			name:       "Action.Execute",
			invokeName: "adaptiveCard/action",
			value:      `{"action":{"type":"Action.Execute","verb":"approve","data":{"n":1}},"trigger":"manual"}`,
			wantStatus: http.StatusOK,
			wantBody:   `{"statusCode":200,"type":"application/vnd.microsoft.activity.message","value":"echo: approve"}`,
		},
		{
			name:       "unsupported action",
			invokeName: "adaptiveCard/action",
			value:      `{"action":{"type":"Action.Submit","verb":"approve"}}`,
			wantStatus: http.StatusBadRequest,
			wantBody:   `{"statusCode":400,"type":"application/vnd.microsoft.error","value":{"code":"NotSupported","message":"The action 'Action.Submit' is not supported."}}`,
		},
		{
			name:       "unknown invoke",
			invokeName: "e2e/unknown",
			value:      `{}`,
			wantStatus: http.StatusNotImplemented,
		},
	}
	const conv = "a:1e2e-Invoke_Chat"
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.conn.Reset()
			// One id per invoke: the same id again would be a redelivery,
			// answered with the first invoke's response.
			activity := e2eTeamsActivity("invoke", strconv.Itoa(1700000000301+i), conv, "personal", s.conn.ServiceURL(),
				`,"name":"`+tt.invokeName+`","value":`+tt.value)
			resp, body := s.postInbound(activity, conv)
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("invoke status = %d %s; want %d", resp.StatusCode, body, tt.wantStatus)
			}
			if tt.wantBody == "" {
				if len(body) != 0 {
					t.Errorf("invoke body = %s; want none", body)
				}
			} else {
				var got, want any
				if err := json.Unmarshal(body, &got); err != nil {
					t.Fatalf("invoke body %q is not JSON: %v", body, err)
				}
				if err := json.Unmarshal([]byte(tt.wantBody), &want); err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("invoke body = %s; want %s", body, tt.wantBody)
				}
				if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
					t.Errorf("invoke Content-Type = %q; want application/json", ct)
				}
			}
			if n := len(s.conn.Requests()); n != 0 {
				t.Errorf("the connector received %d requests for an invoke; want none", n)
			}
		})
	}
}

// testE2EFakesAreFaithful runs the fake channel's tokens through
// botframework-connector's own channel validation (e2e/validate-token.js):
// a valid one passes, and each forgery fails for the reason the SDK
// gives. The inbound tests above are only worth what the fakes are.
func testE2EFakesAreFaithful(t *testing.T, dir string) {
	channel := fakes.NewChannel(fakes.ChannelOptions{})
	t.Cleanup(channel.Close)
	certs := e2eCertFile(t, channel.CertificatePEM())
	const serviceURL = "https://smba.trafficmanager.net/amer/"
	valid := channel.Token(e2eAppID, serviceURL)
	// Flip a character early in the signature: the last one may only
	// change padding bits that decoders ignore.
	i := strings.LastIndexByte(valid, '.') + 10
	flip := byte('A')
	if valid[i] == 'A' {
		flip = 'B'
	}
	tampered := valid[:i] + string(flip) + valid[i+1:]

	tests := []struct {
		name      string
		token     string
		channelID string
		wantOK    bool
		wantError string // part of the SDK's error message
	}{
		{name: "valid", token: valid, channelID: "msteams", wantOK: true},
		{name: "tampered signature", token: tampered, channelID: "msteams", wantError: "invalid signature"},
		{name: "other audience", token: channel.Token("00000000-0000-0000-0000-000000000000", serviceURL), channelID: "msteams", wantError: "Invalid AppId"},
		{name: "other serviceurl", token: channel.Token(e2eAppID, "https://smba.trafficmanager.net/emea/"), channelID: "msteams", wantError: "ServiceUrl claim do not match"},
		{name: "channel not endorsed", token: valid, channelID: "e2e-unendorsed", wantError: "Could not validate endorsement"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, "node", filepath.Join(dir, "validate-token.js"))
			cmd.Dir = dir
			cmd.Env = e2eEnviron(map[string]string{
				"TOKEN":               tt.token,
				"OPENID_METADATA_URL": channel.MetadataURL(),
				"CHANNEL_ISSUER":      channel.Issuer(),
				"APP_ID":              e2eAppID,
				"SERVICE_URL":         serviceURL,
				"CHANNEL_ID":          tt.channelID,
				"NODE_EXTRA_CA_CERTS": certs,
			})
			var stderr e2eBuffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			line := strings.TrimSpace(string(out))
			switch {
			case tt.wantOK && (err != nil || !strings.HasPrefix(line, "ok ")):
				t.Errorf("validate-token.js(%s) = %v %q; want ok\nstderr:\n%s", tt.name, err, line, stderr.String())
			case tt.wantOK:
				var claims map[string]any
				if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "ok ")), &claims); err != nil {
					t.Fatalf("validate-token.js printed %q: %v", line, err)
				}
				if claims["aud"] != e2eAppID || claims["serviceurl"] != serviceURL || claims["iss"] != channel.Issuer() {
					t.Errorf("validated claims = %v; want aud %s, serviceurl %s, iss %s", claims, e2eAppID, serviceURL, channel.Issuer())
				}
			case err == nil:
				t.Errorf("validate-token.js(%s) = ok %q; want an error with %q", tt.name, line, tt.wantError)
			case !strings.Contains(line, tt.wantError):
				t.Errorf("validate-token.js(%s) = %q; want an error with %q\nstderr:\n%s", tt.name, line, tt.wantError, stderr.String())
			}
		})
	}
}

// checkAgentsThreadReply: the Agents SDK bot answers a channel message in
// its thread. The SDK writes the conversation id into the path unescaped
// (connectorClient.replyToActivity); the sidecar must forward those bytes
// to the real service URL with its own token, and the reply must come
// from the bot's Teams account.
func (s *e2eStack) checkAgentsThreadReply(t *testing.T) {
	const root, id = "1700000000800", "1700000000802"
	conv := e2eThreadID(root)
	before := len(s.botReceived())
	text := `hello "agents" in a thread`
	r, sentBefore := s.channelTurn(t, root, id, text)

	// The bot got the activity with the sidecar as serviceUrl and no
	// Authorization (the SDK's no-credentials mode takes it as anonymous).
	got := s.botReceived()
	if len(got) != before+1 {
		t.Fatalf("the bot received %d requests for one inbound activity; want 1", len(got)-before)
	}
	in := got[before]
	var inbound struct {
		ServiceURL  string `json:"serviceUrl"`
		ChannelData struct {
			Team, Channel struct{ ID string }
		} `json:"channelData"`
	}
	if err := json.Unmarshal([]byte(in.Body), &inbound); err != nil {
		t.Fatalf("the bot received a body that is not JSON: %v\n%s", err, in.Body)
	}
	if inbound.ServiceURL != s.outbound || inbound.ChannelData.Team.ID != e2eTeamID || inbound.ChannelData.Channel.ID != e2eChannelID {
		t.Errorf("the bot received\n%s\nwant serviceUrl %s and the team and channel ids", in.Body, s.outbound)
	}
	if a, ok := in.Headers["authorization"]; ok {
		t.Errorf("the bot received Authorization %q; want none", a)
	}

	if want := "/amer/v3/conversations/" + conv + "/activities/" + id; r.Method != http.MethodPost || r.RawURI != want {
		t.Errorf("reply = %s %s; want POST %s", r.Method, r.RawURI, want)
	}
	a := s.checkActivity(t, r, conv)
	if a.Type != "message" || a.Text != "echo: "+text || a.ReplyToID != id {
		t.Errorf("reply type=%q text=%q replyToId=%q; want message, %q, %q", a.Type, a.Text, a.ReplyToID, "echo: "+text, id)
	}
	// The SDK propagates the channel's correlation id (HeaderPropagation);
	// checkForwardedAsSent checks it, with every other header the SDK set,
	// passes through.
	if g := r.Header.Get("x-ms-correlation-id"); g != e2eCorrelationID {
		t.Errorf("reply x-ms-correlation-id = %q; want the channel's %q", g, e2eCorrelationID)
	}
	s.checkForwardedAsSent(t, sentBefore, s.conn.Requests())
}

// checkAgentsProactivePost: the bot posts a new top-level message in the
// channel with continueConversation and a reference to the bare channel
// id. The bot holds no reference to it of its own; the sidecar learnt the
// channel from the thread message's channelData when it captured it.
func (s *e2eStack) checkAgentsProactivePost(t *testing.T) {
	r, sentBefore := s.channelTurn(t, "1700000000900", "1700000000901", "proactive please")
	// The SDK answers its continuation activity, whose id it generates
	// (Activity.getContinuationActivity): POST …/activities/<uuid>.
	prefix := "/amer/v3/conversations/" + e2eChannelID + "/activities/"
	if r.Method != http.MethodPost || !strings.HasPrefix(r.RawURI, prefix) || strings.Contains(r.RawURI, "messageid") {
		t.Errorf("proactive post = %s %s; want POST %s<id>", r.Method, r.RawURI, prefix)
	}
	s.checkUpstream(t, r)
	var a e2eUpstreamActivity
	if err := json.Unmarshal(r.Body, &a); err != nil {
		t.Fatalf("proactive post body is not JSON: %v\n%s", err, r.Body)
	}
	if a.From.ID != "28:"+e2eAppID || a.ServiceURL != s.conn.ServiceURL() || a.Conversation.ID != e2eChannelID || a.ChannelID != "msteams" {
		t.Errorf("proactive post from=%q serviceUrl=%q conversation=%q channelId=%q; want 28:%s, %q, %q, msteams",
			a.From.ID, a.ServiceURL, a.Conversation.ID, a.ChannelID, e2eAppID, s.conn.ServiceURL(), e2eChannelID)
	}
	if a.Text != "proactive: proactive please" {
		t.Errorf("proactive post text = %q; want %q", a.Text, "proactive: proactive please")
	}
	s.checkForwardedAsSent(t, sentBefore, s.conn.Requests())
}

// checkAgentsCreatePost: the Teams extension's sendMessageToTeamsChannel,
// createConversation in the channel with the first message: POST
// /v3/conversations naming the channel in channelData, resolved by the
// channel's captured reference.
func (s *e2eStack) checkAgentsCreatePost(t *testing.T) {
	r, sentBefore := s.channelTurn(t, "1700000001000", "1700000001001", "create please")
	if r.Method != http.MethodPost || r.RawURI != "/amer/v3/conversations" {
		t.Errorf("create = %s %s; want POST /amer/v3/conversations", r.Method, r.RawURI)
	}
	s.checkUpstream(t, r)
	type params struct {
		IsGroup     bool `json:"isGroup"`
		ChannelData struct {
			Channel struct{ ID string }
		} `json:"channelData"`
		Activity struct{ Type, Text string }
		Agent    *struct{ ID string }
		Bot      *struct{ ID string }
		TenantID string `json:"tenantId"`
	}
	var p params
	if err := json.Unmarshal(r.Body, &p); err != nil {
		t.Fatalf("create body is not JSON: %v\n%s", err, r.Body)
	}
	if !p.IsGroup || p.ChannelData.Channel.ID != e2eChannelID || p.Activity.Text != "created: create please" {
		t.Errorf("create body = %s; want a group conversation in channel %s with the first message", r.Body, e2eChannelID)
	}
	// The Agents SDK names the bot `agent` and sends no tenant
	// (TeamsInfo.sendMessageToTeamsChannel); the connector wants `bot` and
	// the sidecar pins both.
	sent := s.botSent()
	var fromSDK params
	if err := json.Unmarshal([]byte(sent[len(sent)-1].Body), &fromSDK); err != nil || fromSDK.Agent == nil || fromSDK.Bot != nil || fromSDK.TenantID != "" {
		t.Errorf("the SDK sent %s (%v); want ConversationParameters with agent, no bot and no tenant", sent[len(sent)-1].Body, err)
	}
	if p.Bot == nil || p.Bot.ID != "28:"+e2eAppID || p.TenantID != e2eTenant {
		t.Errorf("create body = %s; want bot 28:%s and tenant %s", r.Body, e2eAppID, e2eTenant)
	}
	s.checkForwardedAsSent(t, sentBefore, s.conn.Requests())
}

// checkAgentsTeamReads: TeamsInfo.getPagedMembers and getTeamDetails in a
// team's channel read the team (channelData.team.id): GET
// /v3/conversations/{teamId}/pagedMembers (the SDK's spelling, capital M)
// and GET /v3/teams/{teamId}, each answered 200 by the connector; the
// bot's reply says how each call went.
func (s *e2eStack) checkAgentsTeamReads(t *testing.T) {
	const root, id = "1700000001100", "1700000001101"
	sentBefore := len(s.botSent())
	s.sendChannelMessage(t, root, id, "members please")
	reqs := s.conn.Requests()
	want := []string{
		"GET /amer/v3/conversations/" + e2eTeamID + "/pagedMembers?pageSize=50",
		"GET /amer/v3/teams/" + e2eTeamID,
		"POST /amer/v3/conversations/" + e2eThreadID(root) + "/activities/" + id,
	}
	var got []string
	for _, r := range reqs {
		got = append(got, r.Method+" "+r.RawURI)
	}
	if !reflect.DeepEqual(got, want) {
		// The bot's reply, if it got through, says what the SDK was told.
		var said string
		if n := len(reqs); n > 0 && reqs[n-1].Method == http.MethodPost {
			said = "\nthe bot's last post: " + string(reqs[n-1].Body)
		}
		t.Fatalf("the connector received\n%s\nwant\n%s%s", strings.Join(got, "\n"), strings.Join(want, "\n"), said)
	}
	for _, r := range reqs[:2] {
		s.checkUpstream(t, r)
	}
	if a := s.checkActivity(t, reqs[2], e2eThreadID(root)); a.Text != "pagedMembers: ok; teamDetails: ok" {
		t.Errorf("the bot reported %q; want both reads ok", a.Text)
	}
	s.checkForwardedAsSent(t, sentBefore, reqs)
}
