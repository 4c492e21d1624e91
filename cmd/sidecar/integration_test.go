package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/botsidecar/sidecar/config"
	"github.com/botsidecar/sidecar/internal/fakes"
	"github.com/botsidecar/sidecar/internal/testkit"
	"github.com/botsidecar/sidecar/store"
)

const (
	itAppID  = "11111111-2222-3333-4444-555555555555"
	itTenant = "99999999-8888-7777-6666-555555555555"
	// itSecret is recognisable so the log test can look for it.
	itSecret = "s3cr3t-VALUE-that-must-never-be-logged"
)

// stack is a running sidecar between a fake Entra and a fake connector.
type stack struct {
	t       *testing.T
	entra   *fakes.Entra
	conn    *fakes.Connector
	channel *fakes.Channel
	bot     *fakes.EchoBot
	app     *app
	logs    *e2eBuffer
	base    string // outbound base URL, what the bot sees as serviceUrl
	admin   string
	inbound string
	done    chan error
}

func startStack(t *testing.T, env map[string]string) *stack {
	t.Helper()
	return startStackWith(t, env, nil)
}

// startStackWith is startStack with mod applied to the deps.
func startStackWith(t *testing.T, env map[string]string, mod func(*deps)) *stack {
	t.Helper()
	s := &stack{t: t, logs: &e2eBuffer{}, done: make(chan error, 1)}
	cloud := fakes.NewCloud(fakes.EntraOptions{ClientSecret: itSecret})
	t.Cleanup(cloud.Close)
	s.entra, s.channel, s.conn = cloud.Entra, cloud.Channel, cloud.Connector
	outLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	outAddr := outLn.Addr().String()
	s.bot = fakes.NewEchoBot(fakes.EchoBotOptions{RawAppID: itAppID, WrongServiceURL: "https://webchat.botframework.com/"})
	t.Cleanup(s.bot.Close)
	base := cloud.Env()
	for k, v := range map[string]string{
		"SIDECAR_BOT_URL":       s.bot.URL + "/api/messages",
		"MicrosoftAppId":        itAppID,
		"MicrosoftAppPassword":  itSecret,
		"MicrosoftAppTenantId":  itTenant,
		"SIDECAR_STORE":         "memory:",
		"SIDECAR_OUTBOUND_ADDR": outAddr,
		"SIDECAR_OUTBOUND_URL":  "http://" + outAddr + "/",
		"SIDECAR_ADMIN_ADDR":    "127.0.0.1:0",
		"SIDECAR_INBOUND_ADDR":  "127.0.0.1:0",
		"SIDECAR_LOG_LEVEL":     "debug",
		// Tests that burst into one conversation measure tokens, not
		// pacing, which has tests of its own.
		"SIDECAR_PACING": "false",
		// The fake connector plays a built-in connector host; putRef
		// writes references no token of this process vouched for.
		"SIDECAR_TRUSTED_SERVICE_URLS": strings.TrimPrefix(cloud.Connector.URL, "https://"),
	} {
		base[k] = v
	}
	for k, v := range env {
		base[k] = v
	}
	cfg, err := config.Load(base)
	if err != nil {
		t.Fatal(err)
	}
	logger, err := newLogger(cfg.LogLevel, cfg.LogFormat, s.logs)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	d := cloudDeps(cloud, outLn)
	if mod != nil {
		mod(&d)
	}
	s.app, err = newApp(ctx, cfg, logger, d)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	s.serve(ctx, cancel)
	return s
}

// serve runs the app until the test ends, then checks its logs.
func (s *stack) serve(ctx context.Context, cancel context.CancelFunc) {
	s.base = "http://" + s.app.addr("outbound")
	s.admin = "http://" + s.app.addr("admin")
	s.inbound = "http://" + s.app.addr("inbound")
	go func() { s.done <- s.app.serve(ctx) }()
	s.t.Cleanup(func() {
		cancel()
		if err := <-s.done; err != nil {
			s.t.Errorf("serve: %v", err)
		}
		s.assertNoSecretsLogged()
	})
}

// assertNoSecretsLogged checks every log line the stack wrote for the
// client secret and for every token the fake Entra issued.
func (s *stack) assertNoSecretsLogged() {
	logs := s.logs.String()
	if strings.Contains(logs, itSecret) {
		s.t.Error("the client secret appears in the log")
	}
	for _, tok := range s.entra.Issued() {
		if strings.Contains(logs, tok) || strings.Contains(logs, tok[strings.LastIndexByte(tok, '.')+1:]) {
			s.t.Error("an issued token appears in the log")
		}
	}
}

func (s *stack) putRef(id, serviceURL string) {
	s.t.Helper()
	err := s.app.store.Put(context.Background(), store.Reference{
		ConversationID: id, ServiceURL: serviceURL, Vouched: true, ChannelID: "msteams",
		Bot:      json.RawMessage(`{"id":"28:` + itAppID + `","name":"Bot"}`),
		User:     json.RawMessage(`{"id":"29:u1"}`),
		TenantID: itTenant, UpdatedAt: time.Now(),
	})
	if err != nil {
		s.t.Fatal(err)
	}
}

