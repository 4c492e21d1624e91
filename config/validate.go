package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/botsidecar/sidecar/internal/guid"
)

// Variable names used by the checks that span several variables.
const (
	varAppType       = "MicrosoftAppType"
	varTenantID      = "MicrosoftAppTenantId"
	varAppPassword   = "MicrosoftAppPassword"
	varSecretFile    = "SIDECAR_CLIENT_SECRET_FILE"
	varCertFile      = "SIDECAR_CLIENT_CERT_FILE"
	varFederatedFile = "AZURE_FEDERATED_TOKEN_FILE"
	varFederatedMI   = "SIDECAR_FEDERATED_MANAGED_IDENTITY_CLIENT_ID"
	varOutboundAddr  = "SIDECAR_OUTBOUND_ADDR"
	varOutboundURL   = "SIDECAR_OUTBOUND_URL"
	varBotURL        = "SIDECAR_BOT_URL"
	varAppID         = "MicrosoftAppId"
	varKeyFile       = "SIDECAR_CLIENT_KEY_FILE"
	varCertPassword  = "SIDECAR_CLIENT_CERT_PASSWORD"
	varSendX5C       = "SIDECAR_CLIENT_CERT_SEND_X5C"
	varTokenScope    = "SIDECAR_TOKEN_SCOPE"
	varTrusted       = "SIDECAR_TRUSTED_SERVICE_URLS"

	varOutboundNonLoopback = "SIDECAR_OUTBOUND_NON_LOOPBACK_I_UNDERSTAND"
	varTrustSharedHosts    = "SIDECAR_TRUST_SHARED_HOSTS_I_UNDERSTAND"
	credentialsList        = "MicrosoftAppPassword (or CLIENT_SECRET), SIDECAR_CLIENT_SECRET_FILE, SIDECAR_CLIENT_CERT_FILE, AZURE_FEDERATED_TOKEN_FILE or SIDECAR_FEDERATED_MANAGED_IDENTITY_CLIENT_ID"
)

func parseBool(s string) (any, error) {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return nil, errors.New("not true or false")
	}
	return b, nil
}

func parseInt(s string) (any, error) {
	n, err := strconv.Atoi(s)
	if err != nil {
		return nil, errors.New("not a whole number")
	}
	return n, nil
}

// check validates and normalises what env parsed. It skips a variable
// whose parse already failed, and checks that depend on it.
func (l *loader) check(c *Config, agents agentsEnv) {
	l.checkEndpoints(c)
	top := l.raw[varAppID] != ""
	switch {
	case top || !agents.any():
		l.checkTopIdentity(c)
	default:
		l.ignoreTopIdentity()
	}
	l.checkAgents(c, agents, top)
	if c.TenantID == "" && c.AppType == AppTypeMultiTenant && c.AcceptEntraTokens {
		l.fail("SIDECAR_ACCEPT_ENTRA_TOKENS", "needs MicrosoftAppTenantId, the tenant whose tokens to accept")
	}
	l.checkWebhookAuthorityHost(c)

	l.addr("SIDECAR_INBOUND_ADDR", c.InboundAddr)
	l.outboundAddr(varOutboundAddr, c.OutboundAddr, c.OutboundNonLoopback)
	l.addr("SIDECAR_ADMIN_ADDR", c.AdminAddr)
	c.AdminReferences = l.oneOf("SIDECAR_ADMIN_REFERENCES", c.AdminReferences, "loopback", "all", "off")
	l.checkAuthSidecar(c)
	l.url(varBotURL, c.BotURL, urlRule{http: true})
	c.OutboundURL = l.outboundURL(varOutboundURL, c.OutboundURL)
	if c.DefaultServiceURL != "" {
		// A token is attached to calls sent here, so https only.
		l.url("SIDECAR_DEFAULT_SERVICE_URL", c.DefaultServiceURL, urlRule{noQuery: true})
	}
	var trusted []string
	for _, s := range c.TrustedServiceURLs {
		if s = strings.ToLower(strings.TrimSpace(s)); s != "" {
			trusted = append(trusted, s)
		}
	}
	c.TrustedServiceURLs = trusted
	c.EntraTokenAppIDs = l.guids("SIDECAR_ENTRA_TOKEN_APP_IDS", c.EntraTokenAppIDs)
	if len(c.EntraTokenAppIDs) > 0 && !c.AcceptEntraTokens && !l.failed["SIDECAR_ENTRA_TOKEN_APP_IDS"] {
		// Alone it would be ignored: whoever set it expects those apps'
		// tokens to be accepted.
		l.fail("SIDECAR_ENTRA_TOKEN_APP_IDS", "has no effect without SIDECAR_ACCEPT_ENTRA_TOKENS=true; set that too, or unset this")
	}
	for i, entry := range trusted {
		l.trustEntry(i+1, entry, c.TrustSharedHosts)
	}

	l.positive("SIDECAR_REFERENCE_CACHE_SIZE", c.ReferenceCacheSize > 0)
	l.positive("SIDECAR_REFERENCE_TTL", c.ReferenceTTL > 0)
	l.positive("SIDECAR_BOT_TIMEOUT", c.BotTimeout > 0)
	l.positive("SIDECAR_MAX_BODY_BYTES", c.MaxBodyBytes > 0)
	l.positive("SIDECAR_PACING_REPLICAS", c.PacingReplicas > 0)
	if !l.failed["SIDECAR_PACING_MARGIN"] && c.PacingMargin < 0 {
		l.fail("SIDECAR_PACING_MARGIN", "must not be negative")
	}
	if !l.failed["SIDECAR_SHUTDOWN_GRACE"] && c.ShutdownGrace < 0 {
		l.fail("SIDECAR_SHUTDOWN_GRACE", "must not be negative")
	}
	c.LogLevel = l.oneOf("SIDECAR_LOG_LEVEL", c.LogLevel, "debug", "info", "warn", "error")
	c.LogFormat = l.oneOf("SIDECAR_LOG_FORMAT", c.LogFormat, "json", "console")
}

