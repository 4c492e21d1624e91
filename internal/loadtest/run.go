package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// runOptions configure `loadtest run`.
type runOptions struct {
	Sidecar         string
	SidecarBase     string // the baseline build of the sidecar, for sidecar-base
	SidecarBaseName string // what SidecarBase was built from, for the report
	ReverseProxy    string
	Nginx           string
	Wrk             string
	Perf            string
	Workdir         string
	Duration        time.Duration
	Warmup          time.Duration
	Pause           time.Duration
	Threads         int
	Connections     int
	Rounds          int
	Targets         []string
	NginxWorkers    string
	SidecarLogLevel string
	Profile         bool
	ProfileTarget   string
	Serve           bool
	JSONOut         string
	RPBufferPool    bool
	SidecarEnv      map[string]string
}

// Target names.
const (
	tSidecar      = "sidecar"
	tSidecarInfo  = "sidecar-info"
	tSidecarBase  = "sidecar-base"
	tSidecarPaced = "sidecar-paced"
	tReverseProxy = "reverseproxy"
	tNginx        = "nginx"
)

var targetDescriptions = map[string]string{
	tSidecar:      "the real sidecar binary (memory: store, log level %s)",
	tSidecarInfo:  "the real sidecar binary at the default log level info (a JSON line per call, to a pipe)",
	tSidecarBase:  "the sidecar built from %s, configured like sidecar (log level %s): the change's baseline",
	tSidecarPaced: "the real sidecar binary like sidecar, with SIDECAR_PACING on and limits that never bind (%s): the pacer's cost",
	tReverseProxy: "bare httputil.ReverseProxy (separate minimal binary, static Authorization, /amer prefix, BufferPool %s)",
	tNginx:        "nginx %s, worker_processes %s, upstream keepalive 64, TLS verified, no access log",
}

func parseRunOptions(args []string) (runOptions, error) {
	var o runOptions
	var targets, sidecarEnv string
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.StringVar(&o.Sidecar, "sidecar", "", "the sidecar binary (go build -o … ./cmd/sidecar)")
	fs.StringVar(&o.SidecarBase, "sidecar-base", "", "a baseline build of the sidecar (another revision), for the sidecar-base target")
	fs.StringVar(&o.SidecarBaseName, "sidecar-base-name", "another revision", "what -sidecar-base was built from, for the report")
	fs.StringVar(&o.ReverseProxy, "reverseproxy", "", "the baseline binary (go build -o … ./internal/loadtest/reverseproxy)")
	fs.StringVar(&o.Nginx, "nginx", "nginx", "the nginx binary")
	fs.StringVar(&o.Wrk, "wrk", "wrk", "the wrk binary")
	fs.StringVar(&o.Perf, "perf", "perf", "the perf binary (with -profile)")
	fs.StringVar(&o.Workdir, "workdir", "", "directory for configs, logs and results (required)")
	fs.DurationVar(&o.Duration, "duration", 10*time.Second, "length of each measured wrk run")
	fs.DurationVar(&o.Warmup, "warmup", 3*time.Second, "length of the warm-up run of each target (not measured)")
	fs.DurationVar(&o.Pause, "pause", time.Second, "quiet time between runs")
	fs.IntVar(&o.Threads, "threads", 2, "wrk threads")
	fs.IntVar(&o.Connections, "connections", 32, "wrk connections")
	fs.IntVar(&o.Rounds, "rounds", 3, "measured rounds; each round runs every target once, the order rotating")
	fs.StringVar(&targets, "targets", "sidecar,reverseproxy,nginx", "comma-separated: sidecar, sidecar-info, sidecar-base, reverseproxy, nginx")
	fs.StringVar(&o.NginxWorkers, "nginx-workers", "auto", "nginx worker_processes")
	fs.StringVar(&o.SidecarLogLevel, "sidecar-log-level", "warn", "SIDECAR_LOG_LEVEL of the sidecar target")
	fs.BoolVar(&o.RPBufferPool, "reverseproxy-buffer-pool", true, "the ReverseProxy baseline reuses its copy buffers (false: a 32 KiB buffer per response)")
	fs.StringVar(&sidecarEnv, "sidecar-env", "", "extra environment of the sidecar targets, space-separated KEY=VALUE (e.g. GOGC=200)")
	fs.BoolVar(&o.Profile, "profile", false, "after the rounds, profile a target under load with perf and summarise")
	fs.StringVar(&o.ProfileTarget, "profile-target", tSidecar, "the target -profile samples")
	fs.BoolVar(&o.Serve, "serve", false, "start everything, print each target's URL and pid, and wait for SIGINT/SIGTERM instead of measuring")
	fs.StringVar(&o.JSONOut, "json", "", "also write the results as JSON to this file")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	for _, kv := range strings.Fields(sidecarEnv) {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return o, fmt.Errorf("-sidecar-env: %q is not KEY=VALUE", kv)
		}
		if o.SidecarEnv == nil {
			o.SidecarEnv = map[string]string{}
		}
		o.SidecarEnv[k] = v
	}
	seen := map[string]bool{}
	for _, t := range strings.Split(targets, ",") {
		t = strings.TrimSpace(t)
		if t == "" || seen[t] {
			continue
		}
		if _, ok := targetDescriptions[t]; !ok {
			return o, fmt.Errorf("unknown target %q (sidecar, sidecar-info, sidecar-paced, sidecar-base, reverseproxy, nginx)", t)
		}
		seen[t] = true
		o.Targets = append(o.Targets, t)
	}
	switch {
	case o.Workdir == "":
		return o, errors.New("-workdir is required")
	case len(o.Targets) == 0:
		return o, errors.New("no target")
	case o.Profile && !seen[o.ProfileTarget]:
		return o, fmt.Errorf("-profile-target %q is not among the targets", o.ProfileTarget)
	case (seen[tSidecar] || seen[tSidecarInfo] || seen[tSidecarPaced]) && o.Sidecar == "":
		return o, errors.New("-sidecar is required for the sidecar targets")
	case seen[tSidecarBase] && o.SidecarBase == "":
		return o, errors.New("-sidecar-base is required for the sidecar-base target")
	case seen[tReverseProxy] && o.ReverseProxy == "":
		return o, errors.New("-reverseproxy is required for the reverseproxy target")
	case o.Duration < time.Second || o.Threads < 1 || o.Connections < o.Threads || o.Rounds < 1:
		return o, errors.New("need -duration ≥ 1s, -threads ≥ 1, -connections ≥ -threads and -rounds ≥ 1")
	}
	return o, nil
}

