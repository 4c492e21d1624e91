package config

import (
	"errors"
	"strings"
)

// Cloud names a Bot Framework cloud (SIDECAR_CLOUD). It selects the defaults
// of the four endpoint settings and the multi-tenant login tenant.
type Cloud string

// The clouds SIDECAR_CLOUD accepts. They are the Teams SDK's presets (Public,
// USGov, USGovDoD, China); GCC (moderate) uses the public endpoints.
const (
	CloudPublic    Cloud = "public"
	CloudUSGov     Cloud = "usgov"
	CloudUSGovDoD  Cloud = "usgovdod"
	CloudChina     Cloud = "china"
	cloudsAccepted       = "public, usgov, usgovdod or china"
)

// UnmarshalText accepts a cloud name in any case ("USGov" as the Teams SDK's
// CLOUD variable spells it) and stores it lower-case.
func (c *Cloud) UnmarshalText(text []byte) error {
	switch v := Cloud(strings.ToLower(string(text))); v {
	case CloudPublic, CloudUSGov, CloudUSGovDoD, CloudChina:
		*c = v
		return nil
	}
	return errors.New("not a cloud; use " + cloudsAccepted)
}

// Endpoints are the per-cloud settings. Each one left unset takes its
// cloud's default, so overriding one (say, the authority host for a fake
// Entra) keeps the others.
type Endpoints struct {
	// AuthorityHost is the Entra login host, without a trailing slash; the
	// token authority is AuthorityHost/tenant (see Config.Authority).
	AuthorityHost string `env:"SIDECAR_AUTHORITY_HOST" show:"url" usage:"Entra login host the outbound token is requested from (scheme and host, no tenant)"`
	// TokenScope is the scope of the outbound token, ending in /.default.
	TokenScope string `env:"SIDECAR_TOKEN_SCOPE" show:"url" usage:"scope of the outbound token; a resource without /.default gets it appended, as the SDKs do"`
	// OpenIDMetadataURL is where the channel's signing keys are found.
	OpenIDMetadataURL string `env:"SIDECAR_OPENID_METADATA_URL" show:"url" usage:"OpenID metadata of the channel's token signing keys"`
	// ChannelIssuer is the exact iss of a channel token.
	ChannelIssuer string `env:"SIDECAR_CHANNEL_ISSUER" show:"url" usage:"issuer a channel token must carry"`
}

// cloudDefaults is one row of the SIDECAR_CLOUD table.
type cloudDefaults struct {
	Endpoints
	// loginTenant is the tenant of a MultiTenant bot's authority.
	loginTenant string
	// tokenExchangeAudience is the audience of a token another identity
	// presents as the bot app's client assertion (a federated identity
	// credential's audiences).
	tokenExchangeAudience string
}

// The token-exchange audiences. Source: Microsoft Entra docs, "Configure an
// application to trust a managed identity"
// (workload-identity-federation-config-app-trust-managed-identity.md).
const (
	publicTokenExchangeAudience = "api://AzureADTokenExchange"
	usgovTokenExchangeAudience  = "api://AzureADTokenExchangeUSGov"
	chinaTokenExchangeAudience  = "api://AzureADTokenExchangeChina"
)

// Public cloud. Sources: botbuilder-dotnet AuthenticationConstants.cs
// (ToChannelFromBotLoginUrlTemplate, ToChannelFromBotOAuthScope,
// ToBotFromChannelOpenIdMetadataUrl, ToBotFromChannelTokenIssuer,
// DefaultChannelAuthTenant) and botbuilder-js authenticationConstants.ts.
const (
	publicAuthorityHost     = "https://login.microsoftonline.com"
	publicTokenScope        = "https://api.botframework.com/.default"
	publicOpenIDMetadataURL = "https://login.botframework.com/v1/.well-known/openidconfiguration"
	publicChannelIssuer     = "https://api.botframework.com"
	publicLoginTenant       = "botframework.com"
)

// US Government (GCC High and DoD share these; they differ only in the
// OAuth token service, which the sidecar does not use). Sources:
// botbuilder-dotnet GovernmentAuthenticationConstants.cs, botbuilder-js
// governmentConstants.ts, teams.ts cloud-environment.ts (US_GOV, US_GOV_DOD).
const (
	usgovAuthorityHost     = "https://login.microsoftonline.us"
	usgovTokenScope        = "https://api.botframework.us/.default"
	usgovOpenIDMetadataURL = "https://login.botframework.azure.us/v1/.well-known/openidconfiguration"
	usgovChannelIssuer     = "https://api.botframework.us"
	usgovLoginTenant       = "MicrosoftServices.onmicrosoft.us"
)

// China (21Vianet). Sources: bot-docs how-to-deploy-china-cloud.md
// (https://docs.azure.cn/en-us/bot-service/how-to-deploy-china-cloud) and
// teams.ts cloud-environment.ts (CHINA).
const (
	chinaAuthorityHost     = "https://login.partner.microsoftonline.cn"
	chinaTokenScope        = "https://api.botframework.azure.cn/.default"
	chinaOpenIDMetadataURL = "https://login.botframework.azure.cn/v1/.well-known/openidconfiguration"
	chinaChannelIssuer     = "https://api.botframework.azure.cn"
	chinaLoginTenant       = "microsoftservices.partner.onmschina.cn"
)

// defaultsFor returns the table row of a cloud; an unknown cloud (which
// Load rejects) gets the public row.
func defaultsFor(c Cloud) cloudDefaults {
	switch c {
	case CloudUSGov, CloudUSGovDoD:
		return cloudDefaults{
			Endpoints: Endpoints{
				AuthorityHost:     usgovAuthorityHost,
				TokenScope:        usgovTokenScope,
				OpenIDMetadataURL: usgovOpenIDMetadataURL,
				ChannelIssuer:     usgovChannelIssuer,
			},
			loginTenant:           usgovLoginTenant,
			tokenExchangeAudience: usgovTokenExchangeAudience,
		}
	case CloudChina:
		return cloudDefaults{
			Endpoints: Endpoints{
				AuthorityHost:     chinaAuthorityHost,
				TokenScope:        chinaTokenScope,
				OpenIDMetadataURL: chinaOpenIDMetadataURL,
				ChannelIssuer:     chinaChannelIssuer,
			},
			loginTenant:           chinaLoginTenant,
			tokenExchangeAudience: chinaTokenExchangeAudience,
		}
	default:
		return cloudDefaults{
			Endpoints: Endpoints{
				AuthorityHost:     publicAuthorityHost,
				TokenScope:        publicTokenScope,
				OpenIDMetadataURL: publicOpenIDMetadataURL,
				ChannelIssuer:     publicChannelIssuer,
			},
			loginTenant:           publicLoginTenant,
			tokenExchangeAudience: publicTokenExchangeAudience,
		}
	}
}

// fillFrom sets every empty endpoint to the cloud's default.
func (e *Endpoints) fillFrom(d Endpoints) {
	if e.AuthorityHost == "" {
		e.AuthorityHost = d.AuthorityHost
	}
	if e.TokenScope == "" {
		e.TokenScope = d.TokenScope
	}
	if e.OpenIDMetadataURL == "" {
		e.OpenIDMetadataURL = d.OpenIDMetadataURL
	}
	if e.ChannelIssuer == "" {
		e.ChannelIssuer = d.ChannelIssuer
	}
}

// DefaultEndpoints returns the cloud's default endpoints: what a setting
// that was overridden would have been (doctor compares against them).
func (c Cloud) DefaultEndpoints() Endpoints { return defaultsFor(c).Endpoints }
