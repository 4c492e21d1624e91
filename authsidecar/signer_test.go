package authsidecar

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/botsidecar/sidecar/internal/testkit"
)

const (
	testAppID   = "7a1c2e2e-0b5e-4c1d-9e2e-3f4a5b6c7d8e"
	testBaseURL = "http://127.0.0.1:5178"
	testService = "http://127.0.0.1:3979/"
)

// testKey is generated once: RSA key generation is slow under -race.
var testKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

func testSigner(t *testing.T, clock *testkit.Clock) *Signer {
	t.Helper()
	if clock == nil {
		clock = testkit.NewClock()
	}
	s, err := NewSigner(SignerOptions{BaseURL: testBaseURL, Audiences: []string{testAppID}, Key: testKey(), Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Authority and issuer follow the SDK's rules: an authority with a path is
// used as given, its keys are at {authority}/discovery/v2.0/keys, and the
// issuer it accepts for it is {authority}/v2.0.
func TestSignerURLs(t *testing.T) {
	t.Parallel()
	s := testSigner(t, nil)
	if got, want := s.Authority(), testBaseURL+"/inbound"; got != want {
		t.Errorf("Authority() = %q; want %q", got, want)
	}
	if got, want := s.Issuer(), s.Authority()+"/v2.0"; got != want {
		t.Errorf("Issuer() = %q; want %q", got, want)
	}
}

// A signed token verifies against the keys the listener serves, with the
// claims the SDK checks.
func TestSignedTokenVerifiesAgainstServedKeys(t *testing.T) {
	t.Parallel()
	clock := testkit.NewClock()
	s := testSigner(t, clock)
	h, err := New(Options{Identities: map[string]Identity{"default": {Tokens: &fakeTokens{token: "t"}, Scope: testScope}}, Signer: s})
	if err != nil {
		t.Fatal(err)
	}
	hs := &harness{t: t, srv: newServer(t, h)}

	resp, body := hs.get("/inbound/v2.0/.well-known/openid-configuration", nil)
	var meta struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.Unmarshal(body, &meta); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET metadata = %d %s", resp.StatusCode, body)
	}
	if meta.Issuer != s.Issuer() || meta.JWKSURI != s.Authority()+"/discovery/v2.0/keys" {
		t.Errorf("metadata = %+v; want issuer %s and keys under %s", meta, s.Issuer(), s.Authority())
	}
	resp, body = hs.get("/inbound/discovery/v2.0/keys", nil)
	var keys struct {
		Keys []struct{ Kty, Use, Alg, Kid, N, E string }
	}
	if err := json.Unmarshal(body, &keys); err != nil || resp.StatusCode != http.StatusOK || len(keys.Keys) != 1 {
		t.Fatalf("GET keys = %d %s; want one key", resp.StatusCode, body)
	}
	jwk := keys.Keys[0]
	if jwk.Kty != "RSA" || jwk.Use != "sig" || jwk.Alg != "RS256" || jwk.Kid == "" {
		t.Errorf("key = %+v; want an RS256 signing key with a kid", jwk)
	}
	// The key id is the RFC 7638 thumbprint of the key.
	sum := sha256.Sum256([]byte(`{"e":"` + jwk.E + `","kty":"RSA","n":"` + jwk.N + `"}`))
	if jwk.Kid != base64.RawURLEncoding.EncodeToString(sum[:]) {
		t.Errorf("kid %q is not the key's thumbprint", jwk.Kid)
	}

	authz, err := s.BotAuthorization(testAppID, testService)
	if err != nil {
		t.Fatal(err)
	}
	tok, ok := strings.CutPrefix(authz, "Bearer ")
	if !ok {
		t.Fatalf("BotAuthorization = %q; want a Bearer token", authz)
	}
	header, claims := verify(t, tok, jwk.N, jwk.E)
	if header["alg"] != "RS256" || header["kid"] != jwk.Kid {
		t.Errorf("header = %v; want RS256 and kid %s", header, jwk.Kid)
	}
	now := clock.Now().Unix()
	want := map[string]any{
		"aud": testAppID, "iss": s.Issuer(), "serviceurl": testService,
		"iat": float64(now), "nbf": float64(now), "exp": float64(now + 600),
	}
	if len(claims) != len(want) {
		t.Errorf("claims = %v; want exactly %v (no appid or azp: the SDK then asks for a Bot Framework token)", claims, want)
	}
	for k, v := range want {
		if claims[k] != v {
			t.Errorf("claim %s = %v; want %v", k, claims[k], v)
		}
	}
}

// One token serves for half its lifetime, per serviceUrl.
func TestSignedTokenReuse(t *testing.T) {
	t.Parallel()
	clock := testkit.NewClock()
	s := testSigner(t, clock)
	first, _ := s.BotAuthorization(testAppID, testService)
	clock.Advance(5*time.Minute - time.Second)
	if again, _ := s.BotAuthorization(testAppID, testService); again != first {
		t.Error("a token 5 minutes old was not reused")
	}
	if other, _ := s.BotAuthorization(testAppID, "http://127.0.0.1:3981/"); other == first {
		t.Error("another serviceUrl got the same token")
	}
	clock.Advance(time.Second)
	next, _ := s.BotAuthorization(testAppID, testService)
	if next == first {
		t.Fatal("a token half its lifetime old was reused")
	}
	_, claims := verify(t, strings.TrimPrefix(next, "Bearer "), publicJWK(&testKey().PublicKey).N, publicJWK(&testKey().PublicKey).E)
	if claims["iat"] != float64(clock.Now().Unix()) {
		t.Errorf("new token iat = %v; want now", claims["iat"])
	}
}

func TestNewSignerRefuses(t *testing.T) {
	t.Parallel()
	for _, opts := range []SignerOptions{
		{BaseURL: "", Audiences: []string{testAppID}},
		{BaseURL: "127.0.0.1:5178", Audiences: []string{testAppID}},
		{BaseURL: "ftp://127.0.0.1:5178", Audiences: []string{testAppID}},
		{BaseURL: "http://127.0.0.1:5178/inbound", Audiences: []string{testAppID}},
		{BaseURL: "http://u:p@127.0.0.1:5178", Audiences: []string{testAppID}},
		{BaseURL: testBaseURL},
		{BaseURL: testBaseURL, Audiences: []string{""}},
	} {
		opts.Key = testKey()
		if _, err := NewSigner(opts); err == nil {
			t.Errorf("NewSigner(%+v) error = nil; want one", opts)
		}
	}
}

// verify checks tok's RS256 signature with the public key (n, e) and
// returns its header and claims.
func verify(t *testing.T, tok, n, e string) (header, claims map[string]any) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts; want 3", len(parts))
	}
	dec := func(s string) []byte {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			t.Fatalf("decode %q: %v", s, err)
		}
		return b
	}
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(dec(n)), E: int(new(big.Int).SetBytes(dec(e)).Int64())}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], dec(parts[2])); err != nil {
		t.Fatalf("signature does not verify with the served key: %v", err)
	}
	if err := json.Unmarshal(dec(parts[0]), &header); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(dec(parts[1]), &claims); err != nil {
		t.Fatal(err)
	}
	return header, claims
}

// A signer serves several bots, each token for its own app id, and signs
// for no other.
func TestSignerAudiences(t *testing.T) {
	t.Parallel()
	const other = "22222222-2222-2222-2222-222222222222"
	s, err := NewSigner(SignerOptions{BaseURL: testBaseURL, Audiences: []string{testAppID, other}, Key: testKey(), Now: testkit.NewClock().Now})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := s.BotAuthorization(testAppID, testService)
	b, err := s.BotAuthorization(other, testService)
	if err != nil || a == b {
		t.Fatalf("BotAuthorization(other bot) = %q, %v; want a token of its own", b, err)
	}
	jwk := publicJWK(&testKey().PublicKey)
	if _, claims := verify(t, strings.TrimPrefix(b, "Bearer "), jwk.N, jwk.E); claims["aud"] != other {
		t.Errorf("aud = %v; want %s", claims["aud"], other)
	}
	if _, err := s.BotAuthorization("33333333-3333-3333-3333-333333333333", testService); err == nil {
		t.Error("BotAuthorization(unknown app) = nil error; want refused")
	}
}
