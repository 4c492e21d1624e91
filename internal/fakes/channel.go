package fakes

import (
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"hash"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// DefaultChannelEndorsements are the endorsements the fake channel publishes
// with its keys unless told otherwise: the channels a stock bot meets.
var DefaultChannelEndorsements = []string{"msteams", "webchat", "directline", "emulator"}

// ChannelOptions configures a fake Bot Framework channel identity provider.
// The zero value is usable.
type ChannelOptions struct {
	// Issuer of channel tokens. Default "https://api.botframework.com".
	Issuer string
	// KID of the first signing key. Default "channel-key-1".
	KID string
	// Endorsements published with the first key. Default
	// DefaultChannelEndorsements.
	Endorsements []string
	// TenantID, when set, also makes the fake serve that Entra tenant's
	// metadata ({URL}/{tenant}/v2.0/.well-known/openid-configuration) and
	// keys, so TenantToken can mint the Entra-issued tokens newer Teams
	// services send. Use the fake's URL as the authority host.
	TenantID string
	// Now is the clock for iat/nbf/exp of minted tokens. Default time.Now.
	Now func() time.Time
}

// Channel is a fake of the Bot Framework channel's token issuer: it serves
// the OpenID metadata and key documents over TLS and mints channel tokens
// signed with the published keys. It depends on no testing.T, so the
// offline demo uses it too.
type Channel struct {
	// URL is the base URL of the fake, https://127.0.0.1:port.
	URL string

	srv    *httptest.Server
	issuer string
	tenant string
	now    func() time.Time

	mu              sync.Mutex
	current         *Signer   // signs channel tokens
	published       []*Signer // listed in the keys document
	tenantSigner    *Signer   // signs Entra tokens, when tenant != ""
	failing         bool
	metadataFetches int
	keyFetches      int
	tenantFetches   int
}

// NewChannel starts a fake channel. Call Close when done.
func NewChannel(opts ChannelOptions) *Channel {
	c := &Channel{
		issuer: opts.Issuer,
		tenant: opts.TenantID,
		now:    opts.Now,
	}
	if c.issuer == "" {
		c.issuer = "https://api.botframework.com"
	}
	if c.now == nil {
		c.now = time.Now
	}
	kid := opts.KID
	if kid == "" {
		kid = "channel-key-1"
	}
	endorsements := opts.Endorsements
	if endorsements == nil {
		endorsements = DefaultChannelEndorsements
	}
	s := MustSigner(kid)
	s.SetEndorsements(endorsements...)
	c.current, c.published = s, []*Signer{s}
	if c.tenant != "" {
		c.tenantSigner = MustSigner("tenant-key-1") // Entra keys carry no endorsements
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/.well-known/openidconfiguration", c.serveMetadata)
	mux.HandleFunc("GET /v1/.well-known/keys", c.serveKeys)
	if c.tenant != "" {
		mux.HandleFunc("GET /{tenant}/v2.0/.well-known/openid-configuration", c.serveTenantMetadata)
		mux.HandleFunc("GET /{tenant}/discovery/v2.0/keys", c.serveTenantKeys)
	}
	c.srv = httptest.NewTLSServer(mux)
	c.URL = c.srv.URL
	return c
}

// Client returns an HTTP client that trusts the fake's certificate.
func (c *Channel) Client() *http.Client { return c.srv.Client() }

// Close shuts the fake down.
func (c *Channel) Close() { c.srv.Close() }

// CertificatePEM returns the fake's TLS certificate, for clients built
// elsewhere (the demo's sidecar process).
func (c *Channel) CertificatePEM() []byte {
	return certPEM(c.srv.Certificate())
}

// MetadataURL is the channel's OpenID metadata URL (SIDECAR_OPENID_METADATA_URL).
func (c *Channel) MetadataURL() string { return c.URL + "/v1/.well-known/openidconfiguration" }

// Issuer is the iss of the fake's channel tokens (SIDECAR_CHANNEL_ISSUER).
func (c *Channel) Issuer() string { return c.issuer }

// TenantIssuers returns the two Entra issuers of the fake tenant: the v2
// one under the fake's URL and the v1 sts.windows.net one.
func (c *Channel) TenantIssuers() (v2, v1 string) {
	return c.URL + "/" + c.tenant + "/v2.0", "https://sts.windows.net/" + c.tenant + "/"
}

// Signer returns the key that currently signs channel tokens.
func (c *Channel) Signer() *Signer {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.current
}

// TenantSigner returns the fake tenant's Entra signing key (nil without
// ChannelOptions.TenantID).
func (c *Channel) TenantSigner() *Signer { return c.tenantSigner }

// Claims returns the claims of a valid channel token for appID and
// serviceURL, valid for an hour from now; tests edit them to forge variants.
func (c *Channel) Claims(appID, serviceURL string) map[string]any {
	now := c.now()
	return map[string]any{
		"iss":        c.issuer,
		"aud":        appID,
		"serviceurl": serviceURL,
		"nbf":        now.Unix(),
		"iat":        now.Unix(),
		"exp":        now.Add(time.Hour).Unix(),
	}
}

// Token mints a valid channel token for appID and serviceURL, signed with
// the current key (RS256).
func (c *Channel) Token(appID, serviceURL string) string {
	return c.Signer().Sign(c.Claims(appID, serviceURL))
}

// TokenWith mints a token with exactly the given claims. header members
// are added to {"alg", "typ", "kid": current key}; a nil value removes one.
// alg may be RS256/384/512 and PS256/384/512 (real signatures by the
// current key), HS256/384/512 (HMAC keyed with the current public key's
// PEM, the classic algorithm-confusion forgery), "none" (no signature), or
// anything else (a header claiming it, with a junk signature).
func (c *Channel) TokenWith(claims, header map[string]any, alg string) string {
	s := c.Signer()
	h := map[string]any{"alg": alg, "typ": "JWT", "kid": s.KID}
	for k, v := range header {
		if v == nil {
			delete(h, k)
		} else {
			h[k] = v
		}
	}
	switch alg {
	case "RS256", "RS384", "RS512":
		return s.SignWith(alg, channelHeaderWithoutAlg(h), claims)
	}

	input := encodeSegment(h) + "." + encodeSegment(claims)
	var sig []byte
	switch alg {
	case "none":
	case "HS256", "HS384", "HS512":
		sig = channelHMAC(alg, ChannelPublicKeyPEM(s), input)
	case "PS256", "PS384", "PS512":
		sig = channelPSS(alg, s, input)
	default:
		sig = []byte("not a signature")
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// channelHeaderWithoutAlg drops alg and typ, which Signer.SignWith sets itself.
func channelHeaderWithoutAlg(h map[string]any) map[string]any {
	out := make(map[string]any, len(h))
	for k, v := range h {
		if k != "alg" && k != "typ" {
			out[k] = v
		}
	}
	return out
}

// ChannelPublicKeyPEM returns the PKIX PEM of a signer's public key: the
// bytes a naive verifier would use as an HMAC secret for HS256.
func ChannelPublicKeyPEM(s *Signer) []byte {
	der, err := x509.MarshalPKIXPublicKey(s.PublicKey())
	if err != nil {
		panic(err) // an RSA public key always marshals
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func channelHMAC(alg string, secret []byte, input string) []byte {
	var h func() hash.Hash
	switch alg {
	case "HS384":
		h = sha512.New384
	case "HS512":
		h = sha512.New
	default:
		h = sha256.New
	}
	m := hmac.New(h, secret)
	m.Write([]byte(input))
	return m.Sum(nil)
}

func channelPSS(alg string, s *Signer, input string) []byte {
	var hf crypto.Hash
	switch alg {
	case "PS384":
		hf = crypto.SHA384
	case "PS512":
		hf = crypto.SHA512
	default:
		hf = crypto.SHA256
	}
	d := hf.New()
	d.Write([]byte(input))
	sig, err := rsa.SignPSS(rand.Reader, s.key, hf, d.Sum(nil), &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	if err != nil {
		panic(err) // cannot happen with a valid key
	}
	return sig
}

// NewUnpublishedSigner returns a signer endorsed like the current key but
// not in the keys document, for tokens with a kid the validator cannot know.
// Publish makes it known.
func (c *Channel) NewUnpublishedSigner(kid string) *Signer {
	s := MustSigner(kid)
	s.SetEndorsements(c.currentEndorsements()...)
	return s
}

// Publish adds s to the keys document without signing with it.
func (c *Channel) Publish(s *Signer) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.published = append(c.published, s)
}

// RotateKey publishes a new key, endorsed like the current one, and signs
// with it from then on. The old key stays published, as in a real rollover.
func (c *Channel) RotateKey(kid string) *Signer {
	s := c.NewUnpublishedSigner(kid)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.published = append(c.published, s)
	c.current = s
	return s
}

// SetEndorsements replaces the current key's endorsements. With no
// arguments the key is published without an endorsements member.
func (c *Channel) SetEndorsements(channels ...string) {
	c.Signer().SetEndorsements(channels...)
}

func (c *Channel) currentEndorsements() []string {
	e, _ := c.Signer().JWK()["endorsements"].([]string)
	return e
}

// SetFailing makes every document answer 503 (true) or be served again
// (false), to play a metadata host that is down.
func (c *Channel) SetFailing(failing bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.failing = failing
}

// MetadataFetches counts requests for the channel metadata document.
func (c *Channel) MetadataFetches() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.metadataFetches
}

// KeyFetches counts requests for the channel keys document.
func (c *Channel) KeyFetches() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.keyFetches
}

// TenantKeyFetches counts requests for the fake tenant's keys document.
func (c *Channel) TenantKeyFetches() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tenantFetches
}

// TenantToken mints an Entra token of the fake tenant for appID, requested
// by appID itself: the v1 (sts.windows.net) issuer and an appid claim when
// v1 is set, else the v2 issuer and an azp claim. Like the real ones it
// carries no serviceurl claim.
func (c *Channel) TenantToken(appID string, v1 bool) string {
	v2Iss, v1Iss := c.TenantIssuers()
	iss, caller := v2Iss, "azp"
	if v1 {
		iss, caller = v1Iss, "appid"
	}
	now := c.now()
	return c.tenantSigner.Sign(map[string]any{
		"iss":  iss,
		"aud":  appID,
		caller: appID,
		"tid":  c.tenant,
		"nbf":  now.Unix(),
		"iat":  now.Unix(),
		"exp":  now.Add(time.Hour).Unix(),
	})
}

func (c *Channel) serveMetadata(w http.ResponseWriter, r *http.Request) {
	if !c.count(&c.metadataFetches) {
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
		return
	}
	channelWriteJSON(w, map[string]any{
		"issuer":                                c.issuer,
		"authorization_endpoint":                "https://invalid.example/v1/auth",
		"jwks_uri":                              c.URL + "/v1/.well-known/keys",
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"token_endpoint_auth_methods_supported": []string{"private_key_jwt"},
	})
}

func (c *Channel) serveKeys(w http.ResponseWriter, r *http.Request) {
	if !c.count(&c.keyFetches) {
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
		return
	}
	c.mu.Lock()
	published := append([]*Signer(nil), c.published...)
	c.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(JWKS(published...))
}

func (c *Channel) serveTenantMetadata(w http.ResponseWriter, r *http.Request) {
	if !strings.EqualFold(r.PathValue("tenant"), c.tenant) {
		http.NotFound(w, r)
		return
	}
	if !c.count(nil) {
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
		return
	}
	v2Iss, _ := c.TenantIssuers()
	channelWriteJSON(w, map[string]any{
		"issuer":                                v2Iss,
		"jwks_uri":                              c.URL + "/" + c.tenant + "/discovery/v2.0/keys",
		"id_token_signing_alg_values_supported": []string{"RS256"},
	})
}

func (c *Channel) serveTenantKeys(w http.ResponseWriter, r *http.Request) {
	if !strings.EqualFold(r.PathValue("tenant"), c.tenant) {
		http.NotFound(w, r)
		return
	}
	if !c.count(&c.tenantFetches) {
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(JWKS(c.tenantSigner))
}

// count bumps a fetch counter (nil: none) and reports whether to serve.
// Failed fetches count too: the point is to see how hard the host is hit.
func (c *Channel) count(n *int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n != nil {
		*n++
	}
	return !c.failing
}

func channelWriteJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
