package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/botsidecar/sidecar/internal/fakes"
)

// broadcastOptions configure `loadtest broadcast`.
type broadcastOptions struct {
	Sidecar       string
	Workdir       string
	Conversations int // the broadcast: one message to each
	Messages      int // the burst: this many into one conversation
	Concurrency   int
	// TimeScale multiplies every limit period, on the connector and in
	// the sidecar's SIDECAR_PACING_*, and SIDECAR_PACING_MAX_WAIT.
	TimeScale float64
	MaxWait   time.Duration // SIDECAR_PACING_MAX_WAIT before scaling
	// Margin is SIDECAR_PACING_MARGIN: it widens the sidecar's periods
	// only, for the jitter between its clock and the connector's. Not
	// scaled: jitter is not.
	Margin     time.Duration
	Fault504   float64 // the fraction of stored messages answered 504 in the *-504 runs
	References string  // "inbound" (signed activities) or "default" (SIDECAR_DEFAULT_SERVICE_URL)
	Runs       []string
	Baseline   bool // each run also with SIDECAR_PACING=false
	Sequential bool // one run at a time instead of all at once
	JSONOut    string
}

// Run kinds.
const (
	runMany    = "many"     // one message to each of -conversations
	runOne     = "one"      // -messages into one conversation
	runMany504 = "many-504" // the broadcast, with 504s after the connector stored
)

func parseBroadcastOptions(args []string) (broadcastOptions, error) {
	var o broadcastOptions
	var runs string
	fs := flag.NewFlagSet("broadcast", flag.ContinueOnError)
	fs.StringVar(&o.Sidecar, "sidecar", "", "the sidecar binary (required)")
	fs.StringVar(&o.Workdir, "workdir", "", "directory for logs and results (required)")
	fs.IntVar(&o.Conversations, "conversations", 1000, "conversations of the broadcast, one message each")
	fs.IntVar(&o.Messages, "messages", 200, "messages of the burst into one conversation")
	fs.IntVar(&o.Concurrency, "concurrency", 64, "the bot's sends in flight")
	fs.Float64Var(&o.TimeScale, "time-scale", 1, "multiply every limit period (connector and sidecar) and the max wait by this")
	fs.DurationVar(&o.MaxWait, "max-wait", 10*time.Second, "SIDECAR_PACING_MAX_WAIT, before scaling")
	fs.DurationVar(&o.Margin, "margin", 50*time.Millisecond, "SIDECAR_PACING_MARGIN: added to every period of the sidecar's limits (not the connector's)")
	fs.Float64Var(&o.Fault504, "fault-504", 0.05, "fraction of stored messages answered 504 in the many-504 run (0: no such run)")
	fs.StringVar(&o.References, "references", "inbound", "how the sidecar learns the conversations: inbound (a signed activity each) or default (SIDECAR_DEFAULT_SERVICE_URL)")
	fs.StringVar(&runs, "runs", "many,one,many-504", "comma-separated: many, one, many-504")
	fs.BoolVar(&o.Baseline, "baseline", true, "each run also with SIDECAR_PACING=false")
	fs.BoolVar(&o.Sequential, "sequential", false, "one run at a time (default: all at once, each with its own sidecar and connector state)")
	fs.StringVar(&o.JSONOut, "json", "", "also write the results as JSON to this file")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	for r := range strings.SplitSeq(runs, ",") {
		r = strings.TrimSpace(r)
		switch {
		case r == "" || slices.Contains(o.Runs, r):
		case r == runMany || r == runOne || r == runMany504:
			if r != runMany504 || o.Fault504 > 0 {
				o.Runs = append(o.Runs, r)
			}
		default:
			return o, fmt.Errorf("unknown run %q (many, one, many-504)", r)
		}
	}
	switch {
	case o.Sidecar == "" || o.Workdir == "":
		return o, errors.New("-sidecar and -workdir are required")
	case o.Conversations < 1 || o.Messages < 1 || o.Concurrency < 1:
		return o, errors.New("need -conversations, -messages and -concurrency ≥ 1")
	case o.TimeScale <= 0 || o.TimeScale > 10:
		return o, errors.New("-time-scale must be in (0, 10]")
	case o.Fault504 < 0 || o.Fault504 >= 1:
		return o, errors.New("-fault-504 must be in [0, 1)")
	case o.References != "inbound" && o.References != "default":
		return o, fmt.Errorf("-references %q: want inbound or default", o.References)
	case len(o.Runs) == 0:
		return o, errors.New("no run")
	}
	return o, nil
}

