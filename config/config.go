package config

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"

	"github.com/botsidecar/sidecar/store"
)

// Config is the sidecar's configuration. Its tags are the variable table:
// env reads `env` and `envDefault`; `alias` and `usage` feed Variables,
// Flags and docs/configuration.md.
type Config struct {
	// Identity, named as Bot Framework bots already name it, with the Teams
	// SDK v2 names as aliases, so an existing .env works unchanged.

	// AppID is the bot's Entra app (client) id, and the client id of the
	// managed identity for AppTypeUserAssignedMSI.
	// Required unless M365 Agents SDK connections configure the bots.
	AppID string `env:"MicrosoftAppId" alias:"CLIENT_ID" usage:"the bot's Entra app (client) id; required unless M365 Agents SDK connections (Connections__<name>__Settings__*) are set"`
	// AppPassword is the client secret (CredentialSecret).
	AppPassword Secret `env:"MicrosoftAppPassword" alias:"CLIENT_SECRET" usage:"client secret"`
	// TenantID is the bot's tenant, required unless AppType is MultiTenant.
	TenantID string `env:"MicrosoftAppTenantId" alias:"TENANT_ID" usage:"the bot's tenant id; required for SingleTenant and UserAssignedMSI"`
	// AppType chooses the token's tenant and credential.
	AppType AppType `env:"MicrosoftAppType" envDefault:"SingleTenant" usage:"SingleTenant, MultiTenant or UserAssignedMSI"`
	// ClientSecretFile holds the client secret (CredentialSecretFile).
	ClientSecretFile string `env:"SIDECAR_CLIENT_SECRET_FILE" usage:"file holding the client secret (a mounted Kubernetes secret)"`
	// ClientCertFile is a PEM certificate and its key (CredentialCertFile).
	ClientCertFile string `env:"SIDECAR_CLIENT_CERT_FILE" usage:"certificate file: PEM (certificate and RSA key, or the certificate only with SIDECAR_CLIENT_KEY_FILE) or PKCS#12; re-read when it changes"`
	// ClientKeyFile is ClientCertFile's private key, when that file holds
	// the certificate only.
	ClientKeyFile string `env:"SIDECAR_CLIENT_KEY_FILE" usage:"with SIDECAR_CLIENT_CERT_FILE, a PEM file holding its private key when the certificate file has none"`
	// ClientCertPassword decrypts an encrypted key or PKCS#12 ClientCertFile.
	ClientCertPassword Secret `env:"SIDECAR_CLIENT_CERT_PASSWORD" usage:"with SIDECAR_CLIENT_CERT_FILE, the password of its PKCS#12 file (an encrypted PEM key is refused)"`
	// ClientCertSendX5C sends the certificate chain with each token
	// request (subject-name/issuer authentication).
	ClientCertSendX5C bool `env:"SIDECAR_CLIENT_CERT_SEND_X5C" envDefault:"false" usage:"with SIDECAR_CLIENT_CERT_FILE, send the certificate chain (x5c) with each token request, as subject-name/issuer authentication requires"`
	// FederatedTokenFile is a workload identity's client assertion
	// (CredentialFederatedFile). The name is the one the Azure Workload
	// Identity webhook injects.
	FederatedTokenFile string `env:"AZURE_FEDERATED_TOKEN_FILE" usage:"workload identity: file holding a client assertion, re-read as it rotates"`
	// FederatedTokenClientID is the identity FederatedTokenFile was issued
	// for, as the webhook injects it from the service account's
	// azure.workload.identity/client-id annotation. Equal to AppID (or
	// unset): the token is the bot app's own assertion. Another id: the
	// token is that identity's assertion, and its token for the
	// token-exchange audience is the bot app's (CredentialFederatedWorkloadIdentity).
	// Ignored without FederatedTokenFile.
	FederatedTokenClientID string `env:"AZURE_CLIENT_ID" usage:"with AZURE_FEDERATED_TOKEN_FILE, the identity the token was issued for: MicrosoftAppId, or a managed identity that the bot's app trusts with a federated credential"`
	// FederatedManagedIdentity is the client id of the managed identity
	// whose token is the bot app's client assertion, or "system" for the
	// system-assigned one (CredentialFederatedManagedIdentity). Lower-cased.
	FederatedManagedIdentity string `env:"SIDECAR_FEDERATED_MANAGED_IDENTITY_CLIENT_ID" usage:"managed identity as a federated credential: the client id of the managed identity the bot's app trusts, or system; its token is the app's client assertion"`

	// Cloud selects the defaults of Endpoints.
	Cloud Cloud `env:"SIDECAR_CLOUD" envDefault:"public" usage:"public, usgov, usgovdod or china; sets the endpoint defaults"`
	Endpoints

	// InboundAddr is the channel-facing listener (POST /api/messages).
	InboundAddr string `env:"SIDECAR_INBOUND_ADDR" envDefault:":3978" show:"word" usage:"channel-facing listener, host:port; route POST /api/messages"`
	// OutboundAddr serves the Bot Connector API to the bot.
	// It must be a loopback address unless OutboundNonLoopback is set: it
	// attaches the bot's token to what anyone who reaches it sends.
	OutboundAddr string `env:"SIDECAR_OUTBOUND_ADDR" envDefault:"127.0.0.1:3979" show:"word" usage:"bot-facing Bot Connector API listener, host:port; a loopback address unless SIDECAR_OUTBOUND_NON_LOOPBACK_I_UNDERSTAND=true"`
	// OutboundNonLoopback lets OutboundAddr listen beyond loopback.
	OutboundNonLoopback bool `env:"SIDECAR_OUTBOUND_NON_LOOPBACK_I_UNDERSTAND" envDefault:"false" usage:"let SIDECAR_OUTBOUND_ADDR listen beyond loopback, where whoever reaches it sends with the bot's token"`
	// AdminAddr serves /healthz, /readyz, /metrics and /references/{id}.
	AdminAddr string `env:"SIDECAR_ADMIN_ADDR" envDefault:":9090" show:"word" usage:"admin listener, host:port: /healthz, /readyz, /metrics, /references/{id}"`
	// AdminReferences says who may read /references/{id}, which holds
	// user ids, names and tenants: loopback callers, all, or nobody.
	AdminReferences string `env:"SIDECAR_ADMIN_REFERENCES" envDefault:"loopback" show:"word" usage:"who may GET /references/{id} on the admin listener: loopback (callers on 127.0.0.1 or ::1), all, or off"`
	// AuthSidecarAddr, when set, is a listener that speaks the Entra auth
	// sidecar protocol (the Agents SDK's AuthType=EntraAuthSideCar), so a
	// bot with no credential gets the identity's token, and publishes the
	// keys of SignInbound's tokens. Load accepts loopback addresses only:
	// whoever connects gets the token itself.
	AuthSidecarAddr string `env:"SIDECAR_AUTH_SIDECAR_ADDR" show:"word" usage:"loopback listener, host:port, speaking the Entra auth sidecar protocol (Agents SDK AuthType=EntraAuthSideCar; its default is 127.0.0.1:5178): hands the bot's token to programs in the pod and publishes the keys of SIDECAR_SIGN_INBOUND; off when unset"`
	// SignInbound forwards every validated activity with a token the
	// sidecar signs, for a bot that validates inbound tokens itself.
	SignInbound bool `env:"SIDECAR_SIGN_INBOUND" envDefault:"false" usage:"forward each validated activity with an Authorization token the sidecar signs, whose keys SIDECAR_AUTH_SIDECAR_ADDR publishes, for a bot that validates inbound tokens (an Agents SDK bot with NODE_ENV=production); needs SIDECAR_AUTH_SIDECAR_ADDR"`
	// BotURL is where inbound activities are forwarded.
	BotURL string `env:"SIDECAR_BOT_URL" envDefault:"http://127.0.0.1:3980/api/messages" show:"url" usage:"where inbound activities go (http or https URL)"`
	// OutboundURL is the serviceUrl the bot sees; it ends in exactly one "/".
	OutboundURL string `env:"SIDECAR_OUTBOUND_URL" envDefault:"http://127.0.0.1:3979/" show:"url" usage:"what the bot sees as serviceUrl (http or https URL)"`
	// TrustedServiceURLs are extra trusted hosts, trimmed and lower-cased.
	// Load refuses user info, characters outside a host pattern and
	// wildcards over domains where anyone can rent a name; the proxy's
	// trust list checks the rest of their syntax.
	TrustedServiceURLs []string `env:"SIDECAR_TRUSTED_SERVICE_URLS" envSeparator:"," usage:"extra trusted service hosts, comma-separated, host[:port] or *.domain"`
	// TrustSharedHosts lets TrustedServiceURLs hold a wildcard over a
	// domain where anyone can rent a name.
	TrustSharedHosts bool `env:"SIDECAR_TRUST_SHARED_HOSTS_I_UNDERSTAND" envDefault:"false" usage:"let SIDECAR_TRUSTED_SERVICE_URLS hold a wildcard such as *.azurewebsites.net, under which anyone can rent a name and receive the bot's token"`
	// DefaultServiceURL is the upstream for calls no reference resolves.
	DefaultServiceURL string `env:"SIDECAR_DEFAULT_SERVICE_URL" show:"url" usage:"upstream (https URL) for calls that no conversation reference resolves"`
	// AcceptEntraTokens also accepts inbound tokens from the bot's tenant.
	AcceptEntraTokens bool `env:"SIDECAR_ACCEPT_ENTRA_TOKENS" envDefault:"false" usage:"also accept inbound tokens issued by the bot's own Entra tenant"`
	// EntraTokenAppIDs are the apps (client ids, lower-cased GUIDs) whose
	// Entra tokens are accepted: a token's appid or azp must be one of
	// them. Empty means the bot's own app id.
	EntraTokenAppIDs []string `env:"SIDECAR_ENTRA_TOKEN_APP_IDS" envSeparator:"," usage:"with SIDECAR_ACCEPT_ENTRA_TOKENS, the app ids (GUIDs, comma-separated) whose Entra tokens are accepted; default the bot's own app id"`

	// Store is where conversation references are kept. The store package
	// parses it (store.ParseSpec) and masks a Redis password when printed.
	Store store.Spec `env:"SIDECAR_STORE" envDefault:"bolt:./data/references.db" usage:"reference store: bolt:PATH, memory:, redis://… or rediss://…"`
	// ReferenceCacheSize bounds the references held in memory (LRU).
	ReferenceCacheSize int `env:"SIDECAR_REFERENCE_CACHE_SIZE" envDefault:"100000" usage:"most conversation references held in memory (LRU)"`
	// ReferenceTTL is how long an unused reference is kept.
	ReferenceTTL time.Duration `env:"SIDECAR_REFERENCE_TTL" envDefault:"365d" usage:"how long a conversation reference is kept (Go duration or days, like 30d)"`

	// BotTimeout bounds the wait for the bot; the channel gives up at about
	// 15 s, so the default leaves a second to answer it.
	BotTimeout time.Duration `env:"SIDECAR_BOT_TIMEOUT" envDefault:"14s" usage:"how long an inbound call waits for the bot (the channel gives up at about 15s)"`
	// ShutdownGrace is how long in-flight calls may finish after SIGTERM.
	ShutdownGrace time.Duration `env:"SIDECAR_SHUTDOWN_GRACE" envDefault:"25s" usage:"time in-flight calls get to finish after SIGTERM"`
	// Pacing holds each outbound call until it fits the channel's rate
	// limits instead of sending it into a 429. The limits are parsed by
	// package pacing, where cmd/sidecar builds the pacer; their defaults
	// are the published Teams limits.
	Pacing        bool          `env:"SIDECAR_PACING" envDefault:"true" usage:"hold outbound calls until they fit the rate limits below, instead of sending them into a 429 (each replica paces its own calls)"`
	PacingSend    string        `env:"SIDECAR_PACING_SEND" envDefault:"7/1s,8/2s,60/30s,1800/1h" show:"word" usage:"per conversation: sends and creates (count/period, comma-separated windows, or off)"`
	PacingRead    string        `env:"SIDECAR_PACING_READ" envDefault:"14/1s,16/2s,120/30s,3600/1h" show:"word" usage:"per conversation: member and conversation reads"`
	PacingTenant  string        `env:"SIDECAR_PACING_TENANT" envDefault:"50/1s" show:"word" usage:"per tenant: every call of the bot"`
	PacingMaxWait time.Duration `env:"SIDECAR_PACING_MAX_WAIT" envDefault:"10s" usage:"longest a call is held; past it the bot gets 429 with Retry-After"`
	// PacingMargin widens every window's period: the pacer counts a call
	// when it releases it, the connector when it arrives, and arrivals
	// spread by the network's jitter.
	PacingMargin time.Duration `env:"SIDECAR_PACING_MARGIN" envDefault:"50ms" usage:"added to every limit's period, for the jitter between a call leaving the sidecar and reaching the connector"`
	// PacingReplicas is how many sidecars send for the same bot: each
	// paces its share of every limit (the counts divided, rounded down).
	PacingReplicas int `env:"SIDECAR_PACING_REPLICAS" envDefault:"1" usage:"how many replicas send for this bot; each paces its share of the limits (counts divided by it, rounded down; a limit that leaves 0 is an error)"`
	// MaxBodyBytes caps request bodies on both listeners (413 beyond).
	MaxBodyBytes Size `env:"SIDECAR_MAX_BODY_BYTES" envDefault:"8MiB" usage:"larger request bodies get 413, on both listeners"`
	// Connections are the identities besides the primary one, from the
	// M365 Agents SDK's Connections__<name>__Settings__* variables (see
	// agents.go), in name order.
	Connections []Identity `env:"-"`
	// ConnectionsMap picks the identity of a call that no reference
	// resolves (ConnectionsMap__<i>__*): the first rule that matches wins.
	// Each rule's Connection is the Name of an identity.
	ConnectionsMap []ConnectionRule `env:"-"`
	// primaryName is the name of the connection that is the primary
	// identity when no top-level identity is set; Load copied its
	// settings into the top-level fields. "" means PrimaryName.
	primaryName string

	// LogLevel is debug, info, warn or error.
	LogLevel string `env:"SIDECAR_LOG_LEVEL" envDefault:"info" show:"word" usage:"debug, info, warn or error"`
	// LogFormat is json or console.
	LogFormat string `env:"SIDECAR_LOG_FORMAT" envDefault:"json" show:"word" usage:"json or console"`
}

