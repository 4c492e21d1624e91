package channelauth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/botsidecar/sidecar/internal/ascii"
	"github.com/botsidecar/sidecar/internal/guid"
	"go.uber.org/zap"
)

const (
	// ClockSkew is the tolerance on exp and nbf: BB-JS clockTolerance 300 s,
	// BB-NET ClockSkew 5 min, the docs' "industry-standard clock-skew".
	ClockSkew = 5 * time.Minute

	// DefaultRefreshInterval is the full key refresh period: the docs say to
	// refresh "at least once every 24 hours" (BB-JS openIdMetadata.ts).
	DefaultRefreshInterval = 24 * time.Hour

	// DefaultUnknownKIDMinInterval is the least time between re-fetches
	// caused by unknown kids (IdentityModel's RefreshInterval default).
	DefaultUnknownKIDMinInterval = 5 * time.Minute

	// maxTokenBytes bounds what we parse at all. Channel tokens are about
	// 1.5 KiB; Entra tokens with many claims stay well under this.
	maxTokenBytes = 32 << 10

	// serviceURLClaim is the channel token's claim, lower-case as in the
	// SDKs' ServiceUrlClaim constants.
	serviceURLClaim = "serviceurl"

	// Identity.Source values.
	SourceChannel = "channel"
	SourceEntra   = "entra"
)

// allowedAlgorithms is the SDKs' AllowedSigningAlgorithms (BB-JS and BB-NET
// AuthenticationConstants). Everything else, in particular "none", HS*
// (the RSA-public-key-as-HMAC-secret confusion), ES* and PS*, is refused
// before any key is looked up.
var allowedAlgorithms = map[string]jwa.SignatureAlgorithm{
	"RS256": jwa.RS256(),
	"RS384": jwa.RS384(),
	"RS512": jwa.RS512(),
}

// Options configures a Validator. AppID, OpenIDMetadataURL and ChannelIssuer
// are required; AuthorityHost, TenantID and IsTrustedServiceURL are required
// when AcceptEntraTokens is set.
type Options struct {
	// AppID is the bot's app id. Accepted audiences are AppID,
	// api://{AppID} and api://botid-{AppID}, compared ignoring ASCII case
	// (app ids are GUIDs).
	AppID string
	// AppIDs are the app ids of further bots whose tokens are accepted,
	// with the same three audiences each, when one sidecar speaks for
	// several; the verified token says which one its audience named
	// (Identity.App).
	AppIDs []string
	// OpenIDMetadataURL is the channel's metadata document, e.g.
	// https://login.botframework.com/v1/.well-known/openidconfiguration;
	// its jwks_uri gives the signing keys.
	OpenIDMetadataURL string
	// ChannelIssuer is the exact iss of channel tokens, e.g.
	// https://api.botframework.com.
	ChannelIssuer string

	// AcceptEntraTokens also accepts tokens issued by the bot's own tenant
	// (newer Teams services send them; they carry no serviceurl claim).
	AcceptEntraTokens bool
	// AuthorityHost is e.g. https://login.microsoftonline.com; the tenant's
	// metadata is {AuthorityHost}/{TenantID}/v2.0/.well-known/openid-configuration.
	AuthorityHost string
	// TenantID is the tenant's GUID (issuers carry the GUID, never a domain).
	TenantID string
	// IsTrustedServiceURL must approve the activity's serviceUrl for an
	// Entra token, since such a token does not vouch for it.
	IsTrustedServiceURL func(serviceURL string) bool
	// EntraAppIDs are the apps whose Entra tokens are accepted: the token's
	// appid (v1) or azp (v2) claim, the app that requested it, must be one
	// of them (GUIDs, compared ignoring case). Default: AppID and AppIDs.
	EntraAppIDs []string

	// HTTPClient fetches metadata and keys. Default: a client with a 10 s
	// timeout.
	HTTPClient *http.Client
	// Logger receives background refresh failures. Default: no-op.
	Logger *zap.Logger
	// Now is the clock for expiry and cache ages. Default: time.Now.
	Now func() time.Time
	// RefreshInterval is the full key refresh period. Default 24 h.
	RefreshInterval time.Duration
	// UnknownKIDMinInterval is the least time between re-fetches caused by
	// an unknown kid. Default 5 min.
	UnknownKIDMinInterval time.Duration
}

