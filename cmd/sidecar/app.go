package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/botsidecar/sidecar/channelauth"
	"github.com/botsidecar/sidecar/config"
	"github.com/botsidecar/sidecar/internal/framing"
	"github.com/botsidecar/sidecar/proxy"
	"github.com/botsidecar/sidecar/store"
	"github.com/botsidecar/sidecar/store/backends"
	"github.com/botsidecar/sidecar/store/redisstore"
	"github.com/botsidecar/sidecar/tokencache"
	"github.com/botsidecar/sidecar/tracing"
)

// deps are the process's outside connections; tests and the demo replace
// them with loopback fakes. Zero values mean production defaults.
type deps struct {
	// entraClient carries MSAL's calls to the authority.
	entraClient *http.Client
	// upstream carries outbound calls to the connector.
	upstream http.RoundTripper
	// openID fetches the channel's (and the tenant's) signing keys.
	openID *http.Client
	// outboundListener, when set, is the already-bound outbound listener:
	// the bot is told the outbound address as serviceUrl before start-up,
	// so in-process tests and the demo bind it first instead of racing
	// for a port they picked.
	outboundListener net.Listener
	// tracing exports the spans; nil traces nothing. run builds it from
	// the OTEL_* variables; the app shuts it down.
	tracing *tracing.Provider
}

// app is the wired sidecar: its listeners are bound by newApp, so their
// addresses are known before serve runs.
type app struct {
	cfg   config.Config
	log   *zap.Logger
	store store.Store
	// tokens is the primary bot's token source, bots every bot's.
	tokens    *tokencache.Source
	tracing   *tracing.Provider
	bots      []*bot
	validator *channelauth.Validator
	admin     *proxy.Admin
	servers   []*server
	listening atomic.Bool
}

type server struct {
	name string
	kind string // the name's part before ":": inbound, outbound or admin
	http *http.Server
	ln   net.Listener
}

