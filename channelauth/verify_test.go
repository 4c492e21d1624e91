package channelauth_test

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/botsidecar/sidecar/channelauth"
)

// TestTimeClaimsMustBeNumbers: jwx reads a string exp, nbf or iat as a
// time ("1712345678", or an RFC 3339 date); RFC 7519 says NumericDate is a
// JSON number, and nothing else is accepted.
func TestTimeClaimsMustBeNumbers(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	now := h.clock.Now()
	later := now.Add(time.Hour)
	const reason = "exp, nbf or iat is not a number"
	tests := []struct {
		name string
		mod  func(c map[string]any)
		raw  func(payload string) string // edits the claims JSON itself
		want string                      // "" means valid
	}{
		{name: "numbers", mod: func(map[string]any) {}},
		{name: "fractional exp", mod: func(c map[string]any) { c["exp"] = float64(later.Unix()) + 0.5 }},
		{name: "exp as a numeric string", mod: func(c map[string]any) { c["exp"] = strconv.FormatInt(later.Unix(), 10) }, want: reason},
		{name: "exp as an RFC 3339 date", mod: func(c map[string]any) { c["exp"] = later.Format(time.RFC3339) }, want: reason},
		{name: "nbf as a numeric string", mod: func(c map[string]any) { c["nbf"] = strconv.FormatInt(now.Unix(), 10) }, want: reason},
		{name: "nbf as an RFC 3339 date", mod: func(c map[string]any) { c["nbf"] = now.Format(time.RFC3339) }, want: reason},
		{name: "iat as a numeric string", mod: func(c map[string]any) { c["iat"] = strconv.FormatInt(now.Unix(), 10) }, want: reason},
		{name: "iat as an RFC 3339 date", mod: func(c map[string]any) { c["iat"] = now.Format(time.RFC3339) }, want: reason},
		// jwx refuses these itself.
		{name: "nbf null", mod: func(c map[string]any) { c["nbf"] = nil }, want: "malformed token"},
		{name: "exp true", mod: func(c map[string]any) { c["exp"] = true }, want: "malformed token"},
		{name: "no iat", mod: func(c map[string]any) { delete(c, "iat") }},
		{
			// Whichever occurrence jwx keeps, a string one is refused.
			name: "duplicate exp, string last",
			raw: func(p string) string {
				return strings.TrimSuffix(p, "}") + `,"exp":"` + strconv.FormatInt(later.Unix(), 10) + `"}`
			},
			want: reason,
		},
		{
			name: "duplicate exp, string first",
			raw: func(p string) string {
				return `{"exp":"` + strconv.FormatInt(later.Unix(), 10) + `",` + strings.TrimPrefix(p, "{")
			},
			want: reason,
		},
		{
			name: "escaped exp key as a string",
			raw: func(p string) string {
				return strings.TrimSuffix(p, "}") + `,"\u0065xp":"` + strconv.FormatInt(later.Unix(), 10) + `"}`
			},
			want: reason,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var token string
			if tt.raw != nil {
				claims, err := json.Marshal(h.ch.Claims(appID, serviceURL))
				if err != nil {
					t.Fatal(err)
				}
				token = h.ch.Signer().SignJSON(tt.raw(string(claims)))
			} else {
				token = h.token(tt.mod)
			}
			_, err := h.v.Validate(t.Context(), bearer(token), channelID, serviceURL)
			if tt.want != "" {
				wantRejected(t, err, tt.want, token)
				return
			}
			if err != nil {
				t.Fatalf("Validate(%s) = %v; want valid", tt.name, err)
			}
		})
	}
}

