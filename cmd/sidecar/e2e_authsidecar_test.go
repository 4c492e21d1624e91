package main

// The end-to-end test of a stock Agents SDK bot in production mode
// (NODE_ENV=production), which refuses every request without a valid
// token and has no credential of its own: the sidecar's auth sidecar
// listener hands it the bot's token (AuthType=EntraAuthSideCar), and the
// sidecar signs what it forwards with keys that listener publishes.

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/botsidecar/sidecar/internal/testkit"
)

// testE2EAgentsBotProduction runs as a subtest of TestE2E, which built bin.
func testE2EAgentsBotProduction(t *testing.T, bin, dir string) {
	// The bot is told the listener's address before the sidecar binds it.
	authAddr := testkit.FreeAddr(t)
	auth := "http://" + authAddr
	s := e2eStartStack(t, bin, dir, "agents-bot.js", e2eExtra{
		// The SDK's own configuration, and nothing but it.
		bot: map[string]string{
			"NODE_ENV": "production",
			"Connections__serviceConnection__Settings__ClientId":          e2eAppID,
			"Connections__serviceConnection__Settings__AuthType":          "EntraAuthSideCar",
			"Connections__serviceConnection__Settings__AuthorityEndpoint": auth + "/inbound",
			"SIDECAR_URL": auth,
		},
		sidecar: map[string]string{
			"SIDECAR_AUTH_SIDECAR_ADDR": authAddr,
			"SIDECAR_SIGN_INBOUND":      "true",
		},
	})

	// The bot really is in production mode: without a token it refuses.
	resp, err := http.Post(s.botURL+"/api/messages", "application/json",
		strings.NewReader(e2eTeamsActivity("message", "1", "a:unsigned", "personal", s.outbound, `,"text":"hi"`)))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("unauthenticated POST to the bot = %d %s; want 401 (NODE_ENV=production)", resp.StatusCode, body)
	}

	const root, id = "1700000001800", "1700000001802"
	conv := e2eThreadID(root)
	before, sentBefore := len(s.botReceived()), len(s.botSent())
	text := "hello from production"
	s.sendChannelMessage(t, root, id, text)

	// The reply reached the connector with the sidecar's token, from the
	// bot's Teams account.
	r, err := s.onlyRequest()
	if err != nil {
		t.Fatal(err)
	}
	if want := "/amer/v3/conversations/" + conv + "/activities/" + id; r.Method != http.MethodPost || r.RawURI != want {
		t.Errorf("reply = %s %s; want POST %s", r.Method, r.RawURI, want)
	}
	if a := s.checkActivity(t, r, conv); a.Text != "echo: "+text || a.ReplyToID != id {
		t.Errorf("reply text=%q replyToId=%q; want %q, %q", a.Text, a.ReplyToID, "echo: "+text, id)
	}

	// The bot got the activity with the sidecar's signed token, not the
	// channel's: issued by the listener, for the bot's app, vouching for
	// the serviceUrl the bot sees.
	got := s.botReceived()
	if len(got) != before+1 {
		t.Fatalf("the bot received %d requests for one activity; want 1", len(got)-before)
	}
	signed, ok := strings.CutPrefix(got[before].Headers["authorization"], "Bearer ")
	if !ok {
		t.Fatalf("the bot received Authorization %q; want the sidecar's Bearer token", got[before].Headers["authorization"])
	}
	s.noLogs(signed)
	claims := e2eClaims(t, signed)
	if claims["iss"] != auth+"/inbound/v2.0" || claims["aud"] != e2eAppID || claims["serviceurl"] != s.outbound {
		t.Errorf("signed token claims = %v; want iss %s/inbound/v2.0, aud %s, serviceurl %s", claims, auth, e2eAppID, s.outbound)
	}

	// The SDK asked the listener for a token, as its sidecar provider
	// does, and sent its reply with that token: the one the sidecar holds.
	sent := s.botSent()[sentBefore:]
	var asked bool
	var replyAuth string
	for _, q := range sent {
		switch {
		case strings.HasPrefix(q.URL, auth+"/AuthorizationHeaderUnauthenticated/default?"):
			asked = true
		case strings.HasPrefix(q.URL, s.outbound):
			replyAuth = q.Headers["authorization"]
		default:
			t.Errorf("the SDK sent %s %s, neither to the auth sidecar listener nor to the outbound one", q.Method, q.URL)
		}
	}
	if !asked {
		t.Errorf("the SDK never asked %s for a token; it sent %v", auth, sent)
	}
	issued := s.entra.Issued()
	if !slices.Contains(issued, strings.TrimPrefix(replyAuth, "Bearer ")) {
		t.Errorf("the SDK replied with Authorization %.20q…, not a token the sidecar got from Entra", replyAuth)
	}
	// Handing the token out costs Entra nothing: the sidecar's cache serves.
	if len(issued) != 1 {
		t.Errorf("the fake Entra issued %d tokens; want 1", len(issued))
	}
}

// e2eClaims decodes a JWT's claims without verifying it (the bot did).
func e2eClaims(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts; want 3", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(b, &claims); err != nil {
		t.Fatal(err)
	}
	return claims
}
