package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// summary is a target's rounds reduced to medians.
type summary struct {
	rps, rpsMin, rpsMax float64
	p50, p99            float64 // µs
	proxyCPU            float64 // µs of the proxy's CPU per request
	upstreamCPU         float64 // µs of the connector's CPU per request
	wrkCPU              float64
	otherShare          float64 // the rest of the machine's CPU use, as a share of all CPUs (worst run)
	errors              int64
}

func summarize(t *target, cpus int) summary {
	var s summary
	if len(t.Runs) == 0 {
		return s
	}
	var rps, p50, p99, pc, uc, wc []float64
	for _, r := range t.Runs {
		rps = append(rps, r.Wrk.RPS())
		p50 = append(p50, r.Wrk.P50US)
		p99 = append(p99, r.Wrk.P99US)
		n := float64(r.Wrk.Requests)
		pc = append(pc, float64(r.ProxyCPU.Microseconds())/n)
		uc = append(uc, float64(r.UpstreamCPU.Microseconds())/n)
		wc = append(wc, float64(r.WrkCPU.Microseconds())/n)
		s.errors += r.Wrk.Errors()
		if cpus > 0 && r.Wrk.DurationUS > 0 {
			share := float64(r.OtherCPU.Microseconds()) / (float64(r.Wrk.DurationUS) * float64(cpus))
			s.otherShare = max(s.otherShare, share)
		}
	}
	s.rps, s.p50, s.p99 = median(rps), median(p50), median(p99)
	s.proxyCPU, s.upstreamCPU, s.wrkCPU = median(pc), median(uc), median(wc)
	s.rpsMin, s.rpsMax = minMax(rps)
	return s
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	c := append([]float64(nil), v...)
	sort.Float64s(c)
	if len(c)%2 == 1 {
		return c[len(c)/2]
	}
	return (c[len(c)/2-1] + c[len(c)/2]) / 2
}

func minMax(v []float64) (lo, hi float64) {
	for i, x := range v {
		if i == 0 || x < lo {
			lo = x
		}
		if i == 0 || x > hi {
			hi = x
		}
	}
	return lo, hi
}

// roundRatios returns, for every round both ran in, a's throughput over b's.
func roundRatios(a, b *target) []float64 {
	var out []float64
	for _, ra := range a.Runs {
		for _, rb := range b.Runs {
			if ra.Round == rb.Round && rb.Wrk.RPS() > 0 {
				out = append(out, ra.Wrk.RPS()/rb.Wrk.RPS())
			}
		}
	}
	return out
}

func fmtLatency(us float64) string {
	d := time.Duration(us * float64(time.Microsecond))
	switch {
	case d >= 10*time.Millisecond:
		return fmt.Sprintf("%.1fms", float64(d)/1e6)
	case d >= time.Millisecond:
		return fmt.Sprintf("%.2fms", float64(d)/1e6)
	default:
		return fmt.Sprintf("%.0fµs", us)
	}
}

func fmtMiB(kib int64) string {
	if kib < 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1f MiB", float64(kib)/1024)
}

