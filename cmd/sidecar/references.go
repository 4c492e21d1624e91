package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"

	"go.uber.org/zap"

	"github.com/botsidecar/sidecar/config"
	"github.com/botsidecar/sidecar/store"
	"github.com/botsidecar/sidecar/store/backends"
)

const referencesUsage = `usage: sidecar references [--store SPEC] [--app-id ID] list | get ID | delete ID

Reads the reference store directly: a stopped sidecar's bolt file (a
running one holds its lock; use GET localhost:9090/references/{id} from
inside the pod or through kubectl port-forward instead: by default the
admin listener serves references to loopback connections only), or a
Redis URL. --store defaults to SIDECAR_STORE, --app-id (the Redis key
namespace) to MicrosoftAppId.`

// runReferences is `sidecar references list|get|delete`.
func runReferences(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	env := config.EnvironMap(environ)
	fs := flag.NewFlagSet("sidecar references", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, referencesUsage) }
	def := env["SIDECAR_STORE"]
	if def == "" {
		def = "bolt:./data/references.db"
	}
	spec := fs.String("store", def, "the store: bolt:PATH or a redis URL")
	appID := fs.String("app-id", firstNonEmpty(env["MicrosoftAppId"], env["CLIENT_ID"]), "the bot's app id (Redis key namespace)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cmd, rest := fs.Arg(0), fs.Args()
	if len(rest) > 0 {
		rest = rest[1:]
	}
	want := map[string]int{"list": 0, "get": 1, "delete": 1}
	n, ok := want[cmd]
	if !ok || len(rest) != n {
		fs.Usage()
		return errors.New("references: want list, get ID or delete ID")
	}
	sp, err := store.ParseSpec(*spec)
	if err != nil {
		return fmt.Errorf("--store %s: %w", store.RedactURL(*spec), err)
	}
	s, err := backends.Open(ctx, sp, backends.Options{CacheSize: 16, Namespace: *appID, Logger: zap.NewNop()})
	if err != nil {
		return fmt.Errorf("open %s: %w", sp, err)
	}
	defer s.Close()
	enc := json.NewEncoder(stdout)
	switch cmd {
	case "list":
		l, ok := s.(store.Lister)
		if !ok {
			return fmt.Errorf("store %s cannot be listed", sp)
		}
		count := 0
		err := l.List(ctx, func(r store.Reference) bool {
			count++
			return enc.Encode(r) == nil
		})
		if err != nil {
			return fmt.Errorf("list: %w", err)
		}
		fmt.Fprintf(stderr, "%d references\n", count)
	case "get":
		ref, err := s.Get(ctx, rest[0])
		if err != nil {
			return fmt.Errorf("get %q: %w", rest[0], err)
		}
		enc.SetIndent("", "  ")
		return enc.Encode(ref)
	case "delete":
		if err := s.Delete(ctx, rest[0]); err != nil {
			return fmt.Errorf("delete %q: %w", rest[0], err)
		}
		fmt.Fprintf(stderr, "deleted %q\n", rest[0])
	}
	return nil
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