// newApp wires config → store → token source → handlers → listeners.
func newApp(ctx context.Context, cfg config.Config, logger *zap.Logger, d deps) (_ *app, err error) {
	a := &app{cfg: cfg, log: logger, tracing: d.tracing}
	defer func() {
		if err != nil {
			a.close() // whatever was opened before the failure
			if d.outboundListener != nil {
				_ = d.outboundListener.Close() // a second close is harmless
			}
		}
	}()
	if a.store, err = openStore(ctx, cfg, logger); err != nil {
		return nil, err
	}
	if a.bots, err = newBots(cfg, logger, d.entraClient, a.tracing.Tracer()); err != nil {
		return nil, err
	}
	for _, b := range a.bots {
		if b.ln != nil {
			// Closed with the servers from here on.
			a.servers = append(a.servers, &server{name: "outbound:" + b.cfg.Name, kind: "outbound", ln: b.ln})
		}
	}
	a.tokens = a.bots[0].tokens
	several := len(a.bots) > 1
	reg := prometheus.NewRegistry()
	newMetrics := proxy.NewMetrics
	if several {
		newMetrics = proxy.NewConnectionMetrics
	}
	metrics, err := newMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	if err := registerTokenMetrics(reg, a.bots, time.Now); err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	if err := registerStoreMetrics(reg, a.store); err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	refs := proxy.InstrumentedStore{Store: a.store, Metrics: metrics}
	trust, err := proxy.NewTrustList(cfg.TrustedServiceURLs)
	if err != nil {
		return nil, fmt.Errorf("SIDECAR_TRUSTED_SERVICE_URLS: %w", err)
	}
	pacer, err := newPacer(cfg, reg)
	if err != nil {
		return nil, err
	}
	// One outbound handler per listener: the shared one, and each bot's
	// own, which serves that bot alone. They share the pacer, which keys
	// by app id, and the transport's connections.
	if d.upstream == nil {
		d.upstream = proxy.NewTransport()
	}
	outboundFor := func(self *bot) (*proxy.Outbound, error) {
		ids := outboundIdentities(a.bots, self, cfg.BotURL)
		o := proxy.OutboundOptions{
			Pacer:             pacer,
			Identities:        ids,
			References:        refs,
			Trust:             trust,
			DefaultServiceURL: cfg.DefaultServiceURL,
			MaxBodyBytes:      int64(cfg.MaxBodyBytes),
			HostNames:         hostNamesOf(ids),
			Transport:         d.upstream,
			Logger:            logger.Named("outbound"),
			Metrics:           metrics,
			Tracing:           handlerTracing(a.tracing),
		}
		if self == nil {
			o.Route = connectionsRoute(cfg.ConnectionsMap)
		}
		return proxy.NewOutbound(o)
	}
	outbound, err := outboundFor(nil)
	if err != nil {
		return nil, err
	}
	a.validator, err = channelauth.New(validatorOptions(cfg, trust.TrustedString, d.openID, logger.Named("channelauth")))
	if err != nil {
		return nil, fmt.Errorf("channel token validation: %w", err)
	}
	botAuth, err := a.authSidecar(cfg)
	if err != nil {
		return nil, err
	}
	inbound, err := proxy.NewInbound(proxy.InboundOptions{
		Auth:         channelAuth{a.validator},
		References:   refs,
		Trust:        trust,
		Identities:   inboundIdentities(a.bots, cfg.BotURL),
		MaxBodyBytes: int64(cfg.MaxBodyBytes),
		BotTimeout:   cfg.BotTimeout,
		BotAuth:      botAuth,
		Logger:       logger.Named("inbound"),
		Metrics:      metrics,
		Tracing:      handlerTracing(a.tracing),
		// The window lives where the references do: in process for
		// memory:, across restarts for bolt:, across replicas for Redis.
		Redeliveries: store.DeliveriesOf(a.store),
	})
	if err != nil {
		return nil, err
	}
	a.admin = proxy.NewAdmin(append([]proxy.ReadinessCheck{
		{Name: "listeners", Check: func() error {
			if !a.listening.Load() {
				return errors.New("not serving yet")
			}
			return nil
		}},
		{Name: "store", Check: a.storeReady, Detail: a.storeDetail},
	}, tokenChecks(a.bots)...), map[string]http.Handler{
		"GET /references/{conversationId}":                 proxy.ReferenceHandler(a.store, referenceAccess(cfg.AdminReferences)),
		"GET /references/bots/{identity}/{conversationId}": proxy.ReferenceHandler(a.store, referenceAccess(cfg.AdminReferences)),
		"GET /metrics": promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: zap.NewStdLog(logger.Named("metrics"))}),
	})
	for _, s := range []struct {
		name, addr string
		h          http.Handler
	}{
		{"inbound", cfg.InboundAddr, inbound},
		{"outbound", cfg.OutboundAddr, outbound},
		// Probes and scrapers address the pod by IP; a DNS name is a
		// rebinding browser.
		{"admin", cfg.AdminAddr, proxy.HostGuard(a.admin)},
	} {
		var ln net.Listener
		if s.name == "outbound" {
			ln = d.outboundListener
		}
		if err := a.listen(s.name, s.addr, ln, s.h); err != nil {
			return nil, err
		}
	}
	for _, b := range a.bots {
		if b.ln == nil {
			continue
		}
		h, err := outboundFor(b)
		if err != nil {
			return nil, fmt.Errorf("outbound of %s: %w", b.cfg.Name, err)
		}
		a.serveOn(a.server("outbound:"+b.cfg.Name), b.ln, h)
	}
	return a, nil
}

func (a *app) listen(name, addr string, ln net.Listener, h http.Handler) error {
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", addr); err != nil {
			return fmt.Errorf("listen %s on %s: %w", name, addr, err)
		}
	}
	s := &server{name: name, kind: name}
	a.servers = append(a.servers, s)
	a.serveOn(s, ln, h)
	return nil
}

// serveOn makes s serve h on ln.
func (a *app) serveOn(s *server, ln net.Listener, h http.Handler) {
	name := s.name
	// Every listener refuses requests with an ambiguous body length
	// (Content-Length and Transfer-Encoding) before net/http parses them.
	ln = framing.Listener(ln)
	srv := &http.Server{
		Handler:           framing.Handler(h),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      120 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          zap.NewStdLog(a.log.Named(name)),
	}
	if name == "inbound" {
		ln = inboundListener(ln, inboundMaxConns)
		hardenInbound(srv)
	}
	s.ln, s.http = ln, srv
}

// hostNames is the host of the outbound URL the bot is given, when it is
// a name rather than an IP: requests may name the outbound listener so.
func hostNames(outboundURL string) []string {
	u, err := url.Parse(outboundURL)
	if err != nil || u.Hostname() == "" {
		return nil
	}
	return []string{u.Hostname()}
}

// shutdownOrder is the order in which the listeners drain (by kind: every
// outbound listener drains with the shared one), one after the
// other, within one grace period. Inbound goes first: the channel's
// in-flight activities finish, and the bot's replies to them still reach
// the connector because outbound is still open. Outbound goes next and
// finishes the bot's remaining sends, proactive ones included. Admin goes
// last, so that probes see /readyz answer "shutting down" to the end.
// The auth sidecar listener, when there is one, outlasts outbound: the
// bot may need a token for its last sends.
var shutdownOrder = [...]string{"inbound", "outbound", "authsidecar", "admin"}