// target is one proxy under test.
type target struct {
	Name        string     `json:"name"`
	Description string     `json:"description"`
	URL         string     `json:"url"`
	Pid         int        `json:"pid"`
	Idle        memory     `json:"idle"`
	After       memory     `json:"afterLoad"`
	Runs        []measured `json:"runs"`
	proc        *child
}

// measured is one wrk run of a target.
type measured struct {
	Round int       `json:"round"`
	Slot  int       `json:"slot"` // position in its round
	Wrk   wrkResult `json:"wrk"`
	// CPU used during the run by the proxy (all its processes), by the
	// fakes process (the connector), and by wrk.
	ProxyCPU    time.Duration `json:"proxyCpuNs"`
	UpstreamCPU time.Duration `json:"upstreamCpuNs"`
	WrkCPU      time.Duration `json:"wrkCpuNs"`
	// OtherCPU is what the rest of the machine used meanwhile: anything
	// else running (a build, a test) skews the run, and the report says so.
	OtherCPU time.Duration `json:"otherCpuNs"`
}

// results is everything `loadtest run` measured.
type results struct {
	Started     time.Time `json:"started"`
	Machine     string    `json:"machine"`
	CPUs        int       `json:"cpus"`
	NginxInfo   string    `json:"nginx,omitempty"`
	BodyBytes   int       `json:"bodyBytes"`
	Path        string    `json:"path"`
	Threads     int       `json:"threads"`
	Connections int       `json:"connections"`
	Duration    string    `json:"duration"`
	Rounds      int       `json:"rounds"`
	Targets     []*target `json:"targets"`
	Profile     string    `json:"profile,omitempty"`
}

// benchRun holds the running processes.
type benchRun struct {
	o       runOptions
	ctx     context.Context
	fakes   *child
	state   fakesState
	targets []*target
	stops   []func()
	client  *http.Client
	res     results
}

