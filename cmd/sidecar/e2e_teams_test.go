package main

// End-to-end test of a stock Teams SDK v2 bot (teams.ts,
// @microsoft/teams.apps) behind the real sidecar binary: e2e/teams-bot.js
// with no credentials, between the loopback fakes, as in a pod. Like the
// other e2e tests it needs node and e2e/node_modules and fails, never
// skips, without them.

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/botsidecar/sidecar/internal/fakes"
	"github.com/botsidecar/sidecar/internal/testkit"
)

func TestE2ETeamsSDK(t *testing.T) {
	dir := e2eDir(t)
	bin := e2eBuildSidecar(t, t.TempDir())

	t.Run("refuses unauthenticated requests without the flag", func(t *testing.T) {
		t.Parallel()
		testTeamsBotNeedsFlag(t, dir)
	})
	t.Run("TeamsBot", func(t *testing.T) {
		t.Parallel()
		s := e2eStartTeamsStack(t, bin, dir)
		for _, tt := range e2eMessageCases {
			t.Run(tt.name, func(t *testing.T) { s.checkTeamsEcho(t, tt) })
		}
		t.Run("proactive send", s.checkTeamsProactive)
		t.Run("proactive top-level post", s.checkTeamsProactivePost)
		t.Run("member reads", s.checkTeamsMemberReads)
	})
}

// e2eTeamsBotEnv is what a user gives teams.ts behind the sidecar: no
// CLIENT_ID or CLIENT_SECRET (e2eEnviron drops any from the shell), inbound
// authentication off, and the sidecar's outbound URL for the App's own
// client.
func e2eTeamsBotEnv(botAddr, outbound string) map[string]string {
	host, port, _ := net.SplitHostPort(botAddr)
	return map[string]string{
		"HOST": host, "PORT": port,
		"DANGEROUSLY_ALLOW_UNAUTHENTICATED_REQUESTS": "true",
		"SERVICE_URL": outbound,
	}
}

// e2eStartTeamsBot starts e2e/teams-bot.js on botAddr and waits until it
// listens there.
func e2eStartTeamsBot(t *testing.T, dir, botAddr string, env map[string]string) *e2eProc {
	t.Helper()
	p := e2eStart(t, "teams-bot.js", dir, env, "node", filepath.Join(dir, "teams-bot.js"))
	if got := p.waitOutput(regexp.MustCompile(`listening on (http://\S+)/api/messages`), 20*time.Second); got != "http://"+botAddr {
		t.Fatalf("teams-bot.js listens on %s; want http://%s", got, botAddr)
	}
	return p
}

// testTeamsBotNeedsFlag: with no credentials and without
// DANGEROUSLY_ALLOW_UNAUTHENTICATED_REQUESTS, teams.ts answers every
// inbound request 401, so behind the sidecar the flag is required (the
// docs say so).
func testTeamsBotNeedsFlag(t *testing.T, dir string) {
	addr := testkit.FreeAddr(t)
	env := e2eTeamsBotEnv(addr, "http://127.0.0.1:9/")
	delete(env, "DANGEROUSLY_ALLOW_UNAUTHENTICATED_REQUESTS")
	e2eStartTeamsBot(t, dir, addr, env)
	activity := e2eTeamsActivity("message", "1700000002001", "a:1e2e-NoFlag", "personal", "https://smba.trafficmanager.net/amer/", `,"text":"hi"`)
	resp, err := http.Post("http://"+addr+"/api/messages", "application/json", strings.NewReader(activity))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), "Authentication not configured") {
		t.Errorf("teams.ts without the flag answered %d %s; want 401 Authentication not configured", resp.StatusCode, body)
	}
}

