package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/botsidecar/sidecar/internal/fakes"
	"github.com/botsidecar/sidecar/internal/testkit"
)

// These tests run the real binary as a process: restarts, crashes, shared
// Redis, signals. They reuse the e2e helpers (e2eStart, e2eBuildSidecar).

var (
	procBinOnce sync.Once
	procBinDir  string
	procBinPath string
	procBinErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if procBinDir != "" {
		_ = os.RemoveAll(procBinDir)
	}
	os.Exit(code)
}

// procBinary builds the sidecar once for all process tests.
func procBinary(t *testing.T) string {
	t.Helper()
	procBinOnce.Do(func() {
		procBinDir, procBinErr = os.MkdirTemp("", "sidecar-proc-")
		if procBinErr != nil {
			return
		}
		procBinPath = e2eBuildSidecar(t, procBinDir)
	})
	if procBinErr != nil || procBinPath == "" {
		t.Fatalf("build sidecar: %v", procBinErr)
	}
	return procBinPath
}

// procWorld is what outlives one sidecar process: the fakes and a bot.
type procWorld struct {
	t       *testing.T
	cloud   *fakes.Cloud
	channel *fakes.Channel
	conn    *fakes.Connector
	bot     *httptest.Server
	certs   string
	botHits atomic.Int64
	token   string // one channel token for the connector's service URL
}

func newProcWorld(t *testing.T) *procWorld {
	t.Helper()
	w := &procWorld{t: t}
	w.cloud = fakes.NewCloud(fakes.EntraOptions{ClientID: e2eAppID, ClientSecret: e2eSecret})
	t.Cleanup(w.cloud.Close)
	w.channel, w.conn = w.cloud.Channel, w.cloud.Connector
	w.bot = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.botHits.Add(1)
		rw.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(w.bot.Close)
	w.certs = e2eCertFile(t, w.cloud.CertificatesPEM())
	w.token = w.channel.Token(e2eAppID, w.conn.ServiceURL())
	return w
}

// sidecarProc is one running sidecar process.
type sidecarProc struct {
	*e2eProc
	inbound, outbound, admin string // base URLs
}

func (w *procWorld) start(env map[string]string) *sidecarProc {
	w.t.Helper()
	proc, inAddr, outAddr, adminAddr := e2eStartSidecar(w.t, procBinary(w.t), func(inAddr, outAddr, adminAddr string) map[string]string {
		full := e2eSidecarEnv(w.cloud, w.certs, w.bot.URL+"/api/messages", inAddr, outAddr, adminAddr)
		for k, v := range env {
			full[k] = v
		}
		return full
	})
	p := &sidecarProc{e2eProc: proc, inbound: "http://" + inAddr, outbound: "http://" + outAddr, admin: "http://" + adminAddr}
	p.waitReady(15 * time.Second)
	return p
}

func (p *sidecarProc) waitReady(timeout time.Duration) {
	p.t.Helper()
	ready := testkit.Poll(timeout, func() bool {
		p.alive()
		return e2eReady(p.admin) == ""
	})
	if !ready {
		p.t.Fatalf("sidecar not ready within %v\nstderr:\n%s", timeout, e2eTail(p.stderr.String()))
	}
}

// signal sends sig and waits for the process to end; it returns the exit
// code and how long the exit took.
func (p *sidecarProc) signal(sig syscall.Signal, timeout time.Duration) (int, time.Duration) {
	p.t.Helper()
	start := time.Now()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatalf("signal %v: %v", sig, err)
	}
	select {
	case <-p.exited:
	case <-time.After(timeout):
		p.t.Fatalf("sidecar still running %v after %v\nstderr:\n%s", timeout, sig, e2eTail(p.stderr.String()))
	}
	p.stopOnce.Do(func() {}) // it was meant to exit
	code := 0
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		code = ee.ExitCode()
	} else if p.err != nil {
		p.t.Fatalf("wait: %v", p.err)
	}
	return code, time.Since(start)
}

// kill ends the process with SIGKILL: a crash.
func (p *sidecarProc) kill() {
	_ = p.cmd.Process.Kill()
	<-p.exited
	p.stopOnce.Do(func() {})
}

