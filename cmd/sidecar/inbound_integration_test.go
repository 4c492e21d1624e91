package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/botsidecar/sidecar/store"
)

// teamsActivity is an inbound Teams message for conversation id.
func (s *stack) teamsActivity(id, serviceURL string) string {
	return `{"type":"message","id":"1700000000001","timestamp":"2026-11-23T10:00:00.000Z","serviceUrl":"` + serviceURL + `",` +
		`"channelId":"msteams","from":{"id":"29:user-1","name":"Ada","aadObjectId":"obj-1"},` +
		`"conversation":{"conversationType":"personal","tenantId":"` + itTenant + `","id":"` + id + `"},` +
		`"recipient":{"id":"28:` + itAppID + `","name":"Echo"},"text":"hello","textFormat":"plain",` +
		`"entities":[{"type":"clientInfo","locale":"en-US"}],"channelData":{"tenant":{"id":"` + itTenant + `"}},"locale":"en-US"}`
}

func (s *stack) postInbound(authz, body string) (int, string) {
	s.t.Helper()
	return s.postJSON(s.inbound+"/api/messages", authz, body)
}

// postJSON posts body to url, with authz as Authorization unless empty.
func (s *stack) postJSON(url, authz, body string) (int, string) {
	s.t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The whole round trip: a signed Teams message in, the bot's reply with
// the classic mistakes out, arriving fixed at the real service URL.
func TestIntegrationInboundThenReply(t *testing.T) {
	s := startStack(t, nil)
	s.waitReady()
	su := s.conn.ServiceURL()
	status, body := s.postInbound("Bearer "+s.channel.Token(itAppID, su), s.teamsActivity("a:1conv", su))
	if status != 200 {
		t.Fatalf("inbound = %d %s; want 200", status, body)
	}
	got := s.bot.Received()
	if len(got) != 1 || !strings.Contains(string(got[0]), `"serviceUrl":"`+s.base+`/"`) {
		t.Fatalf("bot received %q; want the activity with the sidecar as serviceUrl", got)
	}
	replies := s.bot.Replies()
	if len(replies) != 1 || replies[0].Status != 200 {
		t.Fatalf("bot's reply = %+v; want 200", replies)
	}
	reqs := s.conn.Requests()
	if len(reqs) != 1 {
		t.Fatalf("connector got %d requests; want 1", len(reqs))
	}
	r := reqs[0]
	if want := "/amer/v3/conversations/a:1conv/activities/1700000000001"; r.RawURI != want {
		t.Errorf("upstream path = %q; want %q", r.RawURI, want)
	}
	var sent struct {
		From       struct{ ID string }
		ServiceURL string
	}
	if err := json.Unmarshal(r.Body, &sent); err != nil {
		t.Fatal(err)
	}
	if sent.From.ID != "28:"+itAppID || sent.ServiceURL != su {
		t.Errorf("upstream from=%q serviceUrl=%q; want 28:<appId> and %q", sent.From.ID, sent.ServiceURL, su)
	}
	if _, err := s.entra.Verify(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")); err != nil {
		t.Errorf("upstream token does not verify against the fake Entra: %v", err)
	}
}

// The forged-token matrix, through the real sidecar: each 401, the bot
// never called, nothing stored, and an outbound send to the conversation
// afterwards is refused locally.
func TestIntegrationForgedTokens(t *testing.T) {
	s := startStack(t, nil)
	s.waitReady()
	su := s.conn.ServiceURL()
	ch := s.channel
	claims := func(edit func(map[string]any)) map[string]any {
		c := ch.Claims(itAppID, su)
		edit(c)
		return c
	}
	unknown := ch.NewUnpublishedSigner("unpublished-kid")
	valid := ch.Token(itAppID, su)
	tampered := valid[:len(valid)-4] + "AAAA"
	tests := []struct {
		name  string
		authz string
		body  string
	}{
		{"no header", "", ""},
		{"not bearer", "Basic " + valid, ""},
		{"expired", "Bearer " + ch.TokenWith(claims(func(c map[string]any) { c["exp"] = time.Now().Add(-10 * time.Minute).Unix() }), nil, "RS256"), ""},
		{"not yet valid", "Bearer " + ch.TokenWith(claims(func(c map[string]any) { c["nbf"] = time.Now().Add(10 * time.Minute).Unix() }), nil, "RS256"), ""},
		{"wrong audience", "Bearer " + ch.TokenWith(claims(func(c map[string]any) { c["aud"] = "00000000-0000-0000-0000-000000000000" }), nil, "RS256"), ""},
		{"wrong issuer", "Bearer " + ch.TokenWith(claims(func(c map[string]any) { c["iss"] = "https://evil.example" }), nil, "RS256"), ""},
		{"bad signature", "Bearer " + tampered, ""},
		{"unknown kid", "Bearer " + unknown.Sign(ch.Claims(itAppID, su)), ""},
		{"alg none", "Bearer " + ch.TokenWith(ch.Claims(itAppID, su), nil, "none"), ""},
		{"HS256 with the public key", "Bearer " + ch.TokenWith(ch.Claims(itAppID, su), nil, "HS256"), ""},
		{"serviceurl claim differs", "Bearer " + ch.Token(itAppID, "https://smba.trafficmanager.net/emea/"), ""},
		{"channel not endorsed", "Bearer " + valid, strings.Replace(s.teamsActivity("a:forged", su), `"channelId":"msteams"`, `"channelId":"slack"`, 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := tt.body
			if body == "" {
				body = s.teamsActivity("a:forged", su)
			}
			before := len(s.bot.Received())
			status, resp := s.postInbound(tt.authz, body)
			if status != 401 || !strings.Contains(resp, `"Unauthorized"`) {
				t.Fatalf("inbound = %d %s; want 401 Unauthorized", status, resp)
			}
			if len(s.bot.Received()) != before {
				t.Error("the bot was called")
			}
			if _, err := s.app.store.Get(context.Background(), "a:forged"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("a reference was stored: %v", err)
			}
		})
	}
	status, body := s.send("a:forged", `{"type":"message","text":"proactive"}`)
	if status != 404 || !strings.Contains(body, "ConversationNotResolved") {
		t.Errorf("outbound send after rejected activities = %d %s; want 404 ConversationNotResolved", status, body)
	}
	if n := len(s.conn.Requests()); n != 0 {
		t.Errorf("connector got %d requests; want none", n)
	}
}

func TestIntegrationKeyRotation(t *testing.T) {
	s := startStack(t, nil)
	s.waitReady()
	su := s.conn.ServiceURL()
	if status, body := s.postInbound("Bearer "+s.channel.Token(itAppID, su), s.teamsActivity("a:1", su)); status != 200 {
		t.Fatalf("before rotation = %d %s", status, body)
	}
	s.channel.RotateKey("rotated-kid")
	if status, body := s.postInbound("Bearer "+s.channel.Token(itAppID, su), s.teamsActivity("a:1", su)); status != 200 {
		t.Fatalf("after rotation = %d %s; want 200 after one key re-fetch", status, body)
	}
}

func TestIntegrationThreadReplyUsesChannelReference(t *testing.T) {
	s := startStack(t, nil)
	s.waitReady()
	su := s.conn.ServiceURL()
	channelID := "19:general@thread.tacv2"
	act := strings.Replace(s.teamsActivity(channelID, su), `"conversationType":"personal"`, `"conversationType":"channel"`, 1)
	if status, body := s.postInbound("Bearer "+s.channel.Token(itAppID, su), act); status != 200 {
		t.Fatalf("inbound = %d %s", status, body)
	}
	s.conn.Reset()
	if status, body := s.send(channelID+";messageid=42", `{"type":"message","text":"in thread"}`); status != 200 {
		t.Fatalf("thread send = %d %s; want 200 via the channel's reference", status, body)
	}
	if got := s.conn.Requests()[0].RawURI; got != "/amer/v3/conversations/"+channelID+";messageid=42/activities" {
		t.Errorf("upstream path = %q", got)
	}
}
