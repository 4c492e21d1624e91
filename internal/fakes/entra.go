package fakes

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"
)

// EntraOptions configures the fake Entra token endpoint. The zero value
// accepts no credential at all: a test says which one is the right one, so a
// wiring mistake shows up as invalid_client instead of passing silently.
type EntraOptions struct {
	// ClientID is the only client_id accepted; empty accepts any.
	ClientID string
	// Scope is the only resource scope accepted (with its "/.default");
	// empty accepts any "{resource}/.default".
	Scope string
	// ClientSecret is the client_secret accepted; empty refuses secrets.
	ClientSecret string
	// AcceptAssertion allows a jwt-bearer client_assertion (certificate and
	// federated credentials). Which assertion is good is decided by
	// ExpectedAssertion, ClientCertificate and AcceptAnyAssertion.
	AcceptAssertion bool
	// ExpectedAssertion, when set, is an assertion accepted as is (the
	// content of a federated token file).
	ExpectedAssertion string
	// AcceptAnyAssertion accepts any well-formed JWT.
	AcceptAnyAssertion bool
	// ClientCertificate, when set, accepts assertions signed with its key,
	// checked the way Entra checks what MSAL sends for a certificate
	// credential: PS256/RS256 signature, x5t#S256, iss = sub = client_id,
	// aud = the token endpoint, not expired.
	ClientCertificate *x509.Certificate
	// RequireX5C, with ClientCertificate, also requires the certificate
	// chain in the assertion's x5c header, as subject-name/issuer
	// authentication does: leaf first (the certificate the thumbprint
	// names), each certificate signed by the next. Without it the fake
	// answers as Entra does for such an app, whose certificate is not
	// registered: AADSTS700027, the key was not found.
	RequireX5C bool
	// FederatedIdentity, when set, is the client id of an identity that
	// ClientID trusts with a federated identity credential (a managed
	// identity): its tokens for TokenExchangeAudience, issued by this fake,
	// are accepted as ClientID's client assertion when AcceptAssertion is
	// set. The fake issues them two ways: at ManagedIdentityEndpoint, as a
	// managed identity endpoint does, and at the token endpoint for
	// client_id FederatedIdentity with ExpectedAssertion as its client
	// assertion and scope TokenExchangeAudience + "/.default" (a workload
	// identity federated on that identity).
	FederatedIdentity string
	// SystemAssigned makes FederatedIdentity the system-assigned identity:
	// ManagedIdentityEndpoint then serves requests without a client_id, and
	// only those.
	SystemAssigned bool
	// TokenExchangeAudience is the audience a federated identity's token
	// must carry, as the federated identity credential's audiences say;
	// empty means the public cloud's api://AzureADTokenExchange.
	TokenExchangeAudience string
	// ExpiresIn is the lifetime of issued tokens; 0 means one hour.
	ExpiresIn time.Duration
	// Signer signs issued tokens; nil means a fresh key with kid "entra-fake".
	Signer *Signer
}

// Entra is a loopback fake of the Entra (Azure AD) v2.0 endpoints MSAL Go
// uses for the client-credentials grant: the OpenID configuration (fetched
// when instance discovery is off), instance discovery, the key set and the
// token endpoint. It is safe for concurrent use.
type Entra struct {
	// URL is the authority host, e.g. https://127.0.0.1:41234 (no trailing
	// slash); the authority of a tenant is URL + "/" + tenant.
	URL string

	srv    *httptest.Server
	signer *Signer
	opts   EntraOptions

	mu                sync.Mutex
	clientSecret      string
	expectedAssertion string
	clientCert        *x509.Certificate
	expiresIn         time.Duration
	delay             time.Duration
	failN, failStatus int
	requests          int
	miRequests        int
	issued            []string
	assertions        []string
}