// bcastRun is one run: a kind, with or without pacing, its own sidecar
// and its own lane of the connector.
type bcastRun struct {
	Name    string
	Kind    string
	Pacing  bool
	lane    *lane
	proc    *child
	out     string // the sidecar's outbound base URL
	msgs    []*message
	limits  limitSpec // what bounds this run's goodput at the connector
	started time.Time
	res     bcastResult
}

// bcastResult is what a run measured.
type bcastResult struct {
	Name          string `json:"name"`
	Pacing        bool   `json:"pacing"`
	Conversations int    `json:"conversations"`
	Messages      int    `json:"messages"`
	// At the connector.
	Delivered          int `json:"delivered"`  // distinct messages stored
	Duplicates         int `json:"duplicates"` // stored again
	ConnectorThrottled int `json:"connectorThrottled"`
	Injected504        int `json:"injected504"`
	ConnectorRefused   int `json:"connectorRefused"`
	// Elapsed runs from the bot's first send to the last message stored;
	// Ceiling is what the limits admit in it, Ideal when the fastest
	// schedule they allow would have stored all Messages.
	Elapsed time.Duration `json:"elapsedNs"`
	Ideal   time.Duration `json:"idealNs"`
	Ceiling int           `json:"ceiling"`
	Goodput float64       `json:"goodput"` // Delivered / Ceiling
	// At the bot.
	BotThrottled int            `json:"botThrottled"` // 429s the bot got (and waited out)
	BotFailed    map[string]int `json:"botFailed"`    // final answers other than 2xx, by status ("0": transport)
	Unfinished   int            `json:"unfinished"`   // still unanswered at the deadline
	// Held is from the bot's last post of a message to the connector
	// storing it: the pacer's wait (or, without pacing, the sidecar's
	// retries) plus the proxy's own time. Delivery is from its first post.
	HeldP50     time.Duration `json:"heldP50Ns"`
	HeldP99     time.Duration `json:"heldP99Ns"`
	DeliveryP50 time.Duration `json:"deliveryP50Ns"`
	DeliveryP99 time.Duration `json:"deliveryP99Ns"`
}

// broadcastSettings is the report's header.
type broadcastSettings struct {
	Started       time.Time     `json:"started"`
	CPUs          int           `json:"cpus"`
	Conversations int           `json:"conversations"`
	Messages      int           `json:"messages"`
	Concurrency   int           `json:"concurrency"`
	TimeScale     float64       `json:"timeScale"`
	Send          string        `json:"sendLimit"`
	Tenant        string        `json:"tenantLimit"`
	SidecarSend   string        `json:"sidecarSendLimit"`
	SidecarTenant string        `json:"sidecarTenantLimit"`
	MaxWait       time.Duration `json:"maxWaitNs"`
	Margin        time.Duration `json:"marginNs"`
	Fault504      float64       `json:"fault504"`
	References    string        `json:"references"`
	Parallel      bool          `json:"parallel"`
}

type broadcastReport struct {
	Settings broadcastSettings `json:"settings"`
	Runs     []bcastResult     `json:"runs"`
}

const teamsReadLimit = "14/1s,16/2s,120/30s,3600/1h"

// runBroadcast is `loadtest broadcast`: it starts the fakes in this
// process, a sidecar per run, stores the conversations' references, runs
// the bot against each sidecar and reports.
func runBroadcast(ctx context.Context, args []string, stdout io.Writer) error {
	o, err := parseBroadcastOptions(args)
	if err != nil {
		return err
	}
	rep, err := broadcast(ctx, o, stdout)
	if err != nil {
		return err
	}
	printBroadcast(stdout, rep)
	js, _ := json.MarshalIndent(rep, "", "  ")
	_ = os.WriteFile(filepath.Join(o.Workdir, "broadcast.json"), js, 0o644)
	if o.JSONOut != "" {
		return os.WriteFile(o.JSONOut, js, 0o644)
	}
	return nil
}

