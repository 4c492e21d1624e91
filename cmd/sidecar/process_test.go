package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
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

	"github.com/botsidecar/sidecar/internal/fakes"
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
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		p.alive()
		if resp, err := http.Get(p.admin + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.t.Fatalf("sidecar not ready within %v\nstderr:\n%s", timeout, e2eTail(p.stderr.String()))
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
	req, _ := http.NewRequest(http.MethodPost, p.inbound+"/api/messages", strings.NewReader(w.activity(conversationID)))
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
	for deadline := time.Now().Add(5 * time.Second); len(w.conn.Requests()) == 0; {
		if time.Now().After(deadline) {
			w.t.Fatal("the call never reached the connector")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestProcessRestartKeepsReferences(t *testing.T) {
	t.Parallel()
	w := newProcWorld(t)
	db := "bolt:" + filepath.Join(t.TempDir(), "data", "references.db")
	a := w.start(map[string]string{"SIDECAR_STORE": db})
	if status := w.postInbound(a, "a:1restart"); status != 200 {
		t.Fatalf("inbound = %d; want 200", status)
	}
	if code, _ := a.signal(syscall.SIGTERM, 10*time.Second); code != 0 {
		t.Fatalf("exit code after SIGTERM = %d; want 0", code)
	}
	b := w.start(map[string]string{"SIDECAR_STORE": db})
	w.conn.Reset()
	if status, body := sendOutbound(b, "a:1restart"); status != 200 {
		t.Fatalf("proactive send after restart = %d %s; want 200", status, body)
	}
	reqs := w.conn.Requests()
	if len(reqs) != 1 || reqs[0].RawURI != "/amer/v3/conversations/a:1restart/activities" {
		t.Fatalf("connector got %v; want the send at the stored service URL", reqs)
	}
}

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
	killed := make(chan struct{})
	go func() {
		for nAcked.Load() < killAfter {
			time.Sleep(time.Millisecond)
		}
		a.kill() // kill -9 while activities are in flight
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

// redisServer starts a real redis-server on a free loopback port.
type redisServer struct {
	t    *testing.T
	port string
	dir  string
	cmd  *exec.Cmd
}

func startRedis(t *testing.T, port string) *redisServer {
	t.Helper()
	r := tryStartRedis(t, port)
	if r == nil {
		t.Fatalf("redis-server on port %s did not answer PING", port)
	}
	return r
}

// tryStartRedis starts redis-server on port; nil when it does not answer.
func tryStartRedis(t *testing.T, port string) *redisServer {
	t.Helper()
	path, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server is not installed (%v): apt-get install -y redis-server (./scripts/test does it)", err)
	}
	r := &redisServer{t: t, port: port, dir: t.TempDir()}
	r.cmd = exec.Command(path, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", r.dir)
	r.cmd.Stdout, r.cmd.Stderr = io.Discard, io.Discard
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.stop)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if redisPing(port) {
			return r
		}
		time.Sleep(20 * time.Millisecond)
	}
	r.stop()
	return nil
}

func (r *redisServer) stop() {
	if r.cmd.Process != nil && r.cmd.ProcessState == nil {
		_ = r.cmd.Process.Kill()
		_ = r.cmd.Wait()
	}
}

// redisPing speaks just enough RESP to see the server up.
func redisPing(port string) bool {
	var d net.Dialer
	c, err := d.DialContext(context.Background(), "tcp", "127.0.0.1:"+port)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "+PONG")
}

func TestProcessTwoSidecarsShareRedis(t *testing.T) {
	t.Parallel()
	w := newProcWorld(t)
	var port string
	var redis *redisServer
	for attempt := 0; redis == nil && attempt < 3; attempt++ { // a picked port may be taken meanwhile
		port = strings.TrimPrefix(e2eFreeAddr(t), "127.0.0.1:")
		redis = tryStartRedis(t, port)
	}
	if redis == nil {
		t.Fatal("redis-server did not start on a free port")
	}
	env := map[string]string{"SIDECAR_STORE": "redis://127.0.0.1:" + port + "/0"}
	a := w.start(env)
	b := w.start(env)

	if status := w.postInbound(a, "a:1shared"); status != 200 {
		t.Fatalf("inbound to A = %d", status)
	}
	if status, body := sendOutbound(b, "a:1shared"); status != 200 {
		t.Fatalf("send through B of a reference captured by A = %d %s; want 200", status, body)
	}

	redis.stop()
	hitsBefore := w.botHits.Load()
	if status := w.postInbound(a, "a:1during-outage"); status != 200 {
		t.Fatalf("inbound during the Redis outage = %d; want 200 (forwarded, write queued)", status)
	}
	if w.botHits.Load() != hitsBefore+1 {
		t.Error("the activity was not forwarded to the bot during the outage")
	}
	if status, body := sendOutbound(a, "a:1shared"); status != 200 {
		t.Errorf("send through A during the outage = %d %s; want 200 from the LRU", status, body)
	}
	if status, body := sendOutbound(a, "a:1during-outage"); status != 200 {
		t.Errorf("send through A of the conversation captured during the outage = %d %s; want 200", status, body)
	}
	if !strings.Contains(a.stderr.String(), "reference store unavailable, queueing writes") {
		t.Errorf("no log line about the store outage:\n%s", e2eTail(a.stderr.String()))
	}

	startRedis(t, port)
	deadline := time.Now().Add(20 * time.Second)
	for {
		status, _ := sendOutbound(b, "a:1during-outage")
		if status == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("B never resolved the conversation captured during the outage (last %d): the queued write did not catch up", status)
		}
		time.Sleep(200 * time.Millisecond)
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
	code, took := p.signal(syscall.SIGTERM, 15*time.Second)
	r := <-done
	if r.status != 201 || !strings.Contains(r.body, "slow") {
		t.Errorf("in-flight call = %d %s; want the upstream's 201", r.status, r.body)
	}
	if code != 0 {
		t.Errorf("exit code = %d; want 0", code)
	}
	if took > 10*time.Second {
		t.Errorf("exit took %v; want within the grace period", took)
	}
}

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

func TestProcessShutdownGraceRunsOut(t *testing.T) {
	t.Parallel()
	p := startStuckCall(t, "300ms", 2*time.Second)
	code, took := p.signal(syscall.SIGTERM, 10*time.Second)
	if code != 1 || took > 1500*time.Millisecond {
		t.Errorf("exit code %d after %v; want 1 soon after the 300ms grace", code, took)
	}
}

func TestProcessSecondSignalExitsAtOnce(t *testing.T) {
	t.Parallel()
	p := startStuckCall(t, "20s", 3*time.Second)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	code, took := p.signal(syscall.SIGTERM, 5*time.Second)
	if code != 1 || took > time.Second {
		t.Errorf("exit code %d after %v on the second signal; want 1 at once", code, took)
	}
}
