package config

import (
	"errors"
	"regexp"
	"strings"
)

// AppType is MicrosoftAppType: how the bot's Entra app gets its token.
type AppType string

// The app types, spelled as the Bot Framework SDKs and Azure Bot resources
// spell them.
const (
	// AppTypeSingleTenant takes tokens from the bot's own tenant
	// (MicrosoftAppTenantId). The sidecar's default (the SDKs default to
	// MultiTenant).
	AppTypeSingleTenant AppType = "SingleTenant"
	// AppTypeMultiTenant takes tokens from the cloud's Bot Framework tenant.
	AppTypeMultiTenant AppType = "MultiTenant"
	// AppTypeUserAssignedMSI takes tokens from the managed identity whose
	// client id is MicrosoftAppId; it has no secret.
	AppTypeUserAssignedMSI AppType = "UserAssignedMSI"
	// AppTypeSystemAssignedMSI takes tokens from the system-assigned
	// managed identity of the host; its client id is the AppID. Only an
	// Agents SDK connection (AuthType=SystemManagedIdentity) has it:
	// MicrosoftAppType has no such value.
	AppTypeSystemAssignedMSI AppType = "SystemAssignedMSI"

	appTypesAccepted = "SingleTenant, MultiTenant or UserAssignedMSI"
)

// UnmarshalText accepts an app type in any case, as the SDKs do
// (botbuilder-dotnet parses the enum ignoring case, which is how
// "UserAssignedMsi" arises). Unlike the SDKs, which fall back to
// MultiTenant, an unknown value is an error: a typo must not change which
// tenant tokens come from.
func (t *AppType) UnmarshalText(text []byte) error {
	for _, v := range []AppType{AppTypeSingleTenant, AppTypeMultiTenant, AppTypeUserAssignedMSI} {
		if strings.EqualFold(string(text), string(v)) {
			*t = v
			return nil
		}
	}
	return errors.New("not an app type; use " + appTypesAccepted)
}

// CredentialKind says which credential proves the bot's identity.
// The zero value means none, which Load never returns.
type CredentialKind int

// The credential kinds; exactly one is configured.
const (
	// CredentialSecret is MicrosoftAppPassword (or CLIENT_SECRET).
	CredentialSecret CredentialKind = iota + 1
	// CredentialSecretFile is a secret read from SIDECAR_CLIENT_SECRET_FILE.
	CredentialSecretFile
	// CredentialCertFile is a PEM certificate and key in SIDECAR_CLIENT_CERT_FILE.
	CredentialCertFile
	// CredentialFederatedFile is a client assertion read, and re-read as
	// kubelet rotates it, from AZURE_FEDERATED_TOKEN_FILE.
	CredentialFederatedFile
	// CredentialManagedIdentity is the user-assigned managed identity of
	// AppTypeUserAssignedMSI.
	CredentialManagedIdentity
	// CredentialFederatedManagedIdentity is a managed identity's token for
	// the cloud's token-exchange audience as the bot app's client
	// assertion (SIDECAR_FEDERATED_MANAGED_IDENTITY_CLIENT_ID).
	CredentialFederatedManagedIdentity
	// CredentialFederatedWorkloadIdentity is AZURE_FEDERATED_TOKEN_FILE
	// issued for another identity (AZURE_CLIENT_ID), whose token for the
	// token-exchange audience is the bot app's client assertion.
	CredentialFederatedWorkloadIdentity
	// CredentialSystemManagedIdentity is the system-assigned managed
	// identity of AppTypeSystemAssignedMSI.
	CredentialSystemManagedIdentity
)

// SystemAssigned is the value of SIDECAR_FEDERATED_MANAGED_IDENTITY_CLIENT_ID
// that selects the system-assigned managed identity (teams.ts spells its
// MANAGED_IDENTITY_CLIENT_ID the same way).
const SystemAssigned = "system"

// String names the kind for logs.
func (k CredentialKind) String() string {
	switch k {
	case CredentialSecret:
		return "client secret"
	case CredentialSecretFile:
		return "client secret file"
	case CredentialCertFile:
		return "client certificate file"
	case CredentialFederatedFile:
		return "federated token file"
	case CredentialManagedIdentity:
		return "managed identity"
	case CredentialFederatedManagedIdentity:
		return "managed identity as federated credential"
	case CredentialFederatedWorkloadIdentity:
		return "federated token file of a trusted identity"
	case CredentialSystemManagedIdentity:
		return "system-assigned managed identity"
	}
	return "none"
}