// outboundAddr checks an outbound listener address: it must be loopback
// unless nonLoopback.
func (l *loader) outboundAddr(name, addr string, nonLoopback bool) {
	if l.addr(name, addr) && !nonLoopback && !loopbackAddr(addr) {
		l.fail(name, "listens beyond loopback: the outbound listener has no authentication and sends "+
			"whatever reaches it with the bot's token, so anyone who can connect acts as the bot. "+
			"Use 127.0.0.1:3979 (the bot in the same pod or host), or set "+varOutboundNonLoopback+"=true "+
			"when the bot runs elsewhere and only it can reach this address")
	}
}

// outboundURL checks the serviceUrl a bot sees and returns it ending in
// exactly one "/": the bot's SDK appends "v3/conversations/…" to it, some
// SDKs with their own "/", some without.
func (l *loader) outboundURL(name, s string) string {
	if _, ok := l.url(name, s, urlRule{http: true, noQuery: true}); ok {
		return strings.TrimRight(s, "/") + "/"
	}
	return s
}

// identityNames names, for the checks one identity shares with the
// others, the variables behind its settings as messages show them: the
// top-level ones (MicrosoftAppId…) or a connection's
// (Connections__<name>__Settings__…).
type identityNames struct {
	appID string
	// tenant is the tenant variable fail looks up; tenantShown names it
	// in a "required" problem, with its alias, and tenantHint says what
	// to set when another setting needs a tenant.
	tenant, tenantShown, tenantHint string
	// kind is the setting a tenant is required for, like
	// "MicrosoftAppType=SingleTenant".
	kind string
	// appType is the variable whose value says the identity takes no
	// credential (a managed identity).
	appType string
	// credentials lists, per credential setting that is set, the names
	// it is set under.
	credentials [][]string
	// accepted lists the credentials to choose from.
	accepted string
	// prefix starts a problem that names no single variable, so that it
	// says which connection it is about.
	prefix string
	// federatedTokenClientID and federatedMI name the identity a
	// federated token file was issued for and the managed identity used
	// as a federated credential.
	federatedTokenClientID, federatedMI string
}

