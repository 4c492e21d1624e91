package channelauth_test

import (
	"context"
	"errors"
	"testing"

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
