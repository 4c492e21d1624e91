package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/botsidecar/sidecar/config"
)

// errGraceExceeded ends the process with status 1: in-flight calls were
// still running when SIDECAR_SHUTDOWN_GRACE ran out.
var errGraceExceeded = errors.New("shutdown grace period ran out with calls in flight")

// run is the whole program; main only supplies the process's ctx, args,
// environment and streams, so tests can run it in-process.
func run(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "version":
			fmt.Fprintln(stdout, version)
			return nil
		case "demo":
			return runDemo(ctx, stdout)
		case "doctor":
			return runDoctor(ctx, args[1:], environ, stdout, stderr, deps{})
		case "references":
			return runReferences(ctx, args[1:], environ, stdout, stderr)
		}
	}
	cfg, err := loadConfig(args, environ, stderr)
	if err != nil {
		return err
	}
	logger, err := newLogger(cfg.LogLevel, cfg.LogFormat, stderr)
	if err != nil {
		return err
	}
	defer func() { _ = logger.Sync() }()
	tp, err := newTracing(ctx, environ, logger)
	if err != nil {
		return err
	}
	a, err := newApp(ctx, cfg, logger, deps{tracing: tp})
	if err != nil {
		return err
	}
	return a.serve(ctx)
}

// version is stamped at build time with -ldflags "-X main.version=…".
var version = "dev"

// loadConfig parses flags over the environment and loads the config.
func loadConfig(args, environ []string, stderr io.Writer) (config.Config, error) {
	env := config.EnvironMap(environ)
	fs := flag.NewFlagSet("sidecar", flag.ContinueOnError)
	fs.SetOutput(stderr)
	config.Flags(fs, env)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: sidecar [flags]\n\nEvery flag has an environment variable of the same meaning; flags win.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return config.Config{}, err
	}
	if fs.NArg() > 0 {
		return config.Config{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return config.Load(env)
}

// exitCode maps run's result to the process status and says why on stderr.
func exitCode(err error, stderr io.Writer) int {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errGraceExceeded):
		fmt.Fprintln(stderr, "sidecar:", err)
		return 1
	}
	fmt.Fprintln(stderr, "sidecar:", err)
	return 2
}
