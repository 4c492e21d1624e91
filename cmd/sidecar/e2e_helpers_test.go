package main

// Helpers of the end-to-end tests (e2e_test.go): the real sidecar binary
// and the node bots in e2e/ as child processes, between the loopback fakes.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/botsidecar/sidecar/internal/fakes"
	"github.com/botsidecar/sidecar/internal/testkit"
)

const (
	e2eAppID  = "7a1c2e2e-0b5e-4c1d-9e2e-3f4a5b6c7d8e"
	e2eTenant = "0e2e0e2e-1111-4222-8333-444455556666"
	// e2eSecret is recognisable so the log check can look for it.
	e2eSecret = "e2e-s3cr3t-VALUE-that-must-never-be-logged"
	// e2eUserID is the Teams user the channel's activities come from.
	e2eUserID = "29:1e2e-user-aad-Ada"
	// e2eCorrelationID is the channel's x-ms-correlation-id.
	e2eCorrelationID = "e2e-corr-0123-4567"
)

// e2eDir returns the absolute path of e2e/ and fails the test, never skips
// it, when node or the installed packages are missing: a silently skipped
// end-to-end test proves nothing.
func e2eDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "..", "e2e"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatalf("node is not on PATH (%v): install Node.js 20 or later, then run `npm ci` in e2e/ (./scripts/test runs it)", err)
	}
	for _, pkg := range []string{"botbuilder", "botframework-connector", "@microsoft/agents-hosting", "@microsoft/agents-hosting-extensions-teams", "@microsoft/teams.apps", "express"} {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", pkg, "package.json")); err != nil {
			t.Fatalf("e2e/node_modules/%s is missing (%v): run `npm ci` in e2e/ (./scripts/test does it)", pkg, err)
		}
	}
	return dir
}

// e2eRaceEnabled reports whether this test binary runs under the race
// detector; the sidecar binary is then built with it too.
func e2eRaceEnabled() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

// e2eBuildSidecar builds the real binary from this directory into dir.
func e2eBuildSidecar(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "sidecar")
	args := []string{"build", "-o", bin}
	if e2eRaceEnabled() {
		args = append(args, "-race")
	}
	out, err := exec.Command("go", append(args, ".")...).CombinedOutput()
	if err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return bin
}

// e2eBuffer collects a child's output while it runs.
type e2eBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *e2eBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *e2eBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// e2eProc is a child process that lives as long as its test.
type e2eProc struct {
	t      *testing.T
	name   string
	cmd    *exec.Cmd
	stdout *e2eBuffer
	stderr *e2eBuffer
	exited chan struct{} // closed when the process has been waited for
	err    error         // Wait's result, once exited is closed

	stopOnce sync.Once
}

// e2eStart starts name with env added to a clean copy of this process's
// environment (no identity or SIDECAR_ variables leak in from the shell).
// The process is killed when the test ends; its output is logged if the
// test failed.
func e2eStart(t *testing.T, name, dir string, env map[string]string, path string, args ...string) *e2eProc {
	t.Helper()
	p := &e2eProc{t: t, name: name, stdout: &e2eBuffer{}, stderr: &e2eBuffer{}, exited: make(chan struct{})}
	p.cmd = exec.Command(path, args...)
	p.cmd.Dir = dir
	p.cmd.Env = e2eEnviron(env)
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	// Wait also waits for the output to be copied; a stray grandchild
	// holding the pipes must not hang the test.
	p.cmd.WaitDelay = 2 * time.Second
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("%s stdout:\n%s\n%s stderr:\n%s", name, e2eTail(p.stdout.String()), name, e2eTail(p.stderr.String()))
		}
	})
	return p
}

// stop kills the process and waits for it; it reports a process that had
// died on its own before.
func (p *e2eProc) stop() {
	p.stopOnce.Do(func() {
		select {
		case <-p.exited:
			p.t.Errorf("%s exited on its own during the test: %v", p.name, p.err)
			return
		default:
		}
		_ = p.cmd.Process.Kill()
		<-p.exited
	})
}

// alive fails the test if the process has exited.
func (p *e2eProc) alive() {
	p.t.Helper()
	select {
	case <-p.exited:
		p.t.Fatalf("%s exited: %v\nstdout:\n%s\nstderr:\n%s", p.name, p.err, e2eTail(p.stdout.String()), e2eTail(p.stderr.String()))
	default:
	}
}