// NewEntra starts the fake on a loopback TLS listener with its own
// certificate; use Client (or CertificatePEM in another process) to trust it.
func NewEntra(opts EntraOptions) *Entra {
	e := &Entra{
		signer:            opts.Signer,
		opts:              opts,
		clientSecret:      opts.ClientSecret,
		expectedAssertion: opts.ExpectedAssertion,
		clientCert:        opts.ClientCertificate,
		expiresIn:         opts.ExpiresIn,
	}
	if e.signer == nil {
		e.signer = MustSigner("entra-fake")
	}
	if e.expiresIn <= 0 {
		e.expiresIn = time.Hour
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{tenant}/v2.0/.well-known/openid-configuration", e.openIDConfiguration)
	mux.HandleFunc("GET /{tenant}/.well-known/openid-configuration", e.openIDConfiguration)
	mux.HandleFunc("GET /common/discovery/instance", e.instanceDiscovery)
	mux.HandleFunc("GET /{tenant}/discovery/v2.0/keys", e.keys)
	mux.HandleFunc("GET /{tenant}/discovery/keys", e.keys)
	mux.HandleFunc("POST /{tenant}/oauth2/v2.0/token", e.token)
	mux.HandleFunc("GET "+managedIdentityPath, e.managedIdentityToken)
	e.srv = httptest.NewTLSServer(mux)
	e.URL = e.srv.URL
	return e
}

// Close shuts the server down.
func (e *Entra) Close() { e.srv.Close() }

// Client returns an HTTP client that trusts the fake's certificate.
func (e *Entra) Client() *http.Client { return e.srv.Client() }

// CertificatePEM returns the server certificate, for SSL_CERT_FILE in a child
// process.
func (e *Entra) CertificatePEM() []byte {
	return certPEM(e.srv.Certificate())
}

// Authority returns the authority URL of a tenant.
func (e *Entra) Authority(tenant string) string { return e.URL + "/" + tenant }

// TokenEndpoint returns the token endpoint of a tenant.
func (e *Entra) TokenEndpoint(tenant string) string {
	return e.URL + "/" + tenant + "/oauth2/v2.0/token"
}

// Signer returns the key that signs issued tokens.
func (e *Entra) Signer() *Signer { return e.signer }

// PublicKey returns the public key of the token signer.
func (e *Entra) PublicKey() *rsa.PublicKey { return e.signer.PublicKey() }

// Requests returns how many token requests arrived, whatever their outcome.
func (e *Entra) Requests() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.requests
}

// ManagedIdentityRequests returns how many requests reached
// ManagedIdentityEndpoint, whatever their outcome.
func (e *Entra) ManagedIdentityRequests() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.miRequests
}

// Issued returns every access token issued so far, oldest first (tests use
// it to prove that no token reached a log line).
func (e *Entra) Issued() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.issued...)
}

// Assertions returns every client_assertion received, oldest first.
func (e *Entra) Assertions() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.assertions...)
}

// SetExpiresIn changes the lifetime of tokens issued from now on.
func (e *Entra) SetExpiresIn(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.expiresIn = d
}

// SetClientSecret changes the accepted secret (a rotation).
func (e *Entra) SetClientSecret(secret string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.clientSecret = secret
}

// SetExpectedAssertion changes the assertion accepted as is.
func (e *Entra) SetExpectedAssertion(assertion string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.expectedAssertion = assertion
}

// SetClientCertificate changes the accepted certificate (a rotation: the
// app's registration now holds only the new one).
func (e *Entra) SetClientCertificate(cert *x509.Certificate) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.clientCert = cert
}

// FailNext makes the next n token requests fail with status, before any
// check, as an Entra outage would.
func (e *Entra) FailNext(n, status int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.failN, e.failStatus = n, status
}

// SetDelay delays every token response by d (or until the client gives up),
// so that concurrent callers pile up behind one request.
func (e *Entra) SetDelay(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.delay = d
}

// Verify checks that token was signed by this fake and has not expired, and
// returns its claims.
func (e *Entra) Verify(token string) (map[string]any, error) {
	header, claims, signingInput, sig, err := entraSplitJWT(token)
	if err != nil {
		return nil, err
	}
	if header["alg"] != "RS256" {
		return nil, fmt.Errorf("verify token: alg %v, want RS256", header["alg"])
	}
	if header["kid"] != e.signer.KID {
		return nil, fmt.Errorf("verify token: unknown kid %v", header["kid"])
	}
	sum := sha256.Sum256([]byte(signingInput))
	if err := rsa.VerifyPKCS1v15(e.signer.PublicKey(), crypto.SHA256, sum[:], sig); err != nil {
		return nil, fmt.Errorf("verify token: %w", err)
	}
	now := time.Now().Unix()
	if exp, ok := claims["exp"].(float64); !ok || int64(exp) <= now {
		return nil, errors.New("verify token: expired or no exp")
	}
	if nbf, ok := claims["nbf"].(float64); ok && int64(nbf) > now {
		return nil, errors.New("verify token: not yet valid")
	}
	return claims, nil
}