// Identity is what a valid token established.
type Identity struct {
	// Issuer is the token's iss.
	Issuer string
	// AppID is the aud value that matched, as the token spelled it.
	AppID string
	// App is the configured app id (Options.AppID or one of
	// Options.AppIDs) that the audience named, as configured.
	App string
	// ServiceURLVouched is true when the token's signed serviceurl claim
	// equalled the activity's serviceUrl (channel tokens). It is false for
	// Entra tokens, whose serviceUrl was only found on the trusted list.
	ServiceURLVouched bool
	// Source is SourceChannel or SourceEntra.
	Source string
}

// Validator validates the channel's bearer tokens. It is safe for
// concurrent use.
type Validator struct {
	audiences    []string
	apps         []string // the configured app id of each audience
	channelIss   string
	entraIss     []string
	entraApps    map[string]bool // lower-case calling apps allowed to send Entra tokens
	trusted      func(string) bool
	now          func() time.Time
	channel      *keySet
	entra        *keySet // nil unless Entra tokens are accepted
	log          *zap.Logger
	retryBackoff time.Duration
}

// New checks opts and returns a Validator. It does no I/O: keys are fetched
// on first use, or by Run.
func New(opts Options) (*Validator, error) {
	var problems []string
	if opts.AppID == "" || slices.Contains(opts.AppIDs, "") {
		problems = append(problems, "app id is required")
	}
	if err := checkURL(opts.OpenIDMetadataURL); err != nil {
		problems = append(problems, "openid metadata url: "+err.Error())
	}
	if opts.ChannelIssuer == "" {
		problems = append(problems, "channel issuer is required")
	}
	if opts.AcceptEntraTokens {
		if err := checkURL(opts.AuthorityHost); err != nil {
			problems = append(problems, "authority host: "+err.Error())
		}
		if !guid.Is(opts.TenantID) {
			// A domain name would build issuers that no token ever carries,
			// and every Entra token would be refused without a clue why.
			problems = append(problems, "tenant id must be the tenant's guid to accept entra tokens")
		}
		if opts.IsTrustedServiceURL == nil {
			problems = append(problems, "a trusted service url check is required to accept entra tokens")
		}
		for _, app := range opts.EntraAppIDs {
			if !guid.Is(app) {
				// Entra puts the client id, a GUID, in appid and azp; a name
				// would never match and every token would be refused.
				problems = append(problems, fmt.Sprintf("entra app id %q is not a guid", app))
			}
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("channelauth: %s", strings.Join(problems, "; "))
	}

	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: fetchTimeout}
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.RefreshInterval <= 0 {
		opts.RefreshInterval = DefaultRefreshInterval
	}
	if opts.UnknownKIDMinInterval <= 0 {
		opts.UnknownKIDMinInterval = DefaultUnknownKIDMinInterval
	}

	v := &Validator{
		channelIss:   opts.ChannelIssuer,
		trusted:      opts.IsTrustedServiceURL,
		now:          opts.Now,
		channel:      newKeySet(SourceChannel, opts.OpenIDMetadataURL, &opts),
		log:          opts.Logger,
		retryBackoff: min(opts.UnknownKIDMinInterval, opts.RefreshInterval),
	}
	apps := append([]string{opts.AppID}, opts.AppIDs...)
	for _, app := range apps {
		// The Teams SDKs' ValidAudiences (teams.net JwtExtensions.cs,
		// teams.ts jwt-validator.ts); BB accepts the bare id only.
		v.audiences = append(v.audiences, app, "api://"+app, "api://botid-"+app)
		v.apps = append(v.apps, app, app, app)
	}
	if opts.AcceptEntraTokens {
		host := strings.TrimRight(opts.AuthorityHost, "/")
		tenant := strings.ToLower(opts.TenantID)
		// teams.net JwtExtensions.cs ValidateTeamsIssuer: the v2 issuer of
		// the authority, or the v1 sts.windows.net issuer, of our tenant.
		v.entraIss = []string{host + "/" + tenant + "/v2.0", "https://sts.windows.net/" + tenant + "/"}
		v.entra = newKeySet(SourceEntra, host+"/"+tenant+"/v2.0/.well-known/openid-configuration", &opts)
		if len(opts.EntraAppIDs) > 0 {
			apps = opts.EntraAppIDs
		}
		v.entraApps = make(map[string]bool, len(apps))
		for _, app := range apps {
			v.entraApps[strings.ToLower(app)] = true
		}
	}
	return v, nil
}