// waitOutput waits for a line of stdout matching re and returns its first
// submatch.
func (p *e2eProc) waitOutput(re *regexp.Regexp, timeout time.Duration) string {
	p.t.Helper()
	var m []string
	found := testkit.Poll(timeout, func() bool {
		if m = re.FindStringSubmatch(p.stdout.String()); m != nil {
			return true
		}
		p.alive()
		return false
	})
	if !found {
		p.t.Fatalf("%s printed no line matching %q within %v\nstdout:\n%s\nstderr:\n%s", p.name, re, timeout, p.stdout, p.stderr)
	}
	return m[1]
}

// e2eEnviron is os.Environ without the variables that would change what
// the children do behind the test's back, plus env.
func e2eEnviron(env map[string]string) []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(k, "SIDECAR_"), strings.HasPrefix(k, "MicrosoftApp"),
			k == "CLIENT_ID", k == "CLIENT_SECRET", k == "TENANT_ID", k == "AZURE_FEDERATED_TOKEN_FILE",
			k == "SSL_CERT_FILE", k == "SSL_CERT_DIR", k == "NODE_EXTRA_CA_CERTS", k == "PORT", k == "HOST":
			continue
		}
		out = append(out, kv)
	}
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}

func e2eTail(s string) string {
	const max = 16 << 10
	if len(s) > max {
		return "…" + s[len(s)-max:]
	}
	return s
}

// e2eCertFile writes the fakes' TLS certificates (httptest servers share
// one) to a PEM file for SSL_CERT_FILE and NODE_EXTRA_CA_CERTS.
func e2eCertFile(t *testing.T, pems ...[]byte) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "fakes-ca.pem")
	if err := os.WriteFile(f, bytes.Join(pems, nil), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// e2eStartSidecar starts the sidecar binary on free loopback ports. The
// outbound address must be known before start-up (the bot is told it as
// serviceUrl), so ports are picked, released and then bound by the child:
// when another test took one in between, it starts again on new ones.
// env gets the three addresses and returns the process's environment.
func e2eStartSidecar(t *testing.T, bin string, env func(in, out, admin string) map[string]string) (p *e2eProc, in, out, admin string) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		in, out, admin = testkit.FreeAddr(t), testkit.FreeAddr(t), testkit.FreeAddr(t)
		p = e2eStart(t, "sidecar", t.TempDir(), env(in, out, admin), bin)
		if !p.bindFailed(15*time.Second, "http://"+admin) || attempt == 3 {
			return p, in, out, admin
		}
	}
}

// bindFailed waits until the sidecar answers readyURL or exits; true when
// it exited because a port was taken (the caller retries), and the exit is
// then not reported as a failure.
func (p *e2eProc) bindFailed(timeout time.Duration, admin string) bool {
	failed := false
	testkit.Poll(timeout, func() bool {
		select {
		case <-p.exited:
			if strings.Contains(p.stderr.String(), "address already in use") {
				p.stopOnce.Do(func() {})
				failed = true
			}
			return true // if not, the caller's readiness wait reports it
		default:
		}
		return e2eReady(admin) == ""
	})
	return failed
}

// e2eReady asks the admin listener at base URL admin for /readyz: "" when
// ready, else what it answered.
func e2eReady(admin string) string {
	resp, err := http.Get(admin + "/readyz")
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusOK {
		return ""
	}
	return fmt.Sprintf("%d %s", resp.StatusCode, b)
}

// e2eSidecarEnv is the environment of a sidecar binary between the fakes
// and a bot at botURL, on the given addresses, with a memory store. The
// binary trusts the loopback fakes through SSL_CERT_FILE, the way it would
// trust a corporate CA.
func e2eSidecarEnv(cloud *fakes.Cloud, certs, botURL, inAddr, outAddr, adminAddr string) map[string]string {
	env := cloud.Env()
	for k, v := range map[string]string{
		"MicrosoftAppId":        e2eAppID,
		"MicrosoftAppPassword":  e2eSecret,
		"MicrosoftAppTenantId":  e2eTenant,
		"SIDECAR_STORE":         "memory:",
		"SIDECAR_INBOUND_ADDR":  inAddr,
		"SIDECAR_OUTBOUND_ADDR": outAddr,
		"SIDECAR_ADMIN_ADDR":    adminAddr,
		"SIDECAR_OUTBOUND_URL":  "http://" + outAddr + "/",
		"SIDECAR_BOT_URL":       botURL,
		"SSL_CERT_FILE":         certs,
	} {
		env[k] = v
	}
	return env
}

