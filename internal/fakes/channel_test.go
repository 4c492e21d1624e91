package fakes

import (
	"crypto"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// channelGetJSON fetches url with the fake's client and decodes the JSON body.
func channelGetJSON(t *testing.T, c *Channel, url string, v any) int {
	t.Helper()
	resp, err := c.Client().Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(body, v); err != nil {
			t.Fatalf("decode %s: %v (%s)", url, err, body)
		}
	}
	return resp.StatusCode
}

type channelKeysDoc struct {
	Keys []struct {
		Kid          string    `json:"kid"`
		Kty          string    `json:"kty"`
		Endorsements *[]string `json:"endorsements"`
	} `json:"keys"`
}

// channelDecodeToken splits a compact JWS into its decoded header and claims.
func channelDecodeToken(t *testing.T, token string) (header, claims map[string]any, signingInput string, sig []byte) {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	for i, dst := range []*map[string]any{&header, &claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatalf("decode segment %d: %v", i, err)
		}
		if err := json.Unmarshal(b, dst); err != nil {
			t.Fatalf("unmarshal segment %d: %v", i, err)
		}
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		t.Fatalf("decode signature: %v", err)
	}
	return header, claims, parts[0] + "." + parts[1], sig
}

func channelVerifyRS256(t *testing.T, s *Signer, signingInput string, sig []byte) {
	t.Helper()
	d := sha256.Sum256([]byte(signingInput))
	if err := rsa.VerifyPKCS1v15(s.PublicKey(), crypto.SHA256, d[:], sig); err != nil {
		t.Errorf("RS256 signature does not verify with key %s: %v", s.KID, err)
	}
}

func TestChannelServesMetadataAndKeys(t *testing.T) {
	t.Parallel()
	c := NewChannel(ChannelOptions{})
	defer c.Close()

	var md map[string]any
	if code := channelGetJSON(t, c, c.MetadataURL(), &md); code != http.StatusOK {
		t.Fatalf("GET metadata = %d", code)
	}
	if md["jwks_uri"] != c.URL+"/v1/.well-known/keys" || md["issuer"] != "https://api.botframework.com" {
		t.Errorf("metadata = %v", md)
	}
	if algs, _ := md["id_token_signing_alg_values_supported"].([]any); len(algs) != 1 || algs[0] != "RS256" {
		t.Errorf("id_token_signing_alg_values_supported = %v; want [RS256]", algs)
	}

	var keys channelKeysDoc
	channelGetJSON(t, c, md["jwks_uri"].(string), &keys)
	if len(keys.Keys) != 1 || keys.Keys[0].Kid != "channel-key-1" || keys.Keys[0].Kty != "RSA" {
		t.Fatalf("keys = %+v", keys)
	}
	if e := keys.Keys[0].Endorsements; e == nil || !slices.Equal(*e, DefaultChannelEndorsements) {
		t.Errorf("endorsements = %v; want %v", e, DefaultChannelEndorsements)
	}
	if c.MetadataFetches() != 1 || c.KeyFetches() != 1 {
		t.Errorf("fetches = %d, %d; want 1, 1", c.MetadataFetches(), c.KeyFetches())
	}
	if c.Issuer() != "https://api.botframework.com" {
		t.Errorf("Issuer() = %q", c.Issuer())
	}
	if block, _ := pem.Decode(c.CertificatePEM()); block == nil {
		t.Errorf("CertificatePEM() is not PEM")
	} else if _, err := x509.ParseCertificate(block.Bytes); err != nil {
		t.Errorf("CertificatePEM(): %v", err)
	}
}

func TestChannelToken(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	c := NewChannel(ChannelOptions{Issuer: "https://api.botframework.us", KID: "k1", Now: func() time.Time { return now }})
	defer c.Close()

	header, claims, input, sig := channelDecodeToken(t, c.Token("app", "https://svc/"))
	if header["alg"] != "RS256" || header["kid"] != "k1" {
		t.Errorf("header = %v", header)
	}
	want := map[string]any{
		"iss": "https://api.botframework.us", "aud": "app", "serviceurl": "https://svc/",
		"nbf": float64(now.Unix()), "iat": float64(now.Unix()), "exp": float64(now.Add(time.Hour).Unix()),
	}
	for k, v := range want {
		if claims[k] != v {
			t.Errorf("claim %s = %v; want %v", k, claims[k], v)
		}
	}
	channelVerifyRS256(t, c.Signer(), input, sig)
}

func TestChannelTokenWith(t *testing.T) {
	t.Parallel()
	c := NewChannel(ChannelOptions{})
	defer c.Close()
	claims := c.Claims("app", "https://svc/")

	t.Run("none", func(t *testing.T) {
		t.Parallel()
		tok := c.TokenWith(claims, nil, "none")
		if !strings.HasSuffix(tok, ".") {
			t.Errorf("alg none token %q has a signature", tok)
		}
	})
	t.Run("HS256 keyed with the public key", func(t *testing.T) {
		t.Parallel()
		header, _, input, sig := channelDecodeToken(t, c.TokenWith(claims, nil, "HS256"))
		m := hmac.New(sha256.New, ChannelPublicKeyPEM(c.Signer()))
		m.Write([]byte(input))
		if header["alg"] != "HS256" || !hmac.Equal(sig, m.Sum(nil)) {
			t.Errorf("HS256 token not keyed with the public key PEM")
		}
	})
	t.Run("PS256 by the real key", func(t *testing.T) {
		t.Parallel()
		_, _, input, sig := channelDecodeToken(t, c.TokenWith(claims, nil, "PS256"))
		d := sha256.Sum256([]byte(input))
		if err := rsa.VerifyPSS(c.Signer().PublicKey(), crypto.SHA256, d[:], sig, nil); err != nil {
			t.Errorf("PS256 signature: %v", err)
		}
	})
	t.Run("header edits", func(t *testing.T) {
		t.Parallel()
		header, _, input, sig := channelDecodeToken(t, c.TokenWith(claims, map[string]any{"kid": nil, "x5t": "abc"}, "RS256"))
		if _, ok := header["kid"]; ok || header["x5t"] != "abc" {
			t.Errorf("header = %v; want no kid and x5t", header)
		}
		channelVerifyRS256(t, c.Signer(), input, sig)
	})
}

