package tokencache

import (
	"context"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
)

// AssertionFile proves the app's identity with a federated client assertion
// (workload identity): the token in the file at path. The file is re-read
// at each acquisition because the kubelet rotates it.
func AssertionFile(path string) Credential { return assertionFile{path: path} }

type assertionFile struct {
	entra
	path string
}

func (c assertionFile) newAcquirer(opts Options) (acquirer, error) {
	return newConfidentialAcquirer(opts, c.credential())
}

// credential is the MSAL credential that sends the file's content.
func (c assertionFile) credential() confidential.Credential {
	return confidential.NewCredFromAssertionCallback(func(context.Context, confidential.AssertionRequestOptions) (string, error) {
		// Every call, not every 5 minutes as some SDKs do: acquisitions
		// are rare (half-life), and a stale assertion costs a failure.
		return readCredentialFile(c.path, "federated token file")
	})
}