// server returns the named listener (newApp binds inbound, outbound,
// admin and "outbound:<name>" for each bot with a listener of its own), or nil.
func (a *app) server(name string) *server {
	for _, s := range a.servers {
		if s.name == name {
			return s
		}
	}
	return nil
}

// addr returns the bound address of the named listener.
func (a *app) addr(name string) string {
	if s := a.server(name); s != nil {
		return s.ln.Addr().String()
	}
	return ""
}

// referenceAccess maps SIDECAR_ADMIN_REFERENCES, which Load checked and
// lower-cased, to who may read /references.
func referenceAccess(setting string) proxy.ReferenceAccess {
	switch setting {
	case "all":
		return proxy.ReferencesAll
	case "off":
		return proxy.ReferencesOff
	}
	return proxy.ReferencesLoopback
}

// tokenOptions maps the identity settings to the token source's options.
// client is nil in production; the token source then builds MSAL's client
// itself, and either way one that never follows a redirect.
func tokenOptions(cfg config.Identity, logger *zap.Logger, client *http.Client) tokencache.Options {
	o := tokencache.Options{
		AuthorityHost: cfg.AuthorityHost,
		// The tenant segment of the authority: the bot's tenant, or the
		// cloud's Bot Framework tenant for a multi-tenant bot.
		Tenant:     strings.TrimPrefix(cfg.Authority(), cfg.AuthorityHost+"/"),
		ClientID:   cfg.AppID,
		Scope:      cfg.TokenScope,
		HTTPClient: client,
		Logger:     logger.Named("token"),
	}
	switch cfg.Credential() {
	case config.CredentialSecret:
		o.Credential = tokencache.ClientSecret(cfg.AppPassword.Value())
	case config.CredentialSecretFile:
		o.Credential = tokencache.ClientSecretFile(cfg.ClientSecretFile)
	case config.CredentialCertFile:
		o.Credential = tokencache.Certificate(tokencache.CertificateFiles{
			CertFile: cfg.ClientCertFile,
			KeyFile:  cfg.ClientKeyFile,
			Password: cfg.ClientCertPassword.Value(),
			SendX5C:  cfg.SendX5C,
		})
	case config.CredentialFederatedFile:
		o.Credential = tokencache.AssertionFile(cfg.FederatedTokenFile)
	case config.CredentialManagedIdentity:
		o.Credential = tokencache.ManagedIdentity()
	case config.CredentialSystemManagedIdentity:
		o.Credential = tokencache.SystemManagedIdentity()
	case config.CredentialFederatedManagedIdentity:
		id := cfg.FederatedManagedIdentity
		if id == config.SystemAssigned {
			id = tokencache.SystemAssignedIdentity
		}
		o.Credential = tokencache.FederatedManagedIdentity(id, cfg.TokenExchangeAudience())
	case config.CredentialFederatedWorkloadIdentity:
		// The identity's token comes from the bot's own tenant: a
		// federated credential trusts an identity of the same tenant.
		o.Credential = tokencache.FederatedWorkloadIdentity(tokencache.WorkloadIdentity{
			TokenFile: cfg.FederatedTokenFile,
			ClientID:  cfg.FederatedTokenIdentity(),
			Tenant:    cfg.TenantID,
		}, cfg.TokenExchangeAudience())
	}
	return o
}