func broadcast(ctx context.Context, o broadcastOptions, progress io.Writer) (*broadcastReport, error) {
	var err error
	if o.Workdir, err = filepath.Abs(o.Workdir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.Workdir, 0o755); err != nil {
		return nil, err
	}
	send, _ := parseLimitSpec(teamsSendLimit)
	tenant, _ := parseLimitSpec(teamsTenantLimit)
	read, _ := parseLimitSpec(teamsReadLimit)
	connSend, connTenant := send.scaled(o.TimeScale, 0), tenant.scaled(o.TimeScale, 0)
	sideSend, sideTenant, sideRead := send.scaled(o.TimeScale, 0), tenant.scaled(o.TimeScale, 0), read.scaled(o.TimeScale, 0)
	maxWait := time.Duration(float64(o.MaxWait) * o.TimeScale)

	// The outside world, in this process: the connector's records and the
	// bot's clock are then one clock.
	entra := fakes.NewEntra(fakes.EntraOptions{ClientID: benchAppID, ClientSecret: benchSecret})
	defer entra.Close()
	channel := fakes.NewChannel(fakes.ChannelOptions{})
	defer channel.Close()
	conn := newLimitedConnector()
	defer conn.Close()
	bot := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusOK)
	}))
	defer bot.Close()
	st := fakesState{EntraURL: entra.URL, MetadataURL: channel.MetadataURL(), ChannelIssuer: channel.Issuer(),
		BotURL: bot.URL + "/api/messages", CertFile: filepath.Join(o.Workdir, "fakes-ca.pem")}
	if err := os.WriteFile(st.CertFile, bytes.Join([][]byte{entra.CertificatePEM(), channel.CertificatePEM(), conn.CertificatePEM()}, nil), 0o644); err != nil {
		return nil, err
	}

	var runs []*bcastRun
	for _, kind := range o.Runs {
		for _, pacing := range []bool{true, false} {
			if !pacing && !o.Baseline {
				continue
			}
			name := kind
			if !pacing {
				name += "-unpaced"
			}
			runs = append(runs, &bcastRun{Name: name, Kind: kind, Pacing: pacing})
		}
	}
	setupClient := &http.Client{Timeout: 30 * time.Second}
	for i, r := range runs {
		fault := 0.0
		if r.Kind == runMany504 {
			fault = o.Fault504
		}
		var serviceURL string
		r.lane, serviceURL = conn.addLane(fmt.Sprintf("r%d", i), laneOptions{Conversation: connSend, Tenant: connTenant,
			DefaultTenant: benchTenantID, Fault504: fault, RetryAfterMs: o.TimeScale != 1})
		convs, per := o.Conversations, 1
		r.limits = connTenant
		if r.Kind == runOne {
			convs, per = 1, o.Messages
			r.limits = merged(connSend, connTenant)
		}
		for c := range convs {
			for m := range per {
				r.msgs = append(r.msgs, &message{Conversation: fmt.Sprintf("a:1bcast-%05d", c), Text: fmt.Sprintf("%s message %d to %d", r.Name, m, c)})
			}
		}
		in, out, admin, err := sidecarAddrs()
		if err != nil {
			return nil, err
		}
		kv := sidecarEnv(st, in, out, admin, "warn")
		kv["SIDECAR_PACING"] = fmt.Sprint(r.Pacing)
		if r.Pacing {
			kv["SIDECAR_PACING_SEND"], kv["SIDECAR_PACING_READ"], kv["SIDECAR_PACING_TENANT"] = sideSend.String(), sideRead.String(), sideTenant.String()
			kv["SIDECAR_PACING_MAX_WAIT"] = maxWait.String()
			kv["SIDECAR_PACING_MARGIN"] = o.Margin.String()
		}
		if o.References == "default" {
			kv["SIDECAR_DEFAULT_SERVICE_URL"] = serviceURL
			kv["SIDECAR_TRUSTED_SERVICE_URLS"] = conn.Host()
		}
		if r.proc, err = startChild("sidecar-"+r.Name, o.Workdir, childEnv(kv), syscall.SIGTERM, o.Sidecar); err != nil {
			return nil, err
		}
		defer r.proc.stop(10 * time.Second)
		r.out = "http://" + out
		if err := waitReady(ctx, setupClient, r.proc, "http://"+admin+"/readyz", 30*time.Second); err != nil {
			return nil, err
		}
		if o.References == "inbound" {
			fmt.Fprintf(progress, "%s: storing %d conversation references by signed inbound activities\n", r.Name, convs)
			if err := storeReferences(ctx, setupClient, r.proc, "http://"+in+"/api/messages", channel.Token(benchAppID, serviceURL), serviceURL, convs); err != nil {
				return nil, err
			}
		}
	}

	progress = &lockedWriter{w: progress} // the runs report as they end
	fmt.Fprintf(progress, "running %d runs%s\n", len(runs), map[bool]string{true: " one after another", false: " at once"}[o.Sequential])
	var wg sync.WaitGroup
	for _, r := range runs {
		wg.Add(1)
		do := func() {
			defer wg.Done()
			r.res = r.execute(ctx, o, maxWait)
			fmt.Fprintf(progress, "%s: %d of %d delivered in %v\n", r.Name, r.res.Delivered, len(r.msgs), r.res.Elapsed.Round(time.Millisecond))
		}
		if o.Sequential {
			do()
		} else {
			go do()
		}
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rep := &broadcastReport{Settings: broadcastSettings{Started: time.Now().UTC(), CPUs: runtime.NumCPU(), Conversations: o.Conversations, Messages: o.Messages,
		Concurrency: o.Concurrency, TimeScale: o.TimeScale, Send: connSend.String(), Tenant: connTenant.String(),
		SidecarSend: sideSend.String(), SidecarTenant: sideTenant.String(), MaxWait: maxWait, Margin: o.Margin, Fault504: o.Fault504,
		References: o.References, Parallel: !o.Sequential}}
	for _, r := range runs {
		if err := r.proc.alive(); err != nil {
			return nil, err
		}
		rep.Runs = append(rep.Runs, r.res)
	}
	return rep, nil
}