// Run warms the key caches and then refreshes them every RefreshInterval
// until ctx ends, so that no request waits for a fetch. It is optional:
// without it, Validate fetches and refreshes on demand. A failed refresh is
// logged (no caller waits for it) and retried after UnknownKIDMinInterval;
// the cached keys stay in use meanwhile. Run returns nil when ctx ends.
func (v *Validator) Run(ctx context.Context) error {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		}
		next := v.channel.refreshInterval
		for _, s := range []*keySet{v.channel, v.entra} {
			if s == nil {
				continue
			}
			if err := s.refresh(ctx, nil); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				s.log.Warn("refresh signing keys failed", zap.Error(err))
				next = v.retryBackoff
			}
		}
		timer.Reset(next)
	}
}

// Validate checks the Authorization header value of an inbound activity
// against the activity's channelId and its original (not yet rewritten)
// serviceUrl: VerifyToken, then CheckActivity. A rejection wraps
// ErrUnauthorized; a failure to obtain the signing keys wraps
// ErrKeysUnavailable instead. Either way the activity must not be stored
// or forwarded.
func (v *Validator) Validate(ctx context.Context, authorization, channelID, serviceURL string) (Identity, error) {
	t, err := v.VerifyToken(ctx, authorization)
	if err != nil {
		return Identity{}, err
	}
	return t.CheckActivity(channelID, serviceURL)
}

// ValidateToken checks the token alone: signature, algorithm, issuer,
// audience, lifetime and, for Entra tokens, the calling app, but not the
// activity-bound endorsement and serviceurl checks. Its Identity never
// says ServiceURLVouched: nothing may be stored or forwarded on its
// strength.
func (v *Validator) ValidateToken(ctx context.Context, authorization string) (Identity, error) {
	t, err := v.VerifyToken(ctx, authorization)
	if err != nil {
		return Identity{}, err
	}
	return t.identity, nil
}

// Verified is a token whose signature, algorithm, issuer, audience,
// lifetime and (Entra) calling app have been checked: everything that
// does not need the activity. The inbound handler gets one from the
// Authorization header before it reads the body, and then judges the
// activity with CheckActivity, so that the signature is verified once and
// no unauthenticated body is read.
type Verified struct {
	v        *Validator
	tok      jwt.Token
	key      signingKey
	identity Identity
}

// VerifyToken checks the Authorization header value alone (see Verified).
// Its errors are those of Validate.
func (v *Validator) VerifyToken(ctx context.Context, authorization string) (*Verified, error) {
	return v.verify(ctx, authorization)
}

// App is the configured app id the token's audience named (Identity.App):
// the bot the activity is for.
func (t *Verified) App() string { return t.identity.App }

// CheckActivity checks the rules that bind the token to the activity: the
// signing key endorses channelID and the signed serviceurl claim equals
// serviceURL, the activity's original serviceUrl (for an Entra token,
// which vouches for neither, serviceURL must be trusted instead). It does
// no I/O and may be called for several activities of one token. A
// rejection wraps ErrUnauthorized.
func (t *Verified) CheckActivity(channelID, serviceURL string) (Identity, error) {
	id := t.identity
	if id.Source == SourceEntra {
		// Entra tokens carry neither endorsements nor serviceurl (teams.ts
		// inbound-activity-token-validator.ts), so the serviceUrl the
		// activity names must already be trusted.
		if !t.v.trusted(serviceURL) {
			return Identity{}, reasonUntrustedService
		}
		return id, nil
	}

	if err := checkEndorsement(t.key, channelID); err != nil {
		return Identity{}, err
	}
	var claim string
	if err := t.tok.Get(serviceURLClaim, &claim); err != nil || claim == "" {
		// BB-NET requires the claim; BB-JS skips the check when the
		// activity has no serviceUrl. The contract requires it always.
		return Identity{}, reasonNoServiceURL
	}
	if !sameServiceURL(claim, serviceURL) {
		return Identity{}, reasonServiceURL
	}
	id.ServiceURLVouched = true
	return id, nil
}

