package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// printBroadcast writes the broadcast benchmark's tables.
func printBroadcast(w io.Writer, rep *broadcastReport) {
	s := rep.Settings
	fmt.Fprintf(w, "\nbroadcast through the sidecar, %d CPUs, %s\n", s.CPUs, s.Started.Format(time.RFC3339))
	fmt.Fprintf(w, "time scale %g: connector per conversation %s, per tenant %s\n", s.TimeScale, s.Send, s.Tenant)
	fmt.Fprintf(w, "sidecar (paced runs): SIDECAR_PACING_SEND=%s SIDECAR_PACING_TENANT=%s SIDECAR_PACING_MAX_WAIT=%v SIDECAR_PACING_MARGIN=%v\n", s.SidecarSend, s.SidecarTenant, s.MaxWait, s.Margin)
	mode := "all runs at once, each with its own sidecar and connector state"
	if !s.Parallel {
		mode = "one run at a time"
	}
	fmt.Fprintf(w, "bot: %d sends in flight, waits out 429s, retries nothing else; references: %s; %s\n\n", s.Concurrency, s.References, mode)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "run\tmessages\tdelivered\tduplicates\telapsed\tideal\tgoodput\t429 to bot\t429 connector\t504 injected\tbot failures\theld p50\theld p99\tdelivery p99\t")
	for _, r := range rep.Runs {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%s\t%.3f\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t\n", r.Name, r.Messages, r.Delivered, r.Duplicates,
			fmtDur(r.Elapsed), fmtDur(r.Ideal), r.Goodput, r.BotThrottled, r.ConnectorThrottled, r.Injected504,
			fmtFailures(r), fmtDur(r.HeldP50), fmtDur(r.HeldP99), fmtDur(r.DeliveryP99))
	}
	_ = tw.Flush()
	fmt.Fprintln(w, `
goodput: messages stored / what the connector's limits admit from the bot's first send to the last message stored
(the broadcast: the tenant's window; the burst: the conversation's and the tenant's). ideal: when the fastest
schedule the limits allow stores the last message. held: the bot's last post of a message to the connector
storing it (the pacer's wait, or without pacing the sidecar's own retries, plus the proxy's time). delivery:
from the bot's first post, its waits after 429s included. bot failures: final answers other than 2xx, by status.`)
}

func fmtDur(d time.Duration) string {
	switch {
	case d == 0:
		return "0"
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	case d < 10*time.Second:
		return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.1f s", d.Seconds())
}

func fmtFailures(r bcastResult) string {
	var parts []string
	for status, n := range r.BotFailed {
		parts = append(parts, fmt.Sprintf("%d×%s", n, status))
	}
	if r.Unfinished > 0 {
		parts = append(parts, fmt.Sprintf("%d unfinished", r.Unfinished))
	}
	if len(parts) == 0 {
		return "0"
	}
	slices.Sort(parts)
	return strings.Join(parts, " ")
}