func fmtThousands(v float64) string {
	s := fmt.Sprintf("%.0f", v)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func ratio(a, b float64) string {
	if b == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f", a/b)
}

// report prints the tables.
func report(w io.Writer, res *results) {
	fmt.Fprintf(w, "\nOutbound hot path: POST %s, a %d-byte Teams activity, 200 from the fake connector over TLS\n", res.Path, res.BodyBytes)
	fmt.Fprintf(w, "wrk -t%d -c%d, %d rounds × %s per target, order rotating each round; %d CPUs (%s)\n",
		res.Threads, res.Connections, res.Rounds, res.Duration, res.CPUs, res.Machine)
	fmt.Fprintf(w, "wrk, the proxy and the fake connector (a separate process) share those CPUs.\n\n")
	for _, t := range res.Targets {
		fmt.Fprintf(w, "  %-13s %s\n", t.Name, t.Description)
	}
	sums := map[string]summary{}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "target\treq/s (median)\tmin–max\tp50\tp99\tproxy CPU/req\tconnector CPU/req\twrk CPU/req\tother load\tfailed\t")
	busy := 0.0
	for _, t := range res.Targets {
		s := summarize(t, res.CPUs)
		sums[t.Name] = s
		busy = max(busy, s.otherShare)
		fmt.Fprintf(tw, "%s\t%s\t%s–%s\t%s\t%s\t%.0fµs\t%.0fµs\t%.0fµs\t%.0f%%\t%d\t\n", t.Name, fmtThousands(s.rps), fmtThousands(s.rpsMin), fmtThousands(s.rpsMax),
			fmtLatency(s.p50), fmtLatency(s.p99), s.proxyCPU, s.upstreamCPU, s.wrkCPU, 100*s.otherShare, s.errors)
	}
	_ = tw.Flush()
	fmt.Fprintln(w, "(CPU/req: CPU time of that process per request; other load: the worst run's CPU use by anything else on the machine)")
	if busy > 0.05 {
		fmt.Fprintf(w, "WARNING: other processes used up to %.0f%% of the machine's CPU during a run; the numbers are skewed (the ratios less so). Rerun on a quiet machine.\n", 100*busy)
	}

	fmt.Fprintln(w, "\nMemory of each proxy process (nginx: master and workers summed; PSS counts their shared pages once;")
	fmt.Fprintln(w, "anon: heap, stacks and runtime, the rest of RSS being the binary's and libraries' pages)")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "target\tidle RSS\tidle PSS\tidle anon\tafter-load RSS\tafter-load PSS\tafter-load anon\tpeak RSS (VmHWM)\tprocesses\t")
	for _, t := range res.Targets {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t\n", t.Name, fmtMiB(t.Idle.RSS), fmtMiB(t.Idle.PSS), fmtMiB(t.Idle.Anon),
			fmtMiB(t.After.RSS), fmtMiB(t.After.PSS), fmtMiB(t.After.Anon), fmtMiB(t.After.HWM), t.Idle.N)
	}
	_ = tw.Flush()

	byName := map[string]*target{}
	for _, t := range res.Targets {
		byName[t.Name] = t
	}
	type pair struct{ a, b string }
	var pairs []pair
	for _, p := range []pair{{tSidecar, tSidecarBase}, {tSidecar, tReverseProxy}, {tSidecar, tNginx}, {tSidecarInfo, tReverseProxy}, {tSidecarInfo, tNginx}, {tSidecarInfo, tSidecar}, {tSidecarPaced, tSidecar}} {
		if byName[p.a] != nil && byName[p.b] != nil {
			pairs = append(pairs, p)
		}
	}
	if len(pairs) == 0 {
		return
	}
	fmt.Fprintln(w, "\nRatios, measured in the same run (first ÷ second; throughput below 1 means the first is slower,")
	fmt.Fprintln(w, "latency, CPU and memory above 1 mean it costs more)")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "ratio\tthroughput\tper round\tp50\tp99\tCPU/req\tidle RSS\tidle PSS\tafter-load RSS\t")
	for _, p := range pairs {
		a, b := byName[p.a], byName[p.b]
		sa, sb := sums[p.a], sums[p.b]
		lo, hi := minMax(roundRatios(a, b))
		fmt.Fprintf(tw, "%s/%s\t%s\t%.2f–%.2f\t%s\t%s\t%s\t%s\t%s\t%s\t\n", p.a, p.b, ratio(sa.rps, sb.rps), lo, hi,
			ratio(sa.p50, sb.p50), ratio(sa.p99, sb.p99), ratio(sa.proxyCPU, sb.proxyCPU),
			ratio(float64(a.Idle.RSS), float64(b.Idle.RSS)), ratio(float64(a.Idle.PSS), float64(b.Idle.PSS)), ratio(float64(a.After.RSS), float64(b.After.RSS)))
	}
	_ = tw.Flush()
}