// storeReady probes the store. A Redis outage does not make the sidecar
// unready: inbound activities are still forwarded (writes are queued) and
// sends resolve from the cache, which beats taking every replica out of
// the Service at once. A local store that cannot be read does.
func (a *app) storeReady() error {
	if a.cfg.Store.Kind() == store.KindRedis {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, err := a.store.Get(ctx, "readyz-probe"); err != nil && !errors.Is(err, store.ErrNotFound) {
		return errors.New("the reference store cannot be read; the log says why")
	}
	return nil
}

// storeDetail notes a degraded shared store on /readyz without failing
// it (see storeReady).
func (a *app) storeDetail() string {
	d, ok := a.store.(degradable)
	if !ok || !d.Degraded() {
		return ""
	}
	return fmt.Sprintf("degraded: the reference store does not answer; %d writes queued in memory, reads served from memory", d.Pending())
}

// degradable is a store that rides out its backend's outages
// (cachedstore.Cached in front of Redis).
type degradable interface {
	Degraded() bool
	Pending() int
}

// openStore opens SIDECAR_STORE, namespaced by the app id so that bots can
// share one Redis. A Redis that does not answer yet does not stop start-up:
// a pod restarted during an outage starts degraded, as a running one rides
// the outage out, instead of crash-looping.
func openStore(ctx context.Context, cfg config.Config, logger *zap.Logger) (store.Store, error) {
	if cfg.Store.Kind() == store.KindRedis {
		// go-redis logs some events itself, as plain stderr lines by
		// default, through one logger per process (it has none per
		// client): the program owns the process's stderr, so it routes
		// them into zap here; the store packages set nothing global.
		redis.SetLogger(redisstore.DriverLog(logger.Named("redis")))
	}
	storeLog := logger.Named("store")
	s, err := backends.Open(ctx, cfg.Store, backends.Options{
		CacheSize:        cfg.ReferenceCacheSize,
		TTL:              cfg.ReferenceTTL,
		Namespace:        cfg.AppID,
		Logger:           storeLog,
		StartUnavailable: true,
		OnEvict: func(total uint64) {
			// Once: the metric counts the rest.
			if total == 1 {
				storeLog.Warn("memory store full, dropping the least recently used references; their conversations can no longer be reached (see sidecar_reference_store_evictions_total)",
					zap.Int("size", cfg.ReferenceCacheSize))
			}
		},
	})
	if err != nil {
		return nil, fmt.Errorf("SIDECAR_STORE %s: %w", cfg.Store, err)
	}
	return s, nil
}

// serve runs the listeners and background loops until ctx ends, then
// drains: /readyz turns 503, servers stop accepting and in-flight calls
// get SIDECAR_SHUTDOWN_GRACE to finish.
func (a *app) serve(ctx context.Context) error {
	defer a.close()
	g, gctx := errgroup.WithContext(ctx)
	bg, stopBG := context.WithCancel(context.Background())
	defer stopBG()
	for _, b := range a.bots {
		g.Go(func() error { return b.tokens.Run(bg) })
	}
	g.Go(func() error { return a.validator.Run(bg) })
	if r, ok := a.store.(store.Runner); ok {
		g.Go(func() error { return r.Run(bg) })
	}
	for _, s := range a.servers {
		g.Go(func() error {
			if err := s.http.Serve(s.ln); !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("%s listener: %w", s.name, err)
			}
			return nil
		})
	}
	a.listening.Store(true)
	var connections zap.Field = zap.Skip()
	if len(a.bots) > 1 {
		names := make([]string, len(a.bots))
		for i, b := range a.bots {
			names[i] = b.cfg.Name
		}
		connections = zap.Strings("connections", names)
	}
	a.log.Info("sidecar started", zap.String("inbound", a.addr("inbound")), zap.String("outbound", a.addr("outbound")), zap.String("admin", a.addr("admin")),
		zap.String("app_id", a.cfg.AppID), zap.String("app_type", string(a.cfg.AppType)), connections)

	<-gctx.Done()
	a.admin.Drain()
	a.log.Info("shutting down", zap.Duration("grace", a.cfg.ShutdownGrace))
	sctx, cancel := context.WithTimeoutCause(context.Background(), a.cfg.ShutdownGrace, errGraceExceeded)
	defer cancel()
	var shutdownErr error
	for _, kind := range shutdownOrder {
		for _, s := range a.servers {
			if s.kind != kind {
				continue
			}
			if err := s.http.Shutdown(sctx); err != nil {
				shutdownErr = errGraceExceeded
				_ = s.http.Close()
			}
		}
	}
	stopBG()
	if err := g.Wait(); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return shutdownErr
}

func (a *app) close() {
	for _, s := range a.servers {
		_ = s.ln.Close()
	}
	// After the listeners and the token refresh have stopped, so that the
	// last calls' spans are in the flush; bounded, so that an unreachable
	// collector costs the exit at most traceFlushTimeout.
	fctx, cancel := context.WithTimeout(context.Background(), traceFlushTimeout)
	defer cancel()
	if err := a.tracing.Shutdown(fctx); err != nil {
		a.log.Warn("flush traces", zap.Error(err))
	}
	if a.store != nil {
		if err := a.store.Close(); err != nil {
			a.log.Warn("close reference store", zap.Error(err))
		}
	}
}

// traceFlushTimeout bounds the export of the spans still queued at exit.
const traceFlushTimeout = 2 * time.Second

// handlerTracing is what the handlers need of the provider: its tracer and
// propagator, both nil when tracing is off.
func handlerTracing(p *tracing.Provider) proxy.Tracing {
	return proxy.Tracing{Tracer: p.Tracer(), Propagator: p.Propagator()}
}
