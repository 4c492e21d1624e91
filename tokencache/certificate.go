package tokencache

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
	"go.uber.org/zap"
	"software.sslmate.com/src/go-pkcs12"
)

// ErrCertificatePassword: the password does not open the PKCS#12 file.
var ErrCertificatePassword = errors.New("wrong password")

// ErrUnsupportedKey: the private key cannot sign an Entra client assertion
// here: not an RSA key (MSAL Go signs with PS256, RS256 for ADFS, only), or
// an encrypted PEM key (MSAL Go's CertFromPEM does not decrypt them either).
var ErrUnsupportedKey = errors.New("unsupported private key")

// CertificateFiles names a certificate credential's files.
type CertificateFiles struct {
	// CertFile is a PEM file with the certificate (chain), and its private
	// key unless KeyFile is set; or a PKCS#12 (PFX) file with both. The
	// format is told by the content, not by the file name.
	CertFile string
	// KeyFile is a PEM file with the private key, "" when CertFile has it.
	KeyFile string
	// Password opens a PKCS#12 file ("" for one without a password).
	Password string
	// SendX5C sends the certificate chain with each token request
	// (subject-name/issuer authentication).
	SendX5C bool
}

// Certificate proves the app's identity with a certificate and its RSA
// private key. The files are read at New, so that a missing or unusable
// file fails start-up, and again at each acquisition: when they changed
// (cert-manager or the Key Vault CSI driver rotating them, the kubelet
// swapping a mounted secret's symlink), the new certificate is used. A
// changed file that cannot be used leaves the previous certificate in use,
// logged as a warning, and named in the error should Entra refuse the old
// one.
func Certificate(f CertificateFiles) Credential { return certificate{files: f} }

// CertificateFile is Certificate with a PEM or PKCS#12 file holding the
// certificate (chain) and its unencrypted private key.
func CertificateFile(path string) Credential { return Certificate(CertificateFiles{CertFile: path}) }

type certificate struct {
	entra
	files CertificateFiles
}

// String and GoString keep the password out of a printed Options.
func (c certificate) String() string {
	return fmt.Sprintf("client certificate %s [password redacted]", c.files.CertFile)
}
func (c certificate) GoString() string { return c.String() }

func (c certificate) authority(opts Options) (string, error) {
	if c.files.CertFile == "" {
		return "", errors.New("client certificate file is empty")
	}
	return c.entra.authority(opts)
}

func (c certificate) newAcquirer(opts Options) (acquirer, error) {
	cc := newConfidentialClient(opts)
	if c.files.SendX5C {
		cc.options = append(cc.options, confidential.WithX5C())
	}
	log := opts.Logger
	if log == nil {
		log = zap.NewNop()
	}
	r := &rotatingCertificate{files: c.files, build: cc.build, log: log}
	if _, err := r.client(); err != nil {
		return nil, err
	}
	return certificateAcquirer{
		confidentialAcquirer: confidentialAcquirer{scopes: []string{opts.Scope}, client: r.client},
		r:                    r,
	}, nil
}

// certificateAcquirer adds to a refused acquisition why the rotated files
// were not taken: the likely cause when Entra refuses the certificate that
// is still in use.
type certificateAcquirer struct {
	confidentialAcquirer
	r *rotatingCertificate
}

func (a certificateAcquirer) acquire(ctx context.Context) (string, time.Time, error) {
	tok, exp, err := a.confidentialAcquirer.acquire(ctx)
	if err != nil {
		if stale := a.r.staleError(); stale != nil {
			err = fmt.Errorf("%w; the certificate in use is the one loaded before, because the changed files cannot be used: %w", err, stale)
		}
	}
	return tok, exp, err
}

// rotatingCertificate holds the client built from the files' current
// content. An MSAL credential's certificate is fixed, so a rotation needs a
// new client; that costs one more OpenID configuration request, and no
// token request, so MSAL's cache (bypassed anyway) is not involved.
type rotatingCertificate struct {
	files CertificateFiles
	build func(confidential.Credential) (confidential.Client, error)
	log   *zap.Logger

	mu     sync.Mutex
	digest [sha256.Size]byte // of the content cur was built from
	cur    *confidential.Client
	stale  error // why the files' current content is not in use; nil if it is
}

// client returns the client for the files' current content, built first
// if they changed. Before any client is built, an unusable file is an
// error; after, the previous client stays, and stale says why.
func (r *rotatingCertificate) client() (confidential.Client, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	client, err := r.reload()
	if err == nil {
		r.stale = nil
		return client, nil
	}
	if r.cur == nil {
		return confidential.Client{}, err
	}
	r.stale = err
	r.log.Warn("client certificate files changed but cannot be used; the certificate loaded before stays in use",
		zap.Error(err))
	return *r.cur, nil
}

