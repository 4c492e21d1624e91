package tokencache

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/botsidecar/sidecar/internal/fakes"
	"github.com/botsidecar/sidecar/internal/testkit"
)

// These tests run certificate credentials through MSAL against the fake
// Entra. The certificates are made here: a CA and leaves it issues.

type testCert = fakes.ClientCert

// newTestCert issues a certificate for key, by parent (nil: self-signed);
// ca makes it a CA. key nil means a fresh RSA key.
func newTestCert(t *testing.T, name string, key crypto.Signer, parent *testCert, ca bool) *testCert {
	t.Helper()
	c, err := fakes.NewClientCert(name, key, parent, ca)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// chain is a leaf issued by a CA, the leaf's key an RSA key.
func newTestChain(t *testing.T) (leaf, ca *testCert) {
	t.Helper()
	ca = newTestCert(t, "bot-ca", nil, nil, true)
	return newTestCert(t, "bot", nil, ca, false), ca
}

func certPEM(certs ...*testCert) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Cert.Raw})...)
	}
	return out
}

func pkcs8PEM(t *testing.T, key crypto.Signer) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func pkcs1PEM(key crypto.Signer) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key.(*rsa.PrivateKey))})
}

func writeFile(t *testing.T, path string, parts ...[]byte) string {
	t.Helper()
	if err := os.WriteFile(path, slices.Concat(parts...), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// writeCertFiles writes tls.crt and, unless key is nil, tls.key into a
// new directory.
func writeCertFiles(t *testing.T, cert, key []byte) CertificateFiles {
	t.Helper()
	dir := t.TempDir()
	files := CertificateFiles{CertFile: writeFile(t, filepath.Join(dir, "tls.crt"), cert)}
	if key != nil {
		files.KeyFile = writeFile(t, filepath.Join(dir, "tls.key"), key)
	}
	return files
}

// assertionHeaders decodes the JOSE headers of the assertions Entra got.
func assertionHeaders(t *testing.T, e *fakes.Entra) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, a := range e.Assertions() {
		seg, err := base64.RawURLEncoding.DecodeString(strings.Split(a, ".")[0])
		if err != nil {
			t.Fatal(err)
		}
		var h map[string]any
		if err := json.Unmarshal(seg, &h); err != nil {
			t.Fatal(err)
		}
		out = append(out, h)
	}
	return out
}

func x5tOf(c *testCert) string {
	sum := sha256.Sum256(c.Cert.Raw)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// getOnePerLifetime gets a token several times and checks that it took
// one token request.
func getOnePerLifetime(t *testing.T, e *fakes.Entra, s *Source) {
	t.Helper()
	before := e.Requests()
	tok := get(t, s)
	if _, err := e.Verify(tok); err != nil {
		t.Errorf("Verify(token) = %v", err)
	}
	for range 5 {
		if get(t, s) != tok {
			t.Fatal("Token() changed within the token's lifetime")
		}
	}
	if n := e.Requests() - before; n != 1 {
		t.Errorf("token requests = %d; want 1", n)
	}
}

func TestCertificatePEM(t *testing.T) {
	t.Parallel()
	leaf, ca := newTestChain(t)
	tests := []struct {
		name      string
		cert, key []byte // key nil: in the certificate file
		sendX5C   bool
	}{
		{"one file, PKCS#8", slices.Concat(certPEM(leaf, ca), pkcs8PEM(t, leaf.Key)), nil, false},
		{"one file, PKCS#1", slices.Concat(certPEM(leaf, ca), pkcs1PEM(leaf.Key)), nil, false},
		// A file with the key first and the chain out of order still
		// sends x5c leaf first.
		{"one file, key first, issuer first, x5c", slices.Concat(pkcs8PEM(t, leaf.Key), certPEM(ca, leaf)), nil, true},
		{"cert and key files, PKCS#8", certPEM(leaf, ca), pkcs8PEM(t, leaf.Key), false},
		{"cert and key files, PKCS#1, x5c", certPEM(leaf, ca), pkcs1PEM(leaf.Key), true},
		// The Agents SDK's CertPemFile and CertKeyFile may name one
		// combined file twice.
		{"combined file as both", slices.Concat(certPEM(leaf), pkcs8PEM(t, leaf.Key)), slices.Concat(certPEM(leaf), pkcs8PEM(t, leaf.Key)), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			files := writeCertFiles(t, tt.cert, tt.key)
			files.SendX5C = tt.sendX5C
			e := newEntra(t, fakes.EntraOptions{AcceptAssertion: true, ClientCertificate: leaf.Cert, RequireX5C: tt.sendX5C})
			getOnePerLifetime(t, e, mustNew(t, entraOptions(e, Certificate(files))))
		})
	}
}

func TestCertificatePKCS12(t *testing.T) {
	t.Parallel()
	leaf, ca := newTestChain(t)
	tests := []struct {
		name     string
		encoder  *pkcs12.Encoder
		password string
		caCerts  []*x509.Certificate
		sendX5C  bool
	}{
		{"modern (AES), password", pkcs12.Modern2023, "pfx-pass~1", nil, false},
		{"modern (AES), empty password", pkcs12.Modern2023, "", nil, false},
		{"modern, chain, x5c", pkcs12.Modern2023, "pfx-pass~1", []*x509.Certificate{ca.Cert}, true},
		{"legacy RC2 (Windows), password", pkcs12.LegacyRC2, "pfx-pass~1", nil, false},
		{"legacy 3DES, password", pkcs12.LegacyDES, "pfx-pass~1", nil, false},
		{"no encryption, no MAC", pkcs12.Passwordless, "", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pfx, err := tt.encoder.Encode(leaf.Key, leaf.Cert, tt.caCerts, tt.password)
			if err != nil {
				t.Fatal(err)
			}
			// No .pfx: the content says what it is.
			path := writeFile(t, filepath.Join(t.TempDir(), "client-cert"), pfx)
			e := newEntra(t, fakes.EntraOptions{AcceptAssertion: true, ClientCertificate: leaf.Cert, RequireX5C: tt.sendX5C})
			cred := Certificate(CertificateFiles{CertFile: path, Password: tt.password, SendX5C: tt.sendX5C})
			getOnePerLifetime(t, e, mustNew(t, entraOptions(e, cred)))
		})
	}
}