func runMeasurement(ctx context.Context, args []string, stdout io.Writer) (err error) {
	o, err := parseRunOptions(args)
	if err != nil {
		return err
	}
	if o.Workdir, err = filepath.Abs(o.Workdir); err != nil {
		return err
	}
	if err := os.MkdirAll(o.Workdir, 0o755); err != nil {
		return err
	}
	// nginx's workers run as nobody; let them reach their temp paths.
	_ = os.Chmod(o.Workdir, 0o755)
	b := &benchRun{o: o, ctx: ctx, client: &http.Client{Timeout: 10 * time.Second}}
	defer b.stopAll()
	if err := b.start(); err != nil {
		return err
	}
	if o.Serve {
		fmt.Fprintf(stdout, "wrk script: %s (POST the activity)\nfakes: %s (connector %s)\n", filepath.Join(o.Workdir, "post-activity.lua"), b.fakes.logPath, b.state.ConnectorURL)
		if err := writeWrkScript(o.Workdir); err != nil {
			return err
		}
		for _, t := range b.targets {
			fmt.Fprintf(stdout, "%-13s pid %-7d %s  idle RSS %s\n", t.Name, t.Pid, t.URL, fmtMiB(t.Idle.RSS))
		}
		fmt.Fprintln(stdout, "serving until interrupted")
		<-ctx.Done()
		return nil
	}
	fmt.Fprintf(stdout, "all targets up; idle memory measured; warming up (%v each)\n", o.Warmup)
	if err := b.measure(stdout); err != nil {
		return err
	}
	if o.Profile {
		prof, err := b.profile(stdout)
		if err != nil {
			fmt.Fprintf(stdout, "profile: %v\n", err)
		}
		b.res.Profile = prof
	}
	report(stdout, &b.res)
	if o.Profile && b.res.Profile != "" {
		fmt.Fprintf(stdout, "\n%s", b.res.Profile)
	}
	js, _ := json.MarshalIndent(b.res, "", "  ")
	_ = os.WriteFile(filepath.Join(o.Workdir, "results.json"), js, 0o644)
	if o.JSONOut != "" {
		if err := os.WriteFile(o.JSONOut, js, 0o644); err != nil {
			return err
		}
	}
	for _, t := range b.targets {
		for _, r := range t.Runs {
			if r.Wrk.Errors() > 0 {
				return fmt.Errorf("%s had %d failed requests in round %d (non-2xx or socket errors): the numbers above are not valid", t.Name, r.Wrk.Errors(), r.Round+1)
			}
		}
	}
	return nil
}

// stopAll stops the targets (nginx first), then the fakes.
func (b *benchRun) stopAll() {
	for i := len(b.stops) - 1; i >= 0; i-- {
		b.stops[i]()
	}
	b.stops = nil
}

func (b *benchRun) start() error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	statePath := filepath.Join(b.o.Workdir, "fakes.json")
	_ = os.Remove(statePath)
	b.fakes, err = startChild("fakes", b.o.Workdir, nil, syscall.SIGTERM, self, "fakes", "-state", statePath)
	if err != nil {
		return err
	}
	b.stops = append(b.stops, func() { b.fakes.stop(5 * time.Second) })
	if b.state, err = readFakesState(statePath, 15*time.Second, b.fakes.alive); err != nil {
		return err
	}
	b.res = results{
		Started: time.Now().UTC(), Machine: cpuModel(), CPUs: runtime.NumCPU(), BodyBytes: len(benchActivity), Path: benchPath,
		Threads: b.o.Threads, Connections: b.o.Connections, Duration: b.o.Duration.String(), Rounds: b.o.Rounds,
	}
	for _, name := range b.o.Targets {
		if err := b.ctx.Err(); err != nil {
			return err
		}
		var t *target
		switch name {
		case tSidecar:
			t, err = b.startSidecar(name, b.o.Sidecar, b.o.SidecarLogLevel)
		case tSidecarInfo:
			t, err = b.startSidecar(name, b.o.Sidecar, "info")
		case tSidecarPaced:
			t, err = b.startSidecar(name, b.o.Sidecar, b.o.SidecarLogLevel)
		case tSidecarBase:
			t, err = b.startSidecar(name, b.o.SidecarBase, b.o.SidecarLogLevel)
		case tReverseProxy:
			t, err = b.startReverseProxy()
		case tNginx:
			t, err = b.startNginx()
		}
		if err != nil {
			return err
		}
		b.targets = append(b.targets, t)
		b.res.Targets = append(b.res.Targets, t)
	}
	// Idle: started, one request served, then left alone.
	if err := sleepCtx(b.ctx, 2*time.Second); err != nil {
		return err
	}
	for _, t := range b.targets {
		if t.Idle, err = readMemory(t.Pid); err != nil {
			return fmt.Errorf("%s: idle memory: %w", t.Name, err)
		}
	}
	return nil
}

