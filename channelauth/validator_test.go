package channelauth_test

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/botsidecar/sidecar/channelauth"
)

func TestValidateMatrix(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	now := h.clock.Now()
	v2Iss, v1Iss := h.ch.TenantIssuers()

	tests := []struct {
		name       string
		give       string // the Authorization header
		channelID  string
		serviceURL string
		want       string // rejection reason; "" means valid
		wantAppID  string
	}{
		{name: "valid", give: bearer(h.ch.Token(appID, serviceURL)), wantAppID: appID},
		{name: "no header", give: "", want: "no authorization header"},
		{name: "basic scheme", give: "Basic dXNlcjpwYXNz", want: "authorization scheme is not bearer"},
		{name: "bearer without token", give: "Bearer ", want: "authorization scheme is not bearer"},
		{name: "bare token", give: h.ch.Token(appID, serviceURL), want: "authorization scheme is not bearer"},
		{name: "lower-case scheme", give: "bearer " + h.ch.Token(appID, serviceURL), wantAppID: appID},
		{name: "garbage token", give: "Bearer abc.def", want: "malformed token"},
		{name: "oversized token", give: "Bearer " + strings.Repeat("a", 40<<10), want: "token too large"},
		{
			name: "expired beyond skew",
			give: bearer(h.token(func(c map[string]any) { c["exp"] = now.Add(-6 * time.Minute).Unix() })),
			want: "token expired",
		},
		{
			name:      "expired within skew",
			give:      bearer(h.token(func(c map[string]any) { c["exp"] = now.Add(-4 * time.Minute).Unix() })),
			wantAppID: appID,
		},
		{
			name: "not yet valid",
			give: bearer(h.token(func(c map[string]any) { c["nbf"] = now.Add(6 * time.Minute).Unix() })),
			want: "token not yet valid",
		},
		{
			name:      "not yet valid within skew",
			give:      bearer(h.token(func(c map[string]any) { c["nbf"] = now.Add(4 * time.Minute).Unix() })),
			wantAppID: appID,
		},
		{
			name: "no exp",
			give: bearer(h.token(func(c map[string]any) { delete(c, "exp") })),
			want: "token has no expiry",
		},
		{
			name: "wrong audience",
			give: bearer(h.token(func(c map[string]any) { c["aud"] = "00000000-0000-0000-0000-000000000000" })),
			want: "audience not accepted",
		},
		{
			name: "no audience",
			give: bearer(h.token(func(c map[string]any) { delete(c, "aud") })),
			want: "audience not accepted",
		},
		{
			name: "audience with app id as suffix",
			give: bearer(h.token(func(c map[string]any) { c["aud"] = "api://evil/" + appID })),
			want: "audience not accepted",
		},
		{
			name:      "api botid audience",
			give:      bearer(h.token(func(c map[string]any) { c["aud"] = "api://botid-" + appID })),
			wantAppID: "api://botid-" + appID,
		},
		{
			name:      "api audience",
			give:      bearer(h.token(func(c map[string]any) { c["aud"] = "api://" + appID })),
			wantAppID: "api://" + appID,
		},
		{
			name:      "upper-case app id",
			give:      bearer(h.token(func(c map[string]any) { c["aud"] = strings.ToUpper(appID) })),
			wantAppID: strings.ToUpper(appID),
		},
		{
			name:      "audience list",
			give:      bearer(h.token(func(c map[string]any) { c["aud"] = []string{"other", appID} })),
			wantAppID: appID,
		},
		{
			name: "wrong issuer",
			give: bearer(h.token(func(c map[string]any) { c["iss"] = "https://evil.example" })),
			want: "issuer not allowed",
		},
		{
			name: "issuer with trailing slash",
			give: bearer(h.token(func(c map[string]any) { c["iss"] = h.ch.Issuer() + "/" })),
			want: "issuer not allowed",
		},
		{
			name: "entra v2 issuer while entra tokens are off",
			give: bearer(h.ch.TenantToken(appID, false)),
			want: "issuer not allowed",
		},
		{
			name: "entra v1 issuer signed by the channel key",
			give: bearer(h.token(func(c map[string]any) { c["iss"] = v1Iss })),
			want: "issuer not allowed",
		},
		{
			name: "entra v2 issuer signed by the channel key",
			give: bearer(h.token(func(c map[string]any) { c["iss"] = v2Iss })),
			want: "issuer not allowed",
		},
		{name: "bad signature", give: bearer(flipSignatureByte(h.ch.Token(appID, serviceURL))), want: "invalid signature"},
		{
			name: "payload swapped under a valid signature",
			give: func() string {
				good := strings.Split(h.ch.Token(appID, serviceURL), ".")
				forged := strings.Split(h.token(func(c map[string]any) { c["serviceurl"] = "https://evil.example/" }), ".")
				return bearer(good[0] + "." + forged[1] + "." + good[2])
			}(),
			want: "invalid signature",
		},
		{
			// Keys come from the metadata only: a key embedded in the header
			// (jwk, jku, x5u) is never used.
			name: "attacker key embedded in the header",
			give: func() string {
				evil := h.ch.NewUnpublishedSigner("evil")
				header := map[string]any{"kid": h.ch.Signer().KID, "jwk": evil.JWK(), "jku": "https://evil.example/keys"}
				return bearer(evil.SignWith("RS256", header, h.ch.Claims(appID, serviceURL)))
			}(),
			want: "invalid signature",
		},
		{
			name: "nested jws as payload",
			give: func() string {
				good := strings.Split(h.ch.Token(appID, serviceURL), ".")
				inner := base64.RawURLEncoding.EncodeToString([]byte(h.ch.Token(appID, serviceURL)))
				return bearer(good[0] + "." + inner + "." + good[2])
			}(),
			want: "malformed token",
		},
		{
			name: "signature dropped",
			give: bearer(strings.TrimRightFunc(h.ch.Token(appID, serviceURL), func(r rune) bool { return r != '.' })),
			want: "malformed token",
		},
		{
			name: "no kid",
			give: bearer(h.ch.TokenWith(h.ch.Claims(appID, serviceURL), map[string]any{"kid": nil}, "RS256")),
			want: "token has no key id",
		},
		{name: "alg none", give: bearer(h.ch.TokenWith(h.ch.Claims(appID, serviceURL), nil, "none")), want: "signing algorithm not allowed"},
		{name: "alg None", give: bearer(h.ch.TokenWith(h.ch.Claims(appID, serviceURL), nil, "None")), want: "malformed token"},
		{name: "HS256 with the public key", give: bearer(h.ch.TokenWith(h.ch.Claims(appID, serviceURL), nil, "HS256")), want: "signing algorithm not allowed"},
		{name: "HS512 with the public key", give: bearer(h.ch.TokenWith(h.ch.Claims(appID, serviceURL), nil, "HS512")), want: "signing algorithm not allowed"},
		{name: "PS256 by the real key", give: bearer(h.ch.TokenWith(h.ch.Claims(appID, serviceURL), nil, "PS256")), want: "signing algorithm not allowed"},
		{name: "ES256", give: bearer(h.ch.TokenWith(h.ch.Claims(appID, serviceURL), nil, "ES256")), want: "signing algorithm not allowed"},
		{name: "RS384", give: bearer(h.ch.TokenWith(h.ch.Claims(appID, serviceURL), nil, "RS384")), wantAppID: appID},
		{name: "RS512", give: bearer(h.ch.TokenWith(h.ch.Claims(appID, serviceURL), nil, "RS512")), wantAppID: appID},
		{
			name:       "serviceurl differs",
			give:       bearer(h.ch.Token(appID, "https://evil.example/amer/")),
			want:       "serviceurl claim does not match activity",
			serviceURL: serviceURL,
		},
		{
			name: "serviceurl missing",
			give: bearer(h.token(func(c map[string]any) { delete(c, "serviceurl") })),
			want: "token has no serviceurl claim",
		},
		{
			name: "serviceurl not a string",
			give: bearer(h.token(func(c map[string]any) { c["serviceurl"] = 42 })),
			want: "token has no serviceurl claim",
		},
		{
			name: "serviceurl upper-case claim name only",
			give: bearer(h.token(func(c map[string]any) { c["serviceUrl"] = c["serviceurl"]; delete(c, "serviceurl") })),
			want: "token has no serviceurl claim",
		},
		{
			name:       "serviceurl differs in case and trailing slash",
			give:       bearer(h.ch.Token(appID, "HTTPS://SMBA.trafficmanager.net/AMER")),
			serviceURL: serviceURL,
			wantAppID:  appID,
		},
		{
			name:       "serviceurl with two trailing slashes",
			give:       bearer(h.ch.Token(appID, serviceURL+"/")),
			serviceURL: strings.TrimSuffix(serviceURL, "/"),
			want:       "serviceurl claim does not match activity",
		},
		{
			name:       "activity without serviceurl",
			give:       bearer(h.ch.Token(appID, serviceURL)),
			serviceURL: "-",
			want:       "serviceurl claim does not match activity",
		},
		{name: "channel not endorsed", give: bearer(h.ch.Token(appID, serviceURL)), channelID: "slack", want: "channel not endorsed by signing key"},
		{name: "channel id in other case", give: bearer(h.ch.Token(appID, serviceURL)), channelID: "MsTeams", want: "channel not endorsed by signing key"},
		{name: "empty channel id", give: bearer(h.ch.Token(appID, serviceURL)), channelID: "-", want: "activity has no channel id"},
		{name: "webchat is endorsed", give: bearer(h.ch.Token(appID, serviceURL)), channelID: "webchat", wantAppID: appID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ch, svc := tt.channelID, tt.serviceURL
			if ch == "" {
				ch = channelID
			} else if ch == "-" {
				ch = ""
			}
			if svc == "" {
				svc = serviceURL
			} else if svc == "-" {
				svc = ""
			}
			id, err := h.v.Validate(t.Context(), tt.give, ch, svc)
			if tt.want != "" {
				wantRejected(t, err, tt.want, strings.TrimPrefix(tt.give, "Bearer "))
				return
			}
			if err != nil {
				t.Fatalf("Validate(%s) = %v; want valid", tt.name, err)
			}
			want := channelauth.Identity{Issuer: h.ch.Issuer(), AppID: tt.wantAppID, App: appID, ServiceURLVouched: true, Source: "channel"}
			if id != want {
				t.Errorf("Validate(%s) = %+v; want %+v", tt.name, id, want)
			}
		})
	}
}

