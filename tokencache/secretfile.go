package tokencache

import (
	"sync"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
)

// ClientSecretFile proves the app's identity with the client secret in the
// file at path. The file is read at New, so that a missing file fails
// start-up, and again at each acquisition, so that a mounted Kubernetes
// secret that rotates in place is picked up without a restart.
func ClientSecretFile(path string) Credential { return clientSecretFile{path: path} }

type clientSecretFile struct {
	entra
	path string
}

func (c clientSecretFile) newAcquirer(opts Options) (acquirer, error) {
	r := &rotatingSecret{path: c.path, build: newConfidentialClient(opts).build}
	if _, err := r.client(); err != nil {
		return nil, err
	}
	return confidentialAcquirer{scopes: []string{opts.Scope}, client: r.client}, nil
}

// rotatingSecret holds the client built with the file's current secret.
type rotatingSecret struct {
	path  string
	build func(confidential.Credential) (confidential.Client, error)

	mu     sync.Mutex
	secret string // the file content the client was built with
	cur    confidential.Client
}

// client returns the client, rebuilt first if the file changed. An MSAL
// credential's secret is fixed, so a rotation needs a new client; the only
// cost is one more OpenID configuration request.
func (r *rotatingSecret) client() (confidential.Client, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	secret, err := readCredentialFile(r.path, "client secret file")
	if err != nil {
		return confidential.Client{}, err
	}
	if secret != r.secret {
		cred, err := confidential.NewCredFromSecret(secret)
		if err != nil {
			return confidential.Client{}, err
		}
		client, err := r.build(cred)
		if err != nil {
			return confidential.Client{}, err
		}
		r.cur, r.secret = client, secret
	}
	return r.cur, nil
}