func TestChannelRotateAndEndorsements(t *testing.T) {
	t.Parallel()
	c := NewChannel(ChannelOptions{Endorsements: []string{"msteams"}})
	defer c.Close()

	unpublished := c.NewUnpublishedSigner("hidden")
	next := c.RotateKey("k2")
	if c.Signer() != next {
		t.Errorf("Signer() after RotateKey is not the new key")
	}
	c.SetEndorsements() // the current key (k2) loses its endorsements member
	var keys channelKeysDoc
	channelGetJSON(t, c, c.URL+"/v1/.well-known/keys", &keys)
	var kids []string
	for _, k := range keys.Keys {
		kids = append(kids, k.Kid)
		switch k.Kid {
		case "channel-key-1":
			if k.Endorsements == nil || !slices.Equal(*k.Endorsements, []string{"msteams"}) {
				t.Errorf("old key endorsements = %v", k.Endorsements)
			}
		case "k2":
			if k.Endorsements != nil {
				t.Errorf("k2 endorsements = %v; want no member", *k.Endorsements)
			}
		}
	}
	if !slices.Equal(kids, []string{"channel-key-1", "k2"}) {
		t.Errorf("published kids = %v; want [channel-key-1 k2]", kids)
	}
	c.Publish(unpublished)
	channelGetJSON(t, c, c.URL+"/v1/.well-known/keys", &keys)
	if len(keys.Keys) != 3 {
		t.Errorf("after Publish: %d keys; want 3", len(keys.Keys))
	}
	if c.KeyFetches() != 2 {
		t.Errorf("KeyFetches() = %d; want 2", c.KeyFetches())
	}
}

func TestChannelFailing(t *testing.T) {
	t.Parallel()
	c := NewChannel(ChannelOptions{})
	defer c.Close()
	c.SetFailing(true)
	var v any
	if code := channelGetJSON(t, c, c.MetadataURL(), &v); code != http.StatusServiceUnavailable {
		t.Errorf("GET metadata while failing = %d; want 503", code)
	}
	if code := channelGetJSON(t, c, c.URL+"/v1/.well-known/keys", &v); code != http.StatusServiceUnavailable {
		t.Errorf("GET keys while failing = %d; want 503", code)
	}
	if c.MetadataFetches() != 1 || c.KeyFetches() != 1 {
		t.Errorf("failed fetches not counted: %d, %d", c.MetadataFetches(), c.KeyFetches())
	}
	c.SetFailing(false)
	if code := channelGetJSON(t, c, c.MetadataURL(), &v); code != http.StatusOK {
		t.Errorf("GET metadata after recovery = %d; want 200", code)
	}
}

func TestChannelTenant(t *testing.T) {
	t.Parallel()
	const tenant = "3b1e5c2a-9f8d-4e7c-a6b5-c4d3e2f1a0b9"
	c := NewChannel(ChannelOptions{TenantID: tenant})
	defer c.Close()

	var md map[string]any
	if code := channelGetJSON(t, c, c.URL+"/"+tenant+"/v2.0/.well-known/openid-configuration", &md); code != http.StatusOK {
		t.Fatalf("GET tenant metadata = %d", code)
	}
	var keys channelKeysDoc
	channelGetJSON(t, c, md["jwks_uri"].(string), &keys)
	if len(keys.Keys) != 1 || keys.Keys[0].Endorsements != nil {
		t.Errorf("tenant keys = %+v; want one key without endorsements", keys)
	}
	if c.TenantKeyFetches() != 1 {
		t.Errorf("TenantKeyFetches() = %d; want 1", c.TenantKeyFetches())
	}
	var other map[string]any
	if code := channelGetJSON(t, c, c.URL+"/00000000-0000-0000-0000-000000000000/v2.0/.well-known/openid-configuration", &other); code != http.StatusNotFound {
		t.Errorf("GET other tenant metadata = %d; want 404", code)
	}

	v2, v1 := c.TenantIssuers()
	for _, tt := range []struct {
		v1   bool
		want string
	}{{false, v2}, {true, v1}} {
		_, claims, input, sig := channelDecodeToken(t, c.TenantToken("app", tt.v1))
		if claims["iss"] != tt.want || claims["tid"] != tenant || claims["serviceurl"] != nil {
			t.Errorf("TenantToken(v1=%v) claims = %v", tt.v1, claims)
		}
		channelVerifyRS256(t, c.TenantSigner(), input, sig)
	}
	if v1 != "https://sts.windows.net/"+tenant+"/" || v2 != c.URL+"/"+tenant+"/v2.0" {
		t.Errorf("TenantIssuers() = %q, %q", v2, v1)
	}
}