// storeReferences stores n conversations' references (a:1bcast-00000, …),
// eight activities at a time.
func storeReferences(ctx context.Context, client *http.Client, c *child, url, token, serviceURL string, n int) error {
	ids := make(chan int)
	errs := make(chan error, 8)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range ids {
				a := inboundActivityFor(serviceURL, fmt.Sprintf("a:1bcast-%05d", i), fmt.Sprintf("29:1bcast-user-%05d", i), fmt.Sprintf("17%011d", i))
				if err := storeReference(ctx, client, c, url, token, a); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	var err error
feed:
	for i := range n {
		select {
		case ids <- i:
		case err = <-errs:
			break feed
		}
	}
	close(ids)
	wg.Wait()
	close(errs)
	if err == nil {
		err = <-errs
	}
	return err
}

// execute runs the bot against the run's sidecar, with a deadline well
// past the slowest schedule, and measures.
func (r *bcastRun) execute(ctx context.Context, o broadcastOptions, maxWait time.Duration) bcastResult {
	ideal := idealTime(r.limits, len(r.msgs))
	ctx, cancel := context.WithTimeout(ctx, 3*ideal+maxWait+time.Minute)
	defer cancel()
	d := &botDriver{
		Client: &http.Client{Timeout: maxWait + time.Minute,
			Transport: &http.Transport{MaxIdleConnsPerHost: o.Concurrency, IdleConnTimeout: time.Minute}},
		BaseURL: r.out, Concurrency: o.Concurrency, Now: time.Now,
		RetryDefault: time.Duration(float64(time.Second) * o.TimeScale),
	}
	r.started = time.Now()
	d.run(ctx, r.msgs)
	res := measureRun(r.msgs, r.lane.counts(), r.started, r.limits)
	res.Name, res.Pacing = r.Name, r.Pacing
	res.Conversations = o.Conversations
	if r.Kind == runOne {
		res.Conversations = 1
	}
	return res
}

// measureRun computes a run's result from the bot's messages and what the
// connector stored.
func measureRun(msgs []*message, c laneCounts, started time.Time, limits limitSpec) bcastResult {
	res := bcastResult{Messages: len(msgs), Delivered: c.Unique, Duplicates: c.Duplicates, ConnectorThrottled: c.Throttled,
		Injected504: c.Injected, ConnectorRefused: c.Refused, BotFailed: map[string]int{}}
	if !c.Last.IsZero() {
		res.Elapsed = c.Last.Sub(started)
	}
	res.Ideal = idealTime(limits, len(msgs))
	res.Ceiling = ceiling(limits, res.Elapsed)
	if res.Ceiling > 0 {
		res.Goodput = float64(res.Delivered) / float64(res.Ceiling)
	}
	var held, deliv []time.Duration
	for _, m := range msgs {
		res.BotThrottled += m.Throttled
		switch {
		case m.Done.IsZero():
			res.Unfinished++
		case m.Status < 200 || m.Status > 299:
			res.BotFailed[fmt.Sprint(m.Status)]++
		}
		if d, ok := c.Delivered[m.Conversation+"\x00"+m.Text]; ok {
			held = append(held, max(0, d.At.Sub(m.LastStart)))
			deliv = append(deliv, max(0, d.At.Sub(m.FirstStart)))
		}
	}
	res.HeldP50, res.HeldP99 = quantile(held, 0.5), quantile(held, 0.99)
	res.DeliveryP50, res.DeliveryP99 = quantile(deliv, 0.5), quantile(deliv, 0.99)
	return res
}

// quantile is the nearest-rank q-quantile of ds (0 for none).
func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(float64(len(s))*q+0.999999) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// lockedWriter serialises writes to w.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
