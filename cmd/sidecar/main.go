// Command sidecar is the authenticating Bot Framework sidecar: it validates
// the channel's tokens inbound, and authenticates and corrects the bot's
// Bot Connector calls outbound, so the bot needs no auth code at all.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// exit is the process's one way out, so that a second signal and the normal
// return path end the same way.
var exit = os.Exit

func main() {
	ctx, cancel := context.WithCancel(context.Background())
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, syscall.SIGTERM, os.Interrupt)
	go func() {
		<-signals
		cancel() // first signal: drain and shut down gracefully
		<-signals
		fmt.Fprintln(os.Stderr, "second signal: exiting now")
		exit(1)
	}()
	err := run(ctx, os.Args[1:], os.Environ(), os.Stdout, os.Stderr)
	cancel()
	exit(exitCode(err, os.Stderr))
}