// e2eStartTeamsStack starts the fakes, the sidecar binary and
// teams-bot.js. Each is told where the other listens (SIDECAR_BOT_URL,
// SERVICE_URL), so the bot's port is picked first, the sidecar starts on
// its own ports, then the bot.
func e2eStartTeamsStack(t *testing.T, bin, dir string) *e2eStack {
	t.Helper()
	cloud := fakes.NewCloud(fakes.EntraOptions{ClientID: e2eAppID, ClientSecret: e2eSecret})
	t.Cleanup(cloud.Close)
	botAddr := testkit.FreeAddr(t)
	s := &e2eStack{t: t, entra: cloud.Entra, channel: cloud.Channel, conn: cloud.Connector, botURL: "http://" + botAddr}
	certs := e2eCertFile(t, cloud.CertificatesPEM())
	sidecar, inAddr, outAddr, adminAddr := e2eStartSidecar(t, bin, func(inAddr, outAddr, adminAddr string) map[string]string {
		env := e2eSidecarEnv(cloud, certs, s.botURL+"/api/messages", inAddr, outAddr, adminAddr)
		env["SIDECAR_LOG_LEVEL"] = "debug" // the secret check covers all of it
		return env
	})
	s.sidecar, s.inbound, s.outbound, s.admin = sidecar, "http://"+inAddr, "http://"+outAddr+"/", "http://"+adminAddr
	t.Cleanup(s.checkSidecarOutput) // runs before e2eStart's cleanup stops the sidecar
	s.waitReady(15 * time.Second)
	s.bot = e2eStartTeamsBot(t, dir, botAddr, e2eTeamsBotEnv(botAddr, s.outbound))
	return s
}

// teamsTurn plays the channel: a signed Teams message with text in conv
// (of Teams type convType), after scripting the connector's next answers; it wants the bot's 200 and
// returns the activity and how many requests the SDK had sent before.
func (s *e2eStack) teamsTurn(t *testing.T, conv, convType, activityID, text string, script ...fakes.ConnectorResponse) (string, int) {
	t.Helper()
	sentBefore := len(s.botSent())
	s.conn.Reset()
	s.conn.Enqueue(script...)
	activity := e2eTeamsActivity("message", activityID, conv, convType, s.conn.ServiceURL(), `,"text":`+e2eJSONString(t, text))
	if resp, body := s.postInbound(activity, conv); resp.StatusCode != http.StatusOK {
		t.Fatalf("inbound POST = %d %s; want 200", resp.StatusCode, body)
	}
	return activity, sentBefore
}

// checkTeamsSent checks what the SDK sent since its first `before`
// requests: no Authorization of its own (it has no credentials), and
// bodies that carry, or leave out, `from` as wantFrom says. The sidecar
// adds the token and pins `from`; checkForwardedAsSent and checkActivity
// check that side.
func (s *e2eStack) checkTeamsSent(t *testing.T, before int, wantFrom bool) {
	t.Helper()
	for _, r := range s.botSent()[before:] {
		if a, ok := r.Headers["authorization"]; ok {
			t.Errorf("teams.ts sent %s %s with Authorization %q; want none", r.Method, r.Target, a)
		}
		if r.Method != http.MethodPost {
			continue
		}
		var a struct{ From *struct{ ID string } }
		if err := json.Unmarshal([]byte(r.Body), &a); err != nil || (a.From != nil) != wantFrom {
			t.Errorf("teams.ts sent %s %s with body %s (%v); want from present = %v", r.Method, r.Target, r.Body, err, wantFrom)
		}
	}
}

// checkTeamsEcho: a channel-signed message reaches the bot with the
// sidecar as serviceUrl and nothing else changed, and the echo the SDK
// sends in the turn (ctx.send: POST …/activities, the conversation id
// unescaped, from = the activity's recipient) reaches the connector with
// the sidecar's token.
func (s *e2eStack) checkTeamsEcho(t *testing.T, tt e2eMessageCase) {
	before := len(s.botReceived())
	text := `hello "teams" ` + tt.name
	activity, sentBefore := s.teamsTurn(t, tt.conversationID, tt.conversationType, tt.activityID, text)

	received := s.botReceived()
	if len(received) != before+1 {
		t.Fatalf("the bot received %d requests for one inbound activity; want 1", len(received)-before)
	}
	serviceURL := `"serviceUrl":"` + s.conn.ServiceURL() + `"`
	if in, want := received[before], strings.Replace(activity, serviceURL, `"serviceUrl":"`+s.outbound+`"`, 1); in.Body != want || in.Headers["authorization"] != "" {
		t.Errorf("the bot received (Authorization %q)\n%s\nwant no Authorization and (only serviceUrl changed)\n%s", in.Headers["authorization"], in.Body, want)
	}

	r, err := s.onlyRequest()
	if err != nil {
		t.Fatal(err)
	}
	if want := "/amer/v3/conversations/" + tt.conversationID + "/activities"; r.Method != http.MethodPost || r.RawURI != want {
		t.Errorf("echo = %s %s; want POST %s", r.Method, r.RawURI, want)
	}
	if a := s.checkActivity(t, r, tt.conversationID); a.Type != "message" || a.Text != "echo: "+text {
		t.Errorf("echo type=%q text=%q; want message, %q", a.Type, a.Text, "echo: "+text)
	}
	s.checkTeamsSent(t, sentBefore, true)
	s.checkForwardedAsSent(t, sentBefore, s.conn.Requests())
}

