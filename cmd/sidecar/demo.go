package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/botsidecar/sidecar/config"
	"github.com/botsidecar/sidecar/internal/fakes"
)

// Demo identities: recognisably fake, so nobody mistakes the transcript
// for a real tenant.
const (
	demoAppID    = "00000000-0000-4000-8000-00000000d3e0"
	demoTenantID = "00000000-0000-4000-8000-0000000a7e17"
	demoSecret   = "demo-secret-never-printed"
	demoSends    = 20
)

// runDemo is `sidecar demo`: an offline tour that needs no Azure account
// and no network. Fakes of Entra, the Teams channel and the Bot Connector
// run on loopback, with a tiny echo bot that makes the classic mistakes,
// and the real sidecar between them. It prints what happens and fails if
// any step does not do what the transcript claims.
func runDemo(ctx context.Context, stdout io.Writer) error {
	d, err := startDemo(ctx)
	if err != nil {
		return err
	}
	defer d.close()
	p := &printer{w: stdout}
	p.title("Bot Connector sidecar: offline demo")
	p.line("fake Entra       %s", d.entra.URL)
	p.line("fake channel     %s", d.channel.URL)
	p.line("fake connector   %s  (Teams serviceUrl %s)", d.conn.URL, d.conn.ServiceURL())
	p.line("echo bot         %s  (no SDK, no auth code)", d.bot.URL)
	p.line("sidecar          inbound %s, outbound %s, admin %s", d.inbound, d.outbound, d.admin)
	for _, step := range []func(*printer) error{d.inbound1, d.proactive, d.groupChat, d.bareForbidden, d.forged, d.manySends} {
		if err := step(p); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
	}
	p.title("All steps behaved as described.")
	return nil
}

type demo struct {
	entra    *fakes.Entra
	channel  *fakes.Channel
	conn     *fakes.Connector
	cloud    *fakes.Cloud // entra, channel and conn
	bot      *fakes.EchoBot
	app      *app
	cancel   context.CancelFunc
	done     chan error
	inbound  string
	outbound string
	admin    string
	convID   string
}

func startDemo(ctx context.Context) (*demo, error) {
	d := &demo{done: make(chan error, 1), convID: "a:1demo-personal-chat"}
	d.cloud = fakes.NewCloud(fakes.EntraOptions{ClientID: demoAppID, ClientSecret: demoSecret})
	d.entra, d.channel, d.conn = d.cloud.Entra, d.cloud.Channel, d.cloud.Connector
	d.bot = fakes.NewEchoBot(fakes.EchoBotOptions{RawAppID: demoAppID, WrongServiceURL: "https://webchat.botframework.com/"})
	outLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		d.close()
		return nil, fmt.Errorf("listen outbound: %w", err)
	}
	outAddr := outLn.Addr().String()
	env := d.cloud.Env()
	for k, v := range map[string]string{
		"MicrosoftAppId":        demoAppID,
		"MicrosoftAppPassword":  demoSecret,
		"MicrosoftAppTenantId":  demoTenantID,
		"SIDECAR_BOT_URL":       d.bot.URL + "/api/messages",
		"SIDECAR_STORE":         "memory:",
		"SIDECAR_INBOUND_ADDR":  "127.0.0.1:0",
		"SIDECAR_OUTBOUND_ADDR": outAddr,
		"SIDECAR_OUTBOUND_URL":  "http://" + outAddr + "/",
		"SIDECAR_ADMIN_ADDR":    "127.0.0.1:0",
	} {
		env[k] = v
	}
	cfg, err := config.Load(env)
	if err != nil {
		outLn.Close()
		d.close()
		return nil, err
	}
	actx, cancel := context.WithCancel(ctx)
	d.cancel = cancel
	d.app, err = newApp(actx, cfg, zap.NewNop(), cloudDeps(d.cloud, outLn))
	if err != nil {
		d.close()
		return nil, err
	}
	d.inbound, d.outbound, d.admin = d.app.addr("inbound"), d.app.addr("outbound"), d.app.addr("admin")
	go func() { d.done <- d.app.serve(actx) }()
	if err := d.waitReady(ctx); err != nil {
		d.close()
		return nil, err
	}
	return d, nil
}

// close stops the sidecar, then the fakes (all started before anything
// that can fail).
func (d *demo) close() {
	if d.cancel != nil {
		d.cancel()
		if d.app != nil {
			<-d.done
		}
	}
	d.bot.Close()
	d.cloud.Close()
}

// cloudDeps connects an in-process sidecar to the fakes; outbound is the
// pre-bound outbound listener.
func cloudDeps(c *fakes.Cloud, outbound net.Listener) deps {
	return deps{entraClient: c.Entra.Client(), upstream: c.Connector.Transport(), openID: c.Channel.Client(), outboundListener: outbound}
}