func TestCertificatePKCS12WrongPassword(t *testing.T) {
	t.Parallel()
	leaf, _ := newTestChain(t)
	pfx, err := pkcs12.Modern2023.Encode(leaf.Key, leaf.Cert, nil, "right-pass")
	if err != nil {
		t.Fatal(err)
	}
	path := writeFile(t, filepath.Join(t.TempDir(), "bot.pfx"), pfx)
	e := newEntra(t, fakes.EntraOptions{AcceptAssertion: true, ClientCertificate: leaf.Cert})
	for _, password := range []string{"wrong-pass~do-not-print", ""} {
		_, err := New(entraOptions(e, Certificate(CertificateFiles{CertFile: path, Password: password})))
		if !errors.Is(err, ErrCertificatePassword) || !strings.Contains(err.Error(), path) ||
			strings.Contains(err.Error(), "pass~") {
			t.Errorf("New(password %q) = %v; want ErrCertificatePassword naming %s, without the password", password, err, path)
		}
	}
}

func TestCertificateX5C(t *testing.T) {
	t.Parallel()
	leaf, ca := newTestChain(t)
	dir := t.TempDir()
	certFile := writeFile(t, filepath.Join(dir, "tls.crt"), certPEM(leaf, ca))
	keyFile := writeFile(t, filepath.Join(dir, "tls.key"), pkcs8PEM(t, leaf.Key))
	e := newEntra(t, fakes.EntraOptions{AcceptAssertion: true, ClientCertificate: leaf.Cert, RequireX5C: true})

	// Subject-name/issuer authentication without x5c: Entra does not
	// find the certificate.
	without := mustNew(t, entraOptions(e, Certificate(CertificateFiles{CertFile: certFile, KeyFile: keyFile})))
	if _, err := without.Token(context.Background()); err == nil ||
		!strings.Contains(err.Error(), "invalid_client") || !strings.Contains(err.Error(), "AADSTS700027") {
		t.Errorf("Token() without x5c = %v; want invalid_client AADSTS700027", err)
	}
	with := mustNew(t, entraOptions(e, Certificate(CertificateFiles{CertFile: certFile, KeyFile: keyFile, SendX5C: true})))
	getOnePerLifetime(t, e, with)

	headers := assertionHeaders(t, e)
	if len(headers) != 2 {
		t.Fatalf("assertions = %d; want 2", len(headers))
	}
	if _, sent := headers[0]["x5c"]; sent {
		t.Errorf("assertion without SendX5C has x5c: %v", headers[0])
	}
	want := []any{base64.StdEncoding.EncodeToString(leaf.Cert.Raw), base64.StdEncoding.EncodeToString(ca.Cert.Raw)}
	if got, _ := headers[1]["x5c"].([]any); !slices.Equal(got, want) {
		t.Errorf("x5c = %v; want the leaf, then its issuer", headers[1]["x5c"])
	}
}

