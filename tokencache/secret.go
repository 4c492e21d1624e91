package tokencache

import (
	"fmt"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
)

// ClientSecret proves the app's identity with a client secret.
func ClientSecret(secret string) Credential { return clientSecret{secret: secret} }

type clientSecret struct {
	entra
	secret string
}

func (c clientSecret) newAcquirer(opts Options) (acquirer, error) {
	cred, err := confidential.NewCredFromSecret(c.secret)
	if err != nil {
		return nil, fmt.Errorf("client secret: %w", err)
	}
	return newConfidentialAcquirer(opts, cred)
}

// String and GoString keep the secret out of a printed Options.
func (clientSecret) String() string   { return "client secret [redacted]" }
func (clientSecret) GoString() string { return "tokencache.ClientSecret([redacted])" }
