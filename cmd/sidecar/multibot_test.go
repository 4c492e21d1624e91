package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/botsidecar/sidecar/config"
	"github.com/botsidecar/sidecar/internal/fakes"
	"github.com/botsidecar/sidecar/internal/testkit"
	"github.com/botsidecar/sidecar/store"
)

// The bots of the many-bots tests: the primary one (the top-level
// variables), "second" with an outbound listener of its own, and "third"
// on the shared listener. Each app has its own secret, and its own Entra
// (they sign with one key, so the fake connector accepts all three).
const (
	mbSecondApp    = "22222222-2222-3333-4444-555555555555"
	mbThirdApp     = "33333333-2222-3333-4444-555555555555"
	mbSecondSecret = "second-s3cr3t-never-logged"
	mbThirdSecret  = "third-s3cr3t-never-logged"
)

type multiStack struct {
	*stack
	entras map[string]*fakes.Entra // by app id
	bots   map[string]*fakes.EchoBot
	cfg    config.Config
	own    string       // the second bot's outbound listener, http://host:port
	client *http.Client // trusts the three Entras
}

func startBots(t *testing.T) *multiStack {
	t.Helper()
	cloud := fakes.NewCloud(fakes.EntraOptions{ClientID: itAppID, ClientSecret: itSecret})
	t.Cleanup(cloud.Close)
	m := &multiStack{
		stack:  &stack{t: t, logs: &e2eBuffer{}, done: make(chan error, 1), entra: cloud.Entra, channel: cloud.Channel, conn: cloud.Connector},
		entras: map[string]*fakes.Entra{itAppID: cloud.Entra},
		bots:   map[string]*fakes.EchoBot{},
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(cloud.Entra.CertificatePEM())
	for app, secret := range map[string]string{mbSecondApp: mbSecondSecret, mbThirdApp: mbThirdSecret} {
		e := fakes.NewEntra(fakes.EntraOptions{ClientID: app, ClientSecret: secret, Signer: cloud.Entra.Signer()})
		t.Cleanup(e.Close)
		m.entras[app] = e
		roots.AppendCertsFromPEM(e.CertificatePEM())
	}
	for _, name := range []string{"default", "second", "third"} {
		b := fakes.NewEchoBot(fakes.EchoBotOptions{})
		t.Cleanup(b.Close)
		m.bots[name] = b
	}
	outLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	env := cloud.Env()
	for k, v := range map[string]string{
		"SIDECAR_BOT_URL":       m.bots["default"].URL + "/api/messages",
		"MicrosoftAppId":        itAppID,
		"MicrosoftAppPassword":  itSecret,
		"MicrosoftAppTenantId":  itTenant,
		"SIDECAR_STORE":         "memory:",
		"SIDECAR_OUTBOUND_ADDR": outLn.Addr().String(),
		"SIDECAR_OUTBOUND_URL":  "http://" + outLn.Addr().String() + "/",
		"SIDECAR_ADMIN_ADDR":    "127.0.0.1:0",
		"SIDECAR_INBOUND_ADDR":  "127.0.0.1:0",
		"SIDECAR_LOG_LEVEL":     "debug",
		"SIDECAR_PACING":        "false",
	} {
		env[k] = v
	}
	if m.cfg, err = config.Load(env); err != nil {
		t.Fatal(err)
	}
	// As the Agents SDK's Connections__<name>__Settings__* would fill them.
	connection := func(name, app, secret, addr string) config.Identity {
		id := m.cfg.Primary()
		id.Name, id.AppID, id.AppPassword, id.AuthorityHost = name, app, config.Secret(secret), m.entras[app].URL
		id.BotURL, id.OutboundAddr, id.OutboundURL = m.bots[name].URL+"/api/messages", addr, ""
		return id
	}
	m.cfg.Connections = []config.Identity{
		connection("second", mbSecondApp, mbSecondSecret, "127.0.0.1:0"),
		connection("third", mbThirdApp, mbThirdSecret, ""),
	}
	logger, err := newLogger(m.cfg.LogLevel, m.cfg.LogFormat, m.logs)
	if err != nil {
		t.Fatal(err)
	}
	d := cloudDeps(cloud, outLn)
	m.client = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	d.entraClient = m.client
	ctx, cancel := context.WithCancel(context.Background())
	if m.app, err = newApp(ctx, m.cfg, logger, d); err != nil {
		cancel()
		t.Fatal(err)
	}
	m.own = "http://" + m.app.addr("outbound:second")
	m.serve(ctx, cancel)
	t.Cleanup(func() {
		logs := m.logs.String()
		for app, e := range m.entras {
			for _, tok := range e.Issued() {
				if strings.Contains(logs, tok) {
					t.Errorf("a token of %s appears in the log", app)
				}
			}
		}
		if strings.Contains(logs, mbSecondSecret) || strings.Contains(logs, mbThirdSecret) {
			t.Error("a connection's secret appears in the log")
		}
	})
	testkit.WaitFor(t, 10*time.Second, func() bool { return e2eReady(m.admin) == "" }, "the sidecar ready")
	return m
}

// activityFor is a Teams group chat message for the bot of app.
func activityFor(app, conversationID, serviceURL, id string) string {
	return `{"type":"message","id":"` + id + `","serviceUrl":"` + serviceURL + `","channelId":"msteams",` +
		`"from":{"id":"29:user-1","name":"Ada"},"conversation":{"conversationType":"groupChat","isGroup":true,"tenantId":"` + itTenant + `","id":"` + conversationID + `"},` +
		`"recipient":{"id":"28:` + app + `","name":"Bot"},"text":"hello","channelData":{"tenant":{"id":"` + itTenant + `"}}}`
}

// sentBy returns the app the connector's request was authenticated as
// and the from.id it carried, after checking the token is Entra's.
func (m *multiStack) sentBy(r fakes.ConnectorRequest) (app, from string) {
	m.t.Helper()
	claims, err := m.entra.Verify(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
	if err != nil {
		m.t.Fatalf("upstream token does not verify: %v", err)
	}
	var body struct{ From struct{ ID string } }
	_ = json.Unmarshal(r.Body, &body)
	app, _ = claims["appid"].(string)
	return app, body.From.ID
}

func (m *multiStack) post(url, body string) (int, string) {
	m.t.Helper()
	return m.postJSON(url, "", body)
}

// Three bots in one group chat: each gets the channel's activity at its
// own URL, replies through the serviceUrl it was handed, and the reply
// reaches the connector as that bot; each keeps its own reference; and
// proactive sends go out as the bot whose listener or prefix they use.
func TestIntegrationThreeBotsInOneChat(t *testing.T) {
	m := startBots(t)
	su := m.conn.ServiceURL()
	bots := []struct{ name, app, serviceURL string }{
		{"default", itAppID, m.base + "/"},
		{"second", mbSecondApp, m.own + "/"},
		{"third", mbThirdApp, m.base + "/bots/third/"},
	}
	for i, b := range bots {
		m.conn.Reset()
		status, body := m.postInbound("Bearer "+m.channel.Token(b.app, su), activityFor(b.app, "19:chat@thread.v2", su, "17000000000"+string(rune('1'+i))))
		if status != http.StatusOK {
			t.Fatalf("inbound for %s = %d %s; want 200", b.name, status, body)
		}
		got := m.bots[b.name].Received()
		if len(got) != 1 || !strings.Contains(string(got[0]), `"serviceUrl":"`+b.serviceURL+`"`) {
			t.Fatalf("%s's bot received %q; want the activity with serviceUrl %s", b.name, got, b.serviceURL)
		}
		if replies := m.bots[b.name].Replies(); len(replies) != 1 || replies[0].Status != http.StatusOK {
			t.Fatalf("%s's reply = %+v; want 200", b.name, replies)
		}
		reqs := m.conn.Requests()
		if len(reqs) != 1 {
			t.Fatalf("connector got %d requests for %s's reply; want 1", len(reqs), b.name)
		}
		if app, from := m.sentBy(reqs[0]); app != b.app || from != "28:"+b.app {
			t.Errorf("%s's reply went out as app %s from %s; want %s", b.name, app, from, b.app)
		}
		identity := b.name
		if b.name == "default" {
			identity = "" // the primary's references keep their keys
		}
		ref, err := m.app.store.Get(t.Context(), store.Key(identity, "19:chat@thread.v2"))
		if err != nil || ref.ServiceURL != su {
			t.Errorf("%s's reference = %+v, %v; want its own, with the real serviceUrl", b.name, ref, err)
		}
	}
	for _, b := range bots {
		if n := len(m.bots[b.name].Received()); n != 1 {
			t.Errorf("%s's bot received %d activities; want its own only", b.name, n)
		}
	}

	// Proactive sends, by the door each bot uses.
	for _, tt := range []struct{ url, app string }{
		{m.base + "/v3/conversations/19:chat@thread.v2/activities", itAppID},
		{m.own + "/v3/conversations/19:chat@thread.v2/activities", mbSecondApp},
		{m.base + "/bots/third/v3/conversations/19:chat@thread.v2/activities", mbThirdApp},
	} {
		m.conn.Reset()
		if status, body := m.post(tt.url, `{"type":"message","text":"news"}`); status != http.StatusOK {
			t.Fatalf("POST %s = %d %s; want 200", tt.url, status, body)
		}
		if app, from := m.sentBy(m.conn.Requests()[0]); app != tt.app || from != "28:"+tt.app {
			t.Errorf("POST %s went out as app %s from %s; want %s", tt.url, app, from, tt.app)
		}
	}
	for app, e := range m.entras {
		if n := e.Requests(); n != 1 {
			t.Errorf("token requests of %s = %d; want 1", app, n)
		}
	}
	if got := m.get(m.admin + "/references/bots/second/19:chat@thread.v2"); !strings.Contains(got, `"identity":"second"`) || !strings.Contains(got, mbSecondApp) {
		t.Errorf("/references/bots/second/… = %s; want the second bot's reference", got)
	}
}

// The second bot has a listener of its own: it is the only door to its
// token, and through it no other bot's conversation is reached.
func TestIntegrationBotCannotReachAnothersToken(t *testing.T) {
	m := startBots(t)
	su := m.conn.ServiceURL()
	// A conversation only the primary bot is in.
	if status, body := m.postInbound("Bearer "+m.channel.Token(itAppID, su), activityFor(itAppID, "a:primary-only", su, "1")); status != http.StatusOK {
		t.Fatalf("inbound = %d %s; want 200", status, body)
	}
	before := map[string]int{}
	for app, e := range m.entras {
		before[app] = e.Requests()
	}
	m.conn.Reset()
	for _, url := range []string{
		m.own + "/v3/conversations/a:primary-only/activities",              // another bot's conversation
		m.own + "/bots/default/v3/conversations/a:primary-only/activities", // naming the other bot
		m.base + "/bots/second/v3/conversations/a:primary-only/activities", // the second bot, not through its own door
	} {
		status, body := m.post(url, `{"type":"message","text":"hijack"}`)
		if status != http.StatusForbidden || !strings.Contains(body, `"code":"Forbidden"`) {
			t.Errorf("POST %s = %d %s; want 403 Forbidden", url, status, body)
		}
	}
	if n := len(m.conn.Requests()); n != 0 {
		t.Errorf("connector got %d requests; want none", n)
	}
	for app, e := range m.entras {
		if e.Requests() != before[app] {
			t.Errorf("token requests of %s went from %d to %d; want no new one", app, before[app], e.Requests())
		}
	}
}

// Readiness, metrics and doctor have a line per bot.
func TestIntegrationPerBotReadinessMetricsDoctor(t *testing.T) {
	m := startBots(t)
	ready := m.get(m.admin + "/readyz")
	for _, want := range []string{"token:default: ok", "token:second: ok", "token:third: ok"} {
		if !strings.Contains(ready, want) {
			t.Errorf("/readyz lacks %q:\n%s", want, ready)
		}
	}
	if status, body := m.post(m.base+"/bots/third/v3/conversations/a:none/activities", `{"type":"message"}`); status != http.StatusNotFound {
		t.Fatalf("send without a reference = %d %s; want 404", status, body)
	}
	metrics := metricValues(t, m.get(m.admin+"/metrics"))
	for name, want := range map[string]float64{
		`sidecar_token_acquisitions_total{connection="second"}`:                                                                              1,
		`sidecar_token_acquisitions_total{connection="third"}`:                                                                               1,
		`sidecar_requests_total{connection="third",direction="outbound",route="/v3/conversations/{conversationId}/activities",status="404"}`: 1,
	} {
		if got, ok := metrics[name]; !ok || got != want {
			t.Errorf("/metrics %s = %v (present %v); want %v", name, got, ok, want)
		}
	}
	var lines []string
	for _, c := range doctorReport(t.Context(), m.cfg, deps{entraClient: m.client, openID: m.channel.Client()}) {
		if c.OK && (strings.HasPrefix(c.Name, "token:") || strings.HasPrefix(c.Name, "bot")) {
			lines = append(lines, c.Name)
		}
	}
	if got, want := strings.Join(lines, " "), "token:default token:second token:third bot:default bot:second bot:third"; got != want {
		t.Errorf("doctor's good token and bot lines = %q; want %q", got, want)
	}
}