// e2eStack is the real sidecar binary between the fakes and a node bot.
type e2eStack struct {
	t       *testing.T
	entra   *fakes.Entra
	channel *fakes.Channel
	conn    *fakes.Connector
	sidecar *e2eProc
	bot     *e2eProc
	botURL  string // http://127.0.0.1:port (no path)
	// inbound and admin are base URLs; outbound is the serviceUrl the bot
	// sees, with its trailing slash.
	inbound, outbound, admin string

	mu            sync.Mutex
	channelTokens []string // minted for inbound calls, and others (noLogs); none may be logged
}

// e2eExtra is added to the environments of a stack's bot and sidecar.
type e2eExtra struct {
	bot, sidecar map[string]string
}

// e2eStartStack starts the fakes, the bot script (a file in e2e/) and the
// sidecar binary, and waits until the sidecar is ready.
func e2eStartStack(t *testing.T, bin, dir, script string, extra ...e2eExtra) *e2eStack {
	t.Helper()
	s := &e2eStack{t: t}
	cloud := fakes.NewCloud(fakes.EntraOptions{ClientID: e2eAppID, ClientSecret: e2eSecret})
	t.Cleanup(cloud.Close)
	s.entra, s.channel, s.conn = cloud.Entra, cloud.Channel, cloud.Connector
	certs := e2eCertFile(t, cloud.CertificatesPEM())

	// The bot first: its port goes into SIDECAR_BOT_URL. PORT=0 lets it
	// pick a free one, which it prints. fetch-bot.js puts MicrosoftAppId in
	// `from` (the classic mistake); botbuilder-bot.js ignores it, its
	// credentials are empty in code.
	botEnv := map[string]string{"PORT": "0", "HOST": "127.0.0.1", "MicrosoftAppId": e2eAppID}
	for _, x := range extra {
		maps.Copy(botEnv, x.bot)
	}
	s.bot = e2eStart(t, script, dir, botEnv, "node", filepath.Join(dir, script))
	s.botURL = s.bot.waitOutput(regexp.MustCompile(`listening on (http://\S+)/api/messages`), 20*time.Second)

	var inAddr, outAddr, adminAddr string
	s.sidecar, inAddr, outAddr, adminAddr = e2eStartSidecar(t, bin, func(inAddr, outAddr, adminAddr string) map[string]string {
		env := e2eSidecarEnv(cloud, certs, s.botURL+"/api/messages", inAddr, outAddr, adminAddr)
		// Debug logs the most; the secret check covers all of it.
		env["SIDECAR_LOG_LEVEL"] = "debug"
		for _, x := range extra {
			maps.Copy(env, x.sidecar)
		}
		return env
	})
	s.inbound, s.outbound, s.admin = "http://"+inAddr, "http://"+outAddr+"/", "http://"+adminAddr
	// Registered after e2eStart's cleanup, so it runs first: it stops the
	// sidecar itself, then reads everything the sidecar wrote.
	t.Cleanup(s.checkSidecarOutput)
	s.waitReady(15 * time.Second)
	return s
}

func (s *e2eStack) waitReady(timeout time.Duration) {
	s.t.Helper()
	last := "no answer"
	ready := testkit.Poll(timeout, func() bool {
		s.sidecar.alive()
		last = e2eReady(s.admin)
		return last == ""
	})
	if !ready {
		s.t.Fatalf("sidecar not ready within %v: last /readyz: %s\nstderr:\n%s", timeout, last, e2eTail(s.sidecar.stderr.String()))
	}
}

// checkSidecarOutput stops the sidecar and checks everything it wrote:
// JSON lines only, no data race, and no secret or token anywhere.
func (s *e2eStack) checkSidecarOutput() {
	t := s.t
	s.sidecar.stop()
	stdout, stderr := s.sidecar.stdout.String(), s.sidecar.stderr.String()
	all := stdout + stderr
	if strings.Contains(all, "DATA RACE") {
		t.Error("the race detector reported a data race in the sidecar binary")
	}
	lines := 0
	for _, line := range strings.Split(stderr, "\n") {
		if line == "" {
			continue
		}
		lines++
		var v map[string]any
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Errorf("sidecar stderr line is not a JSON object (%v): %q", err, line)
		}
	}
	if lines == 0 {
		t.Error("the sidecar logged nothing; the secret check below would prove nothing")
	}
	if strings.Contains(all, e2eSecret) {
		t.Error("the client secret appears in the sidecar's output")
	}
	s.mu.Lock()
	tokens := append(s.entra.Issued(), s.channelTokens...)
	s.mu.Unlock()
	if len(s.entra.Issued()) == 0 {
		t.Error("the fake Entra issued no token")
	}
	for _, tok := range tokens {
		sig := tok[strings.LastIndexByte(tok, '.')+1:]
		if strings.Contains(all, tok) || strings.Contains(all, sig) {
			t.Errorf("a token (…%s) appears in the sidecar's output", sig[len(sig)-8:])
		}
	}
}