// checkTopIdentity checks the identity of the top-level variables.
func (l *loader) checkTopIdentity(c *Config) {
	if c.AppID == "" {
		l.required(varAppID)
	}
	n := identityNames{
		appID:                  varAppID,
		tenant:                 varTenantID,
		tenantShown:            varTenantID + " (or TENANT_ID)",
		tenantHint:             varTenantID + " (or AZURE_TENANT_ID)",
		kind:                   "MicrosoftAppType=" + string(c.AppType),
		appType:                varAppType,
		accepted:               credentialsList,
		federatedTokenClientID: varAzureClientID,
		federatedMI:            varFederatedMI,
	}
	for _, name := range []string{varAppPassword, varSecretFile, varCertFile, varFederatedFile, varFederatedMI} {
		if names := l.present[name]; len(names) > 0 {
			n.credentials = append(n.credentials, names)
		}
	}
	for _, name := range []string{varKeyFile, varCertPassword, varSendX5C} {
		if len(l.present[name]) > 0 && c.ClientCertFile == "" {
			l.fail(name, "applies to a certificate only; set "+varCertFile+" or unset "+name)
		}
	}
	id := c.Primary()
	l.checkTenant(id, n)
	if !l.failed[varAppType] {
		l.checkCredentialCount(id, n)
	}
	l.checkFederatedIDs(&id, n)
	c.FederatedTokenClientID, c.FederatedManagedIdentity = id.FederatedTokenClientID, id.FederatedManagedIdentity
}

// checkTenant checks the tenant's syntax and that there is one where the
// identity needs it.
func (l *loader) checkTenant(id Identity, n identityNames) {
	if id.TenantID != "" && strings.Trim(id.TenantID, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") != "" {
		// It becomes a path segment of the authority URL.
		l.fail(n.tenant, "not a tenant id (a GUID) or domain name")
	}
	if id.TenantID == "" && id.AppType != AppTypeMultiTenant && !l.failed[n.tenant] && !l.failed[n.appType] {
		l.add(n.tenant, Problem{Variable: n.tenantShown, Reason: "required for " + n.kind})
	}
}

// checkCredentialCount counts the credentials that are set, as
// ghostunnel's validateServerCredentials does, and names them (never
// their values).
func (l *loader) checkCredentialCount(id Identity, n identityNames) {
	var set []string
	for _, names := range n.credentials {
		set = append(set, names...)
	}
	managed := id.AppType == AppTypeUserAssignedMSI || id.AppType == AppTypeSystemAssignedMSI
	switch {
	case managed && len(set) > 0:
		// The managed identity is the credential.
		l.fail(n.appType, "takes no secret; unset "+strings.Join(set, ", "))
	case managed:
	case len(n.credentials) == 0:
		l.add("", Problem{Reason: n.prefix + "no credential is set; set one of " + n.accepted})
	case len(n.credentials) > 1:
		l.add("", Problem{
			Reason: n.prefix + "more than one credential is set (" + strings.Join(set, ", ") + "); keep exactly one of " + n.accepted,
		})
	}
}

func (l *loader) checkEndpoints(c *Config) {
	c.fillFrom(defaultsFor(c.Cloud).Endpoints)
	const host = varAuthorityHost
	// https only, even on loopback: MSAL refuses any other authority scheme.
	if u, ok := l.url(host, c.AuthorityHost, urlRule{noQuery: true}); ok {
		if strings.Trim(u.Path, "/") != "" {
			l.fail(host, "has a path; give the scheme and host only, the tenant is added from MicrosoftAppTenantId")
		}
		c.AuthorityHost = strings.TrimRight(c.AuthorityHost, "/")
	}
	c.TokenScope = l.tokenScope(varTokenScope, c.TokenScope)
	l.url("SIDECAR_OPENID_METADATA_URL", c.OpenIDMetadataURL, urlRule{loopbackHTTP: true})
	l.url("SIDECAR_CHANNEL_ISSUER", c.ChannelIssuer, urlRule{loopbackHTTP: true, noQuery: true})
}

// tokenScope checks the scope of an outbound token and returns it ending
// in "/.default": the SDKs' ToChannelFromBotOAuthScope is the resource,
// and they append "/.default", which the client-credentials grant requires.
func (l *loader) tokenScope(name, s string) string {
	if _, ok := l.url(name, s, urlRule{loopbackHTTP: true, noQuery: true}); ok && !strings.HasSuffix(s, "/.default") {
		return strings.TrimRight(s, "/") + "/.default"
	}
	return s
}

// urlRule says which URLs a setting accepts beyond an absolute https URL
// with a host and without user info or fragment.
type urlRule struct {
	http         bool // plain http to any host (the bot, on its own network)
	loopbackHTTP bool // plain http to a loopback host (test fakes)
	noQuery      bool
}