func (w *procWorld) activity(conversationID string) string {
	return e2eTeamsActivity("message", "1700000000001", conversationID, "personal", w.conn.ServiceURL(), `,"text":"hi"`)
}

// postInbound posts a signed activity; the status, or 0 on a transport
// error (the process may be dying).
func (w *procWorld) postInbound(p *sidecarProc, conversationID string) int {
	return w.postActivity(p, w.activity(conversationID))
}

// postActivity posts a signed activity body; the status, or 0 on a
// transport error.
func (w *procWorld) postActivity(p *sidecarProc, activity string) int {
	req, _ := http.NewRequest(http.MethodPost, p.inbound+"/api/messages", strings.NewReader(activity))
	req.Header.Set("Authorization", "Bearer "+w.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

func sendOutbound(p *sidecarProc, conversationID string) (int, string) {
	resp, err := http.Post(p.outbound+"/v3/conversations/"+conversationID+"/activities", "application/json", strings.NewReader(`{"type":"message","text":"proactive"}`))
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// waitUpstreamCall waits until a call is at the connector.
func (w *procWorld) waitUpstreamCall() {
	w.t.Helper()
	testkit.WaitFor(w.t, 10*time.Second, func() bool { return len(w.conn.Requests()) > 0 }, "the call reaching the connector")
}

func TestProcessRestartKeepsReferences(t *testing.T) {
	t.Parallel()
	w := newProcWorld(t)
	db := "bolt:" + filepath.Join(t.TempDir(), "data", "references.db")
	// The fake connector plays a built-in connector host: trusted by every
	// process, not only by the one that validated a token for it.
	env := map[string]string{"SIDECAR_STORE": db, "SIDECAR_TRUSTED_SERVICE_URLS": w.connHost()}
	a := w.start(env)
	if status := w.postInbound(a, "a:1restart"); status != 200 {
		t.Fatalf("inbound = %d; want 200", status)
	}
	if code, _ := a.signal(syscall.SIGTERM, 10*time.Second); code != 0 {
		t.Fatalf("exit code after SIGTERM = %d; want 0", code)
	}
	b := w.start(env)
	w.conn.Reset()
	if status, body := sendOutbound(b, "a:1restart"); status != 200 {
		t.Fatalf("proactive send after restart = %d %s; want 200", status, body)
	}
	reqs := w.conn.Requests()
	if len(reqs) != 1 || reqs[0].RawURI != "/amer/v3/conversations/a:1restart/activities" {
		t.Fatalf("connector got %v; want the send at the stored service URL", reqs)
	}
}

// The store is no source of trust: after a restart, a stored reference
// whose host only a token of the previous process vouched for gets 403
// naming the host and the variable to set, and the host gets no token.
func TestProcessRestartDoesNotTrustStoredVouching(t *testing.T) {
	t.Parallel()
	w := newProcWorld(t)
	env := map[string]string{"SIDECAR_STORE": "bolt:" + filepath.Join(t.TempDir(), "references.db")}
	a := w.start(env)
	if status := w.postInbound(a, "a:1vouched-before"); status != 200 {
		t.Fatalf("inbound = %d; want 200", status)
	}
	if code, _ := a.signal(syscall.SIGTERM, 10*time.Second); code != 0 {
		t.Fatalf("exit code after SIGTERM = %d; want 0", code)
	}
	b := w.start(env)
	w.conn.Reset()
	status, body := sendOutbound(b, "a:1vouched-before")
	if status != 403 || !strings.Contains(body, "UntrustedServiceUrl") || !strings.Contains(body, w.connHost()) || !strings.Contains(body, "SIDECAR_TRUSTED_SERVICE_URLS") {
		t.Errorf("send after restart = %d %s; want 403 UntrustedServiceUrl naming %s and SIDECAR_TRUSTED_SERVICE_URLS", status, body, w.connHost())
	}
	if n := len(w.conn.Requests()); n != 0 {
		t.Errorf("connector got %d requests; want none before a token of this process vouches for it", n)
	}
	// A new inbound activity vouches again, in this process.
	if status := w.postInbound(b, "a:1vouched-before"); status != 200 {
		t.Fatalf("inbound after restart = %d; want 200", status)
	}
	if status, body := sendOutbound(b, "a:1vouched-before"); status != 200 {
		t.Errorf("send after a new inbound activity = %d %s; want 200", status, body)
	}
}

// connHost is the fake connector's host:port, as a trust entry.
func (w *procWorld) connHost() string { return strings.TrimPrefix(w.conn.URL, "https://") }

func TestProcessCrashKeepsAcknowledgedReferences(t *testing.T) {
	t.Parallel()
	w := newProcWorld(t)
	db := "bolt:" + filepath.Join(t.TempDir(), "references.db")
	a := w.start(map[string]string{"SIDECAR_STORE": db})

	const total, workers, killAfter = 1000, 16, 300
	var acked sync.Map
	var nAcked atomic.Int64
	ids := make(chan string)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range ids {
				if status := w.postInbound(a, id); status >= 200 && status < 300 {
					acked.Store(id, true)
					nAcked.Add(1)
				}
			}
		}()
	}
	// kill -9 while activities are in flight; if they are not acknowledged
	// (the sidecar refuses them, say), kill it anyway at the deadline, so
	// that the posts end and the count below fails the test.
	killed := make(chan struct{})
	go func() {
		testkit.Poll(60*time.Second, func() bool { return nAcked.Load() >= killAfter })
		a.kill()
		close(killed)
	}()
	for i := range total {
		ids <- fmt.Sprintf("a:1crash-%04d", i)
	}
	close(ids)
	wg.Wait()
	<-killed

	n := 0
	acked.Range(func(any, any) bool { n++; return true })
	if n < killAfter || n == total {
		t.Fatalf("%d activities acknowledged; want the kill to land mid-stream", n)
	}
	b := w.start(map[string]string{"SIDECAR_STORE": db})
	missing := 0
	acked.Range(func(k, _ any) bool {
		resp, err := http.Get(b.admin + "/references/" + k.(string))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			missing++
		}
		return true
	})
	if missing > 0 {
		t.Errorf("%d of %d acknowledged activities lost their reference in the crash", missing, n)
	}
	t.Logf("%d of %d activities acknowledged before kill -9; all references present after restart", n, total)
}