// checkTeamsProactive: the App's own client (app.api, at SERVICE_URL)
// sends into a conversation naming nothing but its id, as a notifier
// does; the sidecar resolves the upstream from the stored reference and
// fills in from, conversation, recipient, channelId and serviceUrl.
func (s *e2eStack) checkTeamsProactive(t *testing.T) {
	const conv = "a:1e2e-Teams_Proactive"
	_, sentBefore := s.teamsTurn(t, conv, "personal", "1700000002101", "proactive please")
	r, err := s.onlyRequest()
	if err != nil {
		t.Fatal(err)
	}
	if want := "/amer/v3/conversations/" + conv + "/activities"; r.Method != http.MethodPost || r.RawURI != want {
		t.Errorf("proactive send = %s %s; want POST %s", r.Method, r.RawURI, want)
	}
	if a := s.checkActivity(t, r, conv); a.Text != "proactive: proactive please" {
		t.Errorf("proactive text = %q; want %q", a.Text, "proactive: proactive please")
	}
	s.checkTeamsSent(t, sentBefore, false)
	s.checkForwardedAsSent(t, sentBefore, s.conn.Requests())
}

// checkTeamsProactivePost: the same send to the bare channel id, a new
// top-level post; the sidecar learnt the channel from the thread
// message's channelData.
func (s *e2eStack) checkTeamsProactivePost(t *testing.T) {
	sentBefore := len(s.botSent())
	s.sendChannelMessage(t, "1700000002200", "1700000002201", "proactive in the channel")
	r, err := s.onlyRequest()
	if err != nil {
		t.Fatal(err)
	}
	if want := "/amer/v3/conversations/" + e2eChannelID + "/activities"; r.Method != http.MethodPost || r.RawURI != want {
		t.Errorf("proactive post = %s %s; want POST %s", r.Method, r.RawURI, want)
	}
	// A top-level post has no one recipient; the channel's reference names
	// none, so the sidecar fills in all but that.
	s.checkUpstream(t, r)
	var a e2eUpstreamActivity
	if err := json.Unmarshal(r.Body, &a); err != nil {
		t.Fatalf("proactive post body is not JSON: %v\n%s", err, r.Body)
	}
	got := []string{a.From.ID, a.ServiceURL, a.Conversation.ID, a.ChannelID, a.Text}
	if want := []string{"28:" + e2eAppID, s.conn.ServiceURL(), e2eChannelID, "msteams", "proactive: proactive in the channel"}; !slices.Equal(got, want) {
		t.Errorf("proactive post from, serviceUrl, conversation, channelId, text = %q; want %q", got, want)
	}
	s.checkTeamsSent(t, sentBefore, false)
	s.checkForwardedAsSent(t, sentBefore, s.conn.Requests())
}

// checkTeamsMemberReads: the turn's client reads the conversation's paged
// members (teams.ts spells it pagedMembers) and the sender, each with the
// sidecar's token, then replies how each went.
func (s *e2eStack) checkTeamsMemberReads(t *testing.T) {
	const conv = "a:1e2e-Teams_Members"
	member := `{"id":"` + e2eUserID + `","name":"Ada Lovelace","aadObjectId":"0e2e-obj-1"}`
	_, sentBefore := s.teamsTurn(t, conv, "personal", "1700000002301", "members please",
		fakes.ConnectorResponse{Status: http.StatusOK, Body: `{"members":[` + member + `]}`},
		fakes.ConnectorResponse{Status: http.StatusOK, Body: member})
	reqs := s.conn.Requests()
	want := []string{
		"GET /amer/v3/conversations/" + conv + "/pagedMembers?pageSize=50",
		"GET /amer/v3/conversations/" + conv + "/members/" + e2eUserID,
		"POST /amer/v3/conversations/" + conv + "/activities",
	}
	var got []string
	for _, r := range reqs {
		got = append(got, r.Method+" "+r.RawURI)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("the connector received\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, r := range reqs[:2] {
		s.checkUpstream(t, r)
	}
	if a := s.checkActivity(t, reqs[2], conv); a.Text != "pagedMembers: ok; member: ok" {
		t.Errorf("the bot reported %q; want both reads ok", a.Text)
	}
	s.checkTeamsSent(t, sentBefore, true)
	s.checkForwardedAsSent(t, sentBefore, reqs)
}
