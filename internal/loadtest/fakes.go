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
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/botsidecar/sidecar/internal/fakes"
)

// fakesState is what the fakes process hands the orchestrator (as JSON in
// a file, written once everything listens).
type fakesState struct {
	Pid           int    `json:"pid"`
	ConnectorURL  string `json:"connectorUrl"` // https://127.0.0.1:port
	ServiceURL    string `json:"serviceUrl"`   // ConnectorURL + "/amer/"
	EntraURL      string `json:"entraUrl"`
	MetadataURL   string `json:"metadataUrl"`
	ChannelIssuer string `json:"channelIssuer"`
	BotURL        string `json:"botUrl"` // the trivial bot's /api/messages
	CertFile      string `json:"certFile"`
	// ChannelToken signs the inbound activity that stores the benchmark's
	// conversation reference (valid for an hour).
	ChannelToken string `json:"channelToken"`
	// StaticBearer is an Entra-shaped access token of the real token's
	// size, which the baselines send as their static Authorization, so
	// every target sends the connector the same bytes.
	StaticBearer string `json:"staticBearer"`
}

// runFakes is `loadtest fakes -state FILE`: the fake Bot Connector (TLS,
// quiet, any bearer accepted), the fake Entra and channel, and a trivial
// bot, in their own process so that the upstream's CPU is not counted to
// any proxy. It runs until SIGTERM or SIGINT.
func runFakes(args []string) error {
	fs := flag.NewFlagSet("fakes", flag.ContinueOnError)
	statePath := fs.String("state", "", "write the fakes' URLs and tokens to this file (JSON)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *statePath == "" {
		return errors.New("fakes: -state is required")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()

	entra := fakes.NewEntra(fakes.EntraOptions{ClientID: benchAppID, ClientSecret: benchSecret})
	defer entra.Close()
	channel := fakes.NewChannel(fakes.ChannelOptions{})
	defer channel.Close()
	// No VerifyToken: checking an RS256 signature on every call would put
	// the connector's own work into the measurement. Any Bearer passes.
	conn := fakes.NewConnector(fakes.ConnectorOptions{Quiet: true})
	defer conn.Close()
	bot := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusOK)
	}))
	defer bot.Close()

	certFile := filepath.Join(filepath.Dir(*statePath), "fakes-ca.pem")
	pems := bytes.Join([][]byte{entra.CertificatePEM(), channel.CertificatePEM(), conn.CertificatePEM()}, nil)
	if err := os.WriteFile(certFile, pems, 0o644); err != nil {
		return fmt.Errorf("fakes: %w", err)
	}
	now := time.Now()
	st := fakesState{
		Pid:           os.Getpid(),
		ConnectorURL:  conn.URL,
		ServiceURL:    conn.ServiceURL(),
		EntraURL:      entra.URL,
		MetadataURL:   channel.MetadataURL(),
		ChannelIssuer: channel.Issuer(),
		BotURL:        bot.URL + "/api/messages",
		CertFile:      certFile,
		ChannelToken:  channel.Token(benchAppID, conn.ServiceURL()),
		StaticBearer: entra.Signer().Sign(map[string]any{
			"aud": "https://api.botframework.com", "iss": "https://sts.windows.net/" + benchTenantID + "/",
			"appid": benchAppID, "azp": benchAppID, "appidacr": "1", "idtyp": "app", "sub": benchAppID,
			"oid": benchAppID, "tid": benchTenantID, "iat": now.Unix(), "nbf": now.Unix(),
			"exp": now.Add(time.Hour).Unix(), "jti": "0123456789abcdef0123456789abcdef", "ver": "1.0",
		}),
	}
	b, _ := json.MarshalIndent(st, "", "  ")
	tmp := *statePath + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("fakes: %w", err)
	}
	if err := os.Rename(tmp, *statePath); err != nil {
		return fmt.Errorf("fakes: %w", err)
	}
	<-ctx.Done()
	return nil
}

// readFakesState waits for the fakes process's state file.
func readFakesState(path string, timeout time.Duration, alive func() error) (fakesState, error) {
	deadline := time.Now().Add(timeout)
	for {
		b, err := os.ReadFile(path)
		if err == nil {
			var st fakesState
			if err := json.Unmarshal(b, &st); err != nil {
				return st, fmt.Errorf("fakes state %s: %w", path, err)
			}
			return st, nil
		}
		if err := alive(); err != nil {
			return fakesState{}, err
		}
		if time.Now().After(deadline) {
			return fakesState{}, fmt.Errorf("the fakes did not come up within %v (no %s)", timeout, path)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
