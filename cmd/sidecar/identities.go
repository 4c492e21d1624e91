package main

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"

	"github.com/botsidecar/sidecar/config"
	"github.com/botsidecar/sidecar/proxy"
	"github.com/botsidecar/sidecar/tokencache"
)

// bot is one identity the sidecar speaks for, as it runs: its token
// source and, when it has one, its own outbound listener. One identity
// (the top-level variables) is one bot, as before there could be several.
type bot struct {
	cfg    config.Identity
	tokens *tokencache.Source
	// ln is the bot's own outbound listener (Identity.OutboundAddr), bound
	// before the handlers are built so that its address is known; nil
	// when the bot shares SIDECAR_OUTBOUND_ADDR.
	ln net.Listener
	// outboundURL is the serviceUrl the bot is handed.
	outboundURL string
}

// newBots builds a token source per identity, the primary one first, and
// binds the outbound listeners of those that have their own. On error the
// listeners already bound are closed.
func newBots(cfg config.Config, logger *zap.Logger, client *http.Client, tracer trace.Tracer) (_ []*bot, err error) {
	ids := cfg.Identities()
	bots := make([]*bot, 0, len(ids))
	defer func() {
		if err != nil {
			for _, b := range bots {
				if b.ln != nil {
					_ = b.ln.Close()
				}
			}
		}
	}()
	for i, id := range ids {
		b := &bot{cfg: id}
		log := logger
		if len(ids) > 1 {
			log = logger.With(zap.String("connection", id.Name))
		}
		opts := tokenOptions(id, log, client)
		opts.Tracer = tracer
		if b.tokens, err = tokencache.New(opts); err != nil {
			return nil, fmt.Errorf("token source of %s: %w", id.Name, err)
		}
		switch {
		case i == 0:
			// The primary's listener is SIDECAR_OUTBOUND_ADDR itself.
			b.outboundURL = cfg.OutboundURL
		case id.OutboundAddr != "":
			if b.ln, err = net.Listen("tcp", id.OutboundAddr); err != nil {
				return nil, fmt.Errorf("listen outbound of %s on %s: %w", id.Name, id.OutboundAddr, err)
			}
			b.outboundURL = cmp.Or(id.OutboundURL, listenerURL(b.ln.Addr()))
		default:
			// Its bot's replies carry the prefix back without the bot
			// knowing it shares the listener.
			b.outboundURL = cmp.Or(id.OutboundURL, cfg.OutboundURL+"bots/"+id.Name+"/")
		}
		bots = append(bots, b)
	}
	return bots, nil
}

// listenerURL is the URL of a bound listener for a bot on the same host:
// an unspecified address is reached on loopback.
func listenerURL(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "http://" + addr.String() + "/"
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/"
}

// label names a bot's readiness check, doctor line and so on: the bare
// kind for one bot, as before there could be several; kind:name for each
// of several.
func label(kind string, b config.Identity, several bool) string {
	if !several {
		return kind
	}
	return kind + ":" + b.Name
}

// proxyIdentity is the proxy's view of a bot. elsewhere marks a bot with a
// listener of its own on another bot's listener.
func (b *bot) proxyIdentity(primary, elsewhere bool, botURL string) proxy.Identity {
	return proxy.Identity{
		Name: b.cfg.Name, Primary: primary, AppID: b.cfg.AppID, TenantID: b.cfg.TokenTenant(), Tokens: b.tokens,
		BotURL: cmp.Or(b.cfg.BotURL, botURL), OutboundURL: b.outboundURL, Elsewhere: elsewhere,
	}
}

// outboundIdentities lists the bots as the outbound listener of self sees
// them (self nil: the shared listener): self first, every other bot it
// may not serve marked elsewhere.
func outboundIdentities(bots []*bot, self *bot, botURL string) []proxy.Identity {
	first := bots[0]
	if self != nil {
		first = self
	}
	ids := []proxy.Identity{first.proxyIdentity(first == bots[0], false, botURL)}
	for _, b := range bots {
		if b != first {
			ids = append(ids, b.proxyIdentity(b == bots[0], self != nil || b.ln != nil, botURL))
		}
	}
	return ids
}

// inboundIdentities lists every bot for the inbound handler, the primary
// first.
func inboundIdentities(bots []*bot, botURL string) []proxy.Identity {
	ids := make([]proxy.Identity, len(bots))
	for i, b := range bots {
		ids[i] = b.proxyIdentity(i == 0, false, botURL)
	}
	return ids
}

// connectionsRoute is the connections map as the outbound handler asks
// it: the first rule that matches the call's upstream wins. An outbound
// call names no audience (inbound, the token's audience picks the bot
// directly), so a rule's Audience does not narrow it.
func connectionsRoute(rules []config.ConnectionRule) func(string) string {
	if len(rules) == 0 {
		return nil
	}
	return func(serviceURL string) string {
		for _, r := range rules {
			if r.Matches(serviceURL, "") {
				return r.Connection
			}
		}
		return ""
	}
}

// tokenChecks are the readiness checks of the bots' tokens: "token" for
// one bot, "token:<name>" for each of several.
func tokenChecks(bots []*bot) []proxy.ReadinessCheck {
	checks := make([]proxy.ReadinessCheck, len(bots))
	for i, b := range bots {
		checks[i] = proxy.ReadinessCheck{Name: label("token", b.cfg, len(bots) > 1), Check: func() error {
			if !b.tokens.Ready() {
				return errors.New("no token acquired yet; the log says why")
			}
			return nil
		}}
	}
	return checks
}

// hostNamesOf are the host names the bots' outbound URLs give a listener.
func hostNamesOf(ids []proxy.Identity) []string {
	var names []string
	for _, id := range ids {
		if !id.Elsewhere {
			for _, n := range hostNames(id.OutboundURL) {
				if !containsFold(names, n) {
					names = append(names, n)
				}
			}
		}
	}
	return names
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}
