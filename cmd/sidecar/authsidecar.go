package main

import (
	"fmt"
	"net"

	"go.uber.org/zap"

	"github.com/botsidecar/sidecar/authsidecar"
	"github.com/botsidecar/sidecar/config"
	"github.com/botsidecar/sidecar/proxy"
)

// authSidecar binds the auth sidecar listener when SIDECAR_AUTH_SIDECAR_ADDR
// is set, and returns what inbound vouches for activities with: the signer
// when SIDECAR_SIGN_INBOUND is set, else nil (no Authorization, as today).
func (a *app) authSidecar(cfg config.Config) (proxy.BotAuthorizer, error) {
	if cfg.AuthSidecarAddr == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", cfg.AuthSidecarAddr)
	if err != nil {
		return nil, fmt.Errorf("listen authsidecar on %s: %w", cfg.AuthSidecarAddr, err)
	}
	var signer *authsidecar.Signer
	if cfg.SignInbound {
		// The issuer is the bound address, which is what the bot is told
		// to reach (the log line below says it), port 0 resolved.
		// Every bot's activities are signed, each for its own app id.
		apps := make([]string, len(a.bots))
		for i, b := range a.bots {
			apps[i] = b.cfg.AppID
		}
		signer, err = authsidecar.NewSigner(authsidecar.SignerOptions{BaseURL: "http://" + ln.Addr().String(), Audiences: apps})
		if err != nil {
			_ = ln.Close()
			return nil, err
		}
	}
	h, err := authsidecar.New(authsidecar.Options{
		Identities: authSidecarIdentities(a.bots),
		Signer:     signer,
		Logger:     a.log.Named("authsidecar"),
	})
	if err != nil {
		_ = ln.Close()
		return nil, err
	}
	if err := a.listen("authsidecar", cfg.AuthSidecarAddr, ln, h); err != nil {
		return nil, err
	}
	fields := []zap.Field{zap.String("addr", ln.Addr().String())}
	if signer == nil {
		a.log.Info("auth sidecar listener: the bot's token is served to programs in the pod", fields...)
		return nil, nil
	}
	a.log.Info("auth sidecar listener: the bot's token is served to programs in the pod, and inbound activities are signed; give the bot this authority",
		append(fields, zap.String("authority", signer.Authority()), zap.String("issuer", signer.Issuer()))...)
	return signer, nil
}

// authSidecarIdentities are the bots the auth sidecar listener serves, by
// connection name: the primary, also as "default" (the name the SDK asks
// for unless told another), and every bot that shares the outbound
// listener, whose programs can already send with each other's tokens
// there. A bot with an outbound listener of its own is not served: no
// other program in the pod may reach its token.
func authSidecarIdentities(bots []*bot) map[string]authsidecar.Identity {
	ids := map[string]authsidecar.Identity{}
	for i, b := range bots {
		if i > 0 && b.ln != nil {
			continue
		}
		id := authsidecar.Identity{Tokens: b.tokens, Scope: b.cfg.TokenScope, Tenant: b.cfg.TokenTenant()}
		ids[b.cfg.Name] = id
		if i == 0 {
			ids[config.PrimaryName] = id
		}
	}
	return ids
}
