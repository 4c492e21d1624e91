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
// tenant is the tenant the primary identity's tokens come from, "" for a
// multi-tenant bot.
func (a *app) authSidecar(cfg config.Config, tenant string) (proxy.BotAuthorizer, error) {
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
		signer, err = authsidecar.NewSigner(authsidecar.SignerOptions{BaseURL: "http://" + ln.Addr().String(), Audience: cfg.AppID})
		if err != nil {
			_ = ln.Close()
			return nil, err
		}
	}
	h, err := authsidecar.New(authsidecar.Options{
		// One identity for now, under the name the SDK asks for by default.
		Identities: map[string]authsidecar.Identity{
			config.PrimaryName: {Tokens: a.tokens, Scope: cfg.TokenScope, Tenant: tenant},
		},
		Signer: signer,
		Logger: a.log.Named("authsidecar"),
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
