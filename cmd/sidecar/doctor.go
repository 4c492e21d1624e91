package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/botsidecar/sidecar/authsidecar"
	"github.com/botsidecar/sidecar/channelauth"
	"github.com/botsidecar/sidecar/config"
	"github.com/botsidecar/sidecar/proxy"
	"github.com/botsidecar/sidecar/store"
	"github.com/botsidecar/sidecar/store/backends"
	"github.com/botsidecar/sidecar/tokencache"
	"github.com/botsidecar/sidecar/tracing"
)

// check is one line of the doctor's report.
type check struct {
	Name   string `json:"check"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"`
}

// doctorTimeout bounds each check that goes over the network.
const doctorTimeout = 15 * time.Second

// runDoctor is `sidecar doctor`: it checks the configuration, the token,
// the channel's signing keys, the store and the bot, one line each, and
// fails if any check fails. It never prints a secret or a token.
func runDoctor(ctx context.Context, args, environ []string, stdout, stderr io.Writer, d deps) error {
	env := config.EnvironMap(environ)
	fs := flag.NewFlagSet("sidecar doctor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print the report as JSON")
	config.Flags(fs, env)
	if err := fs.Parse(args); err != nil {
		return err
	}
	checks := doctorChecks(ctx, env, d)
	failed := 0
	for _, c := range checks {
		if !c.OK {
			failed++
		}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(map[string]any{"ok": failed == 0, "checks": checks}); err != nil {
			return err
		}
	} else {
		for _, c := range checks {
			status := "ok  "
			if !c.OK {
				status = "FAIL"
			}
			fmt.Fprintf(stdout, "%s %-9s %s\n", status, c.Name, c.Detail)
			if c.Fix != "" {
				fmt.Fprintf(stdout, "               fix: %s\n", c.Fix)
			}
		}
	}
	if failed > 0 {
		return fmt.Errorf("doctor: %d of %d checks failed", failed, len(checks))
	}
	return nil
}

func doctorChecks(ctx context.Context, env map[string]string, d deps) []check {
	cfg, err := config.Load(env)
	if err != nil {
		return []check{{Name: "config", Detail: err.Error(),
			Fix: "set the variables named above (docs/configuration.md lists each one)"}}
	}
	return append(doctorReport(ctx, cfg, d), doctorNotes(cfg, env)...)
}