// reload reads the files and rebuilds the client if their content changed.
func (r *rotatingCertificate) reload() (confidential.Client, error) {
	certData, keyData, err := r.files.read()
	if err != nil {
		return confidential.Client{}, err
	}
	digest := contentDigest(certData, keyData)
	if r.cur != nil && digest == r.digest {
		return *r.cur, nil
	}
	loaded, err := r.files.parse(certData, keyData)
	if err != nil {
		return confidential.Client{}, err
	}
	cred, err := confidential.NewCredFromCert(loaded.chain, loaded.key)
	if err != nil {
		return confidential.Client{}, fmt.Errorf("client certificate file %s: %w", r.files.CertFile, err)
	}
	client, err := r.build(cred)
	if err != nil {
		return confidential.Client{}, err
	}
	if r.cur != nil {
		r.log.Info("client certificate reloaded", zap.String("file", r.files.CertFile),
			zap.String("thumbprint", loaded.thumbprint()), zap.Time("not_after", loaded.chain[0].NotAfter))
	}
	r.cur, r.digest = &client, digest
	return client, nil
}

// staleError says why the files' current content is not in use, or nil.
func (r *rotatingCertificate) staleError() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stale
}

// contentDigest identifies the files' content without keeping it.
func contentDigest(certData, keyData []byte) [sha256.Size]byte {
	h := sha256.New()
	_ = binary.Write(h, binary.BigEndian, uint64(len(certData)))
	h.Write(certData)
	h.Write(keyData)
	var d [sha256.Size]byte
	h.Sum(d[:0])
	return d
}

// read returns the content of the certificate file and of the key file
// (nil without one).
func (f CertificateFiles) read() (certData, keyData []byte, err error) {
	if certData, err = os.ReadFile(f.CertFile); err != nil {
		return nil, nil, fmt.Errorf("read client certificate file: %w", err)
	}
	if f.KeyFile != "" {
		if keyData, err = os.ReadFile(f.KeyFile); err != nil {
			return nil, nil, fmt.Errorf("read client key file: %w", err)
		}
	}
	return certData, keyData, nil
}

// What the files are called in errors.
const (
	certFileWhat = "client certificate file"
	keyFileWhat  = "client key file"
)

// loadedCertificate is a usable certificate: the chain, leaf first, and
// the leaf's RSA key.
type loadedCertificate struct {
	chain []*x509.Certificate
	key   *rsa.PrivateKey
}

// thumbprint is the leaf's SHA-1 thumbprint as the Azure portal shows it
// (public, like the certificate), for the log line of a rotation.
func (l loadedCertificate) thumbprint() string {
	sum := sha1.Sum(l.chain[0].Raw)
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

// parse decodes the files' content. Errors name the file, never its content
// or the password; the parsers' own errors quote neither.
func (f CertificateFiles) parse(certData, keyData []byte) (loadedCertificate, error) {
	var certs []*x509.Certificate
	var key crypto.PrivateKey
	keyFile, keyWhat := f.CertFile, certFileWhat
	if isPKCS12(certData) {
		if f.KeyFile != "" {
			return loadedCertificate{}, fmt.Errorf("client certificate file %s is PKCS#12, which holds its own key: leave the key file unset", f.CertFile)
		}
		k, leaf, cas, err := pkcs12.DecodeChain(certData, f.Password)
		if errors.Is(err, pkcs12.ErrIncorrectPassword) {
			return loadedCertificate{}, fmt.Errorf("client certificate file %s (PKCS#12): %w", f.CertFile, ErrCertificatePassword)
		}
		if err != nil {
			return loadedCertificate{}, fmt.Errorf("client certificate file %s (PKCS#12): %w", f.CertFile, err)
		}
		certs, key = append([]*x509.Certificate{leaf}, cas...), k
	} else {
		var err error
		if certs, key, err = parsePEM(certData, certFileWhat, f.CertFile); err != nil {
			return loadedCertificate{}, err
		}
		if f.KeyFile != "" {
			// The key file's key is the one; certificates in it (a
			// combined file given twice) add nothing.
			keyFile, keyWhat = f.KeyFile, keyFileWhat
			if _, key, err = parsePEM(keyData, keyWhat, keyFile); err != nil {
				return loadedCertificate{}, err
			}
		}
	}
	if len(certs) == 0 {
		return loadedCertificate{}, fmt.Errorf("client certificate file %s has no certificate", f.CertFile)
	}
	if key == nil {
		return loadedCertificate{}, fmt.Errorf("%s %s has no private key", keyWhat, keyFile)
	}
	rsaKey, err := rsaKey(key, keyWhat, keyFile)
	if err != nil {
		return loadedCertificate{}, err
	}
	chain, err := orderChain(certs, &rsaKey.PublicKey)
	if err != nil {
		return loadedCertificate{}, fmt.Errorf("client certificate file %s: %w", f.CertFile, err)
	}
	return loadedCertificate{chain: chain, key: rsaKey}, nil
}

// isPKCS12 tells a PKCS#12 file from PEM: DER starts with a SEQUENCE
// (0x30), and PEM is text with "-----BEGIN" lines (a text that starts with
// the digit 0 is still PEM).
func isPKCS12(data []byte) bool {
	return len(data) > 0 && data[0] == 0x30 && !bytes.Contains(data, []byte("-----BEGIN "))
}

// parsePEM returns the certificates and the private key of a PEM file.
// Unlike MSAL's CertFromPEM it also decodes the keys it cannot use (SEC1
// EC keys, encrypted keys), so that the error says what is wrong.
func parsePEM(data []byte, what, path string) ([]*x509.Certificate, crypto.PrivateKey, error) {
	var certs []*x509.Certificate
	var key crypto.PrivateKey
	blocks, orig := 0, data
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		blocks++
		if block.Type == "CERTIFICATE" {
			cert, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, nil, fmt.Errorf("%s %s: certificate %d: %w", what, path, len(certs)+1, err)
			}
			certs = append(certs, cert)
			continue
		}
		k, err := pemKey(block)
		if err != nil {
			return nil, nil, fmt.Errorf("%s %s: %w", what, path, err)
		}
		if k == nil {
			continue // EC PARAMETERS and the like
		}
		if key != nil {
			return nil, nil, fmt.Errorf("%s %s has more than one private key", what, path)
		}
		key = k
	}
	switch {
	case blocks > 0:
	case len(bytes.TrimSpace(orig)) == 0:
		return nil, nil, fmt.Errorf("%s %s is empty", what, path)
	case what == keyFileWhat:
		return nil, nil, fmt.Errorf("%s %s is not PEM", what, path)
	default:
		return nil, nil, fmt.Errorf("%s %s is neither PEM nor PKCS#12", what, path)
	}
	return certs, key, nil
}

