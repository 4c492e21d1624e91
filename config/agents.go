package config

import (
	"errors"
	"net"
	"reflect"
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"

	"github.com/botsidecar/sidecar/internal/guid"
)

// The M365 Agents SDK's configuration vocabulary, read as the SDKs read
// it so that an Agents SDK .env configures the sidecar unchanged:
//
//	Connections__<name>__Settings__<Setting>   one bot identity per <name>
//	ConnectionsMap__<i>__ServiceUrl|Audience|Connection   which identity serves a call
//
// As in @microsoft/agents-hosting (src/auth/authConfiguration.ts,
// connectionsEnv.process and envParser in settings.ts), the "Connections",
// "Settings" and "ConnectionsMap" words and the setting names match in any
// case, so CONNECTIONS__SERVICE_CONNECTION__SETTINGS__CLIENTID is the
// ClientId of the connection SERVICE_CONNECTION. Connection names match
// in any case too, as .NET's configuration keys do; the JS SDK keeps them
// as written. Underscores count: SERVICE_CONNECTION is not
// ServiceConnection, in the SDKs as here.
//
// Where the SDKs fall back silently (a typo in a setting name, a map rule
// naming no connection), Load refuses, naming the variable: a typo must not
// change which credential the bot uses.

// Setting names, spelled as the SDKs document them.
const (
	propAuthType           = "AuthType"
	propClientID           = "ClientId"
	propTenantID           = "TenantId"
	propClientSecret       = "ClientSecret"
	propCertPemFile        = "CertPemFile"
	propCertKeyFile        = "CertKeyFile"
	propSendX5C            = "SendX5C"
	propFederatedClientID  = "FederatedClientId"
	propFederatedTokenFile = "FederatedTokenFile"
	propAuthorityEndpoint  = "AuthorityEndpoint"
	propScopes             = "Scopes"
	// The sidecar's own settings, which the SDKs do not know.
	propBotURL       = "BotUrl"
	propOutboundAddr = "OutboundAddr"
	propOutboundURL  = "OutboundUrl"

	ruleServiceURL = "ServiceUrl"
	ruleAudience   = "Audience"
	ruleConnection = "Connection"
)

// The AuthType values (agents-hosting settings.ts AuthType; .NET
// Microsoft.Agents.Authentication.Msal Model/AuthTypes.cs).
const (
	authClientSecret           = "ClientSecret"
	authCertificate            = "Certificate"
	authCertificateSubjectName = "CertificateSubjectName"
	authUserManagedIdentity    = "UserManagedIdentity"
	authSystemManagedIdentity  = "SystemManagedIdentity"
	authFederatedCredentials   = "FederatedCredentials"
	authWorkloadIdentity       = "WorkloadIdentity"
)

// agentsDefaultConnection is the connection the SDKs use when no
// ConnectionsMap rule says otherwise: ServiceConnection in .NET's samples,
// serviceConnection in agents-hosting (settings.ts DEFAULT_CONNECTION).
const agentsDefaultConnection = "ServiceConnection"

// agentsProp is one Connections__<name>__Settings__<Setting>.
type agentsProp struct {
	name string
	// aliases are the deprecated spellings the SDKs still read
	// (authConfiguration.ts connectionsEnv.parser redirects them).
	aliases []string
	// show is how a problem shows the value: "word", "url", or "" (its
	// length only); a secret is never shown.
	show   string
	secret bool
}

func agentsProps() []agentsProp {
	return []agentsProp{
		{name: propAuthType, show: "word"},
		{name: propClientID},
		{name: propTenantID},
		{name: propClientSecret, secret: true},
		{name: propCertPemFile},
		{name: propCertKeyFile},
		{name: propSendX5C, show: "word"},
		{name: propFederatedClientID, aliases: []string{"FICClientId"}},
		{name: propFederatedTokenFile, aliases: []string{"WIDAssertionFile"}},
		{name: propAuthorityEndpoint, aliases: []string{"Authority"}, show: "url"},
		{name: propScopes, aliases: []string{"Scope"}, show: "url"},
		{name: propBotURL, show: "url"},
		{name: propOutboundAddr, show: "word"},
		{name: propOutboundURL, show: "url"},
	}
}

