// Command loadtest measures the sidecar's outbound hot path against a bare
// httputil.ReverseProxy and nginx, in the same run, and reports ratios and
// memory (scripts/bench-outbound); and a broadcast through the sidecar
// into a connector that enforces the Teams rate limits, with and without
// the sidecar's pacing (scripts/bench-broadcast). See those scripts for
// the settings.
//
//	loadtest run -workdir DIR -sidecar BIN -reverseproxy BIN [flags]
//	    starts the fakes, the targets, runs wrk against each in rotating
//	    order and prints the tables (flags: loadtest run -h)
//	loadtest broadcast -workdir DIR -sidecar BIN [flags]
//	    a bot broadcasting through the sidecar into a connector that
//	    enforces the Teams limits (scripts/bench-broadcast; flags:
//	    loadtest broadcast -h)
//	loadtest fakes -state FILE
//	    the fake Bot Connector, Entra, channel and bot, in their own
//	    process; `run` starts it
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if err := dispatch(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		if errors.Is(err, context.Canceled) {
			fmt.Fprintln(os.Stderr, "loadtest: interrupted; the processes it started are stopped")
			os.Exit(130)
		}
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

func dispatch(args []string) error {
	if len(args) == 0 {
		return errors.New("usage: loadtest run -workdir DIR -sidecar BIN -reverseproxy BIN [flags] | loadtest broadcast -workdir DIR -sidecar BIN [flags] | loadtest fakes -state FILE")
	}
	switch args[0] {
	case "fakes":
		return runFakes(args[1:])
	case "run", "broadcast":
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt, syscall.SIGHUP)
		defer stop()
		if args[0] == "broadcast" {
			return runBroadcast(ctx, args[1:], os.Stdout)
		}
		return runMeasurement(ctx, args[1:], os.Stdout)
	}
	return fmt.Errorf("unknown command %q (run, broadcast, fakes)", args[0])
}
