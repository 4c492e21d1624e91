package tokencache

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/cache"
	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/managedidentity"
)

// newAcquirer builds the MSAL client for opts' credential.
func newAcquirer(opts Options) (acquirer, error) {
	c := opts.Credential
	if c.ManagedIdentity {
		return newManagedIdentity(opts)
	}
	a := &confidentialAcquirer{
		authority:  authorityOf(opts),
		clientID:   opts.ClientID,
		scopes:     []string{opts.Scope},
		secretFile: c.SecretFile,
		options: []confidential.Option{
			confidential.WithCache(noCache{}),
			confidential.WithInstanceDiscovery(opts.InstanceDiscovery),
		},
	}
	if opts.HTTPClient != nil {
		// Only when set: MSAL would store a nil *http.Client in its
		// interface and call it.
		a.options = append(a.options, confidential.WithHTTPClient(opts.HTTPClient))
	}

	var cred confidential.Credential
	var err error
	switch {
	case c.Secret != "":
		cred, err = confidential.NewCredFromSecret(c.Secret)
	case c.SecretFile != "":
		// Read now so that a missing file fails start-up, and again at each
		// acquisition (current) to pick up a rotation.
		if a.secret, err = readCredentialFile(c.SecretFile, "client secret file"); err == nil {
			cred, err = confidential.NewCredFromSecret(a.secret)
		}
	case c.CertFile != "":
		cred, err = certCredential(c.CertFile)
	case c.AssertionFile != "":
		path := c.AssertionFile
		cred = confidential.NewCredFromAssertionCallback(func(context.Context, confidential.AssertionRequestOptions) (string, error) {
			// Every call, not every 5 minutes as some SDKs do: acquisitions
			// are rare (half-life), and a stale assertion costs a failure.
			return readCredentialFile(path, "federated token file")
		})
	}
	if err != nil {
		return nil, err
	}
	if a.client, err = confidential.New(a.authority, a.clientID, cred, a.options...); err != nil {
		return nil, fmt.Errorf("msal client for %s: %w", a.authority, err)
	}
	return a, nil
}

// confidentialAcquirer gets app tokens with MSAL's confidential client, from
// the token endpoint every time.
type confidentialAcquirer struct {
	authority, clientID string
	scopes              []string
	options             []confidential.Option
	secretFile          string

	mu     sync.Mutex
	client confidential.Client
	secret string // the SecretFile content the client was built with
}

func (a *confidentialAcquirer) acquire(ctx context.Context) (string, time.Time, error) {
	client, err := a.current()
	if err != nil {
		return "", time.Time{}, err
	}
	res, err := client.AcquireTokenByCredential(ctx, a.scopes)
	if err != nil {
		return "", time.Time{}, err
	}
	return res.AccessToken, res.ExpiresOn, nil
}

// current returns the client, rebuilt first if the secret file changed. An
// MSAL credential's secret is fixed, so a rotation needs a new client; the
// only cost is one more OpenID configuration request.
func (a *confidentialAcquirer) current() (confidential.Client, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.secretFile == "" {
		return a.client, nil
	}
	secret, err := readCredentialFile(a.secretFile, "client secret file")
	if err != nil {
		return confidential.Client{}, err
	}
	if secret != a.secret {
		cred, err := confidential.NewCredFromSecret(secret)
		if err != nil {
			return confidential.Client{}, err
		}
		client, err := confidential.New(a.authority, a.clientID, cred, a.options...)
		if err != nil {
			return confidential.Client{}, fmt.Errorf("msal client for %s: %w", a.authority, err)
		}
		a.client, a.secret = client, secret
	}
	return a.client, nil
}

// noCache is an MSAL cache accessor that empties MSAL's cache before every
// use, so that AcquireTokenByCredential always reaches the token endpoint.
//
// Why this works (MSAL Go v1.10.1): AcquireTokenByCredential first runs
// base.AcquireTokenSilent, which calls Replace and then reads the cache; an
// empty cache is a miss, so it calls the token endpoint and stores the result
// through AuthResultFromToken, which calls Replace again before writing and
// Export after. Unmarshal replaces the whole token "contract", so each read
// starts empty. Instance-discovery and endpoint metadata live outside the
// contract and stay cached. TestMSALCacheBypassed pins this behaviour.
type noCache struct{}

// emptyCache is the smallest document storage.Manager.Unmarshal accepts; an
// empty byte slice is a JSON syntax error.
var emptyCache = []byte("{}")

// Replace empties MSAL's in-memory cache.
func (noCache) Replace(_ context.Context, c cache.Unmarshaler, _ cache.ReplaceHints) error {
	return c.Unmarshal(emptyCache)
}

// Export keeps nothing: the Source is the cache.
func (noCache) Export(context.Context, cache.Marshaler, cache.ExportHints) error { return nil }

// certCredential loads a PEM certificate and key. Errors name the file, never
// its content (MSAL's parse errors do not quote it either).
func certCredential(path string) (confidential.Credential, error) {
	pemData, err := os.ReadFile(path)
	if err != nil {
		return confidential.Credential{}, fmt.Errorf("read client certificate file: %w", err)
	}
	certs, key, err := confidential.CertFromPEM(pemData, "")
	if err != nil {
		return confidential.Credential{}, fmt.Errorf("client certificate file %s: %w", path, err)
	}
	cred, err := confidential.NewCredFromCert(certs, key)
	if err != nil {
		return confidential.Credential{}, fmt.Errorf("client certificate file %s: %w", path, err)
	}
	return cred, nil
}

// readCredentialFile reads a secret or an assertion, trimmed of surrounding
// white space (an editor's or echo's trailing newline). An empty file is an
// error: sending nothing would only earn an obscure AADSTS error.
func readCredentialFile(path, what string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", what, err)
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return "", fmt.Errorf("%s %s is empty", what, path)
	}
	return string(b), nil
}

// managedIdentityAcquirer gets tokens from a user-assigned managed identity.
type managedIdentityAcquirer struct {
	client   managedidentity.Client
	resource string
}

// bypassClaims is passed to every managed identity request to skip MSAL's
// (process-wide) managed identity cache. In MSAL Go v1.10.1 WithClaims does
// nothing else: the claims are not sent to the endpoint, they only make
// AcquireToken ignore cached tokens (managedidentity.go, AcquireToken).
// Without it, a refresh at half-life or after Invalidate would get the cached
// token back, and a failed MSAL-internal refresh would be hidden from our
// back-off. It is a syntactically valid, empty claims request, in case a
// later MSAL forwards it. TestManagedIdentityBypassesMSALCache pins this.
const bypassClaims = `{"access_token":{}}`

func newManagedIdentity(opts Options) (acquirer, error) {
	var mopts []managedidentity.ClientOption
	if opts.HTTPClient != nil {
		mopts = append(mopts, managedidentity.WithHTTPClient(opts.HTTPClient))
	}
	// MSAL picks the managed identity source (IMDS, App Service, ...) from
	// the environment, at New.
	client, err := managedidentity.New(managedidentity.UserAssignedClientID(opts.ClientID), mopts...)
	if err != nil {
		return nil, fmt.Errorf("managed identity client: %w", err)
	}
	return &managedIdentityAcquirer{client: client, resource: opts.Scope}, nil
}

func (a *managedIdentityAcquirer) acquire(ctx context.Context) (string, time.Time, error) {
	res, err := a.client.AcquireToken(ctx, a.resource, managedidentity.WithClaims(bypassClaims))
	if err != nil {
		return "", time.Time{}, err
	}
	return res.AccessToken, res.ExpiresOn, nil
}
