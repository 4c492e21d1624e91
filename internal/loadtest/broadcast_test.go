package main

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The whole benchmark at tiny counts and a compressed clock, through the
// real sidecar binary: every message is stored exactly once, with and
// without pacing, and a 504 after storing reaches the bot as a failure,
// not as a second copy.
func TestBroadcastSmoke(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "sidecar")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/sidecar").CombinedOutput(); err != nil {
		t.Fatalf("go build the sidecar: %v\n%s", err, out)
	}
	o, err := parseBroadcastOptions([]string{"-sidecar", bin, "-workdir", filepath.Join(dir, "run"),
		"-conversations", "20", "-messages", "10", "-concurrency", "8", "-time-scale", "0.05", "-fault-504", "0.2"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var progress bytes.Buffer
	rep, err := broadcast(ctx, o, &progress)
	if err != nil {
		t.Fatalf("%v\n%s", err, progress.String())
	}
	if len(rep.Runs) != 6 {
		t.Fatalf("%d runs; want many, one and many-504, each with and without pacing", len(rep.Runs))
	}
	for _, r := range rep.Runs {
		if r.Delivered != r.Messages || r.Duplicates != 0 || r.Unfinished != 0 || r.ConnectorRefused != 0 {
			t.Errorf("%s: %+v; want every message stored once, none refused", r.Name, r)
		}
		if r.Goodput <= 0 || r.Goodput > 1 || r.Elapsed < r.Ideal {
			t.Errorf("%s: goodput %v in %v (ideal %v): a connector that enforces the limits cannot be beaten", r.Name, r.Goodput, r.Elapsed, r.Ideal)
		}
		want504 := 0
		if strings.HasPrefix(r.Name, runMany504) {
			want504 = 4 // every 5th of 20
		}
		if r.Injected504 != want504 || r.BotFailed["504"] != want504 || len(r.BotFailed) > min(want504, 1) {
			t.Errorf("%s: injected %d, the bot's failures %v; want %d 504s and nothing else", r.Name, r.Injected504, r.BotFailed, want504)
		}
	}
	var out bytes.Buffer
	printBroadcast(&out, rep)
	for _, want := range []string{"many-504-unpaced", "time scale 0.05", "SIDECAR_PACING_MAX_WAIT=500ms", "4×504"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}

func TestMeasureRun(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	msgs := []*message{
		{Conversation: "a", Text: "1", FirstStart: at(0), LastStart: at(0), Done: at(10), Status: 200},
		{Conversation: "b", Text: "1", FirstStart: at(0), LastStart: at(1000), Done: at(1300), Status: 200, Throttled: 2},
		{Conversation: "c", Text: "1", FirstStart: at(0), LastStart: at(0), Done: at(20), Status: 504},
		{Conversation: "d", Text: "1", FirstStart: at(0), LastStart: at(0)}, // unanswered
	}
	c := laneCounts{Unique: 3, Duplicates: 1, Throttled: 5, Injected: 1, Last: at(1200), Delivered: map[string]delivery{
		"a\x001": {At: at(5)}, "b\x001": {At: at(1200)}, "c\x001": {At: at(15)},
	}}
	r := measureRun(msgs, c, t0, mustLimit(t, "2/1s"))
	if r.Elapsed != 1200*time.Millisecond || r.Ceiling != 4 || r.Ideal != time.Second || r.Goodput != 0.75 {
		t.Errorf("elapsed %v ceiling %d ideal %v goodput %v; want 1.2s, 4, 1s, 0.75", r.Elapsed, r.Ceiling, r.Ideal, r.Goodput)
	}
	if r.BotThrottled != 2 || r.BotFailed["504"] != 1 || len(r.BotFailed) != 1 || r.Unfinished != 1 || r.Duplicates != 1 || r.ConnectorThrottled != 5 {
		t.Errorf("bot side %+v", r)
	}
	if r.HeldP50 != 15*time.Millisecond || r.HeldP99 != 200*time.Millisecond || r.DeliveryP99 != 1200*time.Millisecond {
		t.Errorf("held p50 %v p99 %v delivery p99 %v; want 15ms, 200ms, 1.2s", r.HeldP50, r.HeldP99, r.DeliveryP99)
	}
}

func TestParseBroadcastOptions(t *testing.T) {
	o, err := parseBroadcastOptions([]string{"-sidecar", "s", "-workdir", "w", "-runs", "one, many-504,one", "-fault-504", "0"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(o.Runs, ",") != "one" || o.Conversations != 1000 || o.Messages != 200 || o.Concurrency != 64 || o.MaxWait != 10*time.Second || !o.Baseline {
		t.Errorf("options %+v; want the defaults, and no 504 run without faults", o)
	}
	for _, bad := range [][]string{
		{"-workdir", "w"},
		{"-sidecar", "s", "-workdir", "w", "-runs", "many,storm"},
		{"-sidecar", "s", "-workdir", "w", "-time-scale", "0"},
		{"-sidecar", "s", "-workdir", "w", "-fault-504", "1"},
		{"-sidecar", "s", "-workdir", "w", "-references", "guess"},
		{"-sidecar", "s", "-workdir", "w", "-conversations", "0"},
	} {
		if _, err := parseBroadcastOptions(bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}
