package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// profile runs one more wrk run against a target (the sidecar unless told)
// with perf sampling its processes, and summarises where their CPU goes.
// The sidecar has no pprof endpoint; Go binaries keep frame pointers and
// symbols, so perf's call graphs name Go functions as pprof would.
func (b *benchRun) profile(stdout io.Writer) (string, error) {
	var t *target
	for _, c := range b.targets {
		if c.Name == b.o.ProfileTarget {
			t = c
		}
	}
	if t == nil {
		return "", fmt.Errorf("no target %q to profile", b.o.ProfileTarget)
	}
	if b.o.Duration < 4*time.Second {
		return "", errors.New("-duration must be at least 4s to profile")
	}
	pids := []string{strconv.Itoa(t.Pid)}
	for _, p := range childPids(t.Pid) {
		pids = append(pids, strconv.Itoa(p))
	}
	fmt.Fprintf(stdout, "profiling %s (pid %s) under load with perf for %v\n", t.Name, strings.Join(pids, ","), b.o.Duration-2*time.Second)
	w := wrkRun{Wrk: b.o.Wrk, Script: filepath.Join(b.o.Workdir, "post-activity.lua"), URL: t.URL, Threads: b.o.Threads,
		Connections: b.o.Connections, Duration: b.o.Duration}
	wrkDone := make(chan error, 1)
	go func() {
		_, _, err := w.run(b.ctx, filepath.Join(b.o.Workdir, "wrk-"+t.Name+"-profile.txt"))
		wrkDone <- err
	}()
	if err := sleepCtx(b.ctx, time.Second); err != nil {
		return "", err
	}
	data := filepath.Join(b.o.Workdir, "perf.data")
	secs := strconv.Itoa(int((b.o.Duration - 2*time.Second) / time.Second))
	rec := exec.CommandContext(b.ctx, b.o.Perf, "record", "-F", "999", "-g", "-p", strings.Join(pids, ","), "-o", data, "--", "sleep", secs)
	recOut, recErr := rec.CombinedOutput()
	if err := <-wrkDone; err != nil {
		return "", err
	}
	if recErr != nil {
		return "", fmt.Errorf("perf record: %v\n%s", recErr, recOut)
	}
	self, err := exec.CommandContext(b.ctx, b.o.Perf, "report", "-i", data, "--stdio", "--no-children", "--sort", "symbol", "-g", "none").Output()
	if err != nil {
		return "", fmt.Errorf("perf report: %w", err)
	}
	_ = os.WriteFile(filepath.Join(b.o.Workdir, "perf-self.txt"), self, 0o644)
	children, err := exec.CommandContext(b.ctx, b.o.Perf, "report", "-i", data, "--stdio", "--children", "--sort", "symbol", "-g", "none", "--percent-limit", "0.5").Output()
	if err != nil {
		return "", fmt.Errorf("perf report --children: %w", err)
	}
	_ = os.WriteFile(filepath.Join(b.o.Workdir, "perf-children.txt"), children, 0o644)
	return summarizePerf(t.Name, self, children, b.o.Workdir), nil
}

// perfLine is one symbol of a perf report.
type perfLine struct {
	children, self float64
	kernel         bool
	symbol         string
}

// parsePerfReport reads `perf report --stdio -g none --sort symbol` output,
// with one percentage column (--no-children) or two (--children).
func parsePerfReport(out []byte) []perfLine {
	var lines []perfLine
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 3 || strings.HasPrefix(f[0], "#") || !strings.HasSuffix(f[0], "%") {
			continue
		}
		var pcts []float64
		i := 0
		for ; i < len(f) && strings.HasSuffix(f[i], "%"); i++ {
			v, err := strconv.ParseFloat(strings.TrimSuffix(f[i], "%"), 64)
			if err != nil {
				break
			}
			pcts = append(pcts, v)
		}
		if i >= len(f)-1 || len(pcts) == 0 {
			continue
		}
		sym := f[i+1:]
		// perf adds IPC columns ("-  -") when the event has no IPC data.
		for len(sym) > 1 && sym[len(sym)-1] == "-" {
			sym = sym[:len(sym)-1]
		}
		l := perfLine{kernel: f[i] == "[k]", symbol: strings.Join(sym, " ")}
		if len(pcts) == 2 {
			l.children, l.self = pcts[0], pcts[1]
		} else {
			l.self = pcts[0]
		}
		lines = append(lines, l)
	}
	return lines
}

