package proxy

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/botsidecar/sidecar/internal/fakes"
)

// jwtTokens hands out an unsigned JWT with the given claims.
type jwtTokens struct{ claims map[string]any }

func (j jwtTokens) Token(context.Context) (string, error) {
	b, _ := json.Marshal(j.claims)
	return "eyJhbGciOiJSUzI1NiJ9." + base64.RawURLEncoding.EncodeToString(b) + ".c2lnbmF0dXJl", nil
}
func (jwtTokens) Invalidate(string) {}

func TestDiagnostics401ShowsTokenClaims(t *testing.T) {
	t.Parallel()
	exp := time.Now().Add(time.Hour).Unix()
	h := newHarness(t, func(o *OutboundOptions) {
		o.Tokens = jwtTokens{claims: map[string]any{"aud": "https://api.botframework.com", "appid": "other-app", "tid": "other-tenant", "exp": exp}}
	})
	h.putRef("a:1")
	deny := fakes.ConnectorResponse{Status: 401, Body: `{"message":"Authorization has been denied for this request."}`}
	h.conn.Enqueue(deny, deny)
	resp, body := h.do("POST", "/v3/conversations/a:1/activities", `{"type":"message"}`, nil)
	if resp.StatusCode != 401 {
		t.Fatalf("status = %d; want 401", resp.StatusCode)
	}
	var got struct {
		Message     string
		Diagnostics diagnostics
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("body %s: %v", body, err)
	}
	if got.Message != "Authorization has been denied for this request." {
		t.Errorf("upstream message lost: %s", body)
	}
	tc := got.Diagnostics.Token
	if tc == nil || tc.Audience != "https://api.botframework.com" || tc.AppID != "other-app" || tc.Tenant != "other-tenant" || tc.Expires != exp {
		t.Fatalf("token claims = %+v; want aud, appid, tid, exp", tc)
	}
	hints := strings.Join(got.Diagnostics.Hints, "\n")
	if !strings.Contains(hints, "issued to app other-app, not "+testAppID) || !strings.Contains(hints, "tenant other-tenant") {
		t.Errorf("hints = %q; want the app and tenant mismatches named", hints)
	}
	if strings.Contains(string(body), "c2lnbmF0dXJl") || strings.Contains(string(body), "eyJhbGciOiJSUzI1NiJ9") {
		t.Error("the token itself is in the body")
	}
	line := h.logs.FilterMessage("outbound call").All()[0].ContextMap()
	d, _ := line["diagnostics"].(map[string]any)
	if d["token_appid"] != "other-app" || d["token_tid"] != "other-tenant" {
		t.Errorf("log line diagnostics = %v; want the token's claims", d)
	}
	for _, e := range h.logs.All() {
		if s := strings.Join([]string{e.Message, jsonString(e.ContextMap())}, " "); strings.Contains(s, "c2lnbmF0dXJl") {
			t.Error("the token is in the log")
		}
	}
}

func TestDiagnostics404SaysUninstalled(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.putRef("a:1")
	h.conn.Enqueue(fakes.ConnectorResponse{Status: 404, Body: `{"error":{"code":"ConversationNotFound","message":"Conversation not found."}}`})
	resp, body := h.do("POST", "/v3/conversations/a:1/activities", `{"type":"message"}`, nil)
	if resp.StatusCode != 404 {
		t.Fatalf("status = %d", resp.StatusCode)
	}
	var got struct {
		Error       struct{ Code string }
		Diagnostics diagnostics
	}
	_ = json.Unmarshal(body, &got)
	if got.Error.Code != "ConversationNotFound" {
		t.Errorf("upstream error code lost: %s", body)
	}
	if !strings.Contains(strings.Join(got.Diagnostics.Hints, " "), "uninstalled") {
		t.Errorf("hints = %v; want the uninstalled explanation", got.Diagnostics.Hints)
	}
	if len(h.logs.FilterMessage("outbound call").All()) != 1 {
		t.Error("want exactly one log line for the call")
	}
}

func TestDiagnosticsLeaveOtherErrorsAlone(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.putRef("a:1")
	const upstream = `{"error":{"code":"BadArgument","message":"x"}}`
	h.conn.Enqueue(fakes.ConnectorResponse{Status: 400, Body: upstream})
	_, body := h.do("POST", "/v3/conversations/a:1/activities", `{"type":"message"}`, nil)
	if string(body) != upstream {
		t.Errorf("body = %s; want the upstream body byte for byte", body)
	}
}

func TestAddMember(t *testing.T) {
	t.Parallel()
	tests := []struct{ give, want string }{
		{`{"a":1}`, `{"a":1,"d":true}`},
		{`{}`, `{"d":true}`},
		{"{ \"a\" : 1 }\n", `{ "a" : 1,"d":true}`},
	}
	for _, tt := range tests {
		got, ok := addMember([]byte(tt.give), "d", true)
		if !ok || string(got) != tt.want {
			t.Errorf("addMember(%q) = %q, %v; want %q", tt.give, got, ok, tt.want)
		}
	}
	for _, give := range []string{`[1]`, `"x"`, `{"a":`, `plain text`} {
		if _, ok := addMember([]byte(give), "d", true); ok {
			t.Errorf("addMember(%q) ok; want refused", give)
		}
	}
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
