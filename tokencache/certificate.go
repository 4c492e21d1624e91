package tokencache

import (
	"fmt"
	"os"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
)

// CertificateFiles names a certificate credential's files.
type CertificateFiles struct {
	// CertFile is a PEM file with the certificate (chain), and its private
	// key unless KeyFile is set.
	CertFile string
	// KeyFile is a PEM file with the private key, "" when CertFile has it.
	KeyFile string
	// Password decrypts an encrypted key or PKCS#12 file.
	Password string
	// SendX5C sends the certificate chain with each token request
	// (subject-name/issuer authentication).
	SendX5C bool
}

// Certificate proves the app's identity with a certificate.
func Certificate(f CertificateFiles) Credential { return certificateFile{path: f.CertFile} }

// CertificateFile is Certificate with a PEM file holding the certificate
// (chain) and its unencrypted RSA private key. It is read once, at New.
func CertificateFile(path string) Credential { return Certificate(CertificateFiles{CertFile: path}) }

type certificateFile struct {
	entra
	path string
}

// newAcquirer loads the certificate and key. Errors name the file, never its
// content (MSAL's parse errors do not quote it either).
func (c certificateFile) newAcquirer(opts Options) (acquirer, error) {
	pemData, err := os.ReadFile(c.path)
	if err != nil {
		return nil, fmt.Errorf("read client certificate file: %w", err)
	}
	certs, key, err := confidential.CertFromPEM(pemData, "")
	if err != nil {
		return nil, fmt.Errorf("client certificate file %s: %w", c.path, err)
	}
	cred, err := confidential.NewCredFromCert(certs, key)
	if err != nil {
		return nil, fmt.Errorf("client certificate file %s: %w", c.path, err)
	}
	return newConfidentialAcquirer(opts, cred)
}
