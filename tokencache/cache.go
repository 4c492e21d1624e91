package tokencache

import (
	"strings"
	"sync"
)

// Key identifies what a token is good for. The credential is not part of it:
// whichever credential proves an identity, the token is the same, and a
// process configured twice for one identity should share one token.
type Key struct {
	// Authority is the issuing tenant (host + tenant, lower-cased): the same
	// app id gets a different token in each tenant (a SingleTenant bot's own
	// tenant versus botframework.com), and a managed identity has none.
	Authority string
	// ClientID is the identity the token represents.
	ClientID string
	// Scope is the audience: a token for one resource is refused by another.
	Scope string
}

// Cache holds one Source per Key, for a process that serves several
// identities. The set of identities comes from configuration, so it is
// bounded and needs no eviction.
type Cache struct {
	mu      sync.Mutex
	sources map[Key]*Source
}

// NewCache returns an empty Cache.
func NewCache() *Cache {
	return &Cache{sources: make(map[Key]*Source)}
}

// Source returns the Source for opts' Key, creating it on first use. The
// first Options given for a Key win; later ones only select it.
func (c *Cache) Source(opts Options) (*Source, error) {
	k := keyOf(opts)
	c.mu.Lock()
	defer c.mu.Unlock()
	// Creating under the lock is what makes "same Key, same Source" hold;
	// New does no network I/O, at most it reads a certificate file.
	if s, ok := c.sources[k]; ok {
		return s, nil
	}
	s, err := New(opts)
	if err != nil {
		return nil, err
	}
	c.sources[k] = s
	return s, nil
}

func keyOf(opts Options) Key {
	return Key{Authority: strings.ToLower(authorityOf(opts)), ClientID: opts.ClientID, Scope: opts.Scope}
}

// authorityOf names where tokens come from, for the Key, errors and logs.
func authorityOf(opts Options) string {
	if opts.Credential.ManagedIdentity {
		return "managed-identity"
	}
	return strings.TrimRight(opts.AuthorityHost, "/") + "/" + opts.Tenant
}