// Load builds a Config from environ, a variable-to-value map such as
// EnvironMap(os.Environ()) after Flags and FlagSet.Parse have written the
// flags into it. A value comes from the canonical variable, else its alias,
// else the default; surrounding spaces are trimmed (a .env file written on
// Windows ends its lines in "\r") and an empty value counts as unset.
//
// On any problem Load returns the zero Config and an *Error listing every
// problem by variable name, showing a value only in a form that cannot
// reveal a secret (see variable.display). Its result depends on
// environ alone: it reads no files, and although env builds its default
// options from os.Environ, Options.Environment replaces them unused.
func Load(environ map[string]string) (Config, error) {
	vars := table()
	l := loader{
		vars:    vars,
		raw:     map[string]string{},
		from:    map[string]string{},
		present: map[string][]string{},
		failed:  map[string]bool{},
		extra:   map[string]extraVar{},
	}
	for _, v := range vars {
		l.resolve(environ, v)
	}
	l.resolveWebhook(environ)
	agents := l.readAgents(environ)

	cfg, err := env.ParseAsWithOptions[Config](env.Options{
		// Never nil: env reads the process environment when it is.
		Environment: l.raw,
		FuncMap: map[reflect.Type]env.ParserFunc{
			reflect.TypeFor[time.Duration](): func(s string) (any, error) { return ParseDuration(s) },
			reflect.TypeFor[bool]():          parseBool,
			reflect.TypeFor[int]():           parseInt,
		},
	})
	if err != nil {
		l.envErrors(err)
	}
	l.check(&cfg, agents)
	if len(l.problems) > 0 {
		// Report in table order, whichever stage found the problem.
		slices.SortStableFunc(l.problems, func(a, b problem) int { return a.order - b.order })
		ps := make([]Problem, len(l.problems))
		for i, p := range l.problems {
			ps[i] = p.Problem
		}
		return Config{}, &Error{Problems: ps}
	}
	return cfg, nil
}