func (v *Validator) verify(ctx context.Context, authorization string) (*Verified, error) {
	raw, err := bearerToken(authorization)
	if err != nil {
		return nil, err
	}

	// Look at the header and issuer before any key or signature work, as
	// BB-JS (hasAllowedIssuer) and BB-NET (HasAllowedIssuer) do: a token
	// from a foreign issuer or with a foreign algorithm costs us nothing.
	msg, err := jws.Parse(raw, jws.WithCompact())
	if err != nil || len(msg.Signatures()) != 1 {
		return nil, reasonMalformed
	}
	hdr := msg.Signatures()[0].ProtectedHeaders()
	headerAlg, _ := hdr.Algorithm()
	alg, ok := allowedAlgorithms[headerAlg.String()]
	if !ok {
		return nil, reasonAlgorithm
	}
	kid, _ := hdr.KeyID()
	if kid == "" {
		// All three SDKs select the key by kid; a kid-less token would make
		// us try every key, which is work an attacker chooses for us.
		return nil, reasonNoKeyID
	}
	// Claims are parsed now but trusted only after the signature check
	// below, which covers exactly these payload bytes. They must be a JSON
	// object: jwt.Parse would also unwrap a nested JWS, whose claims no
	// signature of ours covers.
	payload := msg.Payload()
	if len(payload) == 0 || payload[0] != '{' {
		return nil, reasonMalformed
	}
	tok, err := jwt.Parse(payload, jwt.WithVerify(false), jwt.WithValidate(false))
	if err != nil {
		return nil, reasonMalformed
	}
	iss, _ := tok.Issuer()

	source, keys := SourceChannel, v.channel
	switch {
	case iss == v.channelIss:
	case v.entra != nil && v.isEntraIssuer(iss):
		source, keys = SourceEntra, v.entra
	default:
		return nil, reasonIssuer
	}

	key, err := keys.lookup(ctx, kid)
	if err != nil {
		return nil, err
	}
	// VerifyCompactFast also refuses crit and b64 headers, which no channel
	// token carries, and cross-checks the header alg against ours.
	verified, err := jws.VerifyCompactFast(key.key, raw, alg)
	if err != nil || !bytes.Equal(verified, payload) {
		return nil, reasonSignature
	}
	if err := v.checkTimes(tok, payload); err != nil {
		return nil, err
	}
	aud, app, ok := v.matchAudience(tok)
	if !ok {
		return nil, reasonAudience
	}
	if source == SourceEntra {
		if err := v.checkCallingApp(tok); err != nil {
			return nil, err
		}
	}
	return &Verified{v: v, tok: tok, key: key, identity: Identity{Issuer: iss, AppID: aud, App: app, Source: source}}, nil
}

// bearerToken extracts the token from "Bearer <token>". The scheme is
// matched ignoring case (RFC 7235 §2.1); BB-JS matches "Bearer" exactly,
// which every channel sends anyway.
func bearerToken(authorization string) ([]byte, error) {
	if authorization == "" {
		return nil, reasonNoHeader
	}
	scheme, token, ok := strings.Cut(authorization, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" || strings.ContainsAny(token, " \t") {
		return nil, reasonNotBearer
	}
	if len(token) > maxTokenBytes {
		return nil, reasonTooLarge
	}
	return []byte(token), nil
}

// checkTimes requires exp and checks exp and nbf with ClockSkew. Like the
// SDKs (jsonwebtoken, IdentityModel) it does not judge iat's value, but
// exp, nbf and iat must be JSON numbers (RFC 7519 §2 NumericDate): jwx
// also reads a string as a time ("1712345678", or an RFC 3339 date), a
// leniency no issuer of ours needs and a validator must not extend.
func (v *Validator) checkTimes(tok jwt.Token, payload []byte) error {
	if !numericTimeClaims(payload) {
		return reasonTimeNotNumber
	}
	err := jwt.Validate(tok,
		jwt.WithClock(jwt.ClockFunc(v.now)),
		jwt.WithAcceptableSkew(ClockSkew),
		jwt.WithResetValidators(true),
		jwt.WithRequiredClaim(jwt.ExpirationKey),
		jwt.WithValidator(jwt.IsExpirationValid()),
		jwt.WithValidator(jwt.IsNbfValid()),
	)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, jwt.TokenExpiredError()):
		return reasonExpired
	case errors.Is(err, jwt.TokenNotYetValidError()):
		return reasonNotYetValid
	case errors.Is(err, jwt.MissingRequiredClaimError()):
		return reasonNoExpiry
	default:
		return reasonClaims
	}
}