func TestProcessTwoSidecarsShareRedis(t *testing.T) {
	t.Parallel()
	w := newProcWorld(t)
	redis := testkit.StartRedis(t, testkit.RedisOptions{})
	env := map[string]string{"SIDECAR_STORE": redis.URL() + "/0", "SIDECAR_TRUSTED_SERVICE_URLS": w.connHost()}
	a := w.start(env)
	b := w.start(env)

	if status := w.postInbound(a, "a:1shared"); status != 200 {
		t.Fatalf("inbound to A = %d", status)
	}
	if status, body := sendOutbound(b, "a:1shared"); status != 200 {
		t.Fatalf("send through B of a reference captured by A = %d %s; want 200", status, body)
	}

	redis.Stop()
	w.postForwarded(a, "a:1during-outage", "during the Redis outage")
	if status, body := sendOutbound(a, "a:1shared"); status != 200 {
		t.Errorf("send through A during the outage = %d %s; want 200 from the LRU", status, body)
	}
	if status, body := sendOutbound(a, "a:1during-outage"); status != 200 {
		t.Errorf("send through A of the conversation captured during the outage = %d %s; want 200", status, body)
	}
	if !strings.Contains(a.stderr.String(), "reference store unavailable, queueing writes") {
		t.Errorf("no log line about the store outage:\n%s", e2eTail(a.stderr.String()))
	}

	redis.Start()
	last := 0
	caughtUp := testkit.Poll(30*time.Second, func() bool {
		last, _ = sendOutbound(b, "a:1during-outage")
		return last == 200
	})
	if !caughtUp {
		t.Fatalf("B never resolved the conversation captured during the outage (last %d): the queued write did not catch up", last)
	}
}