// perfCategory sorts a symbol into the buckets the report names.
func perfCategory(l perfLine) string {
	s := l.symbol
	switch {
	case l.kernel:
		return "kernel (syscalls, TCP loopback, scheduling)"
	case strings.HasPrefix(s, "__vdso"):
		return "clock reads (vDSO)"
	case strings.Contains(s, "github.com/botsidecar/"):
		return "sidecar's own code"
	case strings.Contains(s, "go.uber.org/zap"):
		return "zap (logging)"
	case strings.Contains(s, "github.com/prometheus/"):
		return "prometheus (metrics)"
	case strings.HasPrefix(s, "crypto/"), strings.HasPrefix(s, "vendor/golang.org/x/crypto"), strings.HasPrefix(s, "golang.org/x/crypto"):
		return "crypto/tls and crypto"
	case strings.HasPrefix(s, "net/http."), strings.HasPrefix(s, "net/textproto."), strings.HasPrefix(s, "net/url."),
		strings.HasPrefix(s, "bufio."), strings.HasPrefix(s, "vendor/golang.org/x/net/http"):
		return "net/http, textproto, url, bufio"
	case strings.HasPrefix(s, "net."), strings.HasPrefix(s, "internal/poll."), strings.HasPrefix(s, "syscall."),
		strings.HasPrefix(s, "internal/runtime/syscall"), strings.HasPrefix(s, "os."):
		return "net, poll, syscall (Go side)"
	case isGCOrAlloc(s):
		return "runtime: allocation and GC"
	case strings.HasPrefix(s, "runtime.") || strings.HasPrefix(s, "internal/runtime") || strings.HasPrefix(s, "gcWriteBarrier"):
		return "runtime: scheduler, locks, other"
	case strings.HasPrefix(s, "encoding/json."):
		return "encoding/json"
	case strings.HasPrefix(s, "context."), strings.HasPrefix(s, "sync."), strings.HasPrefix(s, "strings."),
		strings.HasPrefix(s, "bytes."), strings.HasPrefix(s, "strconv."), strings.HasPrefix(s, "time."),
		strings.HasPrefix(s, "unicode"), strings.HasPrefix(s, "sort."), strings.HasPrefix(s, "internal/"),
		strings.HasPrefix(s, "errors."), strings.HasPrefix(s, "fmt."), strings.HasPrefix(s, "io."), strings.HasPrefix(s, "maps."):
		return "other standard library"
	}
	return "other"
}

func isGCOrAlloc(s string) bool {
	if !strings.HasPrefix(s, "runtime.") && !strings.HasPrefix(s, "internal/runtime/gc") {
		return false
	}
	for _, k := range []string{"malloc", "gc", "GC", "scan", "mark", "Mark", "sweep", "Sweep", "heap", "Heap", "span", "Span",
		"mcache", "mcentral", "greyobject", "findObject", "wbBuf", "bulkBarrier", "memclr", "typePointers", "newobject",
		"makeslice", "growslice", "mallocgc", "nextFree", "profilealloc", "deductAssist", "scanobject", "Alloc", "alloc", "memmove", "concatstring", "rawstring", "slicebytetostring"} {
		if strings.Contains(s, k) {
			return true
		}
	}
	return false
}

// summarizePerf groups self time by category and lists the sidecar's own
// functions by inclusive time.
func summarizePerf(name string, self, children []byte, workdir string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Where %s's CPU goes under load (perf, %s/perf.data; full reports in perf-self.txt, perf-children.txt)\n", name, workdir)
	cats := map[string]float64{}
	lines := parsePerfReport(self)
	total := 0.0
	for _, l := range lines {
		cats[perfCategory(l)] += l.self
		total += l.self
	}
	type kv struct {
		k string
		v float64
	}
	var cs []kv
	for k, v := range cats {
		cs = append(cs, kv{k, v})
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].v > cs[j].v })
	fmt.Fprintf(&b, "\nself time by category (%.0f%% of samples):\n", total)
	for _, c := range cs {
		fmt.Fprintf(&b, "  %5.1f%%  %s\n", c.v, c.k)
	}
	fmt.Fprintf(&b, "\ntop symbols by self time:\n")
	for i, l := range lines {
		if i == 20 {
			break
		}
		fmt.Fprintf(&b, "  %5.2f%%  %s\n", l.self, l.symbol)
	}
	if name == tNginx {
		return b.String() // C: no Go packages to single out
	}
	fmt.Fprintf(&b, "\nthe sidecar's own functions and other notable callers, by inclusive time (children included):\n")
	n := 0
	for _, l := range parsePerfReport(children) {
		if !notableCaller(l.symbol) || n == 25 {
			continue
		}
		n++
		fmt.Fprintf(&b, "  %5.1f%%  %s\n", l.children, l.symbol)
	}
	return b.String()
}

func notableCaller(s string) bool {
	for _, p := range []string{"github.com/botsidecar/", "go.uber.org/zap", "github.com/prometheus/", "net/http.(*conn).serve",
		"net/http.(*persistConn)", "net/http.(*Transport).roundTrip", "crypto/tls.(*Conn).Write", "crypto/tls.(*Conn).Read",
		"net/http.(*response).finishRequest", "net/http.(*conn).readRequest", "runtime.gcBgMarkWorker", "runtime.mallocgc"} {
		if strings.Contains(s, p) {
			return true
		}
	}
	return false
}