// timeClaims are the NumericDate claims of RFC 7519 §4.1.
var timeClaims = map[string]bool{jwt.ExpirationKey: true, jwt.NotBeforeKey: true, jwt.IssuedAtKey: true}

// numericTimeClaims reports whether every exp, nbf and iat member of the
// claims object is a JSON number. Every occurrence is checked, so that a
// duplicate key cannot hide a string from whichever occurrence jwx keeps.
// The payload has already been parsed by jwx, so anything that is not a
// well-formed object here is refused as well.
func numericTimeClaims(payload []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return false
	}
	for dec.More() {
		t, err := dec.Token()
		key, ok := t.(string)
		if err != nil || !ok {
			return false
		}
		if !timeClaims[key] {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return false
			}
			continue
		}
		// With UseNumber a JSON number, and only a number, decodes to
		// json.Number; "exp":"123" is a string and null is nil.
		if v, err := dec.Token(); err != nil {
			return false
		} else if _, ok := v.(json.Number); !ok {
			return false
		}
	}
	return true
}

// checkCallingApp requires an Entra token to be issued to an app on the
// allow-list (Options.EntraAppIDs). The calling app is appid in v1 tokens
// and azp in v2 tokens; every one of the two that is present must be
// allowed, and at least one must be: any app of the tenant can obtain a
// token for the bot's audience, and only the calling app tells them apart.
func (v *Validator) checkCallingApp(tok jwt.Token) error {
	found := false
	for _, claim := range [...]string{"appid", "azp"} {
		if !tok.Has(claim) {
			continue
		}
		var app string
		if err := tok.Get(claim, &app); err != nil || !v.entraApps[strings.ToLower(app)] {
			return reasonCallingApp
		}
		found = true
	}
	if !found {
		return reasonNoCallingApp
	}
	return nil
}

// matchAudience returns the aud value that is one of our accepted
// audiences, and the configured app id it names. An aud list passes when
// any entry matches (IdentityModel); the first match names the app.
func (v *Validator) matchAudience(tok jwt.Token) (aud, app string, ok bool) {
	auds, _ := tok.Audience()
	for _, aud := range auds {
		for i, want := range v.audiences {
			if ascii.EqualFold(aud, want) {
				return aud, v.apps[i], true
			}
		}
	}
	return "", "", false
}

func (v *Validator) isEntraIssuer(iss string) bool {
	for _, want := range v.entraIss {
		// The tenant GUID may be configured in either case.
		if ascii.EqualFold(iss, want) {
			return true
		}
	}
	return false
}

// checkEndorsement requires the signing key to endorse the activity's
// channel. The contract is stricter than BB-JS (which skips keys without
// endorsements and passes an empty channelId) and follows BB-NET, which
// refuses a channel token whose key has no endorsements. The comparison is
// exact, as in BB-JS endorsementsValidator.ts.
func checkEndorsement(key signingKey, channelID string) error {
	if !key.hasEndorsements {
		return reasonNoEndorsements
	}
	if strings.TrimSpace(channelID) == "" {
		return reasonNoChannel
	}
	for _, e := range key.endorsements {
		if e == channelID {
			return nil
		}
	}
	return reasonNotEndorsed
}

// sameServiceURL compares the signed serviceurl claim with the activity's
// serviceUrl ignoring ASCII case and one trailing slash (teams.ts
// validateServiceUrl; BB-NET compares OrdinalIgnoreCase).
func sameServiceURL(claim, activity string) bool {
	return ascii.EqualFold(strings.TrimSuffix(claim, "/"), strings.TrimSuffix(activity, "/"))
}

func checkURL(s string) error {
	if s == "" {
		return errors.New("is required")
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return errors.New("is not an absolute url") // the value may carry user info: not echoed
	}
	return nil
}
