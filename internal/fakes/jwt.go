// Package fakes holds loopback fakes of Entra, the Bot Framework channel and
// the Bot Connector. Tests and the offline `demo` share them, so what the demo
// shows is what the tests prove.
package fakes

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"sync"
)

// Signer issues RS256/384/512 JWTs with one RSA key and publishes it as a JWK.
// It is deliberately std-lib only: the fakes must not share code with the
// validator they are used to test.
type Signer struct {
	KID string
	key *rsa.PrivateKey

	mu           sync.Mutex
	endorsements []string
}

// NewSigner makes a signer with a fresh 2048-bit key.
func NewSigner(kid string) (*Signer, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("generate rsa key %s: %w", kid, err)
	}
	return &Signer{KID: kid, key: key}, nil
}

// MustSigner is NewSigner for tests and the demo, where a failure to generate
// a key is unrecoverable.
func MustSigner(kid string) *Signer {
	s, err := NewSigner(kid)
	if err != nil {
		panic(err)
	}
	return s
}

// PublicKey returns the signer's public key.
func (s *Signer) PublicKey() *rsa.PublicKey { return &s.key.PublicKey }

// SetEndorsements sets the `endorsements` member published with the key
// (Bot Framework channel keys list the channel ids they may sign for).
func (s *Signer) SetEndorsements(channels ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.endorsements = append([]string(nil), channels...)
}

// Sign returns a compact JWS over claims, signed with RS256.
func (s *Signer) Sign(claims map[string]any) string {
	return s.SignWith("RS256", map[string]any{"kid": s.KID}, claims)
}

// SignWith signs claims with the given RSA algorithm (RS256, RS384, RS512) and
// extra header members. "alg" and "typ" are set by it; "kid" only when the
// header map has one.
func (s *Signer) SignWith(alg string, header map[string]any, claims map[string]any) string {
	h := map[string]any{"alg": alg, "typ": "JWT"}
	for k, v := range header {
		h[k] = v
	}
	return s.sign(alg, encodeSegment(h), encodeSegment(claims))
}

// SignJSON signs claims given as raw JSON with RS256, for claims a map
// cannot express (duplicate keys, exact number spellings).
func (s *Signer) SignJSON(claims string) string {
	h := map[string]any{"alg": "RS256", "typ": "JWT", "kid": s.KID}
	return s.sign("RS256", encodeSegment(h), base64.RawURLEncoding.EncodeToString([]byte(claims)))
}

func (s *Signer) sign(alg, header, payload string) string {
	signingInput := header + "." + payload
	var hash crypto.Hash
	var sum []byte
	switch alg {
	case "RS384":
		d := sha512.Sum384([]byte(signingInput))
		hash, sum = crypto.SHA384, d[:]
	case "RS512":
		d := sha512.Sum512([]byte(signingInput))
		hash, sum = crypto.SHA512, d[:]
	default:
		d := sha256.Sum256([]byte(signingInput))
		hash, sum = crypto.SHA256, d[:]
	}
	sig, err := rsa.SignPKCS1v15(rand.Reader, s.key, hash, sum)
	if err != nil {
		panic(fmt.Sprintf("rsa sign: %v", err)) // cannot happen with a valid key
	}
	return signingInput + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// JWK returns the public key as a JWK map, with endorsements when set.
func (s *Signer) JWK() map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := map[string]any{
		"kty": "RSA",
		"use": "sig",
		"kid": s.KID,
		"n":   base64.RawURLEncoding.EncodeToString(s.key.N.Bytes()),
		"e":   base64.RawURLEncoding.EncodeToString(big.NewInt(int64(s.key.E)).Bytes()),
	}
	if s.endorsements != nil {
		k["endorsements"] = append([]string(nil), s.endorsements...)
	}
	return k
}

// JWKS renders a key set document for the given signers.
func JWKS(signers ...*Signer) []byte {
	keys := make([]map[string]any, 0, len(signers))
	for _, s := range signers {
		keys = append(keys, s.JWK())
	}
	b, _ := json.Marshal(map[string]any{"keys": keys})
	return b
}

func encodeSegment(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("marshal jwt segment: %v", err)) // only maps of plain values reach here
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