func (e *Entra) openIDConfiguration(w http.ResponseWriter, r *http.Request) {
	tenant := r.PathValue("tenant")
	base := e.URL + "/" + tenant
	entraWriteJSON(w, http.StatusOK, map[string]any{
		"issuer":                                base + "/v2.0",
		"authorization_endpoint":                base + "/oauth2/v2.0/authorize",
		"token_endpoint":                        base + "/oauth2/v2.0/token",
		"jwks_uri":                              base + "/discovery/v2.0/keys",
		"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		"tenant_region_scope":                   "WW",
	})
}

// instanceDiscovery answers what MSAL asks when instance discovery is on. MSAL
// only asks its own host for that unless the authority host is a known
// Microsoft one, so tests run with discovery off; this is here for clients
// that are pointed at the fake some other way.
func (e *Entra) instanceDiscovery(w http.ResponseWriter, r *http.Request) {
	tenant := "common"
	if u, err := url.Parse(r.URL.Query().Get("authorization_endpoint")); err == nil {
		if parts := strings.Split(strings.Trim(u.Path, "/"), "/"); parts[0] != "" {
			tenant = parts[0]
		}
	}
	host := e.srv.Listener.Addr().String()
	entraWriteJSON(w, http.StatusOK, map[string]any{
		"tenant_discovery_endpoint": e.URL + "/" + tenant + "/v2.0/.well-known/openid-configuration",
		"api-version":               "1.1",
		"metadata": []map[string]any{{
			"preferred_network": host,
			"preferred_cache":   host,
			"aliases":           []string{host},
		}},
	})
}

func (e *Entra) keys(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(JWKS(e.signer))
}

func (e *Entra) token(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	e.requests++
	delay := e.delay
	failStatus := 0
	if e.failN > 0 {
		e.failN--
		failStatus = e.failStatus
	}
	e.mu.Unlock()

	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	if failStatus != 0 {
		entraWriteError(w, failStatus, "temporarily_unavailable",
			"AADSTS50196: The server terminated an operation because it encountered a client request loop. (fake outage)")
		return
	}

	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		entraWriteError(w, http.StatusBadRequest, "invalid_request", "AADSTS900144: The request body must contain a form.")
		return
	}
	tenant := r.PathValue("tenant")
	clientID := r.PostForm.Get("client_id")
	if g := r.PostForm.Get("grant_type"); g != "client_credentials" {
		entraWriteError(w, http.StatusBadRequest, "unsupported_grant_type",
			fmt.Sprintf("AADSTS70003: The app requested an unsupported grant type '%s'.", g))
		return
	}
	// A federated identity exchanging its workload identity token for a
	// token it can present as ClientID's assertion.
	hop := e.opts.FederatedIdentity != "" && clientID == e.opts.FederatedIdentity
	if !hop && (clientID == "" || (e.opts.ClientID != "" && clientID != e.opts.ClientID)) {
		entraWriteError(w, http.StatusBadRequest, "unauthorized_client",
			fmt.Sprintf("AADSTS700016: Application with identifier '%s' was not found in the directory '%s'.", clientID, tenant))
		return
	}
	want := e.opts.Scope
	if hop {
		want = e.exchangeAudience() + "/.default"
	}
	resource, ok := resourceOf(r.PostForm.Get("scope"), want)
	if !ok {
		entraWriteError(w, http.StatusBadRequest, "invalid_scope",
			"AADSTS1002012: The provided value for scope is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).")
		return
	}
	acr, refusal, ok := e.authenticate(r.PostForm, clientID, tenant, hop)
	if !ok {
		if refusal == "" {
			refusal = "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID."
		}
		entraWriteError(w, http.StatusUnauthorized, "invalid_client", refusal)
		return
	}
	access, expiresIn := e.issue(clientID, tenant, resource, acr)
	secs := int64(expiresIn / time.Second)
	entraWriteJSON(w, http.StatusOK, map[string]any{
		"token_type":     "Bearer",
		"expires_in":     secs,
		"ext_expires_in": secs,
		"access_token":   access,
	})
}

