package channelauth

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/botsidecar/sidecar/internal/fakes"
)

func TestParseKeys(t *testing.T) {
	t.Parallel()
	a, b := fakes.MustSigner("a"), fakes.MustSigner("b")
	a.SetEndorsements("msteams", "webchat")
	jwkA, jwkB := a.JWK(), b.JWK()

	with := func(k map[string]any, member string, v any) map[string]any {
		out := map[string]any{}
		for kk, vv := range k {
			out[kk] = vv
		}
		if v == nil {
			delete(out, member)
		} else {
			out[member] = v
		}
		return out
	}
	doc := func(keys ...map[string]any) []byte {
		d, _ := json.Marshal(map[string]any{"keys": keys})
		return d
	}
	ec := map[string]any{"kty": "EC", "crv": "P-256", "kid": "ec",
		"x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}
	future := map[string]any{"kty": "ML-DSA-65", "kid": "pq", "pub": "AAAA"}

	tests := []struct {
		name     string
		give     []byte
		wantKIDs []string
		wantErr  bool
		check    func(t *testing.T, keys map[string]signingKey)
	}{
		{name: "two rsa keys", give: doc(jwkA, jwkB), wantKIDs: []string{"a", "b"}, check: func(t *testing.T, keys map[string]signingKey) {
			if !keys["a"].hasEndorsements || !slices.Equal(keys["a"].endorsements, []string{"msteams", "webchat"}) {
				t.Errorf("key a endorsements = %v, %v", keys["a"].endorsements, keys["a"].hasEndorsements)
			}
			if keys["b"].hasEndorsements {
				t.Errorf("key b hasEndorsements = true; want false")
			}
		}},
		{name: "ec key skipped", give: doc(ec, jwkA), wantKIDs: []string{"a"}},
		{name: "unknown key type does not spoil the set", give: doc(future, jwkA), wantKIDs: []string{"a"}},
		{name: "encryption key skipped", give: doc(with(jwkB, "use", "enc"), jwkA), wantKIDs: []string{"a"}},
		{name: "kid-less key skipped", give: doc(with(jwkB, "kid", nil), jwkA), wantKIDs: []string{"a"}},
		{name: "malformed endorsements fail closed", give: doc(with(jwkA, "endorsements", "msteams"), jwkB), wantKIDs: []string{"b"}},
		{name: "empty endorsements list is present", give: doc(with(jwkA, "endorsements", []string{})), wantKIDs: []string{"a"}, check: func(t *testing.T, keys map[string]signingKey) {
			if !keys["a"].hasEndorsements || len(keys["a"].endorsements) != 0 {
				t.Errorf("key a = %+v; want an empty, present endorsements list", keys["a"])
			}
		}},
		{name: "duplicate kid keeps the first", give: doc(jwkA, with(jwkB, "kid", "a")), wantKIDs: []string{"a"}, check: func(t *testing.T, keys map[string]signingKey) {
			if !keys["a"].hasEndorsements {
				t.Errorf("duplicate kid replaced the first key")
			}
		}},
		{name: "no usable keys", give: doc(ec), wantErr: true},
		{name: "empty set", give: []byte(`{"keys":[]}`), wantErr: true},
		{name: "not json", give: []byte(`<html>`), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			keys, err := parseKeys(tt.give)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("parseKeys(%s) = %v; want error", tt.give, keys)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseKeys(%s) = %v", tt.name, err)
			}
			var kids []string
			for kid := range keys {
				kids = append(kids, kid)
			}
			slices.Sort(kids)
			if !slices.Equal(kids, tt.wantKIDs) {
				t.Errorf("parseKeys(%s) kids = %v; want %v", tt.name, kids, tt.wantKIDs)
			}
			if tt.check != nil {
				tt.check(t, keys)
			}
		})
	}
}

func TestSameServiceURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		claim, activity string
		want            bool
	}{
		{"https://smba.trafficmanager.net/amer/", "https://smba.trafficmanager.net/amer/", true},
		{"https://smba.trafficmanager.net/amer/", "https://smba.trafficmanager.net/amer", true},
		{"https://SMBA.trafficmanager.net/AMER", "https://smba.trafficmanager.net/amer/", true},
		{"https://smba.trafficmanager.net/amer//", "https://smba.trafficmanager.net/amer", false},
		{"https://smba.trafficmanager.net/amer/", "https://smba.trafficmanager.net/emea/", false},
		{"https://smba.trafficmanager.net/amer/", "", false},
		// U+212A KELVIN SIGN folds to k in Unicode, never in ASCII.
		{"https://\u212a.example/", "https://k.example/", false},
	}
	for _, tt := range tests {
		if got := sameServiceURL(tt.claim, tt.activity); got != tt.want {
			t.Errorf("sameServiceURL(%q, %q) = %v; want %v", tt.claim, tt.activity, got, tt.want)
		}
	}
}