func TestValidateKeyWithoutEndorsements(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	h.ch.SetEndorsements() // publish the key with no endorsements member
	token := h.ch.Token(appID, serviceURL)
	_, err := h.v.Validate(t.Context(), bearer(token), channelID, serviceURL)
	wantRejected(t, err, "signing key has no endorsements", token)
}

func TestValidateRejectsBeforeFetching(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	for _, give := range []string{
		"",
		bearer(h.ch.TokenWith(h.ch.Claims(appID, serviceURL), nil, "HS256")),
		bearer(h.token(func(c map[string]any) { c["iss"] = "https://evil.example" })),
	} {
		if _, err := h.v.Validate(t.Context(), give, channelID, serviceURL); !errors.Is(err, channelauth.ErrUnauthorized) {
			t.Fatalf("Validate() = %v; want ErrUnauthorized", err)
		}
	}
	if got := h.ch.MetadataFetches(); got != 0 {
		t.Errorf("MetadataFetches() = %d; want 0: bad issuers and algorithms cost no fetch", got)
	}
}

func TestValidateEntraTokens(t *testing.T) {
	t.Parallel()
	trusted := func(u string) bool { return strings.HasPrefix(u, "https://smba.trafficmanager.net/") }
	h := newHarness(t, func(o *channelauth.Options) {
		o.AcceptEntraTokens = true
		o.TenantID = strings.ToUpper(tenantID) // GUIDs may be configured in either case
		o.IsTrustedServiceURL = trusted
	})
	v2Iss, v1Iss := h.ch.TenantIssuers()
	tenantClaims := func(iss string) map[string]any {
		now := h.clock.Now()
		return map[string]any{"iss": iss, "aud": appID, "tid": tenantID, "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	}

	tests := []struct {
		name       string
		give       string
		serviceURL string
		want       string
		wantIss    string
	}{
		{name: "v2 issuer", give: h.ch.TenantToken(appID, false), serviceURL: serviceURL, wantIss: v2Iss},
		{name: "v1 issuer", give: h.ch.TenantToken(appID, true), serviceURL: serviceURL, wantIss: v1Iss},
		{name: "untrusted serviceurl", give: h.ch.TenantToken(appID, false), serviceURL: "https://evil.example/", want: "serviceurl not trusted for entra token"},
		{name: "wrong audience", give: h.ch.TenantToken("other-app", false), serviceURL: serviceURL, want: "audience not accepted"},
		{
			name:       "other tenant",
			give:       h.ch.TenantSigner().Sign(tenantClaims("https://sts.windows.net/00000000-0000-0000-0000-000000000000/")),
			serviceURL: serviceURL,
			want:       "issuer not allowed",
		},
		{
			name:       "tenant issuer signed by a channel key",
			give:       h.ch.Signer().Sign(tenantClaims(v2Iss)),
			serviceURL: serviceURL,
			want:       "unknown signing key",
		},
		{
			name:       "channel issuer signed by the tenant key",
			give:       h.ch.TenantSigner().Sign(h.ch.Claims(appID, serviceURL)),
			serviceURL: serviceURL,
			want:       "unknown signing key",
		},
		{
			name:       "expired",
			give:       h.ch.TenantSigner().Sign(func() map[string]any { c := tenantClaims(v2Iss); c["exp"] = t0.Add(-time.Hour).Unix(); return c }()),
			serviceURL: serviceURL,
			want:       "token expired",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			id, err := h.v.Validate(t.Context(), bearer(tt.give), channelID, tt.serviceURL)
			if tt.want != "" {
				wantRejected(t, err, tt.want, tt.give)
				return
			}
			if err != nil {
				t.Fatalf("Validate(%s) = %v; want valid", tt.name, err)
			}
			want := channelauth.Identity{Issuer: tt.wantIss, AppID: appID, App: appID, ServiceURLVouched: false, Source: "entra"}
			if id != want {
				t.Errorf("Validate(%s) = %+v; want %+v", tt.name, id, want)
			}
		})
	}
}

func TestValidateEntraTokensOffFetchesNothing(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	token := h.ch.TenantToken(appID, false)
	_, err := h.v.Validate(t.Context(), bearer(token), channelID, serviceURL)
	wantRejected(t, err, "issuer not allowed", token)
	if got := h.ch.TenantKeyFetches(); got != 0 {
		t.Errorf("TenantKeyFetches() = %d; want 0", got)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	t.Parallel()
	good := channelauth.Options{
		AppID:             appID,
		OpenIDMetadataURL: "https://login.botframework.com/v1/.well-known/openidconfiguration",
		ChannelIssuer:     "https://api.botframework.com",
	}
	tests := []struct {
		name string
		give func(o *channelauth.Options)
		want string
	}{
		{name: "no app id", give: func(o *channelauth.Options) { o.AppID = "" }, want: "app id is required"},
		{name: "no metadata url", give: func(o *channelauth.Options) { o.OpenIDMetadataURL = "" }, want: "openid metadata url: is required"},
		{name: "relative metadata url", give: func(o *channelauth.Options) { o.OpenIDMetadataURL = "/v1/keys" }, want: "not an absolute url"},
		{name: "no issuer", give: func(o *channelauth.Options) { o.ChannelIssuer = "" }, want: "channel issuer is required"},
		{
			name: "entra without authority",
			give: func(o *channelauth.Options) {
				o.AcceptEntraTokens, o.TenantID, o.IsTrustedServiceURL = true, tenantID, func(string) bool { return true }
			},
			want: "authority host: is required",
		},
		{
			name: "entra with domain tenant",
			give: func(o *channelauth.Options) {
				o.AcceptEntraTokens, o.AuthorityHost, o.TenantID = true, "https://login.microsoftonline.com", "contoso.onmicrosoft.com"
				o.IsTrustedServiceURL = func(string) bool { return true }
			},
			want: "tenant id must be the tenant's guid",
		},
		{
			name: "entra without trust check",
			give: func(o *channelauth.Options) {
				o.AcceptEntraTokens, o.AuthorityHost, o.TenantID = true, "https://login.microsoftonline.com", tenantID
			},
			want: "trusted service url check is required",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := good
			tt.give(&o)
			_, err := channelauth.New(o)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New(%s) = %v; want error containing %q", tt.name, err, tt.want)
			}
		})
	}
	if _, err := channelauth.New(good); err != nil {
		t.Errorf("New(good) = %v; want nil", err)
	}
}