// issue signs and records an access token of clientID for resource, and
// returns it with its lifetime.
func (e *Entra) issue(clientID, tenant, resource, acr string) (string, time.Duration) {
	e.mu.Lock()
	expiresIn := e.expiresIn
	e.mu.Unlock()
	now := time.Now()
	jti := make([]byte, 16)
	_, _ = rand.Read(jti)
	access := e.signer.Sign(map[string]any{
		"aud":      resource,
		"iss":      "https://sts.windows.net/" + tenant + "/",
		"appid":    clientID,
		"azp":      clientID,
		"appidacr": acr,
		"idtyp":    "app",
		"sub":      clientID,
		"oid":      clientID,
		"tid":      tenant,
		"iat":      now.Unix(),
		"nbf":      now.Unix(),
		"exp":      now.Add(expiresIn).Unix(),
		"jti":      hex.EncodeToString(jti),
		"ver":      "1.0",
	})
	e.mu.Lock()
	e.issued = append(e.issued, access)
	e.mu.Unlock()
	return access, expiresIn
}

// resourceOf checks the scope parameter and returns the audience of the
// token: want if it is set, else any "{resource}/.default". MSAL appends
// "openid offline_access profile" to every request; Entra ignores them for
// the client-credentials grant, and so does the fake.
func resourceOf(scope, want string) (string, bool) {
	var found string
	for _, s := range strings.Fields(scope) {
		switch s {
		case "openid", "offline_access", "profile":
			continue
		}
		if found != "" || !strings.HasSuffix(s, "/.default") {
			return "", false
		}
		found = s
	}
	if found == "" || (want != "" && found != want) {
		return "", false
	}
	return strings.TrimSuffix(found, "/.default"), true
}

// authenticate checks the client credential and returns the appidacr claim
// Entra would issue: "1" for a secret, "2" for an assertion; or, refused,
// Entra's error description when it is not the generic one. The federated
// identity's exchange (hop) takes ExpectedAssertion only.
func (e *Entra) authenticate(form url.Values, clientID, tenant string, hop bool) (acr, refusal string, ok bool) {
	e.mu.Lock()
	secret, expected, cert := e.clientSecret, e.expectedAssertion, e.clientCert
	e.mu.Unlock()
	if got := form.Get("client_secret"); got != "" {
		ok := secret != "" && subtle.ConstantTimeCompare([]byte(got), []byte(secret)) == 1
		return "1", "", ok
	}
	assertion := form.Get("client_assertion")
	if assertion == "" || !e.opts.AcceptAssertion ||
		form.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
		return "", "", false
	}
	e.mu.Lock()
	e.assertions = append(e.assertions, assertion)
	e.mu.Unlock()
	switch {
	case expected != "" && subtle.ConstantTimeCompare([]byte(assertion), []byte(expected)) == 1:
		return "2", "", true
	case hop:
		return "", "", false
	case e.opts.FederatedIdentity != "" && e.federatedAssertionValid(assertion):
		return "2", "", true
	}
	if cert != nil {
		if refusal = e.certAssertionRefusal(assertion, cert, clientID, tenant); refusal == "" {
			return "2", "", true
		}
	}
	if e.opts.AcceptAnyAssertion {
		_, _, _, _, err := entraSplitJWT(assertion)
		return "2", "", err == nil
	}
	return "", refusal, false
}

// certAssertionRefusal checks an assertion the way Entra checks one signed
// with the app's registered certificate, cert, and returns why it refuses
// it, or "". The descriptions are Entra's, shortened.
func (e *Entra) certAssertionRefusal(assertion string, cert *x509.Certificate, clientID, tenant string) string {
	header, claims, signingInput, sig, err := entraSplitJWT(assertion)
	if err != nil {
		return "AADSTS50027: JWT token is invalid or malformed."
	}
	// MSAL sends the SHA-256 thumbprint in standard base64 (not base64url).
	thumb := sha256.Sum256(cert.Raw)
	x5t, _ := header["x5t#S256"].(string)
	notRegistered := fmt.Sprintf("AADSTS700027: The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '%s']", x5t)
	if x5t != base64.StdEncoding.EncodeToString(thumb[:]) && x5t != base64.RawURLEncoding.EncodeToString(thumb[:]) {
		return notRegistered
	}
	if e.opts.RequireX5C {
		if _, sent := header["x5c"]; !sent {
			return notRegistered
		}
		if err := x5cChainOf(header["x5c"], cert); err != nil {
			return "AADSTS700027: Client assertion failed signature validation. [Reason - the x5c certificate chain is not valid: " + err.Error() + "]"
		}
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return "AADSTS700027: Client assertion contains an invalid signature. [Reason - The key is not an RSA key.]"
	}
	sum := sha256.Sum256([]byte(signingInput))
	switch header["alg"] {
	case "PS256":
		err = rsa.VerifyPSS(pub, crypto.SHA256, sum[:], sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto})
	case "RS256":
		err = rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig)
	default:
		err = fmt.Errorf("alg %v", header["alg"])
	}
	if err != nil {
		return "AADSTS700027: Client assertion contains an invalid signature. [Reason - The provided signature value did not match the expected signature value.]"
	}
	if claims["iss"] != clientID || claims["sub"] != clientID {
		return "AADSTS700021: Client assertion application identifier doesn't match 'client_id' parameter."
	}
	if claims["aud"] != e.TokenEndpoint(tenant) {
		return "AADSTS700027: Client assertion contains an invalid audience."
	}
	if exp, _ := claims["exp"].(float64); int64(exp) <= time.Now().Unix() {
		return "AADSTS700024: Client assertion is not within its valid time range."
	}
	return ""
}

