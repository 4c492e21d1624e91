package channelauth_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/botsidecar/sidecar/channelauth"
)

func FuzzValidate(f *testing.F) {
	h := newHarness(f, nil)
	good := h.ch.Token(appID, serviceURL)
	if _, err := h.v.Validate(context.Background(), bearer(good), channelID, serviceURL); err != nil {
		f.Fatalf("Validate(good) = %v", err)
	}
	seeds := []string{
		"", "Bearer", "Bearer ", "Basic x", "Bearer a.b.c", "Bearer ..", "Bearer e30.e30.",
		bearer(good),
		bearer(flipSignatureByte(good)),
		bearer(h.ch.TokenWith(h.ch.Claims(appID, serviceURL), nil, "none")),
		bearer(h.ch.TokenWith(h.ch.Claims(appID, serviceURL), nil, "HS256")),
		bearer(h.ch.TokenWith(h.ch.Claims(appID, serviceURL), map[string]any{"kid": 7, "crit": []string{"x"}}, "RS256")),
		bearer(h.ch.TokenWith(map[string]any{"iss": h.ch.Issuer(), "aud": []any{1, nil}, "exp": "soon", "serviceurl": []int{1}}, nil, "RS256")),
	}
	for _, s := range seeds {
		f.Add(s, channelID, serviceURL)
	}
	f.Fuzz(func(t *testing.T, authorization, channel, svc string) {
		id, err := h.v.Validate(context.Background(), authorization, channel, svc)
		if err == nil && (id.Source != "channel" || !id.ServiceURLVouched) {
			t.Fatalf("Validate(%q) = %+v with no error", authorization, id)
		}
		if err != nil && !errors.Is(err, channelauth.ErrUnauthorized) && !errors.Is(err, channelauth.ErrKeysUnavailable) {
			t.Fatalf("Validate(%q) = %v; want a classified error", authorization, err)
		}
	})
}

// FuzzVerifyToken fuzzes the inbound pre-body check, which judges the
// Authorization header of every request before its body is read: it
// never panics, classifies every error, and accepts only a token whose
// signed part (header and claims, byte for byte) the fake channel signed.
func FuzzVerifyToken(f *testing.F) {
	h := newHarness(f, nil)
	signed := map[string]bool{}
	mint := func(token string) string {
		if i := strings.LastIndexByte(token, '.'); i > 0 {
			signed[token[:i]] = true
		}
		return token
	}
	now := h.clock.Now()
	seeds := []string{
		"", "Bearer", "Bearer ", "Basic x", "Bearer a.b.c", "Bearer ..", "Bearer e30.e30.", "bearer\t.",
		bearer(mint(h.ch.Token(appID, serviceURL))),
		"bearer " + mint(h.token(func(c map[string]any) { c["aud"] = "api://botid-" + appID })),
		bearer(mint(h.token(func(c map[string]any) { c["exp"] = strconv.FormatInt(now.Add(time.Hour).Unix(), 10) }))),
		bearer(mint(h.token(func(c map[string]any) { c["exp"] = now.Add(-time.Hour).Unix() }))),
		bearer(mint(h.token(func(c map[string]any) { c["aud"] = "someone-else" }))),
		bearer(flipSignatureByte(h.ch.Token(appID, serviceURL))),
		bearer(h.ch.TokenWith(h.ch.Claims(appID, serviceURL), nil, "none")),
		bearer(h.ch.TokenWith(h.ch.Claims(appID, serviceURL), nil, "HS256")),
		bearer(h.ch.TokenWith(h.ch.Claims(appID, serviceURL), nil, "PS256")),
		bearer(h.ch.NewUnpublishedSigner(h.ch.Signer().KID).Sign(h.ch.Claims(appID, serviceURL))),
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, authorization string) {
		v, err := h.v.VerifyToken(context.Background(), authorization)
		if err != nil {
			if v != nil {
				t.Fatalf("VerifyToken(%q) = %v with a token", authorization, err)
			}
			if !errors.Is(err, channelauth.ErrUnauthorized) && !errors.Is(err, channelauth.ErrKeysUnavailable) {
				t.Fatalf("VerifyToken(%q) = %v; want a classified error", authorization, err)
			}
			return
		}
		_, token, _ := strings.Cut(authorization, " ")
		i := strings.LastIndexByte(token, '.')
		if i < 0 || !signed[token[:i]] {
			t.Fatalf("VerifyToken(%q) accepted a token the channel did not sign", authorization)
		}
		if id, err := v.CheckActivity(channelID, serviceURL); err == nil && (id.Source != "channel" || !id.ServiceURLVouched) {
			t.Fatalf("CheckActivity after VerifyToken(%q) = %+v", authorization, id)
		}
	})
}

func BenchmarkValidate(b *testing.B) {
	h := newHarness(b, nil)
	token := bearer(h.ch.Token(appID, serviceURL))
	ctx := context.Background()
	if _, err := h.v.Validate(ctx, token, channelID, serviceURL); err != nil {
		b.Fatalf("Validate() = %v", err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.v.Validate(ctx, token, channelID, serviceURL); err != nil {
			b.Fatal(err)
		}
	}
}
