package tokencache

import (
	"fmt"
	"os"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
)

// CertificateFile proves the app's identity with a certificate: path is a
// PEM file with the certificate (chain) and its unencrypted RSA private
// key. It is read once, at New.
func CertificateFile(path string) Credential { return certificateFile{path: path} }

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