// Identity is one bot: its Entra app, how it proves who it is, and where
// its inbound activities go. The top-level variables (MicrosoftAppId and
// the rest) make one identity, the primary one (Config.Primary); the M365
// Agents SDK's connections (Connections__<name>__Settings__*) make one per
// connection (Config.Identities).
type Identity struct {
	// Name labels the identity in logs, metrics, /readyz and doctor: the
	// connection name, or PrimaryName. Never an id.
	Name string
	// AppID is the Entra app (client) id, and the managed identity's
	// client id for AppTypeUserAssignedMSI.
	AppID    string
	TenantID string
	AppType  AppType
	// The credential: exactly one of these is set (see Credential).
	AppPassword      Secret
	ClientSecretFile string
	// ClientCertFile is a PEM (certificate and key, or the certificate
	// only when ClientKeyFile is set) or a PKCS#12 file.
	ClientCertFile string
	// ClientKeyFile is the PEM private key of ClientCertFile, "" when the
	// certificate file holds it.
	ClientKeyFile string
	// ClientCertPassword decrypts a PKCS#12 ClientCertFile.
	ClientCertPassword Secret
	// SendX5C sends the certificate chain with each token request, which
	// subject-name/issuer authentication requires.
	SendX5C                  bool
	FederatedTokenFile       string
	FederatedTokenClientID   string
	FederatedManagedIdentity string

	// Cloud, AuthorityHost and TokenScope are where and for what the
	// identity's token is requested.
	Cloud         Cloud
	AuthorityHost string
	TokenScope    string
	// BotURL is where the identity's inbound activities are forwarded.
	BotURL string
	// OutboundAddr, when set, is a listener of the identity's own: its
	// bot sends there, and only its token is attached there. "" shares
	// the primary outbound listener (SIDECAR_OUTBOUND_ADDR).
	OutboundAddr string
	// OutboundURL is the serviceUrl the identity's bot sees, ending in
	// "/"; "" derives it from the listener.
	OutboundURL string
}

// PrimaryName names the identity of the top-level variables.
const PrimaryName = "default"

// Primary returns the identity the top-level variables configure, or,
// when only Agents SDK connections are set, the connection Load chose as
// the primary one (see agents.go), under its connection name.
func (c Config) Primary() Identity {
	name := c.primaryName
	if name == "" {
		name = PrimaryName
	}
	return Identity{
		Name:                     name,
		AppID:                    c.AppID,
		TenantID:                 c.TenantID,
		AppType:                  c.AppType,
		AppPassword:              c.AppPassword,
		ClientSecretFile:         c.ClientSecretFile,
		ClientCertFile:           c.ClientCertFile,
		ClientKeyFile:            c.ClientKeyFile,
		ClientCertPassword:       c.ClientCertPassword,
		SendX5C:                  c.ClientCertSendX5C,
		FederatedTokenFile:       c.FederatedTokenFile,
		FederatedTokenClientID:   c.FederatedTokenClientID,
		FederatedManagedIdentity: c.FederatedManagedIdentity,
		Cloud:                    c.Cloud,
		AuthorityHost:            c.AuthorityHost,
		TokenScope:               c.TokenScope,
		BotURL:                   c.BotURL,
		OutboundAddr:             c.OutboundAddr,
		OutboundURL:              c.OutboundURL,
	}
}

// Identities returns every configured identity once, each with its own
// Name, the primary one first: it serves the calls that neither a
// reference nor ConnectionsMap assigns.
func (c Config) Identities() []Identity {
	return append([]Identity{c.Primary()}, c.Connections...)
}

// ConnectionRule is one ConnectionsMap__<i> entry: calls to a matching
// serviceUrl (and audience) use the identity named Connection.
type ConnectionRule struct {
	// ServiceURL is a case-insensitive regular expression the call's
	// serviceUrl must match (unanchored, as the Agents SDKs test it);
	// "*" or "" matches any.
	ServiceURL string
	// Audience, when set, is the app id the call must be made for.
	Audience string
	// Connection names the identity.
	Connection string
	// re is ServiceURL compiled by Load.
	re *regexp.Regexp
}

