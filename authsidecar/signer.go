package authsidecar

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"slices"
	"sync"
	"time"
)

// The paths of the signer's authority on the listener. A bot is pointed at
// {base}/inbound as its authority: an authority with a path is used as
// given, so the bot needs no tenant to find the keys, and the issuer
// {authority}/v2.0 is the one the SDK derives for it when it validates
// issuers.
const (
	// AuthorityPath is the authority's path under the listener's base URL.
	AuthorityPath = "/inbound"
	issuerPath    = AuthorityPath + "/v2.0"
	keysPath      = AuthorityPath + "/discovery/v2.0/keys"
	metadataPath  = issuerPath + "/.well-known/openid-configuration"
)

const (
	// tokenLifetime is how long a signed token is valid. The bot checks
	// it the moment it arrives, on the same host's clock; a token that
	// outlives its activity could only be replayed to the same bot.
	tokenLifetime = 10 * time.Minute
	// reuseFor is how long one token serves every activity: half its
	// lifetime, so that each leaves with at least 5 minutes to run and
	// signing costs nothing per activity.
	reuseFor = tokenLifetime / 2
	// maxCached bounds the tokens kept, one per serviceUrl the bot sees;
	// the configuration has a handful at most.
	maxCached = 64
)

// SignerOptions configures a Signer.
type SignerOptions struct {
	// BaseURL is the listener as the bot reaches it, such as
	// http://127.0.0.1:5178, without a path; required.
	BaseURL string
	// Audiences are the bots' app ids, which their SDKs compare with the
	// token's aud; at least one. The signer signs for these only.
	Audiences []string
	// Key signs the tokens; nil generates a 2048-bit RSA key. It lives as
	// long as the process: after a restart the tokens name a new key id,
	// and the bot fetches the keys again.
	Key *rsa.PrivateKey
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// Signer signs the tokens the sidecar forwards inbound activities with,
// and holds the OpenID metadata and keys the bot validates them against.
// It implements proxy.BotAuthorizer.
type Signer struct {
	key       *rsa.PrivateKey
	kid       string
	authority string
	issuer    string
	audiences []string
	now       func() time.Time
	// keys and metadata are the JSON documents the listener serves.
	keys, metadata []byte

	mu     sync.Mutex
	cached map[cacheKey]signedToken
}

type cacheKey struct{ audience, serviceURL string }

type signedToken struct {
	header string // "Bearer …"
	issued time.Time
}

// NewSigner checks opts and returns a Signer.
func NewSigner(opts SignerOptions) (*Signer, error) {
	u, err := url.Parse(opts.BaseURL)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return nil, errors.New("signer: base url must be an absolute http or https url")
	case (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		return nil, errors.New("signer: base url must have no path, query, fragment or user info")
	case len(opts.Audiences) == 0 || slices.Contains(opts.Audiences, ""):
		return nil, errors.New("signer: audiences are required")
	}
	key := opts.Key
	if key == nil {
		if key, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			return nil, fmt.Errorf("signer: generate key: %w", err)
		}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	base := u.Scheme + "://" + u.Host
	s := &Signer{
		key:       key,
		authority: base + AuthorityPath,
		issuer:    base + issuerPath,
		audiences: slices.Clone(opts.Audiences),
		now:       opts.Now,
		cached:    map[cacheKey]signedToken{},
	}
	jwk := publicJWK(&key.PublicKey)
	s.kid = jwk.thumbprint()
	jwk.Kid, jwk.Use, jwk.Alg = s.kid, "sig", "RS256"
	if s.keys, err = json.Marshal(struct {
		Keys []rsaJWK `json:"keys"`
	}{[]rsaJWK{jwk}}); err != nil {
		return nil, fmt.Errorf("signer: keys: %w", err)
	}
	if s.metadata, err = json.Marshal(struct {
		Issuer  string   `json:"issuer"`
		JWKSURI string   `json:"jwks_uri"`
		Algs    []string `json:"id_token_signing_alg_values_supported"`
	}{s.issuer, base + keysPath, []string{"RS256"}}); err != nil {
		return nil, fmt.Errorf("signer: metadata: %w", err)
	}
	return s, nil
}

// Authority is what the bot is given as its authority endpoint.
func (s *Signer) Authority() string { return s.authority }

// Issuer is the iss of the signed tokens.
func (s *Signer) Issuer() string { return s.issuer }

// BotAuthorization returns "Bearer <token>" for an activity forwarded to
// the bot of app id audience with serviceURL as its serviceUrl: the token
// names audience as aud and serviceURL as its serviceurl claim, which the
// SDK may compare with the activity's serviceUrl. It carries no appid or
// azp, so that the SDK asks for a Bot Framework token to reply, as it does
// for the channel's tokens.
func (s *Signer) BotAuthorization(audience, serviceURL string) (string, error) {
	if !slices.Contains(s.audiences, audience) {
		return "", fmt.Errorf("sign token: %q is not one of the bots' app ids", audience)
	}
	now := s.now()
	key := cacheKey{audience, serviceURL}
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.cached[key]; ok && !now.Before(t.issued) && now.Sub(t.issued) < reuseFor {
		return t.header, nil
	}
	tok, err := s.sign(tokenClaims{
		Audience:   audience,
		Expiry:     now.Add(tokenLifetime).Unix(),
		IssuedAt:   now.Unix(),
		Issuer:     s.issuer,
		NotBefore:  now.Unix(),
		ServiceURL: serviceURL,
	})
	if err != nil {
		return "", err
	}
	if len(s.cached) >= maxCached {
		clear(s.cached)
	}
	h := "Bearer " + tok
	s.cached[key] = signedToken{header: h, issued: now}
	return h, nil
}

// tokenClaims are the claims of a signed token.
type tokenClaims struct {
	Audience   string `json:"aud"`
	Expiry     int64  `json:"exp"`
	IssuedAt   int64  `json:"iat"`
	Issuer     string `json:"iss"`
	NotBefore  int64  `json:"nbf"`
	ServiceURL string `json:"serviceurl"`
}

// sign returns the compact RS256 JWS of claims.
func (s *Signer) sign(claims tokenClaims) (string, error) {
	header, err := json.Marshal(struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
		Typ string `json:"typ"`
	}{"RS256", s.kid, "JWT"})
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	input := b64(header) + "." + b64(payload)
	digest := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, s.key, crypto.SHA256, digest[:])
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return input + "." + b64(sig), nil
}

// rsaJWK is an RSA public key as a JSON Web Key (RFC 7517).
type rsaJWK struct {
	Kty string `json:"kty"`
	Use string `json:"use,omitempty"`
	Alg string `json:"alg,omitempty"`
	Kid string `json:"kid,omitempty"`
	N   string `json:"n"`
	E   string `json:"e"`
}

func publicJWK(k *rsa.PublicKey) rsaJWK {
	return rsaJWK{Kty: "RSA", N: b64(k.N.Bytes()), E: b64(big.NewInt(int64(k.E)).Bytes())}
}

// thumbprint is the key's RFC 7638 thumbprint, its key id: the SHA-256 of
// the required members in lexical order, without white space.
func (k rsaJWK) thumbprint() string {
	sum := sha256.Sum256([]byte(`{"e":"` + k.E + `","kty":"RSA","n":"` + k.N + `"}`))
	return b64(sum[:])
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