func (s *stack) send(conversationID, body string) (int, string) {
	s.t.Helper()
	resp, err := http.Post(s.base+"/v3/conversations/"+conversationID+"/activities", "application/json", strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (s *stack) waitReady() {
	s.t.Helper()
	testkit.WaitFor(s.t, 10*time.Second, func() bool { return e2eReady(s.admin) == "" }, "the sidecar ready")
}

func TestIntegrationSequentialSendsCostOneToken(t *testing.T) {
	s := startStack(t, nil)
	s.waitReady()
	s.putRef("a:1", s.conn.ServiceURL())
	for i := 0; i < 50; i++ {
		if status, body := s.send("a:1", `{"type":"message","text":"n"}`); status != 200 {
			t.Fatalf("send %d = %d %s", i, status, body)
		}
	}
	if n := s.entra.Requests(); n != 1 {
		t.Errorf("token requests = %d for 50 sends; want 1", n)
	}
	reqs := s.conn.Requests()
	if len(reqs) != 50 {
		t.Fatalf("connector got %d sends; want 50", len(reqs))
	}
	claims, err := s.entra.Verify(strings.TrimPrefix(reqs[0].Header.Get("Authorization"), "Bearer "))
	if err != nil {
		t.Fatalf("upstream token does not verify: %v", err)
	}
	if claims["tid"] != itTenant || claims["appid"] != itAppID {
		t.Errorf("token claims = %v; want the bot's tenant and app", claims)
	}
	before := time.Now()
	metrics := metricValues(t, s.get(s.admin+"/metrics"))
	after := time.Now()
	for name, want := range map[string]float64{
		"sidecar_token_acquisitions_total":         1,
		"sidecar_token_acquisition_failures_total": 0,
		`sidecar_requests_total{direction="outbound",route="/v3/conversations/{conversationId}/activities",status="200"}`: 50,
		`sidecar_reference_store_operations_total{op="get",result="hit"}`:                                                 50,
	} {
		if got, ok := metrics[name]; !ok || got != want {
			t.Errorf("/metrics %s = %v (present %v); want %v", name, got, ok, want)
		}
	}
	// The seconds left on the token the sends used, as of the scrape:
	// between its expiry less the time after the scrape and its expiry less
	// the time before it.
	exp := s.app.tokens.ExpiresOn()
	if exp.IsZero() {
		t.Fatal("no cached token after 50 sends")
	}
	got := metrics["sidecar_token_expiry_seconds"]
	if lo, hi := exp.Sub(after).Seconds(), exp.Sub(before).Seconds(); got < lo || got > hi {
		t.Errorf("/metrics sidecar_token_expiry_seconds = %v; want the cached token's %v to %v", got, lo, hi)
	}
}

// TestTokenExpiryMetric reads the expiry gauge on a fixed clock: the exact
// seconds left, and 0 once the token has expired.
func TestTokenExpiryMetric(t *testing.T) {
	s := startStack(t, nil)
	s.waitReady()
	exp := s.app.tokens.ExpiresOn()
	if exp.IsZero() {
		t.Fatal("no cached token once ready")
	}
	for _, tt := range []struct {
		now  time.Time
		want float64
	}{
		{exp.Add(-1234 * time.Second), 1234},
		{exp.Add(-1500 * time.Millisecond), 1.5},
		{exp, 0},
		{exp.Add(time.Hour), 0},
	} {
		reg := prometheus.NewRegistry()
		if err := registerTokenMetrics(reg, s.app.bots, func() time.Time { return tt.now }); err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		if got, ok := metricValues(t, rec.Body.String())["sidecar_token_expiry_seconds"]; !ok || got != tt.want {
			t.Errorf("expiry gauge at %v before expiry = %v; want %v", exp.Sub(tt.now), got, tt.want)
		}
	}
}

// metricValues parses Prometheus text: each sample's name with its labels
// as printed, to its value. Whole lines are compared, so that 3 is never
// taken for 30 or 3599.
func metricValues(t *testing.T, text string) map[string]float64 {
	t.Helper()
	values := map[string]float64{}
	for line := range strings.Lines(text) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if i < 0 || err != nil {
			t.Fatalf("metric line %q: %v", line, err)
		}
		values[line[:i]] = v
	}
	return values
}

func (s *stack) get(url string) string {
	s.t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func TestIntegrationConcurrentColdSendsCostOneToken(t *testing.T) {
	// A slow Entra and a cold cache: the start-up acquisition and 40
	// concurrent sends all share one token request.
	s := startStack(t, nil)
	s.entra.SetDelay(300 * time.Millisecond)
	s.putRef("a:1", s.conn.ServiceURL())
	var wg sync.WaitGroup
	errs := make(chan string, 40)
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if status, body := s.send("a:1", `{"type":"message"}`); status != 200 {
				errs <- fmt.Sprintf("%d %s", status, body)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error("send:", e)
	}
	if n := s.entra.Requests(); n != 1 {
		t.Errorf("token requests = %d for 40 concurrent cold sends; want 1", n)
	}
}

func TestIntegration401RefreshesTokenOnce(t *testing.T) {
	s := startStack(t, nil)
	s.waitReady()
	s.putRef("a:1", s.conn.ServiceURL())
	s.conn.Enqueue(fakes.ConnectorResponse{Status: 401, Body: `{"message":"Authorization has been denied for this request."}`})
	if status, body := s.send("a:1", `{"type":"message"}`); status != 200 {
		t.Fatalf("send = %d %s; want 200 after a refresh", status, body)
	}
	if n := s.entra.Requests(); n != 2 {
		t.Errorf("token requests = %d; want 2 (start-up, refresh after 401)", n)
	}
	reqs := s.conn.Requests()
	if len(reqs) != 2 || reqs[0].Header.Get("Authorization") == reqs[1].Header.Get("Authorization") {
		t.Errorf("retry did not carry a fresh token")
	}
}

func TestIntegrationUntrustedUpstreamGetsNoToken(t *testing.T) {
	s := startStack(t, nil)
	s.waitReady()
	// Atomic: a wrong sidecar calls it from the server's goroutines while
	// the test reads the count.
	var evilCalls atomic.Int64
	evil := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		evilCalls.Add(1)
	}))
	defer evil.Close()
	if err := s.app.store.Put(context.Background(), store.Reference{ConversationID: "a:evil", ServiceURL: evil.URL + "/"}); err != nil {
		t.Fatal(err)
	}
	s.putRef("a:http", "http://smba.trafficmanager.net/amer/")
	for _, id := range []string{"a:evil", "a:http"} {
		if status, body := s.send(id, `{"type":"message"}`); status != 403 || !strings.Contains(body, "UntrustedServiceUrl") {
			t.Errorf("send to %s = %d %s; want 403 UntrustedServiceUrl", id, status, body)
		}
	}
	req, _ := http.NewRequest("POST", s.base+"/v3/conversations/a:none/activities", strings.NewReader(`{}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Service-Url", evil.URL+"/")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Errorf("untrusted X-Service-Url = %d; want 403", resp.StatusCode)
	}
	if n := evilCalls.Load(); n != 0 || len(s.conn.Requests()) != 0 {
		t.Errorf("untrusted host got %d calls, connector %d; want none", n, len(s.conn.Requests()))
	}
}

func TestIntegrationWrongSecretIsNotReady(t *testing.T) {
	s := startStack(t, map[string]string{"MicrosoftAppPassword": "wrong-" + itSecret})
	if !testkit.Poll(10*time.Second, func() bool { return strings.Contains(s.logs.String(), "invalid_client") }) {
		t.Fatalf("no log line says why the token failed:\n%s", s.logs.String())
	}
	resp, err := http.Get(s.admin + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 503 || !strings.Contains(string(body), "token") {
		t.Errorf("readyz = %d %s; want 503 naming the token", resp.StatusCode, body)
	}
	if strings.Contains(s.logs.String(), "wrong-"+itSecret) {
		t.Error("the wrong secret appears in the log")
	}
	resp, err = http.Get(s.admin + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("healthz = %d; want 200 while alive", resp.StatusCode)
	}
}

// A start-up failure after the store is open is an error naming the
// listener, not a panic, and the store is closed again.
func TestStartupFailureIsAnError(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	db := "bolt:" + t.TempDir() + "/refs.db"
	env := []string{
		"MicrosoftAppId=" + itAppID, "MicrosoftAppPassword=" + itSecret, "MicrosoftAppTenantId=" + itTenant,
		"SIDECAR_STORE=" + db, "SIDECAR_INBOUND_ADDR=127.0.0.1:0", "SIDECAR_ADMIN_ADDR=127.0.0.1:0",
		"SIDECAR_OUTBOUND_ADDR=" + busy.Addr().String(),
	}
	var stderr e2eBuffer
	err = run(context.Background(), nil, env, io.Discard, &stderr)
	if err == nil || !strings.Contains(err.Error(), "listen outbound") {
		t.Fatalf("run with a busy outbound port = %v; want a listen error", err)
	}
	if strings.Contains(err.Error()+stderr.String(), itSecret) {
		t.Error("the secret was printed")
	}
	// The store was closed: it opens again at once (bolt holds a lock).
	env[len(env)-1] = "SIDECAR_OUTBOUND_ADDR=127.0.0.1:0"
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if err := run(ctx, nil, env, io.Discard, &stderr); err != nil {
		t.Errorf("second start after a failed one = %v; want a clean start and stop", err)
	}
}