// noLogs remembers tokens that the sidecar's output must not hold.
func (s *e2eStack) noLogs(tokens ...string) {
	s.mu.Lock()
	s.channelTokens = append(s.channelTokens, tokens...)
	s.mu.Unlock()
}

// channelToken mints a valid channel token for serviceURL and remembers it
// for the log check.
func (s *e2eStack) channelToken(serviceURL string) string {
	tok := s.channel.Token(e2eAppID, serviceURL)
	s.noLogs(tok)
	return tok
}

// e2eChannelHeaders are what the channel sends besides the token; the bot
// must get them unchanged.
func e2eChannelHeaders(conversationID string) map[string]string {
	return map[string]string{
		"MS-CV":                "e2eCV0123456789abcd.1",
		"x-ms-conversation-id": conversationID,
		"x-ms-tenant-id":       e2eTenant,
		// The Agents SDKs copy it onto every outbound call of the turn.
		"x-ms-correlation-id": e2eCorrelationID,
	}
}

// postInbound plays the channel: a signed POST of activity to the
// sidecar's /api/messages.
func (s *e2eStack) postInbound(activity, conversationID string) (*http.Response, []byte) {
	s.t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.inbound+"/api/messages", strings.NewReader(activity))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("Authorization", "Bearer "+s.channelToken(s.conn.ServiceURL()))
	for k, v := range e2eChannelHeaders(conversationID) {
		req.Header.Set(k, v)
	}
	// The channel gives up after about 15 s.
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		s.t.Fatalf("POST inbound /api/messages: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return resp, body
}

// e2eReceived is one request the node bot received.
type e2eReceived struct {
	Method  string            `json:"method"`
	Headers map[string]string `json:"headers"` // lower-case names, as Node gives them
	Body    string            `json:"body"`
}

// botReceived returns what the bot received so far.
func (s *e2eStack) botReceived() []e2eReceived {
	s.t.Helper()
	return e2eBotGet[[]e2eReceived](s, "/api/received")
}

// e2eBotGet decodes the JSON the node bot answers at path.
func e2eBotGet[T any](s *e2eStack, path string) T {
	s.t.Helper()
	var got T
	resp, err := http.Get(s.botURL + path)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		s.t.Fatalf("decode the bot's %s: %v", path, err)
	}
	return got
}

// e2eTeamsActivity is an inbound Teams activity, as raw bytes so that the
// test can check that the bot receives them unchanged but for serviceUrl.
// extra is spliced in as further members (",\"name\":…").
func e2eTeamsActivity(typ, activityID, conversationID, conversationType, serviceURL, extra string) string {
	return `{"type":"` + typ + `","id":"` + activityID + `","timestamp":"2026-11-23T10:00:00.123Z",` +
		`"localTimestamp":"2026-11-23T11:00:00.123+01:00","serviceUrl":"` + serviceURL + `","channelId":"msteams",` +
		`"from":{"id":"` + e2eUserID + `","name":"Ada Lovelace","aadObjectId":"0e2e-obj-1"},` +
		`"conversation":{"conversationType":"` + conversationType + `","tenantId":"` + e2eTenant + `","id":"` + conversationID + `"},` +
		`"recipient":{"id":"28:` + e2eAppID + `","name":"Echo"},"textFormat":"plain","locale":"en-US",` +
		`"entities":[{"type":"clientInfo","locale":"en-US","country":"GB","platform":"Web","timezone":"Europe/London"}],` +
		`"channelData":{"tenant":{"id":"` + e2eTenant + `"},"unknownField":{"n":12345678901234567890,"s":"caf\u00e9 \u2603"}}` +
		extra + `}`
}

// onlyRequest returns the connector's single request.
func (s *e2eStack) onlyRequest() (fakes.ConnectorRequest, error) {
	reqs := s.conn.Requests()
	switch len(reqs) {
	case 0:
		return fakes.ConnectorRequest{}, errors.New("the connector received no request")
	case 1:
		return reqs[0], nil
	}
	var uris []string
	for _, r := range reqs {
		uris = append(uris, r.Method+" "+r.RawURI)
	}
	return fakes.ConnectorRequest{}, fmt.Errorf("the connector received %d requests; want 1: %v", len(reqs), uris)
}