// kubeletDir lays files out as the kubelet mounts a secret: each name a
// symlink into ..data, itself a symlink to a timestamped directory that a
// rotation replaces in one rename.
type kubeletDir struct {
	t   *testing.T
	dir string
	n   int
}

func newKubeletDir(t *testing.T, names ...string) *kubeletDir {
	k := &kubeletDir{t: t, dir: t.TempDir()}
	for _, name := range names {
		if err := os.Symlink(filepath.Join("..data", name), filepath.Join(k.dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	return k
}

func (k *kubeletDir) path(name string) string { return filepath.Join(k.dir, name) }

// write publishes a new version of the files, name then content.
func (k *kubeletDir) write(files map[string][]byte) {
	k.t.Helper()
	k.n++
	version := fmt.Sprintf("..2026_03_01_12_00_%02d", k.n)
	if err := os.Mkdir(filepath.Join(k.dir, version), 0o700); err != nil {
		k.t.Fatal(err)
	}
	for name, data := range files {
		writeFile(k.t, filepath.Join(k.dir, version, name), data)
	}
	tmp := filepath.Join(k.dir, "..data_tmp")
	if err := os.Symlink(version, tmp); err != nil {
		k.t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(k.dir, "..data")); err != nil {
		k.t.Fatal(err)
	}
}

// rotation is a Source whose certificate and key files (tls.crt, tls.key)
// are mounted the kubelet's way, with its log and clock.
type rotation struct {
	dir   *kubeletDir
	s     *Source
	logs  *observer.ObservedLogs
	clock *testkit.Clock
}

func newRotation(t *testing.T, e *fakes.Entra, level zapcore.Level, files map[string][]byte) rotation {
	t.Helper()
	r := rotation{dir: newKubeletDir(t, "tls.crt", "tls.key"), clock: realClock()}
	r.dir.write(files)
	var core zapcore.Core
	core, r.logs = observer.New(level)
	opts := entraOptions(e, Certificate(CertificateFiles{CertFile: r.dir.path("tls.crt"), KeyFile: r.dir.path("tls.key")}))
	opts.Now, opts.Logger = r.clock.Now, zap.New(core)
	r.s = mustNew(t, opts)
	return r
}

func TestCertificateRotation(t *testing.T) {
	t.Parallel()
	oldLeaf, ca := newTestChain(t)
	newLeaf := newTestCert(t, "bot", nil, ca, false)
	e := newEntra(t, fakes.EntraOptions{AcceptAssertion: true, ClientCertificate: oldLeaf.Cert})
	r := newRotation(t, e, zapcore.InfoLevel, map[string][]byte{"tls.crt": certPEM(oldLeaf), "tls.key": pkcs1PEM(oldLeaf.Key)})
	k, s, logs := r.dir, r.s, r.logs
	tok := get(t, s)

	// The app's registration now holds only the new certificate, and
	// cert-manager has written it.
	e.SetClientCertificate(newLeaf.Cert)
	k.write(map[string][]byte{"tls.crt": certPEM(newLeaf), "tls.key": pkcs8PEM(t, newLeaf.Key)})
	s.Invalidate(tok)
	getOnePerLifetime(t, e, s)

	h := assertionHeaders(t, e)
	if got := h[len(h)-1]["x5t#S256"]; got != x5tOf(newLeaf) {
		t.Errorf("assertion after the rotation names %v; want the new certificate %s", got, x5tOf(newLeaf))
	}
	if n := e.Requests(); n != 2 {
		t.Errorf("token requests = %d; want 2 (one per certificate)", n)
	}
	reloaded := logs.FilterMessage("client certificate reloaded").All()
	if len(reloaded) != 1 || reloaded[0].ContextMap()["file"] != k.path("tls.crt") {
		t.Errorf("reload log lines = %v; want one naming %s", reloaded, k.path("tls.crt"))
	}
}

func TestCertificateBrokenRotationKeepsOld(t *testing.T) {
	t.Parallel()
	const marker = "not-a-key-but-maybe-a-secret"
	leaf, ca := newTestChain(t)
	next := newTestCert(t, "bot", nil, ca, false)
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	good := map[string][]byte{"tls.crt": certPEM(leaf), "tls.key": pkcs8PEM(t, leaf.Key)}
	tests := []struct {
		name    string
		files   map[string][]byte
		wantErr string
	}{
		{"garbage", map[string][]byte{"tls.crt": []byte(marker), "tls.key": good["tls.key"]}, "neither PEM nor PKCS#12"},
		// cert-manager wrote the certificate, not yet its key.
		{"new certificate, old key", map[string][]byte{"tls.crt": certPEM(next), "tls.key": good["tls.key"]}, "belongs to none of its certificates"},
		{"ECDSA key", map[string][]byte{"tls.crt": certPEM(next), "tls.key": pkcs8PEM(t, ecKey)}, "ECDSA"},
		{"empty key file", map[string][]byte{"tls.crt": certPEM(next), "tls.key": nil}, "tls.key is empty"},
		{"key file gone", map[string][]byte{"tls.crt": certPEM(next)}, "read client key file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEntra(t, fakes.EntraOptions{AcceptAssertion: true, ClientCertificate: leaf.Cert})
			r := newRotation(t, e, zapcore.WarnLevel, good)
			k, s, logs, clock := r.dir, r.s, r.logs, r.clock
			tok := get(t, s)

			// The broken files leave the old certificate in use, with a
			// warning that says why.
			k.write(tt.files)
			s.Invalidate(tok)
			tok = get(t, s)
			warned := logs.FilterMessage("client certificate files changed but cannot be used; the certificate loaded before stays in use").All()
			if len(warned) == 0 {
				t.Fatal("no warning about the unusable files")
			}
			if msg := fmt.Sprint(warned[0].ContextMap()["error"]); !strings.Contains(msg, tt.wantErr) || strings.Contains(msg, marker) {
				t.Errorf("warning error = %q; want %q, without the content", msg, tt.wantErr)
			}

			// Once Entra refuses the old certificate, the error says why
			// the new files were not taken.
			e.SetClientCertificate(next.Cert)
			clock.Advance(forcedRefreshInterval)
			s.Invalidate(tok)
			_, err := s.Token(context.Background())
			if err == nil || !errors.Is(err, ErrNoToken) || !strings.Contains(err.Error(), "invalid_client") ||
				!strings.Contains(err.Error(), tt.wantErr) || strings.Contains(err.Error(), marker) {
				t.Errorf("Token() with the old certificate refused = %v; want invalid_client and %q", err, tt.wantErr)
			}

			// Fixed files are taken.
			k.write(map[string][]byte{"tls.crt": certPEM(next), "tls.key": pkcs8PEM(t, next.Key)})
			clock.Advance(failureHold)
			testkit.WaitFor(t, 30*time.Second, func() bool {
				_, err := s.Token(context.Background())
				return err == nil
			}, "a token with the fixed files")
			h := assertionHeaders(t, e)
			if got := h[len(h)-1]["x5t#S256"]; got != x5tOf(next) {
				t.Errorf("assertion after the fix names %v; want the new certificate %s", got, x5tOf(next))
			}
		})
	}
}

func TestCertificateRefusesNonRSAKeys(t *testing.T) {
	t.Parallel()
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecCert := newTestCert(t, "bot", ecKey, nil, false)
	edCert := newTestCert(t, "bot", edKey, nil, false)
	sec1, err := x509.MarshalECPrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	ecPFX, err := pkcs12.Modern2023.Encode(ecKey, ecCert.Cert, nil, "p")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		cert, key []byte
		password  string
		want      string
	}{
		{"ECDSA, PKCS#8", slices.Concat(certPEM(ecCert), pkcs8PEM(t, ecKey)), nil, "", "has an ECDSA key"},
		// What openssl ecparam -genkey writes.
		{"ECDSA, SEC1", slices.Concat(certPEM(ecCert),
			pem.EncodeToMemory(&pem.Block{Type: "EC PARAMETERS", Bytes: []byte{6, 8, 42, 134, 72, 206, 61, 3, 1, 7}}),
			pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1})), nil, "", "has an ECDSA key"},
		{"ECDSA, key file", certPEM(ecCert), pkcs8PEM(t, ecKey), "", "client key file"},
		{"Ed25519", slices.Concat(certPEM(edCert), pkcs8PEM(t, edKey)), nil, "", "has an Ed25519 key"},
		{"ECDSA, PKCS#12", ecPFX, nil, "p", "has an ECDSA key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			files := writeCertFiles(t, tt.cert, tt.key)
			files.Password = tt.password
			dir := filepath.Dir(files.CertFile)
			_, err := New(entraOptions(newEntra(t, fakes.EntraOptions{}), Certificate(files)))
			if !errors.Is(err, ErrUnsupportedKey) || !strings.Contains(err.Error(), tt.want) ||
				!strings.Contains(err.Error(), "Entra client assertions need an RSA key") || !strings.Contains(err.Error(), dir) {
				t.Errorf("New() = %v; want ErrUnsupportedKey saying %q and that an RSA key is needed, naming the file", err, tt.want)
			}
		})
	}
}