// agentsIgnoredProps are settings the SDKs read that do not concern the
// sidecar's token for the Bot Connector: accepted, and not used.
func agentsIgnoredProps() []string {
	return []string{
		"ConnectionName", "AzureRegion", "RegionalAuthority", "Issuers", "ValidateIssuer",
		"MsalRetryCount", "RequestTimeout", "RetryCount", "AltBlueprintConnectionName",
		"AlternateBlueprintConnectionName", "ValidCertificateOnly", "IdpmResource",
		"SidecarBaseUrl", "ServiceName", "BlueprintServiceName", "BypassLocalNetworkRestriction",
	}
}

// agentsLegacyProps are the top-level names agents-hosting reads when no
// Connections__ variable is set (authConfiguration.ts legacyPrefixEnv,
// matched in any case): one connection, named serviceConnection.
func agentsLegacyProps() []string {
	return []string{
		"clientId", "tenantId", "clientSecret", "certPemFile", "certKeyFile", "FICClientId",
		"authorityEndpoint", "scope", "WIDAssertionFile", "sendX5C", "authType", "federatedTokenFile",
	}
}

// agentsSetting is one variable as set.
type agentsSetting struct {
	variable, value string
}

// agentsConn is one connection's variables.
type agentsConn struct {
	// name is the connection name as first spelled (in sorted variable order).
	name string
	// settings maps a setting's name (agentsProp.name) to every variable
	// that set it: an alias and the name, or the name in two cases.
	settings map[string][]agentsSetting
	// legacy marks the connection of agentsLegacyProps.
	legacy bool
}

// agentsRule is one ConnectionsMap__<i>'s variables.
type agentsRule struct {
	index    int
	settings map[string][]agentsSetting
}

// agentsEnv is what readAgents found.
type agentsEnv struct {
	conns []*agentsConn
	rules []*agentsRule
	// webhook holds the Azure Workload Identity webhook's variables, which
	// a WorkloadIdentity connection without a token file uses.
	webhook struct{ file, clientID, tenant string }
}

func (a agentsEnv) any() bool { return len(a.conns) > 0 }