func TestProcessShutdownFinishesInFlightCalls(t *testing.T) {
	t.Parallel()
	w := newProcWorld(t)
	p := w.start(map[string]string{"SIDECAR_SHUTDOWN_GRACE": "10s"})
	if status := w.postInbound(p, "a:1slow"); status != 200 {
		t.Fatalf("inbound = %d", status)
	}
	w.conn.Enqueue(fakes.ConnectorResponse{Status: 201, Body: `{"id":"slow"}`, Delay: 2 * time.Second})
	type result struct {
		status int
		body   string
	}
	done := make(chan result, 1)
	go func() {
		s, b := sendOutbound(p, "a:1slow")
		done <- result{s, b}
	}()
	w.waitUpstreamCall() // then ask the sidecar to stop
	code, _ := p.signal(syscall.SIGTERM, time.Minute)
	r := <-done
	if r.status != 201 || !strings.Contains(r.body, "slow") {
		t.Errorf("in-flight call = %d %s; want the upstream's 201", r.status, r.body)
	}
	// 0, not 1: the drain ended before the grace ran out.
	if code != 0 {
		t.Errorf("exit code = %d; want 0", code)
	}
}

// stuckFor is how long the connector holds a stuck call's answer back:
// longer than any test waits, so that only the sidecar's shutdown can end
// the call. (The connector lets go when the sidecar hangs up.)
const stuckFor = time.Hour

// startStuckCall starts a sidecar with the given grace and leaves one
// outbound call waiting delay for the connector's answer.
func startStuckCall(t *testing.T, grace string, delay time.Duration) *sidecarProc {
	t.Helper()
	w := newProcWorld(t)
	p := w.start(map[string]string{"SIDECAR_SHUTDOWN_GRACE": grace})
	if status := w.postInbound(p, "a:1stuck"); status != 200 {
		t.Fatalf("inbound = %d", status)
	}
	w.conn.Enqueue(fakes.ConnectorResponse{Status: 200, Delay: delay})
	go sendOutbound(p, "a:1stuck")
	w.waitUpstreamCall()
	return p
}

// The grace runs out: status 1, not before the grace, and long before the
// stuck call could have ended on its own.
func TestProcessShutdownGraceRunsOut(t *testing.T) {
	t.Parallel()
	const grace = 300 * time.Millisecond
	p := startStuckCall(t, grace.String(), stuckFor)
	code, took := p.signal(syscall.SIGTERM, time.Minute)
	if code != 1 || took < grace {
		t.Errorf("exit code %d after %v; want 1, once the %v grace ran out", code, took, grace)
	}
	if !strings.Contains(p.stderr.String(), errGraceExceeded.Error()) {
		t.Errorf("stderr does not say the grace ran out:\n%s", e2eTail(p.stderr.String()))
	}
}

// A second signal ends the drain at once: status 1, the reason on stderr,
// and within a minute while the grace has ten to run.
func TestProcessSecondSignalExitsAtOnce(t *testing.T) {
	t.Parallel()
	p := startStuckCall(t, "10m", stuckFor)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, time.Minute, func() bool { return strings.Contains(p.stderr.String(), "shutting down") }, "the drain after the first signal")
	code, _ := p.signal(syscall.SIGTERM, time.Minute)
	if code != 1 || !strings.Contains(p.stderr.String(), "second signal: exiting now") {
		t.Errorf("exit code %d on the second signal; want 1 and the reason on stderr:\n%s", code, e2eTail(p.stderr.String()))
	}
}

// postForwarded posts an activity that must be acknowledged and reach the
// bot although the store is down (its write queued).
func (w *procWorld) postForwarded(p *sidecarProc, conversationID, when string) {
	w.t.Helper()
	hits := w.botHits.Load()
	if status := w.postInbound(p, conversationID); status != 200 {
		w.t.Fatalf("inbound %s = %d; want 200 (forwarded, write queued)", when, status)
	}
	if w.botHits.Load() != hits+1 {
		w.t.Errorf("the activity was not forwarded to the bot %s", when)
	}
}

// refKey is the Redis key of a conversation's reference for the test bot.
func refKey(conversationID string) string {
	return "botsidecar:" + e2eAppID + ":ref:" + conversationID
}