// childEnv is the orchestrator's environment without anything that would
// configure a sidecar (an operator's own SIDECAR_* or identity), plus kv.
func childEnv(kv map[string]string) []string {
	var env []string
	for _, e := range os.Environ() {
		k, _, _ := strings.Cut(e, "=")
		switch {
		case strings.HasPrefix(k, "SIDECAR_"), strings.HasPrefix(k, "Microsoft"), strings.HasPrefix(k, "SSL_CERT_"),
			strings.HasPrefix(k, "AZURE_"), k == "CLIENT_ID", k == "CLIENT_SECRET", k == "TENANT_ID":
			continue
		}
		if _, ours := kv[k]; ours {
			continue
		}
		env = append(env, e)
	}
	for k, v := range kv {
		env = append(env, k+"="+v)
	}
	return env
}

func (b *benchRun) startSidecar(name, binary, level string) (*target, error) {
	in, out, admin, err := sidecarAddrs()
	if err != nil {
		return nil, err
	}
	kv := sidecarEnv(b.state, in, out, admin, level)
	// One conversation at full speed: the Teams limits would measure
	// the pacer's holding, not the proxy (earlier revisions ignore it).
	// sidecar-paced paces with limits no run reaches: the pacer's cost.
	kv["SIDECAR_PACING"] = "false"
	if name == tSidecarPaced {
		maps.Copy(kv, pacedEnv)
	}
	extra := ""
	for k, v := range b.o.SidecarEnv {
		kv[k] = v
		extra += ", " + k + "=" + v
	}
	env := childEnv(kv)
	c, err := startChild(name, b.o.Workdir, env, syscall.SIGTERM, binary)
	if err != nil {
		return nil, err
	}
	b.stops = append(b.stops, func() { c.stop(10 * time.Second) })
	if err := waitReady(b.ctx, b.client, c, "http://"+admin+"/readyz", 20*time.Second); err != nil {
		return nil, err
	}
	if err := storeReference(b.ctx, b.client, c, "http://"+in+"/api/messages", b.state.ChannelToken, inboundActivity(b.state.ServiceURL)); err != nil {
		return nil, err
	}
	t := &target{Name: name, Description: fmt.Sprintf(targetDescriptions[tSidecar], level) + extra, URL: "http://" + out + benchPath, Pid: c.pid(), proc: c}
	switch name {
	case tSidecarInfo:
		t.Description = targetDescriptions[tSidecarInfo] + extra
	case tSidecarBase:
		t.Description = fmt.Sprintf(targetDescriptions[tSidecarBase], b.o.SidecarBaseName, level) + extra
	case tSidecarPaced:
		t.Description = fmt.Sprintf(targetDescriptions[tSidecarPaced], pacedLimit) + extra
	}
	return t, b.verify(t)
}

// pacedLimit is sidecar-paced's limit of every class and the tenant:
// 100,000 calls a second, far above what one machine sends.
const pacedLimit = "10000/100ms"

var pacedEnv = map[string]string{
	"SIDECAR_PACING": "true", "SIDECAR_PACING_SEND": pacedLimit, "SIDECAR_PACING_READ": pacedLimit, "SIDECAR_PACING_TENANT": pacedLimit,
}

// sidecarAddrs picks the inbound, outbound and admin addresses of a sidecar.
func sidecarAddrs() (in, out, admin string, err error) {
	var addrs [3]string
	for i := range addrs {
		if addrs[i], err = freeLoopbackAddr(); err != nil {
			return "", "", "", err
		}
	}
	return addrs[0], addrs[1], addrs[2], nil
}