// readAgents collects the Agents SDK variables of environ, reporting the
// names it cannot read.
func (l *loader) readAgents(environ map[string]string) agentsEnv {
	keys := make([]string, 0, len(environ))
	for k := range environ {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var out agentsEnv
	out.webhook.file = strings.TrimSpace(environ[varFederatedFile])
	out.webhook.clientID = strings.TrimSpace(environ[varAzureClientID])
	out.webhook.tenant = strings.TrimSpace(environ["AZURE_TENANT_ID"])
	conns := map[string]*agentsConn{}
	rules := map[int]*agentsRule{}
	for _, k := range keys {
		val := strings.TrimSpace(environ[k])
		if val == "" {
			continue
		}
		parts := strings.Split(k, "__")
		switch {
		case len(parts) >= 3 && strings.EqualFold(parts[0], "Connections") && strings.EqualFold(parts[2], "Settings"):
			// Connections__<name>__Assembly and __Type are .NET's
			// provider selection, outside Settings: not read.
			l.readConnSetting(k, parts, val, conns, &out)
		case strings.EqualFold(parts[0], "ConnectionsMap"):
			l.readRuleSetting(k, parts, val, rules)
		}
	}
	if len(out.conns) == 0 {
		if c := l.readLegacy(keys, environ); c != nil {
			out.conns = append(out.conns, c)
		}
	}
	slices.SortFunc(out.conns, func(a, b *agentsConn) int {
		return strings.Compare(strings.ToLower(a.name), strings.ToLower(b.name))
	})
	for _, r := range rules {
		out.rules = append(out.rules, r)
	}
	slices.SortFunc(out.rules, func(a, b *agentsRule) int { return a.index - b.index })
	return out
}

func (l *loader) readConnSetting(k string, parts []string, val string, conns map[string]*agentsConn, out *agentsEnv) {
	const format = "not Connections__<name>__Settings__<Setting>"
	name := parts[1]
	if strings.TrimSpace(name) == "" {
		l.add(k, Problem{Variable: k, Reason: format + ": the connection name is empty"})
		return
	}
	propName := ""
	switch {
	case len(parts) == 4:
		propName = parts[3]
	case len(parts) == 5 && strings.EqualFold(parts[3], propScopes) && isDigits(parts[4]):
		// .NET's list form, Scopes__0.
		propName = propScopes
	default:
		l.add(k, Problem{Variable: k, Reason: format})
		return
	}
	p, ok := findAgentsProp(propName)
	if !ok {
		if slices.ContainsFunc(agentsIgnoredProps(), func(s string) bool { return strings.EqualFold(s, propName) }) {
			return
		}
		l.add(k, Problem{Variable: k, Reason: unsupportedProp(propName)})
		return
	}
	c := conns[strings.ToLower(name)]
	if c == nil {
		c = &agentsConn{name: name, settings: map[string][]agentsSetting{}}
		conns[strings.ToLower(name)] = c
		out.conns = append(out.conns, c)
	}
	l.setExtra(k, val, p)
	c.settings[p.name] = append(c.settings[p.name], agentsSetting{variable: k, value: val})
}

// unsupportedProp says why a connection setting is refused.
func unsupportedProp(name string) string {
	for _, s := range []string{"CertThumbprint", "CertSubjectName", "CertStoreName"} {
		if strings.EqualFold(s, name) {
			return "names a certificate in a Windows certificate store, which the sidecar cannot read; " +
				"give the certificate as files: CertPemFile (and CertKeyFile)"
		}
	}
	var names []string
	for _, p := range agentsProps() {
		names = append(names, p.name)
		names = append(names, p.aliases...)
	}
	return "not a connection setting the sidecar knows; use one of " + strings.Join(names, ", ")
}

func (l *loader) readRuleSetting(k string, parts []string, val string, rules map[int]*agentsRule) {
	const format = "not ConnectionsMap__<index>__ServiceUrl, __Audience or __Connection"
	if len(parts) != 3 || !isDigits(parts[1]) {
		l.add(k, Problem{Variable: k, Reason: format})
		return
	}
	prop := ""
	for _, p := range []string{ruleServiceURL, ruleAudience, ruleConnection} {
		if strings.EqualFold(p, parts[2]) {
			prop = p
		}
	}
	if prop == "" {
		l.add(k, Problem{Variable: k, Reason: format})
		return
	}
	i, err := strconv.Atoi(parts[1])
	if err != nil {
		l.add(k, Problem{Variable: k, Reason: format + ": the index is too large"})
		return
	}
	r := rules[i]
	if r == nil {
		r = &agentsRule{index: i, settings: map[string][]agentsSetting{}}
		rules[i] = r
	}
	show := "word"
	if prop == ruleServiceURL {
		show = "url"
	}
	l.extra[k] = extraVar{v: variable{typ: reflect.TypeFor[string](), show: show}, value: val}
	r.settings[prop] = append(r.settings[prop], agentsSetting{variable: k, value: val})
}

// readLegacy reads agentsLegacyProps, which form a connection only when
// clientId is set among them.
func (l *loader) readLegacy(keys []string, environ map[string]string) *agentsConn {
	c := &agentsConn{name: "serviceConnection", settings: map[string][]agentsSetting{}, legacy: true}
	for _, k := range keys {
		val := strings.TrimSpace(environ[k])
		if val == "" || !slices.ContainsFunc(agentsLegacyProps(), func(s string) bool { return strings.EqualFold(s, k) }) {
			continue
		}
		p, _ := findAgentsProp(k)
		l.setExtra(k, val, p)
		c.settings[p.name] = append(c.settings[p.name], agentsSetting{variable: k, value: val})
	}
	if len(c.settings[propClientID]) == 0 {
		return nil
	}
	return c
}

func findAgentsProp(name string) (agentsProp, bool) {
	for _, p := range agentsProps() {
		if strings.EqualFold(p.name, name) || slices.ContainsFunc(p.aliases, func(a string) bool { return strings.EqualFold(a, name) }) {
			return p, true
		}
	}
	return agentsProp{}, false
}

// setExtra records an Agents SDK variable for fail.
func (l *loader) setExtra(k, val string, p agentsProp) {
	typ := reflect.TypeFor[string]()
	if p.secret {
		typ = reflect.TypeFor[Secret]()
	}
	l.extra[k] = extraVar{v: variable{typ: typ, show: p.show}, value: val}
}

func isDigits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// one returns the setting of a connection or rule, reporting variables
// that set it to different values (never showing them). ok is false when
// it is unset.
func (l *loader) one(settings map[string][]agentsSetting, prop string) (agentsSetting, bool) {
	ss := settings[prop]
	if len(ss) == 0 {
		return agentsSetting{}, false
	}
	for _, s := range ss[1:] {
		if s.value != ss[0].value {
			l.add(ss[0].variable, Problem{Variable: ss[0].variable, Reason: "disagrees with " + s.variable +
				", which sets the same setting; keep one of the two"})
			break
		}
	}
	return ss[0], true
}

// variableFor names a connection's setting, as set or as it would be set.
func (c *agentsConn) variableFor(prop string) string {
	if ss := c.settings[prop]; len(ss) > 0 {
		return ss[0].variable
	}
	if c.legacy {
		for _, s := range agentsLegacyProps() {
			if strings.EqualFold(s, prop) {
				return s
			}
		}
	}
	return "Connections__" + c.name + "__Settings__" + prop
}

// credentialProps are the settings that are a connection's credential,
// each with the AuthType that uses it.
func credentialProps() []struct{ prop, authType string } {
	return []struct{ prop, authType string }{
		{propClientSecret, authClientSecret},
		{propCertPemFile, authCertificate},
		{propFederatedClientID, authFederatedCredentials},
		{propFederatedTokenFile, authWorkloadIdentity},
	}
}

// agentsAuthType reads or infers a connection's AuthType. When AuthType is
// unset it is inferred as agents-hosting's resolveAuthType (settings.ts)
// does, in its order: a workload identity token file, a federated client
// id, a client secret, a certificate, else the user-assigned managed
// identity ClientId. Unlike it, FederatedTokenFile infers
// WorkloadIdentity as its alias WIDAssertionFile does (the SDK reads both
// and infers from WIDAssertionFile only), and CertPemFile without
// CertKeyFile infers Certificate (the PEM may hold the key).
func (l *loader) agentsAuthType(c *agentsConn) (authType string, explicit bool) {
	if s, ok := l.one(c.settings, propAuthType); ok {
		for _, t := range []string{authClientSecret, authCertificate, authCertificateSubjectName, authUserManagedIdentity,
			authSystemManagedIdentity, authFederatedCredentials, authWorkloadIdentity} {
			if strings.EqualFold(t, s.value) {
				return t, true
			}
		}
		switch {
		case strings.EqualFold(s.value, "EntraAuthSideCar"):
			l.fail(s.variable, "makes the bot ask an Entra auth sidecar for its tokens; the sidecar itself needs the bot's credential: "+
				"use ClientSecret, Certificate, CertificateSubjectName, UserManagedIdentity, SystemManagedIdentity, FederatedCredentials or WorkloadIdentity")
		case strings.EqualFold(s.value, "IdentityProxyManager"):
			l.fail(s.variable, "is for agentic identities, which the sidecar does not serve; use another AuthType")
		default:
			l.fail(s.variable, "not an AuthType; use ClientSecret, Certificate, CertificateSubjectName, UserManagedIdentity, "+
				"SystemManagedIdentity, FederatedCredentials or WorkloadIdentity")
		}
		return "", true
	}
	has := func(p string) bool { return len(c.settings[p]) > 0 }
	switch {
	case has(propFederatedTokenFile):
		return authWorkloadIdentity, false
	case has(propFederatedClientID):
		return authFederatedCredentials, false
	case has(propClientSecret):
		return authClientSecret, false
	case has(propCertPemFile):
		return authCertificate, false
	case has(propCertKeyFile):
		name := c.variableFor(propCertKeyFile)
		l.add(name, Problem{Variable: name, Reason: "is set without " + c.variableFor(propCertPemFile) + ", the certificate it is the key of"})
		return "", false
	}
	return authUserManagedIdentity, false
}

// agentsIdentity maps a connection to an Identity (docs/configuration.md,
// "M365 Agents SDK connections", has the table) and checks it as the
// top-level identity is checked.
func (l *loader) agentsIdentity(c *Config, conn *agentsConn, agents agentsEnv) Identity {
	id := Identity{
		Name:          conn.name,
		AppType:       AppTypeSingleTenant,
		Cloud:         c.Cloud,
		AuthorityHost: c.AuthorityHost,
		TokenScope:    c.TokenScope,
		BotURL:        c.BotURL,
	}
	if strings.Trim(conn.name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") != "" {
		name := "Connections__" + conn.name + "__Settings__*"
		l.add(name, Problem{Variable: name, Reason: "the connection name may hold letters, digits, '-', '_' and '.' only: it labels metrics and logs"})
	}
	get := func(prop string) string {
		s, _ := l.one(conn.settings, prop)
		return s.value
	}
	idVar := conn.variableFor(propClientID)
	switch id.AppID = get(propClientID); {
	case id.AppID == "":
		l.add(idVar, Problem{Variable: idVar, Reason: "required but not set: the connection's Entra app (client) id"})
	case !guid.Is(strings.ToLower(id.AppID)):
		l.fail(idVar, "not an app (client) id (a GUID like 00000000-0000-0000-0000-000000000000)")
	}

	authType, explicit := l.agentsAuthType(conn)
	typeVar := conn.variableFor(propAuthType)
	n := identityNames{
		appID:                  idVar,
		tenant:                 conn.variableFor(propTenantID),
		tenantShown:            conn.variableFor(propTenantID) + " (or a tenant in " + conn.variableFor(propAuthorityEndpoint) + ")",
		kind:                   "AuthType=" + authType,
		appType:                typeVar,
		prefix:                 "connection " + conn.name + ": ",
		federatedTokenClientID: varAzureClientID,
		federatedMI:            conn.variableFor(propFederatedClientID),
	}
	n.tenantHint = n.tenantShown
	uses := ""
	for _, cp := range credentialProps() {
		if cp.authType == authType || cp.authType == authCertificate && authType == authCertificateSubjectName {
			uses = cp.prop
		}
		var names []string
		for _, s := range conn.settings[cp.prop] {
			names = append(names, s.variable)
		}
		if cp.prop == propCertPemFile {
			for _, s := range conn.settings[propCertKeyFile] {
				names = append(names, s.variable)
			}
		}
		if len(names) > 0 {
			n.credentials = append(n.credentials, names)
		}
	}

	webhook := false
	switch authType {
	case authClientSecret:
		id.AppPassword = Secret(get(propClientSecret))
	case authCertificate, authCertificateSubjectName:
		id.ClientCertFile, id.ClientKeyFile = get(propCertPemFile), get(propCertKeyFile)
		if s, ok := l.one(conn.settings, propSendX5C); ok {
			b, err := strconv.ParseBool(s.value)
			switch {
			case err != nil:
				l.fail(s.variable, "not true or false")
			case !b && authType == authCertificateSubjectName:
				l.fail(s.variable, "is false, but AuthType=CertificateSubjectName authenticates by subject name and issuer, "+
					"which needs the certificate chain sent (x5c); unset it")
			}
			id.SendX5C = b
		}
		if authType == authCertificateSubjectName {
			id.SendX5C = true
		}
	case authUserManagedIdentity:
		id.AppType = AppTypeUserAssignedMSI
	case authSystemManagedIdentity:
		id.AppType = AppTypeSystemAssignedMSI
	case authFederatedCredentials:
		id.FederatedManagedIdentity = get(propFederatedClientID)
	case authWorkloadIdentity:
		if id.FederatedTokenFile = get(propFederatedTokenFile); id.FederatedTokenFile == "" {
			// The file the Azure Workload Identity webhook mounts.
			id.FederatedTokenFile = agents.webhook.file
		}
		if webhook = id.FederatedTokenFile != "" && id.FederatedTokenFile == agents.webhook.file; webhook {
			// The webhook's AZURE_CLIENT_ID says whom its file is for.
			id.FederatedTokenClientID = agents.webhook.clientID
		}
	}

	// Which credential is set, against the AuthType.
	switch {
	case authType == "" || !explicit:
		// Inferred as the SDK infers it, which also picks among several
		// credentials: an .env the SDK runs with runs here.
	case uses == "":
		// A managed identity: no other credential.
		l.checkCredentialCount(id, n)
	default:
		for _, names := range n.credentials {
			if p := conn.settingOf(names[0]); p != uses && (uses != propCertPemFile || p != propCertKeyFile) {
				l.add(names[0], Problem{Variable: names[0], Reason: "is set, but " + typeVar + "=" + authType +
					" does not use it; unset it, or set " + typeVar + " to the AuthType it is for"})
			}
		}
		if len(conn.settings[uses]) == 0 && id.FederatedTokenFile == "" {
			v := conn.variableFor(uses)
			reason := "required for " + typeVar + "=" + authType
			if uses == propFederatedTokenFile {
				reason += " (or the Azure Workload Identity webhook's " + varFederatedFile + ")"
			}
			l.add(v, Problem{Variable: v, Reason: reason})
		}
	}

	webhookTenant := ""
	if webhook {
		webhookTenant = agents.webhook.tenant
	}
	l.agentsTenant(c, conn, &id, webhookTenant)
	if scopes := l.agentsScopes(conn); len(scopes) > 1 {
		v := conn.variableFor(propScopes)
		l.add(v, Problem{Variable: v, Reason: "holds " + strconv.Itoa(len(scopes)) +
			" scopes; the sidecar gets one token per connection, for the Bot Connector: keep one"})
	} else if len(scopes) == 1 {
		id.TokenScope = l.tokenScope(conn.variableFor(propScopes), scopes[0])
	}
	if s, ok := l.one(conn.settings, propBotURL); ok {
		if _, good := l.url(s.variable, s.value, urlRule{http: true}); good {
			id.BotURL = s.value
		}
	}
	if s, ok := l.one(conn.settings, propOutboundAddr); ok {
		l.outboundAddr(s.variable, s.value, c.OutboundNonLoopback)
		id.OutboundAddr = s.value
	}
	if s, ok := l.one(conn.settings, propOutboundURL); ok {
		id.OutboundURL = l.outboundURL(s.variable, s.value)
	}
	l.checkTenant(id, n)
	l.checkFederatedIDs(&id, n)
	return id
}

// settingOf returns the setting name a variable of the connection sets.
func (c *agentsConn) settingOf(variable string) string {
	for prop, ss := range c.settings {
		for _, s := range ss {
			if s.variable == variable {
				return prop
			}
		}
	}
	return ""
}

// agentsTenant sets the identity's authority host, tenant and app type
// from TenantId and AuthorityEndpoint. AuthorityEndpoint is a login host,
// optionally followed by one path segment, the tenant, as agents-hosting's
// resolveAuthority (settings.ts) reads it: a tenant there and TenantId
// must agree, except that the cloud's Bot Framework tenant
// (botframework.com) there makes the connection multi-tenant, as .NET's
// samples write it. No tenant at all is multi-tenant too: the SDK then
// asks botframework.com.
// webhookTenant, the webhook's AZURE_TENANT_ID for a connection using
// its token file, stands in for an unset TenantId.
func (l *loader) agentsTenant(c *Config, conn *agentsConn, id *Identity, webhookTenant string) {
	tenant, _ := l.one(conn.settings, propTenantID)
	if tenant.value == "" {
		tenant.value = webhookTenant
	}
	authTenant := ""
	if s, ok := l.one(conn.settings, propAuthorityEndpoint); ok {
		if u, good := l.url(s.variable, s.value, urlRule{noQuery: true}); good {
			id.AuthorityHost, authTenant = u.Scheme+"://"+u.Host, strings.Trim(u.Path, "/")
			if strings.Contains(authTenant, "/") {
				l.fail(s.variable, "has more than a tenant after the host; give https://host or https://host/tenant")
				authTenant = ""
			}
		}
	}
	login := defaultsFor(c.Cloud).loginTenant
	managed := id.AppType == AppTypeUserAssignedMSI || id.AppType == AppTypeSystemAssignedMSI
	switch {
	case authTenant != "" && strings.EqualFold(authTenant, login) || authTenant == "" && tenant.value == "":
		if !managed {
			id.AppType = AppTypeMultiTenant
		}
		id.TenantID = tenant.value
	case authTenant != "" && tenant.value != "" && !strings.EqualFold(authTenant, tenant.value):
		l.add(tenant.variable, Problem{Variable: tenant.variable, Reason: "names another tenant than " +
			conn.variableFor(propAuthorityEndpoint) + "; unset one, or make the two agree"})
	case tenant.value != "":
		id.TenantID = tenant.value
	default:
		id.TenantID = authTenant
	}
}

// agentsScopes returns a connection's scopes: Scopes is a comma- or
// space-separated list, as agents-hosting parses it (authConfiguration.ts
// connectionsEnv.parser.issuers), or .NET's list Scopes__0, Scopes__1….
func (l *loader) agentsScopes(conn *agentsConn) []string {
	var out []string
	for _, s := range conn.settings[propScopes] {
		sep := strings.Fields
		if strings.Contains(s.value, ",") {
			sep = func(v string) []string { return strings.Split(v, ",") }
		}
		for _, scope := range sep(s.value) {
			if scope = strings.TrimSpace(scope); scope != "" && !slices.Contains(out, scope) {
				out = append(out, scope)
			}
		}
	}
	return out
}

// checkAgents builds the connections' identities and the connections map
// into c. With top-level identity variables set (top), they are the
// primary identity and the connections come besides; with connections
// only, one of them becomes the primary identity: the one a catch-all
// rule names (ServiceUrl * and no Audience, the SDK's
// ConnectionManager.getDefaultConnection), else ServiceConnection, else
// the only one.
func (l *loader) checkAgents(c *Config, agents agentsEnv, top bool) {
	conns := agents.conns
	if top && len(conns) == 1 && conns[0].legacy {
		// The same bot in both vocabularies: the top-level names win.
		if s, _ := l.one(conns[0].settings, propClientID); !strings.EqualFold(s.value, c.AppID) {
			l.add("", Problem{Reason: s.variable + " and " + l.from[varAppID] + " name different apps; " +
				"configure one bot at the top level, and any other as Connections__<name>__Settings__*"})
		}
		conns = nil
	}
	var ids []Identity
	for _, conn := range conns {
		ids = append(ids, l.agentsIdentity(c, conn, agents))
	}
	l.checkDistinct(c, conns, ids, top)
	names := make([]string, 0, len(ids)+1)
	if top {
		names = append(names, PrimaryName)
	}
	for _, id := range ids {
		names = append(names, id.Name)
	}
	rules := l.agentsRules(agents.rules, names)
	c.ConnectionsMap = rules
	if top || len(ids) == 0 {
		c.Connections = ids
		return
	}
	p := -1
	for _, r := range rules {
		if r.anyServiceURL() && r.Audience == "" {
			p = slices.IndexFunc(ids, func(id Identity) bool { return id.Name == r.Connection })
			break
		}
	}
	if p < 0 {
		p = slices.IndexFunc(ids, func(id Identity) bool { return strings.EqualFold(id.Name, agentsDefaultConnection) })
	}
	if p < 0 && len(ids) == 1 {
		p = 0
	}
	if p < 0 {
		l.add("", Problem{Reason: "several connections are set (" + strings.Join(names, ", ") + ") and none is the default: " +
			"add a rule ConnectionsMap__<i>__ServiceUrl=* with ConnectionsMap__<i>__Connection=<name>, or name one " + agentsDefaultConnection})
		return
	}
	c.setPrimary(l.asPrimary(conns[p], ids[p]))
	c.Connections = slices.Delete(ids, p, p+1)
}

// asPrimary completes a connection that becomes the primary identity: its
// outbound listener and URL are the top-level ones unless it sets its own.
func (l *loader) asPrimary(conn *agentsConn, id Identity) Identity {
	if id.OutboundAddr == "" || l.failed[conn.variableFor(propOutboundAddr)] {
		id.OutboundAddr = ""
	}
	if l.failed[conn.variableFor(propOutboundURL)] {
		id.OutboundURL = ""
	}
	if id.OutboundURL == "" && id.OutboundAddr != "" && l.raw[varOutboundURL] == "" {
		// What the bot must see for its own listener (checked above).
		host, port, _ := net.SplitHostPort(id.OutboundAddr)
		if host == "" {
			host = "127.0.0.1"
		}
		id.OutboundURL = "http://" + net.JoinHostPort(host, port) + "/"
	}
	return id
}

// setPrimary makes id the primary identity, whose settings the top-level
// fields hold; a setting id leaves empty keeps the top-level one.
func (c *Config) setPrimary(id Identity) {
	c.primaryName = id.Name
	c.AppID, c.TenantID, c.AppType = id.AppID, id.TenantID, id.AppType
	c.AppPassword, c.ClientSecretFile = id.AppPassword, id.ClientSecretFile
	c.ClientCertFile, c.ClientKeyFile, c.ClientCertPassword, c.ClientCertSendX5C = id.ClientCertFile, id.ClientKeyFile, id.ClientCertPassword, id.SendX5C
	c.FederatedTokenFile, c.FederatedTokenClientID, c.FederatedManagedIdentity = id.FederatedTokenFile, id.FederatedTokenClientID, id.FederatedManagedIdentity
	c.AuthorityHost, c.TokenScope, c.BotURL = id.AuthorityHost, id.TokenScope, id.BotURL
	if id.OutboundAddr != "" {
		c.OutboundAddr = id.OutboundAddr
	}
	if id.OutboundURL != "" {
		c.OutboundURL = id.OutboundURL
	}
}

// checkDistinct refuses two identities of one app, a connection named as
// the top-level identity, and two identities on one outbound listener.
func (l *loader) checkDistinct(c *Config, conns []*agentsConn, ids []Identity, top bool) {
	type seen struct{ variable, value string }
	var apps, addrs []seen
	if top {
		apps = append(apps, seen{l.from[varAppID], c.AppID})
		addrs = append(addrs, seen{varOutboundAddr, c.OutboundAddr})
	}
	for i, id := range ids {
		conn := conns[i]
		if top && strings.EqualFold(id.Name, PrimaryName) {
			name := "Connections__" + conn.name + "__Settings__*"
			l.add(name, Problem{Variable: name, Reason: "the connection name " + PrimaryName +
				" is the top-level identity's (" + varAppID + "); rename the connection"})
		}
		for _, s := range []struct {
			list  *[]seen
			prop  string
			value string
			what  string
		}{
			{&apps, propClientID, id.AppID, "name the same app; an app is one identity, configured once"},
			{&addrs, propOutboundAddr, id.OutboundAddr, "are the same listener; give each identity its own, or leave it unset to share " + varOutboundAddr},
		} {
			if s.value == "" {
				continue
			}
			v := conn.variableFor(s.prop)
			if j := slices.IndexFunc(*s.list, func(o seen) bool { return strings.EqualFold(o.value, s.value) }); j >= 0 {
				l.add("", Problem{Reason: (*s.list)[j].variable + " and " + v + " " + s.what})
			}
			*s.list = append(*s.list, seen{v, s.value})
		}
	}
}

// agentsRules builds the connections map in index order. A rule without
// ServiceUrl matches any, and one without Connection names
// serviceConnection, as agents-hosting fills a rule from
// DEFAULT_CONNECTION_MAP (settings.ts); names are the identities it may
// name.
func (l *loader) agentsRules(raw []*agentsRule, names []string) []ConnectionRule {
	var rules []ConnectionRule
	for _, r := range raw {
		var rule ConnectionRule
		conn, ok := l.one(r.settings, ruleConnection)
		if !ok {
			conn = agentsSetting{variable: "ConnectionsMap__" + strconv.Itoa(r.index) + "__Connection", value: agentsDefaultConnection}
		}
		if i := slices.IndexFunc(names, func(n string) bool { return strings.EqualFold(n, conn.value) }); i >= 0 {
			rule.Connection = names[i]
		} else {
			reason := "names no connection; the connections are " + strings.Join(names, ", ")
			if !ok {
				reason = "is unset, which means " + agentsDefaultConnection + ", and there is no such connection; the connections are " + strings.Join(names, ", ")
			}
			l.add(conn.variable, Problem{Variable: conn.variable, Reason: reason})
		}
		if s, ok := l.one(r.settings, ruleServiceURL); ok {
			rule.ServiceURL = s.value
			if !rule.anyServiceURL() {
				re, err := compileServiceURL(s.value)
				if err != nil {
					reason := "not a regular expression"
					var serr *syntax.Error
					if errors.As(err, &serr) {
						reason += ": " + serr.Code.String()
					}
					l.fail(s.variable, reason)
				}
				rule.re = re
			}
		}
		if s, ok := l.one(r.settings, ruleAudience); ok {
			rule.Audience = s.value
		}
		rules = append(rules, rule)
	}
	return rules
}

// ignoreTopIdentity refuses top-level identity variables set beside
// connections without MicrosoftAppId: they would configure no bot. The
// webhook's variables are left to the WorkloadIdentity connections.
func (l *loader) ignoreTopIdentity() {
	for _, name := range []string{varAppPassword, varTenantID, varAppType, varSecretFile, varCertFile, varKeyFile,
		varCertPassword, varSendX5C, varFederatedMI} {
		if len(l.present[name]) == 0 || strings.HasPrefix(l.from[name], "AZURE_") {
			continue
		}
		l.fail(name, "is set without "+varAppID+", beside M365 Agents SDK connections: set it on the connection "+
			"(Connections__<name>__Settings__*), or set "+varAppID+" for a top-level bot")
	}
}