func TestCertificateUnusableFiles(t *testing.T) {
	t.Parallel()
	const marker = "secret-looking-bytes"
	leaf, ca := newTestChain(t)
	other, _ := newTestChain(t)
	pfx, err := pkcs12.Modern2023.Encode(leaf.Key, leaf.Cert, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	encrypted := pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte(marker)})
	legacy := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Headers: map[string]string{
		"Proc-Type": "4,ENCRYPTED", "DEK-Info": "DES-EDE3-CBC,0011223344556677"}, Bytes: []byte(marker)})
	tests := []struct {
		name      string
		cert, key []byte
		want      string
		wantIs    error
	}{
		{"encrypted PKCS#8 key", slices.Concat(certPEM(leaf), encrypted), nil, "the private key is encrypted", ErrUnsupportedKey},
		{"legacy encrypted key", slices.Concat(certPEM(leaf), legacy), nil, "the private key is encrypted", ErrUnsupportedKey},
		{"encrypted key file", certPEM(leaf), encrypted, "client key file", ErrUnsupportedKey},
		{"no key", certPEM(leaf, ca), nil, "has no private key", nil},
		{"no certificate", pkcs8PEM(t, leaf.Key), nil, "has no certificate", nil},
		{"key of another certificate", certPEM(leaf, ca), pkcs8PEM(t, other.Key), "belongs to none of its certificates", nil},
		{"two keys", slices.Concat(certPEM(leaf), pkcs8PEM(t, leaf.Key), pkcs1PEM(leaf.Key)), nil, "more than one private key", nil},
		{"PKCS#12 and a key file", pfx, pkcs8PEM(t, leaf.Key), "is PKCS#12, which holds its own key", nil},
		{"corrupt certificate", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte(marker)}), nil, "certificate 1", nil},
		{"corrupt PKCS#12", append([]byte{0x30, 0x82}, marker...), nil, "(PKCS#12)", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			files := writeCertFiles(t, tt.cert, tt.key)
			dir := filepath.Dir(files.CertFile)
			_, err := New(entraOptions(newEntra(t, fakes.EntraOptions{}), Certificate(files)))
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), dir) ||
				strings.Contains(err.Error(), marker) || (tt.wantIs != nil && !errors.Is(err, tt.wantIs)) {
				t.Errorf("New() = %v; want an error saying %q (is %v), naming the file, without its content", err, tt.want, tt.wantIs)
			}
		})
	}
	t.Run("missing key file", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		files := CertificateFiles{CertFile: writeFile(t, filepath.Join(dir, "tls.crt"), certPEM(leaf)), KeyFile: filepath.Join(dir, "tls.key")}
		if _, err := New(entraOptions(newEntra(t, fakes.EntraOptions{}), Certificate(files))); err == nil ||
			!strings.Contains(err.Error(), files.KeyFile) || !errors.Is(err, os.ErrNotExist) {
			t.Errorf("New() = %v; want a not-exist error naming %s", err, files.KeyFile)
		}
	})
	t.Run("no file", func(t *testing.T) {
		t.Parallel()
		if _, err := New(entraOptions(newEntra(t, fakes.EntraOptions{}), Certificate(CertificateFiles{}))); err == nil ||
			!strings.Contains(err.Error(), "client certificate file is empty") {
			t.Errorf("New() = %v; want one saying the certificate file is empty", err)
		}
	})
}

func TestCertificatePasswordNotPrinted(t *testing.T) {
	t.Parallel()
	const password = "do-not-print~pfx"
	opts := Options{ClientID: testApp, Credential: Certificate(CertificateFiles{CertFile: "/c.pfx", Password: password})}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		if got := fmt.Sprintf(verb, opts); strings.Contains(got, password) || !strings.Contains(got, "/c.pfx") {
			t.Errorf("Sprintf(%q, opts) = %s; want the file without the password", verb, got)
		}
	}
}