// doctorNotes are lines that check nothing but say what the running
// sidecar will do that is easy to get wrong: tracing, and what an Agents
// SDK bot must be told to use the auth sidecar listener.
func doctorNotes(cfg config.Config, env map[string]string) []check {
	tr := check{Name: "tracing", OK: true, Detail: "off (no OTEL_* variable asks for traces)"}
	switch {
	case tracing.Enabled(env) && !tracing.ExportersBuiltIn:
		tr.Detail = "asked for by OTEL_*, but this build has no exporters: it runs untraced"
		tr.Fix = "use the sidecar built with -tags otel (the image built with --build-arg GO_TAGS=otel), or unset the OTEL_* variables"
	case tracing.Enabled(env):
		tr.Detail = "on: exporter " + cmp.Or(env["OTEL_TRACES_EXPORTER"], "otlp") + ", endpoint " +
			cmp.Or(env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"], env["OTEL_EXPORTER_OTLP_ENDPOINT"], "the exporter's default")
	}
	notes := []check{tr}
	if cfg.AuthSidecarAddr != "" {
		base := "http://" + cfg.AuthSidecarAddr
		n := check{Name: "authsidecar", OK: true, Detail: "an Agents SDK bot gets its token at " + base +
			": give it AuthType=EntraAuthSideCar and SIDECAR_URL=" + base}
		if cfg.SignInbound {
			n.Detail += ", and AuthorityEndpoint=" + base + authsidecar.AuthorityPath + " to validate the activities the sidecar signs"
		}
		notes = append(notes, n)
	}
	return notes
}

// doctorReport checks a loaded configuration. Each bot gets its own config,
// token and bot lines ("token:<name>" when there are several); the
// channel's keys and the store are shared.
func doctorReport(ctx context.Context, cfg config.Config, d deps) []check {
	ids := cfg.Identities()
	several := len(ids) > 1
	var checks, tokens, bots []check
	for i, id := range ids {
		checks = append(checks, check{Name: label("config", id, several), OK: true, Detail: fmt.Sprintf("app %s, %s, tenant %q, cloud %s, credential: %s",
			id.AppID, id.AppType, id.TenantID, id.Cloud, id.Credential())})
		tokens = append(tokens, checkToken(ctx, id, label("token", id, several), d))
		botURL := cmp.Or(id.BotURL, cfg.BotURL)
		if i == 0 || botURL != cfg.BotURL { // bots that share a URL share a line
			bots = append(bots, checkBot(ctx, label("bot", id, several), botURL))
		}
	}
	checks = append(checks, tokens...)
	checks = append(checks, checkOpenID(ctx, cfg, d))
	checks = append(checks, checkStore(ctx, cfg))
	return append(checks, bots...)
}

// checkToken acquires a token and compares its claims with what the
// configuration expects: the connector answers a bare 401 or 403 to a
// token of the wrong audience, app or tenant.
func checkToken(ctx context.Context, cfg config.Identity, name string, d deps) check {
	c := check{Name: name}
	src, err := tokencache.New(tokenOptions(cfg, zap.NewNop(), d.entraClient))
	if err != nil {
		c.Detail, c.Fix = err.Error(), "fix the credential settings"
		return c
	}
	tctx, cancel := context.WithTimeout(ctx, doctorTimeout)
	defer cancel()
	tok, _, err := src.Acquire(tctx)
	if err != nil {
		c.Detail = "no token from " + cfg.Authority() + ": " + err.Error()
		c.Fix = tokenFix(tokencache.Explain(err), cfg)
		return c
	}
	claims := proxy.DecodeTokenClaims(tok)
	if claims == nil {
		c.Detail, c.Fix = "the token is not a JWT", "check SIDECAR_AUTHORITY_HOST: it must be an Entra authority"
		return c
	}
	// The connector accepts only its own cloud's Bot Framework audience,
	// whatever SIDECAR_TOKEN_SCOPE says.
	wantAud := strings.TrimSuffix(cfg.Cloud.DefaultEndpoints().TokenScope, "/.default")
	app, aud, tid := claims.AppID, claims.Audience, claims.Tenant
	if app == "" {
		app = claims.AZP
	}
	c.Detail = fmt.Sprintf("aud=%s (want %s), app=%s (want %s), tid=%s", aud, wantAud, app, cfg.AppID, tid)
	var problems []string
	if !strings.EqualFold(aud, wantAud) {
		problems = append(problems, "the token has the wrong audience and the connector will answer 401: unset SIDECAR_TOKEN_SCOPE or set it to "+wantAud+"/.default")
	}
	if !strings.EqualFold(app, cfg.AppID) {
		problems = append(problems, "the token is for another app")
	}
	if want := cfg.TokenTenant(); want != "" {
		c.Detail += fmt.Sprintf(" (want %s)", want)
		if !strings.EqualFold(tid, want) {
			problems = append(problems, "the token is from another tenant than MicrosoftAppTenantId")
		}
	}
	if len(problems) > 0 {
		c.Fix = strings.Join(problems, "; ")
		return c
	}
	c.OK = true
	return c
}

// tokenFix says what to do about the reason Entra refused a token.
func tokenFix(reason tokencache.Reason, cfg config.Identity) string {
	switch reason {
	case tokencache.ReasonBadCredential:
		switch cfg.Credential() {
		case config.CredentialSecret, config.CredentialSecretFile:
			return "Entra refused the credential: the client secret is wrong or expired; create a new one for app " + cfg.AppID
		case config.CredentialCertFile:
			return "Entra refused the certificate's assertion; check that the certificate and its key belong together and that app " + cfg.AppID + " has this certificate"
		}
		return "Entra refused the client assertion; check the federated identity credential of app " + cfg.AppID
	case tokencache.ReasonCertificateNotRegistered:
		return "app " + cfg.AppID + " has no such certificate: upload it to the app registration, or, for subject-name/issuer authentication, set SIDECAR_CLIENT_CERT_SEND_X5C=true (SendX5C)"
	case tokencache.ReasonNoFederatedCredential:
		return "app " + cfg.AppID + " has no federated identity credential for this token's issuer and subject: add one (for a managed identity: issuer https://login.microsoftonline.com/<tenant>/v2.0, subject its object id)"
	case tokencache.ReasonCredentialExpired:
		return "the client secret has expired; create a new one for app " + cfg.AppID
	case tokencache.ReasonAppNotInTenant:
		return "app " + cfg.AppID + " is not registered in tenant " + cfg.TenantID + "; check MicrosoftAppTenantId and MicrosoftAppType"
	case tokencache.ReasonNoSuchTenant:
		return "tenant " + cfg.TenantID + " does not exist; check MicrosoftAppTenantId"
	case tokencache.ReasonUnreachable:
		return "the authority " + cfg.AuthorityHost + " cannot be reached; check egress and SIDECAR_AUTHORITY_HOST"
	}
	return "check the credential and MicrosoftAppTenantId"
}

// checkOpenID fetches the channel's OpenID metadata and signing keys, as
// the running sidecar's validator would.
func checkOpenID(ctx context.Context, cfg config.Config, d deps) check {
	c := check{Name: "openid", Fix: "the sidecar cannot validate channel tokens; check egress to " + cfg.OpenIDMetadataURL + " and SIDECAR_OPENID_METADATA_URL"}
	// Only the channel's keys are probed: Entra's are fetched on the first
	// Entra token, and doctor has no trust list to accept one with.
	opts := validatorOptions(cfg, nil, d.openID, zap.NewNop())
	opts.AcceptEntraTokens = false
	v, err := channelauth.New(opts)
	if err != nil {
		c.Detail = err.Error()
		return c
	}
	pctx, cancel := context.WithTimeout(ctx, doctorTimeout)
	defer cancel()
	r, err := v.Probe(pctx, "msteams")
	if err != nil {
		c.Detail = err.Error()
		return c
	}
	c.Detail = fmt.Sprintf("%d signing keys from %s, %d endorsed for msteams; issuer %s (want %s)", r.Keys, r.JWKSURI, r.KeysFor["msteams"], r.Issuer, r.ExpectedIssuer)
	c.OK, c.Fix = true, ""
	return c
}

// checkStore opens the reference store and reads from it.
func checkStore(ctx context.Context, cfg config.Config) check {
	c := check{Name: "store"}
	sctx, cancel := context.WithTimeout(ctx, doctorTimeout)
	defer cancel()
	s, err := backends.Open(sctx, cfg.Store, backends.Options{CacheSize: 16, TTL: cfg.ReferenceTTL, Namespace: cfg.AppID, Logger: zap.NewNop()})
	if err != nil {
		c.Detail = err.Error()
		c.Fix = "check SIDECAR_STORE: the file's directory must be writable (bolt), the server reachable (redis)"
		if errors.Is(err, store.ErrLocked) {
			c.OK, c.Detail, c.Fix = true, cfg.Store.String()+" is in use by a running sidecar (it holds the file lock)", ""
		}
		return c
	}
	defer s.Close()
	if _, err := s.Get(sctx, "sidecar-doctor-probe"); err != nil && !errors.Is(err, store.ErrNotFound) {
		c.Detail, c.Fix = "read: "+err.Error(), "the store opened but cannot be read"
		return c
	}
	c.OK, c.Detail = true, cfg.Store.String()+" opens and answers"
	return c
}

// checkBot checks that something answers HTTP at the bot URL; any status
// will do (a GET on /api/messages is usually 405), only silence fails.
func checkBot(ctx context.Context, name, botURL string) check {
	c := check{Name: name}
	bctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(bctx, http.MethodGet, botURL, nil)
	if err == nil {
		var resp *http.Response
		if resp, err = http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			c.OK, c.Detail = true, fmt.Sprintf("%s answers (%s to a GET)", botURL, resp.Status)
			return c
		}
	}
	c.Detail = "nothing answers at " + botURL + ": " + err.Error()
	c.Fix = "start the bot, or set SIDECAR_BOT_URL to where it listens"
	return c
}