func TestValidateTokenSkipsOnlyActivityChecks(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	good := "Bearer " + h.token(nil)
	if _, err := h.v.ValidateToken(context.Background(), good); err != nil {
		t.Fatalf("ValidateToken(valid) = %v; want nil", err)
	}
	// The same token fails Validate without an activity to bind it to.
	if _, err := h.v.Validate(context.Background(), good, "", ""); !errors.Is(err, channelauth.ErrUnauthorized) {
		t.Errorf("Validate(valid, no activity) = %v; want ErrUnauthorized", err)
	}
	expired := "Bearer " + h.token(func(c map[string]any) { c["exp"] = t0.Add(-time.Hour).Unix() })
	wrongAud := "Bearer " + h.token(func(c map[string]any) { c["aud"] = "someone-else" })
	for _, bad := range []string{"", "Basic x", expired, wrongAud, good + "x"} {
		if _, err := h.v.ValidateToken(context.Background(), bad); !errors.Is(err, channelauth.ErrUnauthorized) {
			t.Errorf("ValidateToken(%.20q…) = %v; want ErrUnauthorized", bad, err)
		}
	}
}

// One sidecar for two bots: a token for either app is accepted, and the
// verified token names the configured app its audience named, whichever
// form the audience took; a third app's token is still refused.
func TestValidateSeveralApps(t *testing.T) {
	t.Parallel()
	const second = "5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d"
	h := newHarness(t, func(o *channelauth.Options) { o.AppIDs = []string{second} })
	tests := []struct {
		name    string
		give    string
		wantApp string
		want    string
	}{
		{name: "primary", give: appID, wantApp: appID},
		{name: "second", give: second, wantApp: second},
		{name: "second as botid uri, other case", give: "api://botid-" + strings.ToUpper(second), wantApp: second},
		{name: "third app", give: "0f0f0f0f-1e0f-4a9b-8c7d-6e5f4a3b2c1d", want: "audience not accepted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tok := h.token(func(c map[string]any) { c["aud"] = tt.give })
			id, err := h.v.Validate(t.Context(), bearer(tok), channelID, serviceURL)
			if tt.want != "" {
				wantRejected(t, err, tt.want, tok)
				return
			}
			if err != nil {
				t.Fatalf("Validate(aud %q) = %v; want valid", tt.give, err)
			}
			if id.App != tt.wantApp || id.AppID != tt.give {
				t.Errorf("Validate(aud %q) = App %q, AppID %q; want %q, %q", tt.give, id.App, id.AppID, tt.wantApp, tt.give)
			}
			// What the inbound handler reads before it has the body.
			v, err := h.v.VerifyToken(t.Context(), bearer(tok))
			if err != nil {
				t.Fatalf("VerifyToken(aud %q) = %v; want valid", tt.give, err)
			}
			if v.App() != tt.wantApp {
				t.Errorf("VerifyToken(aud %q).App() = %q; want %q", tt.give, v.App(), tt.wantApp)
			}
		})
	}
}