// loader holds what Load has read and the problems it found.
type loader struct {
	vars []variable
	// raw maps a canonical name to its trimmed, non-empty value.
	raw map[string]string
	// from maps a canonical name to the variable that supplied its value,
	// which is the one to name in a message.
	from map[string]string
	// present lists, per canonical name, every name set in the
	// environment: the canonical one, the alias or both.
	present map[string][]string
	// failed marks variables already reported, so that checks depending
	// on them do not pile up consequences of the same mistake.
	failed   map[string]bool
	problems []problem
	// extra holds the Agents SDK variables, which the table does not
	// list, so that fail shows their values by the same rule.
	extra map[string]extraVar
}

// extraVar is a variable outside the table, as fail may show it.
type extraVar struct {
	v     variable
	value string
}

// problem is a Problem with its variable's place in the table.
type problem struct {
	Problem
	order int
}

// add records a problem about the canonical variable name, or about
// several variables when name is "".
func (l *loader) add(name string, p Problem) {
	order := len(l.vars)
	if i := slices.IndexFunc(l.vars, func(v variable) bool { return v.Name == name }); i >= 0 {
		order = i
	}
	l.failed[name] = true
	l.problems = append(l.problems, problem{Problem: p, order: order})
}

func (l *loader) resolve(environ map[string]string, v variable) {
	for _, name := range []string{v.Name, v.Alias} {
		if name == "" {
			continue
		}
		val := strings.TrimSpace(environ[name])
		if val == "" {
			continue
		}
		// The canonical name wins, silently: an .env written for both SDK
		// generations may carry both names.
		if _, ok := l.raw[v.Name]; !ok {
			l.raw[v.Name], l.from[v.Name] = val, name
		}
		l.present[v.Name] = append(l.present[v.Name], name)
	}
}