// sidecarEnv configures a benchmark's sidecar like production: the
// benchmark's identity, the fakes, the memory store, its listeners.
func sidecarEnv(st fakesState, in, out, admin, level string) map[string]string {
	return map[string]string{
		"MicrosoftAppId":              benchAppID,
		"MicrosoftAppPassword":        benchSecret,
		"MicrosoftAppTenantId":        benchTenantID,
		"SIDECAR_AUTHORITY_HOST":      st.EntraURL,
		"SIDECAR_OPENID_METADATA_URL": st.MetadataURL,
		"SIDECAR_CHANNEL_ISSUER":      st.ChannelIssuer,
		"SIDECAR_STORE":               "memory:",
		"SIDECAR_INBOUND_ADDR":        in,
		"SIDECAR_OUTBOUND_ADDR":       out,
		"SIDECAR_ADMIN_ADDR":          admin,
		"SIDECAR_OUTBOUND_URL":        "http://" + out + "/",
		"SIDECAR_BOT_URL":             st.BotURL,
		"SIDECAR_LOG_LEVEL":           level,
		"SSL_CERT_FILE":               st.CertFile,
	}
}

// storeReference stores a conversation reference the way the channel
// would: a signed activity on the sidecar's inbound listener.
func storeReference(ctx context.Context, client *http.Client, c *child, url, channelToken, activity string) error {
	status, body, err := post(ctx, client, url, "Bearer "+channelToken, activity)
	if err != nil || status != http.StatusOK {
		return fmt.Errorf("%s: the inbound activity that stores the reference got %d %s %v; %s ends with:\n%s",
			c.name, status, body, err, c.logPath, tailFile(c.logPath, 20))
	}
	return nil
}

func waitReady(ctx context.Context, client *http.Client, c *child, url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if err := c.alive(); err != nil {
			return err
		}
		if resp, err := client.Get(url); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: %s did not answer 200 within %v; %s ends with:\n%s", c.name, url, timeout, c.logPath, tailFile(c.logPath, 20))
		}
		if err := sleepCtx(ctx, 25*time.Millisecond); err != nil {
			return err
		}
	}
}

func post(ctx context.Context, client *http.Client, url, authz, body string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	return resp.StatusCode, string(rb), nil
}

// verify sends the benchmark's request once: it must reach the connector.
func (b *benchRun) verify(t *target) error {
	status, body, err := post(b.ctx, b.client, t.URL, "", benchActivity)
	if err != nil || status != http.StatusOK || !strings.Contains(body, `"id"`) {
		return fmt.Errorf("%s: the benchmark request to %s got %d %q %v; want 200 with the connector's id; %s ends with:\n%s",
			t.Name, t.URL, status, body, err, t.proc.logPath, tailFile(t.proc.logPath, 20))
	}
	return nil
}

func (b *benchRun) startReverseProxy() (*target, error) {
	addr, err := freeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	env := childEnv(map[string]string{"SSL_CERT_FILE": b.state.CertFile})
	c, err := startChild(tReverseProxy, b.o.Workdir, env, syscall.SIGTERM, b.o.ReverseProxy,
		"-listen", addr, "-upstream", b.state.ConnectorURL+"/amer", "-bearer", b.state.StaticBearer,
		"-buffer-pool="+strconv.FormatBool(b.o.RPBufferPool))
	if err != nil {
		return nil, err
	}
	b.stops = append(b.stops, func() { c.stop(5 * time.Second) })
	if err := waitPort(c, addr, 10*time.Second); err != nil {
		return nil, err
	}
	pool := "on"
	if !b.o.RPBufferPool {
		pool = "off"
	}
	t := &target{Name: tReverseProxy, Description: fmt.Sprintf(targetDescriptions[tReverseProxy], pool), URL: "http://" + addr + benchPath, Pid: c.pid(), proc: c}
	return t, b.verify(t)
}