func (d *demo) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get("http://" + d.admin + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return errors.New("the sidecar did not become ready within 10s")
}

// inbound1: a Teams message in, the bot's reply out with both classic
// mistakes (the raw app id as from, a Web Chat serviceUrl), arriving fixed.
func (d *demo) inbound1(p *printer) error {
	p.title("1. A Teams message arrives, signed by the channel")
	su := d.conn.ServiceURL()
	activity := `{"type":"message","id":"1700000000001","serviceUrl":"` + su + `","channelId":"msteams",` +
		`"from":{"id":"29:1demo-user","name":"Ada"},"recipient":{"id":"28:` + demoAppID + `","name":"Demo bot"},` +
		`"conversation":{"conversationType":"personal","tenantId":"` + demoTenantID + `","id":"` + d.convID + `"},` +
		`"channelData":{"tenant":{"id":"` + demoTenantID + `"}},"text":"hello sidecar"}`
	status, _, err := post("http://"+d.inbound+"/api/messages", "Bearer "+d.channel.Token(demoAppID, su), activity, nil)
	if err != nil {
		return err
	}
	p.line("channel  -> sidecar  POST /api/messages with a channel JWT: %d", status)
	if status != http.StatusOK {
		return fmt.Errorf("inbound answered %d; want 200", status)
	}
	got := d.bot.Received()
	if len(got) != 1 {
		return fmt.Errorf("the bot received %d activities; want 1", len(got))
	}
	var seen struct{ ServiceURL string }
	_ = json.Unmarshal(got[0], &seen)
	p.line("sidecar  -> bot      the activity, no Authorization, serviceUrl %s", seen.ServiceURL)
	if seen.ServiceURL != "http://"+d.outbound+"/" {
		return fmt.Errorf("the bot saw serviceUrl %q; want the sidecar", seen.ServiceURL)
	}

	p.title("2. The bot replies with the two classic mistakes")
	p.line(`bot      -> sidecar  "from":{"id":"%s"} (the raw app id), "serviceUrl":"https://webchat.botframework.com/"`, demoAppID)
	replies := d.bot.Replies()
	if len(replies) != 1 || replies[0].Status != http.StatusOK {
		return fmt.Errorf("the bot's reply = %+v; want 200", replies)
	}
	reqs := d.conn.Requests()
	if len(reqs) != 1 {
		return fmt.Errorf("the connector got %d requests; want 1", len(reqs))
	}
	return d.showUpstream(p, reqs[0], su)
}