// TestEntraCallingAppAllowList: any app of the tenant can get an Entra
// token for the bot's audience; only the app that requested it (appid in
// v1 tokens, azp in v2) tells them apart, and only allowed apps pass.
func TestEntraCallingAppAllowList(t *testing.T) {
	t.Parallel()
	const otherApp = "0b5f1c7e-2a3d-4e8f-9a1b-c2d3e4f5a6b7"
	entra := func(apps ...string) func(o *channelauth.Options) {
		return func(o *channelauth.Options) {
			o.AcceptEntraTokens = true
			o.IsTrustedServiceURL = func(string) bool { return true }
			o.EntraAppIDs = apps
		}
	}
	byDefault := newHarness(t, entra())
	listed := newHarness(t, entra(strings.ToUpper(otherApp)))
	claims := func(h *harness, v1 bool, caller map[string]any) map[string]any {
		now := h.clock.Now()
		iss, v1Iss := h.ch.TenantIssuers()
		if v1 {
			iss = v1Iss
		}
		c := map[string]any{"iss": iss, "aud": appID, "tid": tenantID, "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix()}
		for k, v := range caller {
			c[k] = v
		}
		return c
	}
	const notAllowed = "entra token's calling app (appid or azp) is not allowed"
	tests := []struct {
		name   string
		h      *harness
		v1     bool
		caller map[string]any
		want   string
	}{
		{name: "v2, the bot itself", h: byDefault, caller: map[string]any{"azp": appID}},
		{name: "v1, the bot itself", h: byDefault, v1: true, caller: map[string]any{"appid": strings.ToUpper(appID)}},
		{name: "v2, another app of the tenant", h: byDefault, caller: map[string]any{"azp": otherApp}, want: notAllowed},
		{name: "v1, another app of the tenant", h: byDefault, v1: true, caller: map[string]any{"appid": otherApp}, want: notAllowed},
		{name: "no calling app", h: byDefault, want: "entra token names no calling app"},
		{name: "one of two claims not allowed", h: byDefault, caller: map[string]any{"azp": appID, "appid": otherApp}, want: notAllowed},
		{name: "calling app not a string", h: byDefault, caller: map[string]any{"azp": []string{appID}}, want: notAllowed},
		{name: "listed app", h: listed, caller: map[string]any{"azp": otherApp}},
		{name: "the bot, when not listed", h: listed, caller: map[string]any{"azp": appID}, want: notAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			token := tt.h.ch.TenantSigner().Sign(claims(tt.h, tt.v1, tt.caller))
			// Refused from the header alone, before any body is read.
			_, err := tt.h.v.VerifyToken(t.Context(), bearer(token))
			if tt.want != "" {
				wantRejected(t, err, tt.want, token)
				return
			}
			if err != nil {
				t.Fatalf("VerifyToken(%s) = %v; want valid", tt.name, err)
			}
		})
	}
}

func TestNewRejectsNonGUIDEntraAppIDs(t *testing.T) {
	t.Parallel()
	_, err := channelauth.New(channelauth.Options{
		AppID:               appID,
		OpenIDMetadataURL:   "https://login.botframework.com/v1/.well-known/openidconfiguration",
		ChannelIssuer:       "https://api.botframework.com",
		AcceptEntraTokens:   true,
		AuthorityHost:       "https://login.microsoftonline.com",
		TenantID:            tenantID,
		IsTrustedServiceURL: func(string) bool { return true },
		EntraAppIDs:         []string{appID, "my-other-bot"},
	})
	if err == nil || !strings.Contains(err.Error(), `entra app id "my-other-bot" is not a guid`) {
		t.Errorf("New(non-guid entra app id) = %v; want it named", err)
	}
}

// TestVerifyThenCheckActivity: the header is judged alone, then the
// activity against the verified token, with no second key lookup.
func TestVerifyThenCheckActivity(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	token := bearer(h.token(nil))
	verified, err := h.v.VerifyToken(t.Context(), token)
	if err != nil {
		t.Fatalf("VerifyToken(valid) = %v", err)
	}
	fetches := h.ch.KeyFetches()
	id, err := verified.CheckActivity(channelID, serviceURL)
	want := channelauth.Identity{Issuer: h.ch.Issuer(), AppID: appID, App: appID, ServiceURLVouched: true, Source: "channel"}
	if err != nil || id != want {
		t.Errorf("CheckActivity(valid) = %+v, %v; want %+v", id, err, want)
	}
	for _, tt := range []struct{ channel, svc, want string }{
		{"slack", serviceURL, "channel not endorsed by signing key"},
		{"", serviceURL, "activity has no channel id"},
		{channelID, "https://evil.example/", "serviceurl claim does not match activity"},
	} {
		_, err := verified.CheckActivity(tt.channel, tt.svc)
		wantRejected(t, err, tt.want, token)
	}
	if got := h.ch.KeyFetches(); got != fetches {
		t.Errorf("KeyFetches() = %d after CheckActivity; want %d", got, fetches)
	}
	if _, err := h.v.VerifyToken(t.Context(), "Bearer "+flipSignatureByte(h.token(nil))); err == nil {
		t.Error("VerifyToken(bad signature) = nil; want a rejection")
	}
}
