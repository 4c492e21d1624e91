package tokencache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/cache"
	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
)

// This file holds what the Entra credentials (client secret, secret file,
// certificate, federated assertion) share: the authority, MSAL's
// confidential client with its cache bypassed, and instance discovery.

// entra is embedded by the credentials that get their token from the token
// endpoint of AuthorityHost/Tenant.
type entra struct{}

func (entra) authority(opts Options) (string, error) {
	if opts.AuthorityHost == "" || opts.Tenant == "" {
		return "", errors.New("authority host and tenant are required")
	}
	return strings.TrimRight(opts.AuthorityHost, "/") + "/" + opts.Tenant, nil
}

// confidentialClient builds MSAL confidential clients for one authority and
// app id; an Entra credential supplies the MSAL credential.
type confidentialClient struct {
	authority, clientID string
	options             []confidential.Option
}

func newConfidentialClient(opts Options) confidentialClient {
	authority, _ := entra{}.authority(opts) // New validated opts
	c := confidentialClient{
		authority: authority,
		clientID:  opts.ClientID,
		options: []confidential.Option{
			confidential.WithCache(noCache{}),
			confidential.WithInstanceDiscovery(instanceDiscovery(opts.AuthorityHost)),
			// New set it to a client that never follows redirects.
			confidential.WithHTTPClient(opts.HTTPClient),
		},
	}
	return c
}

func (c confidentialClient) build(cred confidential.Credential) (confidential.Client, error) {
	client, err := confidential.New(c.authority, c.clientID, cred, c.options...)
	if err != nil {
		return confidential.Client{}, fmt.Errorf("msal client for %s: %w", c.authority, err)
	}
	return client, nil
}

// confidentialAcquirer gets app tokens with MSAL's confidential client, from
// the token endpoint every time.
type confidentialAcquirer struct {
	scopes []string
	// client returns the client for the next acquisition. It is a function
	// so that a credential can rebuild the client when its secret rotates.
	client func() (confidential.Client, error)
}

// newConfidentialAcquirer returns the acquirer of a credential whose MSAL
// credential never changes.
func newConfidentialAcquirer(opts Options, cred confidential.Credential) (acquirer, error) {
	client, err := newConfidentialClient(opts).build(cred)
	if err != nil {
		return nil, err
	}
	return confidentialAcquirer{
		scopes: []string{opts.Scope},
		client: func() (confidential.Client, error) { return client, nil },
	}, nil
}

func (a confidentialAcquirer) acquire(ctx context.Context) (string, time.Time, error) {
	client, err := a.client()
	if err != nil {
		return "", time.Time{}, err
	}
	res, err := client.AcquireTokenByCredential(ctx, a.scopes)
	if err != nil {
		return "", time.Time{}, err
	}
	return res.AccessToken, res.ExpiresOn, nil
}

// instanceDiscovery reports whether MSAL may run instance discovery for
// authorityHost: only for a Microsoft login host (exact host, any case).
// These are the hosts of MSAL Go's known-metadata table, which MSAL knows
// without asking; for any other host (a fake Entra, a proxy) discovery
// would ask login.microsoftonline.com about it.
func instanceDiscovery(authorityHost string) bool {
	u, err := url.Parse(authorityHost)
	if err != nil {
		return false
	}
	switch strings.ToLower(u.Host) {
	case "login.microsoftonline.com",
		"login.microsoftonline.us",
		"login.partner.microsoftonline.cn",
		"login.windows.net",
		"login.chinacloudapi.cn",
		"login.microsoft.com",
		"login.sovcloud-identity.fr":
		return true
	}
	return false
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

// Replace empties MSAL's in-memory cache. "{}" is the smallest document
// storage.Manager.Unmarshal accepts; an empty byte slice is a JSON syntax
// error.
func (noCache) Replace(_ context.Context, c cache.Unmarshaler, _ cache.ReplaceHints) error {
	return c.Unmarshal([]byte("{}"))
}

// Export keeps nothing: the Source is the cache.
func (noCache) Export(context.Context, cache.Marshaler, cache.ExportHints) error { return nil }

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