func (l *loader) lookup(pred func(variable) bool) (variable, bool) {
	for _, v := range l.vars {
		if pred(v) {
			return v, true
		}
	}
	return variable{}, false
}

// fail records a problem with the value of the canonical variable name.
func (l *loader) fail(name, reason string) {
	v, ok := l.lookup(func(v variable) bool { return v.Name == name })
	raw := l.raw[name]
	if e, isExtra := l.extra[name]; !ok && isExtra {
		v, raw = e.v, e.value
	}
	shown := name
	if from := l.from[name]; from != "" {
		shown = from
	}
	p := Problem{Variable: shown, Reason: reason}
	if raw != "" {
		if p.Value = v.display(raw); p.Value == "" && !v.secret() {
			p.ValueLength = len(raw)
		}
	}
	l.add(name, p)
}

// envErrors turns env's aggregate error into problems named by variable.
// env's own messages name the Go field and quote the value, which could be
// a secret, so only the parsers' reasons are kept.
func (l *loader) envErrors(err error) {
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		agg.Errors = []error{err}
	}
	for _, e := range agg.Errors {
		var (
			parse   env.ParseError
			empty   env.EmptyVarError
			missing env.VarIsNotSetError
		)
		switch {
		case errors.As(e, &parse):
			v, ok := l.lookup(func(v variable) bool { return v.field == parse.Name })
			if !ok {
				break
			}
			reason := "not a valid value"
			if !v.secret() {
				reason = parse.Err.Error()
			}
			l.fail(v.Name, reason)
			continue
		case errors.As(e, &empty):
			l.required(empty.Key)
			continue
		case errors.As(e, &missing):
			l.required(missing.Key)
			continue
		}
		// Unreachable with Config's field types; kept so that nothing is lost.
		l.add("", Problem{Reason: e.Error()})
	}
}

func (l *loader) required(name string) {
	v, _ := l.lookup(func(v variable) bool { return v.Name == name })
	shown := name
	if v.Alias != "" {
		shown += " (or " + v.Alias + ")"
	}
	l.add(name, Problem{Variable: shown, Reason: "required but not set"})
}