// Matches reports whether a call to serviceURL for audience (an app id,
// or "" when the call names none) falls under r. A rule with an audience
// matches any audience when the call names none, as the Agents SDK's
// ConnectionManager.getTokenProvider does.
func (r ConnectionRule) Matches(serviceURL, audience string) bool {
	if r.Audience != "" && audience != "" && !strings.EqualFold(r.Audience, audience) {
		return false
	}
	if r.anyServiceURL() {
		return true
	}
	re := r.re
	if re == nil {
		// A rule built by hand rather than by Load.
		var err error
		if re, err = compileServiceURL(r.ServiceURL); err != nil {
			return false
		}
	}
	return re.MatchString(serviceURL)
}

// anyServiceURL reports whether r matches every serviceUrl.
func (r ConnectionRule) anyServiceURL() bool { return r.ServiceURL == "" || r.ServiceURL == "*" }

// compileServiceURL compiles a ConnectionsMap ServiceUrl as JavaScript's
// new RegExp(serviceUrl, 'i') does.
func compileServiceURL(s string) (*regexp.Regexp, error) { return regexp.Compile("(?i)" + s) }

// Credential returns the primary identity's credential.
func (c Config) Credential() CredentialKind { return c.Primary().Credential() }

// FederatedTokenIdentity is the primary identity's (see Identity.FederatedTokenIdentity).
func (c Config) FederatedTokenIdentity() string { return c.Primary().FederatedTokenIdentity() }

// TokenExchangeAudience is the primary identity's (see Identity.TokenExchangeAudience).
func (c Config) TokenExchangeAudience() string { return c.Primary().TokenExchangeAudience() }

// Authority is the primary identity's (see Identity.Authority).
func (c Config) Authority() string { return c.Primary().Authority() }

// Credential returns the configured credential. Load guarantees that
// exactly one is set, so the order here only matters for a hand-built
// Identity.
func (c Identity) Credential() CredentialKind {
	switch {
	case c.AppType == AppTypeUserAssignedMSI:
		return CredentialManagedIdentity
	case c.AppType == AppTypeSystemAssignedMSI:
		return CredentialSystemManagedIdentity
	case c.AppPassword != "":
		return CredentialSecret
	case c.ClientSecretFile != "":
		return CredentialSecretFile
	case c.ClientCertFile != "":
		return CredentialCertFile
	case c.FederatedTokenFile != "" && c.FederatedTokenIdentity() != "":
		return CredentialFederatedWorkloadIdentity
	case c.FederatedTokenFile != "":
		return CredentialFederatedFile
	case c.FederatedManagedIdentity != "":
		return CredentialFederatedManagedIdentity
	}
	return 0
}

// FederatedTokenIdentity returns the client id of the identity
// FederatedTokenFile was issued for when that is not the bot's app
// (AZURE_CLIENT_ID set, not MicrosoftAppId, and AZURE_FEDERATED_TOKEN_FILE set), else "".
func (c Identity) FederatedTokenIdentity() string {
	if c.FederatedTokenFile == "" || c.FederatedTokenClientID == "" || strings.EqualFold(c.FederatedTokenClientID, c.AppID) {
		return ""
	}
	return c.FederatedTokenClientID
}

// TokenExchangeAudience returns the cloud's audience for a token that
// another identity presents as the bot app's client assertion:
// api://AzureADTokenExchange, or its US Government or China variant.
func (c Identity) TokenExchangeAudience() string { return defaultsFor(c.Cloud).tokenExchangeAudience }

// TokenTenant returns the tenant the identity's tokens are issued in and
// the tenant a create or batch names by default: TenantID, or "" for a
// MultiTenant bot, whose tokens come from the cloud's Bot Framework tenant.
func (c Identity) TokenTenant() string {
	if c.AppType == AppTypeMultiTenant {
		return ""
	}
	return c.TenantID
}

// Authority returns the token authority, "{AuthorityHost}/{tenant}": the
// cloud's Bot Framework login tenant for a MultiTenant bot (botframework.com
// on the public cloud), TenantID otherwise. A managed identity does not use
// it for its token; it is still the tenant's authority, where the bot's own
// tenant publishes its keys.
func (c Identity) Authority() string {
	tenant := c.TenantID
	if c.AppType == AppTypeMultiTenant {
		tenant = defaultsFor(c.Cloud).loginTenant
	}
	return strings.TrimRight(c.AuthorityHost, "/") + "/" + tenant
}