// rawRedis is a plain client for checking what the sidecars wrote.
func rawRedis(t *testing.T, s *testkit.RedisServer) *goredis.Client {
	t.Helper()
	c := goredis.NewClient(&goredis.Options{Addr: s.Addr(), MaxRetries: -1})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// inRedis reports whether Redis holds the conversation's reference.
func inRedis(t *testing.T, c *goredis.Client, conversationID string) bool {
	t.Helper()
	n, err := c.Exists(t.Context(), refKey(conversationID)).Result()
	return err == nil && n == 1
}

// adminGet returns the body of GET path on the admin listener, or "".
func (p *sidecarProc) adminGet(path string) string {
	resp, err := http.Get(p.admin + path)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// load posts activities for new conversations from several workers until
// stopped, and records which ones the sidecar acknowledged.
type load struct {
	acked   sync.Map
	n       atomic.Int64
	stopped chan struct{}
	wg      sync.WaitGroup
}

func (w *procWorld) startLoad(p *sidecarProc, prefix string, workers int) *load {
	l := &load{stopped: make(chan struct{})}
	var seq atomic.Int64
	for range workers {
		l.wg.Go(func() {
			for {
				select {
				case <-l.stopped:
					return
				default:
				}
				id := fmt.Sprintf("a:1%s-%06d", prefix, seq.Add(1))
				if status := w.postInbound(p, id); status >= 200 && status < 300 {
					l.acked.Store(id, true)
					l.n.Add(1)
				}
			}
		})
	}
	return l
}

func (l *load) stop() {
	close(l.stopped)
	l.wg.Wait()
}

// ids returns the acknowledged conversation ids.
func (l *load) ids() []string {
	var ids []string
	l.acked.Range(func(k, _ any) bool { ids = append(ids, k.(string)); return true })
	return ids
}

// missingIn counts the acknowledged references Redis lacks.
func missingIn(t *testing.T, c *goredis.Client, ids []string) int {
	t.Helper()
	missing := 0
	for _, id := range ids {
		if !inRedis(t, c, id) {
			missing++
		}
	}
	return missing
}

// Redis goes away under steady inbound load and comes back empty (a
// restart without persistence): once it is back, writes reach it at once
// again, the outage's queue and what Redis lost are written back, and a
// kill -9 then loses no acknowledged reference.
func TestProcessRedisOutageUnderLoadLosesNothing(t *testing.T) {
	t.Parallel()
	w := newProcWorld(t)
	srv := testkit.StartRedis(t, testkit.RedisOptions{})
	rdb := rawRedis(t, srv)
	a := w.start(map[string]string{"SIDECAR_STORE": srv.URL()})
	l := w.startLoad(a, "load", 8)
	testkit.WaitFor(t, time.Minute, func() bool { return l.n.Load() >= 100 }, "activities acknowledged before the outage")

	srv.Stop()
	during := l.n.Load()
	testkit.WaitFor(t, time.Minute, func() bool { return l.n.Load() >= during+200 }, "activities acknowledged during the outage")
	srv.Start()

	// Under the same load, a new activity's reference is in Redis when its
	// activity is acknowledged: writes go straight to Redis again.
	probe := 0
	testkit.WaitFor(t, 30*time.Second, func() bool {
		probe++
		id := fmt.Sprintf("a:1direct-%04d", probe)
		return w.postInbound(a, id) == 200 && inRedis(t, rdb, id)
	}, "a reference in Redis as its activity is acknowledged, under load after the outage")
	before := l.ids()
	testkit.WaitFor(t, 30*time.Second, func() bool { return missingIn(t, rdb, before) == 0 },
		"every reference acknowledged before and during the outage back in Redis")

	a.kill()
	l.stop()
	ids := l.ids()
	if missing := missingIn(t, rdb, ids); missing > 0 {
		t.Errorf("%d of %d acknowledged references missing from Redis after kill -9", missing, len(ids))
	}
	t.Logf("%d activities acknowledged; all references in Redis after kill -9", len(ids))
}

// FLUSHALL empties Redis under running replicas: the replica that captured
// a reference writes it back, and the other resolves it again.
func TestProcessRedisFlushAllHeals(t *testing.T) {
	t.Parallel()
	w := newProcWorld(t)
	srv := testkit.StartRedis(t, testkit.RedisOptions{})
	rdb := rawRedis(t, srv)
	env := map[string]string{"SIDECAR_STORE": srv.URL(), "SIDECAR_TRUSTED_SERVICE_URLS": w.connHost()}
	a := w.start(env)
	b := w.start(env)
	if status := w.postInbound(a, "a:1flushed"); status != 200 {
		t.Fatalf("inbound to A = %d", status)
	}
	if err := rdb.FlushAll(t.Context()).Err(); err != nil {
		t.Fatal(err)
	}
	last, body := 0, ""
	testkit.WaitFor(t, 30*time.Second, func() bool {
		last, body = sendOutbound(b, "a:1flushed")
		return last == 200
	}, "B resolving, after FLUSHALL, the conversation A captured")
	if !inRedis(t, rdb, "a:1flushed") {
		t.Errorf("the reference is not back in Redis (last send through B: %d %s)", last, body)
	}
}

// A sidecar started while Redis is down serves degraded (ready, inbound
// forwarded, the degraded state on /readyz and in a metric) and heals
// when Redis comes.
func TestProcessStartsWhileRedisDown(t *testing.T) {
	t.Parallel()
	w := newProcWorld(t)
	srv := testkit.StartRedis(t, testkit.RedisOptions{})
	rdb := rawRedis(t, srv)
	srv.Stop()
	a := w.start(map[string]string{"SIDECAR_STORE": srv.URL()})
	testkit.WaitFor(t, 30*time.Second, func() bool {
		return strings.Contains(a.adminGet("/metrics"), "sidecar_reference_store_degraded 1")
	}, "sidecar_reference_store_degraded 1")
	if body := a.adminGet("/readyz"); !strings.Contains(body, "store: ok, degraded") {
		t.Errorf("/readyz while Redis is down = %q; want the store degraded (and ready)", body)
	}
	w.postForwarded(a, "a:1early", "while Redis is down")
	if status, body := sendOutbound(a, "a:1early"); status != 200 {
		t.Errorf("send while Redis is down = %d %s; want 200 from memory", status, body)
	}

	srv.Start()
	testkit.WaitFor(t, 30*time.Second, func() bool { return inRedis(t, rdb, "a:1early") }, "the queued reference in Redis")
	testkit.WaitFor(t, 30*time.Second, func() bool {
		return strings.Contains(a.adminGet("/metrics"), "sidecar_reference_store_degraded 0")
	}, "sidecar_reference_store_degraded 0")
	if body := a.adminGet("/readyz"); strings.Contains(body, "degraded") {
		t.Errorf("/readyz after Redis came = %q; want no longer degraded", body)
	}
}

// A hung Redis (SIGSTOP) costs a request the store's call bound, not the
// client's read timeout: with a read timeout of a minute, inbound is
// answered, and sends resolve from memory, while Redis stays hung.
func TestProcessHungRedis(t *testing.T) {
	t.Parallel()
	w := newProcWorld(t)
	srv := testkit.StartRedis(t, testkit.RedisOptions{})
	rdb := rawRedis(t, srv)
	env := map[string]string{
		"SIDECAR_STORE":                srv.URL() + "?read_timeout=60s&write_timeout=60s",
		"SIDECAR_TRUSTED_SERVICE_URLS": w.connHost(),
	}
	a := w.start(env)
	if status := w.postInbound(a, "a:1before-hang"); status != 200 {
		t.Fatalf("inbound = %d", status)
	}
	srv.Pause()
	t.Cleanup(srv.Resume) // before the server's own cleanup stops it

	answered := make(chan int, 1)
	go func() { answered <- w.postInbound(a, "a:1during-hang") }()
	var status int
	testkit.WaitFor(t, 30*time.Second, func() bool {
		select {
		case status = <-answered:
			return true
		default:
			return false
		}
	}, "inbound answered while Redis is hung (its read timeout is a minute)")
	if status != 200 {
		t.Errorf("inbound while Redis is hung = %d; want 200 (write queued)", status)
	}
	if status, body := sendOutbound(a, "a:1before-hang"); status != 200 {
		t.Errorf("send while Redis is hung = %d %s; want 200 from memory", status, body)
	}
	if status, _ := sendOutbound(a, "a:1never-seen"); status != 503 {
		t.Errorf("send of an unknown conversation while Redis is hung = %d; want 503", status)
	}

	srv.Resume()
	testkit.WaitFor(t, 30*time.Second, func() bool { return inRedis(t, rdb, "a:1during-hang") }, "the queued reference in Redis after the hang")
}

// redelivered posts activity to p and checks that it is answered 200
// without reaching the bot.
func (w *procWorld) redelivered(p *sidecarProc, activity, what string) {
	w.t.Helper()
	hits := w.botHits.Load()
	if status := w.postActivity(p, activity); status != 200 {
		w.t.Fatalf("%s = %d; want 200, the first delivery's answer", what, status)
	}
	if n := w.botHits.Load(); n != hits {
		w.t.Errorf("%s reached the bot (%d calls, %d before); want it answered from the window", what, n, hits)
	}
}

// TestProcessRedeliveryAfterRestart: the channel's redeliveries of an
// activity that a previous process forwarded, with the same id and then a
// new one, do not reach the bot again; the window is in the bolt file.
func TestProcessRedeliveryAfterRestart(t *testing.T) {
	t.Parallel()
	w := newProcWorld(t)
	env := map[string]string{"SIDECAR_STORE": "bolt:" + filepath.Join(t.TempDir(), "references.db")}
	first := e2eTeamsActivity("message", "1700000000101", "a:1redeliver", "personal", w.conn.ServiceURL(), `,"text":"once"`)
	a := w.start(env)
	if status := w.postActivity(a, first); status != 200 || w.botHits.Load() != 1 {
		t.Fatalf("first delivery = %d, bot calls %d; want 200, 1", status, w.botHits.Load())
	}
	if code, _ := a.signal(syscall.SIGTERM, 10*time.Second); code != 0 {
		t.Fatalf("exit code after SIGTERM = %d; want 0", code)
	}
	b := w.start(env)
	w.redelivered(b, first, "the same id after a restart")
	w.redelivered(b, strings.Replace(first, "1700000000101", "1700000000102", 1), "a new id with the same content after a restart")
	if m := b.adminGet("/metrics"); !strings.Contains(m, `sidecar_inbound_redeliveries_total{layer="content"} 1`) ||
		!strings.Contains(m, `sidecar_inbound_redeliveries_total{layer="id"} 1`) {
		t.Errorf("metrics lack one redelivery per layer:\n%s", grepLines(m, "redeliveries"))
	}
	other := strings.NewReplacer("1700000000101", "1700000000103", `"text":"once"`, `"text":"twice"`).Replace(first)
	if status := w.postActivity(b, other); status != 200 || w.botHits.Load() != 2 {
		t.Errorf("a new message = %d, bot calls %d; want 200 and forwarded (2 calls)", status, w.botHits.Load())
	}
}

// TestProcessRedeliveryAcrossReplicas: a redelivery that lands on another
// replica than the first delivery is recognised through Redis.
func TestProcessRedeliveryAcrossReplicas(t *testing.T) {
	t.Parallel()
	w := newProcWorld(t)
	redis := testkit.StartRedis(t, testkit.RedisOptions{})
	env := map[string]string{"SIDECAR_STORE": redis.URL() + "/0"}
	a := w.start(env)
	b := w.start(env)
	first := e2eTeamsActivity("message", "1700000000201", "a:1replicas", "personal", w.conn.ServiceURL(), `,"text":"once"`)
	if status := w.postActivity(a, first); status != 200 || w.botHits.Load() != 1 {
		t.Fatalf("first delivery to A = %d, bot calls %d; want 200, 1", status, w.botHits.Load())
	}
	w.redelivered(b, first, "the same id through B")
	w.redelivered(b, strings.Replace(first, "1700000000201", "1700000000202", 1), "a new id with the same content through B")
	if m := b.adminGet("/metrics"); !strings.Contains(m, `sidecar_inbound_redeliveries_total{layer="id"} 1`) {
		t.Errorf("B's metrics lack the redelivery:\n%s", grepLines(m, "redeliveries"))
	}
}

// grepLines returns the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