// The team and channel the Agents SDK bot's channel messages come from:
// in Teams both are thread ids, and a message's conversation is a thread
// of the channel, "<channel id>;messageid=<root message id>".
const (
	e2eTeamID    = "19:e2e-Team_0123@thread.tacv2"
	e2eChannelID = "19:e2e-Channel_4567@thread.tacv2"
)

// e2eThreadID is the conversation id of the thread rooted at message root
// in e2eChannelID.
func e2eThreadID(root string) string { return e2eChannelID + ";messageid=" + root }

// sendChannelMessage plays the channel: a signed Teams message with text
// in the thread rooted at root, whose channelData names the team and the
// channel as Teams sends them; it wants the bot's 200. The connector's
// earlier requests are forgotten first.
func (s *e2eStack) sendChannelMessage(t *testing.T, root, activityID, text string) string {
	t.Helper()
	s.conn.Reset()
	conv := e2eThreadID(root)
	activity := e2eTeamsActivity("message", activityID, conv, "channel", s.conn.ServiceURL(), `,"text":`+e2eJSONString(t, text))
	tenant := `"channelData":{"tenant":{"id":"` + e2eTenant + `"}`
	withTeam := tenant + `,"team":{"id":"` + e2eTeamID + `","name":"E2E Team"},"channel":{"id":"` + e2eChannelID + `","name":"E2E Channel"}`
	if !strings.Contains(activity, tenant) {
		t.Fatalf("e2eTeamsActivity has no %s to extend:\n%s", tenant, activity)
	}
	activity = strings.Replace(activity, tenant, withTeam, 1)
	resp, body := s.postInbound(activity, conv)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("inbound POST = %d %s; want 200", resp.StatusCode, body)
	}
	return activity
}

// e2eSent is one HTTP request the Agents SDK bot made (e2e/agents-bot.js
// records them at its fetch): Target is the request-target as written on
// the wire.
type e2eSent struct {
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Target  string            `json:"target"`
	Headers map[string]string `json:"headers"`
	Body    string            `json:"body"`
}

// botSent returns the requests the Agents SDK bot made so far.
func (s *e2eStack) botSent() []e2eSent {
	s.t.Helper()
	return e2eBotGet[[]e2eSent](s, "/api/sent")
}

// channelTurn sends a channel message (sendChannelMessage) to the Agents
// SDK bot and returns the single request it caused at the connector and
// how many requests the SDK had sent before it, for checkForwardedAsSent.
func (s *e2eStack) channelTurn(t *testing.T, root, activityID, text string) (fakes.ConnectorRequest, int) {
	t.Helper()
	sentBefore := len(s.botSent())
	s.sendChannelMessage(t, root, activityID, text)
	r, err := s.onlyRequest()
	if err != nil {
		t.Fatal(err)
	}
	return r, sentBefore
}

// checkForwardedAsSent checks that the connector received exactly the
// requests the SDK sent since its first `before` ones, in order, each at
// the real service URL with the SDK's request-target byte for byte, and
// that the SDK sent nothing anywhere but the sidecar.
func (s *e2eStack) checkForwardedAsSent(t *testing.T, before int, reqs []fakes.ConnectorRequest) {
	t.Helper()
	sent := s.botSent()[before:]
	for _, r := range sent {
		if !strings.HasPrefix(r.URL, s.outbound) {
			t.Errorf("the SDK sent %s %s, not to the sidecar at %s", r.Method, r.URL, s.outbound)
		}
	}
	var want, got []string
	for _, r := range sent {
		want = append(want, r.Method+" /amer"+r.Target)
	}
	for _, r := range reqs {
		got = append(got, r.Method+" "+r.RawURI)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("the connector received\n%s\nwant what the SDK sent, at the real service URL\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		return
	}
	// The headers the SDK set (User-Agent with what it propagates from the
	// inbound request, Accept, Content-Type) pass through unchanged; only
	// Authorization is the sidecar's, and checkUpstream checks it.
	for i, r := range sent {
		for k, v := range r.Headers {
			if strings.EqualFold(k, "Authorization") {
				continue
			}
			if g := reqs[i].Header.Get(k); g != v {
				t.Errorf("%s %s: upstream %s = %q; the SDK sent %q", r.Method, r.Target, k, g, v)
			}
		}
	}
}
