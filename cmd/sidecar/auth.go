package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"go.uber.org/zap"

	"github.com/botsidecar/sidecar/channelauth"
	"github.com/botsidecar/sidecar/config"
	"github.com/botsidecar/sidecar/proxy"
)

// channelAuth adapts channelauth's validator to proxy's Authenticator,
// translating its errors into the ones proxy answers by.
type channelAuth struct{ v *channelauth.Validator }

func (a channelAuth) Verify(ctx context.Context, authz string) (proxy.VerifiedToken, error) {
	t, err := a.v.VerifyToken(ctx, authz)
	if err != nil {
		return nil, authErr(err)
	}
	return verifiedToken{t}, nil
}

// verifiedToken adapts a channelauth.Verified to proxy's VerifiedToken.
type verifiedToken struct{ t *channelauth.Verified }

func (t verifiedToken) CheckActivity(channelID, serviceURL string) (bool, error) {
	id, err := t.t.CheckActivity(channelID, serviceURL)
	if err != nil {
		return false, authErr(err)
	}
	return id.ServiceURLVouched, nil
}

func (t verifiedToken) App() string { return t.t.App() }

func authErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, channelauth.ErrKeysUnavailable):
		return fmt.Errorf("%w: %w", proxy.ErrAuthUnavailable, err)
	}
	return fmt.Errorf("%w: %w", proxy.ErrUnauthenticated, err)
}

// validatorOptions maps the configuration to the channel token
// validator's options; trusted says which serviceUrls an Entra token may
// name. Every bot's app id is an accepted audience: the token then says
// which bot an activity is for. Entra tokens are accepted from the
// primary bot's tenant only.
func validatorOptions(cfg config.Config, trusted func(string) bool, client *http.Client, logger *zap.Logger) channelauth.Options {
	var others []string
	for _, id := range cfg.Connections {
		others = append(others, id.AppID)
	}
	return channelauth.Options{
		AppID:               cfg.AppID,
		AppIDs:              others,
		OpenIDMetadataURL:   cfg.OpenIDMetadataURL,
		ChannelIssuer:       cfg.ChannelIssuer,
		AcceptEntraTokens:   cfg.AcceptEntraTokens,
		AuthorityHost:       cfg.AuthorityHost,
		TenantID:            cfg.TenantID,
		IsTrustedServiceURL: trusted,
		EntraAppIDs:         cfg.EntraTokenAppIDs,
		HTTPClient:          client,
		Logger:              logger,
	}
}