func (l *loader) url(name, s string, r urlRule) (*url.URL, bool) {
	if l.failed[name] {
		return nil, false
	}
	u, err := url.Parse(s)
	var reason string
	switch {
	case err != nil || !u.IsAbs() || u.Opaque != "" || u.Hostname() == "":
		reason = "not an absolute URL like https://host/path"
	case u.Scheme == "http" && (r.http || r.loopbackHTTP && loopback(u.Hostname())):
	case u.Scheme != "https" && r.http:
		reason = "not an http or https URL"
	case u.Scheme != "https" && r.loopbackHTTP:
		reason = "not an https URL (http is allowed only for 127.0.0.1, ::1 or localhost)"
	case u.Scheme != "https":
		reason = "not an https URL"
	}
	switch {
	case reason != "":
	case u.User != nil:
		// Credentials in a URL end up in logs.
		reason = "has user info; this URL takes no credentials"
	case u.Fragment != "" || strings.HasSuffix(s, "#"):
		reason = "has a fragment"
	case r.noQuery && (u.RawQuery != "" || u.ForceQuery):
		reason = "has a query"
	}
	if reason != "" {
		l.fail(name, reason)
		return nil, false
	}
	return u, true
}

func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// addr checks a listener address and reports whether it is good.
func (l *loader) addr(name, s string) bool {
	if l.failed[name] {
		return false
	}
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		l.fail(name, "not host:port, like :3978 or 127.0.0.1:3979")
		return false
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		l.fail(name, "port is not a number from 0 to 65535")
		return false
	}
	return true
}

// loopbackAddr reports whether a listener on addr accepts loopback
// connections only. An empty host (":3979") listens on every interface; a
// host name other than localhost is not resolved here (Load does no I/O) and
// counts as not loopback.
func loopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	return err == nil && host != "" && loopback(host)
}

// trustEntry checks the n-th SIDECAR_TRUSTED_SERVICE_URLS entry (trimmed,
// lower-cased). The entry is not echoed unless it passed the syntax check:
// a secret pasted into the list must not be printed. A wildcard over a
// domain where anyone can rent a name is refused unless allowShared.
func (l *loader) trustEntry(n int, entry string, allowShared bool) {
	hostport := entry
	if _, rest, ok := strings.Cut(hostport, "://"); ok {
		hostport = rest
	}
	hostport, _, _ = strings.Cut(hostport, "/")
	if strings.Contains(hostport, "@") {
		l.add(varTrusted, Problem{Variable: varTrusted, Reason: fmt.Sprintf("entry %d has user info; give host, host:port or *.domain, without credentials", n)})
		return
	}
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	if host == "" || strings.Trim(hostport, "abcdefghijklmnopqrstuvwxyz0123456789.-*:[]") != "" {
		l.add(varTrusted, Problem{Variable: varTrusted, Reason: fmt.Sprintf("entry %d is not host, host:port or *.domain", n)})
		return
	}
	suffix, ok := strings.CutPrefix(host, "*.")
	if !ok || allowShared {
		return
	}
	if why := sharedWildcard(strings.TrimSuffix(suffix, ".")); why != "" {
		l.add(varTrusted, Problem{Variable: varTrusted, Reason: fmt.Sprintf(
			"entry %q would send the bot's token to hosts that strangers control: %s. "+
				"Trust your connector's own host instead (such as myconnector.%s), or set %s=true",
			host, why, strings.TrimSuffix(suffix, "."), varTrustSharedHosts)})
	}
}

// guids trims and lower-cases a comma-separated list of GUIDs, dropping
// empty entries; a bad entry is named by its position in the list.
func (l *loader) guids(name string, list []string) []string {
	var out []string
	for i, s := range list {
		s = strings.ToLower(strings.TrimSpace(s))
		if s == "" {
			continue
		}
		if !guid.Is(s) {
			l.fail(name, "entry "+strconv.Itoa(i+1)+" is not an app id (a GUID like 00000000-0000-0000-0000-000000000000)")
			continue
		}
		out = append(out, s)
	}
	return out
}

func (l *loader) positive(name string, ok bool) {
	if !ok && !l.failed[name] {
		l.fail(name, "must be more than 0")
	}
}

// oneOf returns s lower-cased when it is one of allowed.
func (l *loader) oneOf(name, s string, allowed ...string) string {
	v := strings.ToLower(s)
	if !slices.Contains(allowed, v) {
		l.fail(name, "not one of "+strings.Join(allowed, ", "))
	}
	return v
}