// pemKey decodes a private key block; nil for a block that is no key.
func pemKey(block *pem.Block) (crypto.PrivateKey, error) {
	if _, encrypted := block.Headers["DEK-Info"]; encrypted || block.Type == "ENCRYPTED PRIVATE KEY" {
		return nil, fmt.Errorf("the private key is encrypted, which MSAL Go does not support: %w; "+
			"decrypt it (openssl pkcs8 -topk8 -nocrypt) and protect the file with permissions, or use a PKCS#12 file with its password", ErrUnsupportedKey)
	}
	var k crypto.PrivateKey
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		k, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		k, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("private key: %w", err)
	}
	return k, nil
}

// rsaKey refuses the keys MSAL Go cannot sign a client assertion with: it
// signs with PS256 (RS256 for ADFS) through an RSA key only, and
// NewCredFromCert rejects any other.
func rsaKey(key crypto.PrivateKey, what, path string) (*rsa.PrivateKey, error) {
	var kind string
	switch k := key.(type) {
	case *rsa.PrivateKey:
		return k, nil
	case *ecdsa.PrivateKey:
		kind = "an ECDSA"
	case ed25519.PrivateKey:
		kind = "an Ed25519"
	default:
		kind = fmt.Sprintf("a %T", key)
	}
	return nil, fmt.Errorf("%s %s has %s key; Entra client assertions need an RSA key: MSAL Go signs them with PS256 (RS256 for ADFS) only, so issue the certificate with an RSA key (2048 bits or more): %w",
		what, path, kind, ErrUnsupportedKey)
}

// orderChain returns certs leaf first (the certificate of pub), then each
// certificate's issuer in turn, then any others in file order: the order
// x5c needs, whatever order the file had (PKCS#12 files from Windows or Key
// Vault do not promise one).
func orderChain(certs []*x509.Certificate, pub *rsa.PublicKey) ([]*x509.Certificate, error) {
	i := slices.IndexFunc(certs, func(c *x509.Certificate) bool { return pub.Equal(c.PublicKey) })
	if i < 0 {
		return nil, errors.New("the private key belongs to none of its certificates")
	}
	rest := slices.Delete(slices.Clone(certs), i, i+1)
	chain := []*x509.Certificate{certs[i]}
	for {
		last := chain[len(chain)-1]
		if bytes.Equal(last.RawIssuer, last.RawSubject) {
			break // self-signed: the root
		}
		j := slices.IndexFunc(rest, func(c *x509.Certificate) bool {
			return bytes.Equal(c.RawSubject, last.RawIssuer) && last.CheckSignatureFrom(c) == nil
		})
		if j < 0 {
			break
		}
		chain = append(chain, rest[j])
		rest = slices.Delete(rest, j, j+1)
	}
	return append(chain, rest...), nil
}