// showUpstream prints and checks what reached the connector.
func (d *demo) showUpstream(p *printer, r fakes.ConnectorRequest, su string) error {
	var sent struct {
		From       struct{ ID string }
		ServiceURL string
	}
	if err := json.Unmarshal(r.Body, &sent); err != nil {
		return fmt.Errorf("upstream body: %w", err)
	}
	claims, err := d.entra.Verify(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
	if err != nil {
		return fmt.Errorf("the upstream token does not verify: %w", err)
	}
	p.line("sidecar  -> connector %s %s", r.Method, r.RawURI)
	p.line(`                      "from":{"id":"%s"}, "serviceUrl":"%s"`, sent.From.ID, sent.ServiceURL)
	p.line("                      Bearer token from the bot's own tenant: aud=%v tid=%v appid=%v (signature verified)", claims["aud"], claims["tid"], claims["appid"])
	if sent.From.ID != "28:"+demoAppID || sent.ServiceURL != su || claims["tid"] != demoTenantID {
		return fmt.Errorf("upstream from=%q serviceUrl=%q tid=%v; want 28:<appId>, %q and the bot's tenant", sent.From.ID, sent.ServiceURL, claims["tid"], su)
	}
	return nil
}

// proactive: a send hours later, naming only the conversation.
func (d *demo) proactive(p *printer) error {
	p.title("3. A proactive message, later, naming only the conversation")
	d.conn.Reset()
	status, _, err := post("http://"+d.outbound+"/v3/conversations/"+d.convID+"/activities", "", `{"type":"message","text":"a reminder"}`, nil)
	if err != nil {
		return err
	}
	p.line("bot      -> sidecar  POST /v3/conversations/%s/activities (no from, no serviceUrl): %d", d.convID, status)
	reqs := d.conn.Requests()
	if status != http.StatusOK || len(reqs) != 1 {
		return fmt.Errorf("proactive send = %d with %d upstream requests; want 200 and 1", status, len(reqs))
	}
	return d.showUpstream(p, reqs[0], d.conn.ServiceURL())
}

// groupChat: a create-conversation Teams rejects with a bare BadSyntax.
func (d *demo) groupChat(p *printer) error {
	p.title("4. Creating a group chat, which Teams refuses with a bare BadSyntax")
	d.conn.Reset()
	body := `{"isGroup":true,"members":[{"id":"29:1a"},{"id":"29:1b"},{"id":"29:1c"}],"topicName":"standup"}`
	status, resp, err := post("http://"+d.outbound+"/v3/conversations", "", body, nil)
	if err != nil {
		return err
	}
	var e struct {
		Error struct{ Code, Message string }
	}
	_ = json.Unmarshal([]byte(resp), &e)
	p.line("bot      -> sidecar  POST /v3/conversations isGroup=true, 3 members: %d %s", status, e.Error.Code)
	p.line("                      %s", e.Error.Message)
	if status != http.StatusBadRequest || e.Error.Code != "GroupChatCreationNotSupported" || len(d.conn.Requests()) != 0 {
		return fmt.Errorf("group create = %d %s with %d upstream requests; want a local 400", status, e.Error.Code, len(d.conn.Requests()))
	}
	return nil
}

// bareForbidden: the connector's 403 with an empty body, explained.
func (d *demo) bareForbidden(p *printer) error {
	p.title("5. The connector answers a bare 403 (say, the bot was removed from the chat)")
	d.conn.Reset()
	d.conn.Enqueue(fakes.ConnectorResponse{Status: http.StatusForbidden})
	status, resp, err := post("http://"+d.outbound+"/v3/conversations/"+d.convID+"/activities", "", `{"type":"message","text":"hello?"}`, nil)
	if err != nil {
		return err
	}
	var e struct {
		Error       struct{ Code string }
		Diagnostics struct {
			Reference struct {
				BotID      string
				ChannelID  string
				AgeSeconds int64
			}
			Hints []string
		}
	}
	if err := json.Unmarshal([]byte(resp), &e); err != nil {
		return fmt.Errorf("diagnostics body %q: %w", resp, err)
	}
	var diag map[string]any
	_ = json.Unmarshal([]byte(resp), &struct{ Diagnostics *map[string]any }{&diag})
	p.line("connector -> sidecar 403 with an empty body")
	p.line("sidecar  -> bot      %d %s, with diagnostics:", status, e.Error.Code)
	p.line("                      sent from.id %v, serviceUrl %v, MS-CV %v", diag["sentFromId"], diag["sentServiceUrl"], diag["msCv"])
	p.line("                      reference: bot %s on %s, captured %ds ago", e.Diagnostics.Reference.BotID, e.Diagnostics.Reference.ChannelID, e.Diagnostics.Reference.AgeSeconds)
	if len(e.Diagnostics.Hints) > 0 {
		p.line("                      hint: %s", e.Diagnostics.Hints[0])
	}
	if status != http.StatusForbidden || e.Error.Code != "UpstreamErrorWithoutBody" || diag["sentFromId"] != "28:"+demoAppID || diag["msCv"] == nil {
		return fmt.Errorf("bare 403 = %d %s; want 403 with diagnostics", status, resp)
	}
	return nil
}

// forged: an inbound activity with a tampered token.
func (d *demo) forged(p *printer) error {
	p.title("6. A forged channel token")
	tok := d.channel.Token(demoAppID, d.conn.ServiceURL())
	tok = tok[:len(tok)-6] + "AAAAAA"
	before := len(d.bot.Received())
	status, _, err := post("http://"+d.inbound+"/api/messages", "Bearer "+tok,
		`{"type":"message","serviceUrl":"`+d.conn.ServiceURL()+`","channelId":"msteams","conversation":{"id":"a:1forged"}}`, nil)
	if err != nil {
		return err
	}
	p.line("attacker -> sidecar  POST /api/messages with a tampered signature: %d; the bot was not called", status)
	if status != http.StatusUnauthorized || len(d.bot.Received()) != before {
		return fmt.Errorf("forged token = %d; want 401 and no call to the bot", status)
	}
	return nil
}

// manySends: the token cache at work.
func (d *demo) manySends(p *printer) error {
	p.title(fmt.Sprintf("7. %d more sends", demoSends))
	for i := 0; i < demoSends; i++ {
		status, _, err := post("http://"+d.outbound+"/v3/conversations/"+d.convID+"/activities", "", `{"type":"message","text":"n"}`, nil)
		if err != nil {
			return err
		}
		if status != http.StatusOK {
			return fmt.Errorf("send %d = %d", i, status)
		}
	}
	n := d.entra.Requests()
	p.line("token requests to Entra for everything above: %d (cached, refreshed ahead of expiry by one request)", n)
	if n != 1 {
		return fmt.Errorf("token requests = %d; want 1", n)
	}
	return nil
}

func post(url, authz, body string, header http.Header) (int, string, error) {
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

// printer writes the transcript.
type printer struct{ w io.Writer }

func (p *printer) title(s string) { fmt.Fprintf(p.w, "\n%s\n", s) }

func (p *printer) line(format string, args ...any) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "  "+format+"\n", args...)
	_, _ = p.w.Write(b.Bytes())
}
