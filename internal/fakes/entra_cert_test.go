package fakes

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// entraTestCert issues a certificate with an RSA key, by parent (nil:
// self-signed); ca makes it a CA.
func entraTestCert(t *testing.T, name string, parent *ClientCert, ca bool) *ClientCert {
	t.Helper()
	c, err := NewClientCert(name, nil, parent, ca)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// assertion signs a client assertion for the token endpoint of tenant the
// way MSAL Go does (PS256, x5t#S256), with x5c when chain is not nil.
func entraCertAssertion(c *ClientCert, t *testing.T, e *Entra, tenant string, chain []*x509.Certificate) string {
	t.Helper()
	thumb := sha256.Sum256(c.Cert.Raw)
	header := map[string]any{"alg": "PS256", "typ": "JWT", "x5t#S256": base64.StdEncoding.EncodeToString(thumb[:])}
	if chain != nil {
		var x5c []string
		for _, cert := range chain {
			x5c = append(x5c, base64.StdEncoding.EncodeToString(cert.Raw))
		}
		header["x5c"] = x5c
	}
	now := time.Now().Unix()
	input := encodeSegment(header) + "." + encodeSegment(map[string]any{
		"aud": e.TokenEndpoint(tenant), "iss": entraTestApp, "sub": entraTestApp,
		"jti": "1", "nbf": now, "exp": now + 600,
	})
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPSS(rand.Reader, c.Key.(*rsa.PrivateKey), crypto.SHA256, sum[:], nil)
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func entraAssertionForm(assertion string) url.Values {
	return url.Values{
		"grant_type":            {"client_credentials"},
		"client_id":             {entraTestApp},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion":      {assertion},
		"scope":                 {entraTestScope},
	}
}

func TestEntraCertificateX5C(t *testing.T) {
	t.Parallel()
	ca := entraTestCert(t, "ca", nil, true)
	leaf := entraTestCert(t, "bot", ca, false)
	stranger := entraTestCert(t, "other-ca", nil, true)
	e := NewEntra(EntraOptions{ClientID: entraTestApp, AcceptAssertion: true, ClientCertificate: leaf.Cert, RequireX5C: true})
	defer e.Close()

	tests := []struct {
		name      string
		chain     []*x509.Certificate
		wantOK    bool
		wantInErr string
	}{
		// What Entra answers an app with subject-name/issuer auth whose
		// client sends no x5c: it looks for a registered key, finds none.
		{"no x5c", nil, false, "AADSTS700027: The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found."},
		{"leaf only", []*x509.Certificate{leaf.Cert}, true, ""},
		{"leaf then issuer", []*x509.Certificate{leaf.Cert, ca.Cert}, true, ""},
		{"issuer first", []*x509.Certificate{ca.Cert, leaf.Cert}, false, "the first certificate is not the one that signed the assertion"},
		{"wrong issuer", []*x509.Certificate{leaf.Cert, stranger.Cert}, false, "certificate 0 is not signed by certificate 1"},
		{"empty", []*x509.Certificate{}, false, "x5c certificate chain is not valid: empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := postEntraToken(t, e, "tenant-1", entraAssertionForm(entraCertAssertion(leaf, t, e, "tenant-1", tt.chain)))
			if tt.wantOK {
				if status != http.StatusOK {
					t.Errorf("token = %d %v; want 200", status, body)
				}
				return
			}
			desc, _ := body["error_description"].(string)
			if status != http.StatusUnauthorized || body["error"] != "invalid_client" || !strings.Contains(desc, tt.wantInErr) {
				t.Errorf("token = %d %v; want 401 invalid_client with %q", status, body, tt.wantInErr)
			}
		})
	}
}

func TestEntraCertificateRotation(t *testing.T) {
	t.Parallel()
	old := entraTestCert(t, "old", nil, false)
	next := entraTestCert(t, "new", nil, false)
	e := NewEntra(EntraOptions{ClientID: entraTestApp, AcceptAssertion: true, ClientCertificate: old.Cert})
	defer e.Close()
	send := func(c *ClientCert) (int, string) {
		status, body := postEntraToken(t, e, "tenant-1", entraAssertionForm(entraCertAssertion(c, t, e, "tenant-1", nil)))
		desc, _ := body["error_description"].(string)
		return status, desc
	}
	if status, desc := send(old); status != http.StatusOK {
		t.Fatalf("old certificate before the rotation = %d %s; want 200", status, desc)
	}
	if status, desc := send(next); status != http.StatusUnauthorized || !strings.Contains(desc, "AADSTS700027") {
		t.Errorf("new certificate before the rotation = %d %s; want 401 AADSTS700027", status, desc)
	}
	e.SetClientCertificate(next.Cert)
	if status, desc := send(next); status != http.StatusOK {
		t.Errorf("new certificate after the rotation = %d %s; want 200", status, desc)
	}
	if status, desc := send(old); status != http.StatusUnauthorized || !strings.Contains(desc, "AADSTS700027") {
		t.Errorf("old certificate after the rotation = %d %s; want 401 AADSTS700027", status, desc)
	}
}