// x5cChainOf checks an x5c header member: base64 (standard) DER
// certificates, leaf first, each signed by the next.
func x5cChainOf(x5c any, leaf *x509.Certificate) error {
	list, _ := x5c.([]any)
	if len(list) == 0 {
		return errors.New("empty")
	}
	chain := make([]*x509.Certificate, len(list))
	for i, v := range list {
		s, _ := v.(string)
		der, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return fmt.Errorf("entry %d is not base64", i)
		}
		if chain[i], err = x509.ParseCertificate(der); err != nil {
			return fmt.Errorf("entry %d is not a certificate", i)
		}
	}
	if !chain[0].Equal(leaf) {
		return errors.New("the first certificate is not the one that signed the assertion")
	}
	for i := 0; i+1 < len(chain); i++ {
		if err := chain[i].CheckSignatureFrom(chain[i+1]); err != nil {
			return fmt.Errorf("certificate %d is not signed by certificate %d", i, i+1)
		}
	}
	return nil
}

// ClientCert is a certificate with its private key: an app's client
// certificate, or the CA that issued it.
type ClientCert struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// NewClientCert issues a certificate named name for key (a fresh 2048-bit
// RSA key when nil), valid from an hour ago for a day, signed by parent
// (self-signed when nil); ca makes it a CA that can sign others.
func NewClientCert(name string, key crypto.Signer, parent *ClientCert, ca bool) (*ClientCert, error) {
	if key == nil {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, fmt.Errorf("generate key of %s: %w", name, err)
		}
		key = k
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		return nil, fmt.Errorf("serial of %s: %w", name, err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  ca,
		BasicConstraintsValid: true,
	}
	if ca {
		tmpl.KeyUsage = x509.KeyUsageCertSign
	}
	issuer, signer := tmpl, key
	if parent != nil {
		issuer, signer = parent.Cert, parent.Key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer, key.Public(), signer)
	if err != nil {
		return nil, fmt.Errorf("certificate %s: %w", name, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("certificate %s: %w", name, err)
	}
	return &ClientCert{Cert: cert, Key: key}, nil
}

// entraSplitJWT decodes a compact JWS without checking its signature.
func entraSplitJWT(token string) (header, claims map[string]any, signingInput string, sig []byte, err error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, nil, "", nil, errors.New("malformed jwt: want 3 segments")
	}
	if err := entraDecodeSegment(parts[0], &header); err != nil {
		return nil, nil, "", nil, fmt.Errorf("malformed jwt header: %w", err)
	}
	if err := entraDecodeSegment(parts[1], &claims); err != nil {
		return nil, nil, "", nil, fmt.Errorf("malformed jwt claims: %w", err)
	}
	sig, err = base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, nil, "", nil, fmt.Errorf("malformed jwt signature: %w", err)
	}
	return header, claims, parts[0] + "." + parts[1], sig, nil
}

func entraDecodeSegment(s string, v *map[string]any) error {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return err
	}
	if *v == nil {
		return errors.New("not a json object")
	}
	return nil
}

// entraWriteError answers in Entra's error shape, AADSTS code included, so
// that what MSAL puts in its error matches what users see in production.
func entraWriteError(w http.ResponseWriter, status int, code, description string) {
	var num int
	_, _ = fmt.Sscanf(description, "AADSTS%d", &num)
	entraWriteJSON(w, status, map[string]any{
		"error":             code,
		"error_description": description,
		"error_codes":       []int{num},
		"timestamp":         time.Now().UTC().Format("2006-01-02 15:04:05Z"),
		"trace_id":          "00000000-0000-0000-0000-000000000000",
		"correlation_id":    "00000000-0000-0000-0000-000000000000",
	})
}

func entraWriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store, no-cache")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