func (b *benchRun) startNginx() (*target, error) {
	addr, err := freeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	prefix := filepath.Join(b.o.Workdir, "nginx")
	if err := os.MkdirAll(prefix, 0o755); err != nil {
		return nil, err
	}
	conf, err := nginxConfig(nginxOptions{Prefix: prefix, Listen: addr, Upstream: b.state.ConnectorURL, PathBase: "/amer",
		CertFile: b.state.CertFile, Bearer: b.state.StaticBearer, Workers: b.o.NginxWorkers})
	if err != nil {
		return nil, err
	}
	confPath := filepath.Join(prefix, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	errLog := filepath.Join(prefix, "error.log")
	// -e: the start-up error log, before the config's applies.
	args := []string{"-p", prefix + "/", "-c", confPath, "-e", errLog}
	if out, err := exec.CommandContext(b.ctx, b.o.Nginx, append([]string{"-t"}, args...)...).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("nginx -t %s: %v\n%s", confPath, err, out)
	}
	c, err := startChild(tNginx, b.o.Workdir, nil, syscall.SIGTERM, b.o.Nginx, args...)
	if err != nil {
		return nil, err
	}
	b.stops = append(b.stops, func() { c.stop(5 * time.Second) })
	if err := waitPort(c, addr, 10*time.Second); err != nil {
		return nil, fmt.Errorf("%w\n%s ends with:\n%s", err, errLog, tailFile(errLog, 10))
	}
	version, _ := exec.Command(b.o.Nginx, "-v").CombinedOutput()
	b.res.NginxInfo = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(string(version)), "nginx version:"))
	t := &target{Name: tNginx, Description: fmt.Sprintf(targetDescriptions[tNginx], b.res.NginxInfo, b.o.NginxWorkers),
		URL: "http://" + addr + benchPath, Pid: c.pid(), proc: c}
	// Let the workers start before the first request.
	if err := sleepCtx(b.ctx, 200*time.Millisecond); err != nil {
		return nil, err
	}
	if err := b.verify(t); err != nil {
		return nil, fmt.Errorf("%w\n%s ends with:\n%s", err, errLog, tailFile(errLog, 10))
	}
	return t, nil
}

// measure warms every target up, then runs the rounds, rotating the order
// so that no target always runs first or last.
func (b *benchRun) measure(stdout io.Writer) error {
	if err := writeWrkScript(b.o.Workdir); err != nil {
		return err
	}
	scriptPath := filepath.Join(b.o.Workdir, "post-activity.lua")
	run := func(t *target, d time.Duration, tag string) (measured, error) {
		if err := t.proc.alive(); err != nil {
			return measured{}, err
		}
		w := wrkRun{Wrk: b.o.Wrk, Script: scriptPath, URL: t.URL, Threads: b.o.Threads, Connections: b.o.Connections, Duration: d}
		p0, u0, all0 := cpuTime(t.Pid), cpuTime(b.fakes.pid()), machineBusy()
		res, wrkCPU, err := w.run(b.ctx, filepath.Join(b.o.Workdir, "wrk-"+t.Name+"-"+tag+".txt"))
		if err != nil {
			return measured{}, fmt.Errorf("%s: %w", t.Name, err)
		}
		m := measured{Wrk: res, ProxyCPU: cpuTime(t.Pid) - p0, UpstreamCPU: cpuTime(b.fakes.pid()) - u0, WrkCPU: wrkCPU}
		m.OtherCPU = max(0, machineBusy()-all0-m.ProxyCPU-m.UpstreamCPU-m.WrkCPU)
		return m, sleepCtx(b.ctx, b.o.Pause)
	}
	for _, t := range b.targets {
		m, err := run(t, b.o.Warmup, "warmup")
		if err != nil {
			return err
		}
		if m.Wrk.Errors() > 0 {
			return fmt.Errorf("%s: %d failed requests while warming up; see %s", t.Name, m.Wrk.Errors(), filepath.Join(b.o.Workdir, "wrk-"+t.Name+"-warmup.txt"))
		}
	}
	n := len(b.targets)
	for r := 0; r < b.o.Rounds; r++ {
		var order []string
		for s := 0; s < n; s++ {
			t := b.targets[(r+s)%n]
			m, err := run(t, b.o.Duration, fmt.Sprintf("round%d", r+1))
			if err != nil {
				return err
			}
			m.Round, m.Slot = r, s
			t.Runs = append(t.Runs, m)
			order = append(order, fmt.Sprintf("%s %.0f/s", t.Name, m.Wrk.RPS()))
		}
		fmt.Fprintf(stdout, "round %d/%d: %s\n", r+1, b.o.Rounds, strings.Join(order, ", "))
	}
	if err := sleepCtx(b.ctx, 2*time.Second); err != nil {
		return err
	}
	for _, t := range b.targets {
		var err error
		if t.After, err = readMemory(t.Pid); err != nil {
			return fmt.Errorf("%s: memory after load: %w", t.Name, err)
		}
	}
	return nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// writeWrkScript writes WORKDIR/post-activity.lua.
func writeWrkScript(workdir string) error {
	script, err := wrkScript(benchActivity)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(workdir, "post-activity.lua"), []byte(script), 0o644)
}
