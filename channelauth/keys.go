package channelauth

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"go.uber.org/zap"
)

const (
	// maxDocumentBytes bounds the metadata and key documents. The real
	// ones are a few KiB; a host that streams more is broken or hostile.
	maxDocumentBytes = 1 << 20

	// fetchTimeout bounds one metadata + keys fetch. The channel gives up
	// on a message after about 15 s, so waiting longer helps nobody.
	fetchTimeout = 10 * time.Second

	// failureBackoff is how long a failed fetch is remembered while no keys
	// are cached at all: requests that arrive meanwhile fail fast with the
	// same error instead of each queueing another request to a host that
	// is down.
	failureBackoff = 5 * time.Second

	// endorsementsMember is the non-standard JWK member in which the Bot
	// Framework lists the channel ids a key may sign for.
	endorsementsMember = "endorsements"
)

// signingKey is one usable RSA key from a key document.
type signingKey struct {
	// key is the raw public key, exported once here so that the per-token
	// path verifies without converting the JWK again.
	key *rsa.PublicKey
	// endorsements is the key's endorsements member; hasEndorsements tells
	// an absent member from an empty list (both fail channel tokens, with
	// different reasons).
	endorsements    []string
	hasEndorsements bool
}

// keySet caches the keys behind one OpenID metadata document. It follows
// BB-JS openIdMetadata.ts: a full refresh when the keys are older than
// refreshInterval (24 h), and a re-fetch on an unknown kid, rate limited so
// that forged kids cannot make us flood the metadata host.
type keySet struct {
	source          string // "channel" or "entra", for errors and logs
	metadataURL     string
	client          *http.Client
	now             func() time.Time
	log             *zap.Logger
	refreshInterval time.Duration
	minInterval     time.Duration

	// sem admits one fetch at a time. Waiters re-check whether a fetch is
	// still needed once admitted, so a burst of requests on a cold or stale
	// cache costs one fetch. A channel rather than a mutex so that waiting
	// honours the request's ctx.
	sem chan struct{}

	mu        sync.RWMutex
	keys      map[string]signingKey // nil until the first successful fetch
	fetched   time.Time             // last successful fetch
	attempted time.Time             // last fetch that ran to an outcome
	lastErr   error                 // outcome of that fetch, nil on success
	forced    time.Time             // last re-fetch caused by an unknown kid
	// doc describes the last key document fetched, for Probe.
	doc keyDocument
	// generation counts successful fetches, so that a lookup can tell
	// whether the keys changed while it waited.
	generation uint64
}

func newKeySet(source, metadataURL string, o *Options) *keySet {
	return &keySet{
		source:          source,
		metadataURL:     metadataURL,
		client:          o.HTTPClient,
		now:             o.Now,
		log:             o.Logger.With(zap.String("key_source", source)),
		refreshInterval: o.RefreshInterval,
		minInterval:     o.UnknownKIDMinInterval,
		sem:             make(chan struct{}, 1),
	}
}

// lookup returns the key with the given kid, fetching or refreshing the
// key document as the cache rules require. It returns a rejection when the
// kid is unknown and an ErrKeysUnavailable error when no keys could be had.
func (s *keySet) lookup(ctx context.Context, kid string) (signingKey, error) {
	s.mu.RLock()
	gen := s.generation
	cold := s.keys == nil
	stale := s.now().Sub(s.fetched) >= s.refreshInterval
	s.mu.RUnlock()

	switch {
	case cold:
		if err := s.refresh(ctx, func() bool { return s.keys == nil }); err != nil {
			return signingKey{}, err
		}
	case stale:
		// The docs demand a refresh at least every 24 h. While the host is
		// down we keep serving the last good keys (as IdentityModel's
		// ConfigurationManager does) and retry at most every minInterval.
		err := s.refresh(ctx, func() bool {
			now := s.now()
			return now.Sub(s.fetched) >= s.refreshInterval && now.Sub(s.attempted) >= s.minInterval
		})
		if err != nil {
			s.log.Warn("refresh signing keys failed; serving cached keys", zap.Error(err))
		}
	}

	if k, ok := s.get(kid); ok {
		return k, nil
	}

	// Unknown kid: either a key was rotated in since our last fetch, or the
	// token is forged. Re-fetch at most once per minInterval whatever the
	// kids are, so 100 random kids cost at most one request (BB-JS allows
	// one per hour, IdentityModel's RequestRefresh one per 5 minutes).
	s.mu.Lock()
	now := s.now()
	// A document fetched since this lookup began (a cold start, or a
	// concurrent refresh) is as fresh as a re-fetch would be: don't spend one.
	fetchedMeanwhile := s.generation != gen
	claimed := !fetchedMeanwhile && now.Sub(s.forced) >= s.minInterval
	if claimed {
		s.forced = now
	}
	s.mu.Unlock()
	if !claimed {
		return signingKey{}, reasonUnknownKey
	}
	if err := s.refresh(ctx, nil); err != nil {
		return signingKey{}, err
	}
	if k, ok := s.get(kid); ok {
		return k, nil
	}
	return signingKey{}, reasonUnknownKey
}

func (s *keySet) get(kid string) (signingKey, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	k, ok := s.keys[kid]
	return k, ok
}

// refresh fetches the key document if need (evaluated under s.mu once this
// caller holds the fetch slot) says so; a nil need always fetches.
func (s *keySet) refresh(ctx context.Context, need func() bool) error {
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return keysUnavailable(s.source, context.Cause(ctx))
	}
	defer func() { <-s.sem }()

	s.mu.RLock()
	needed := need == nil || need()
	recentFailure := s.lastErr != nil && s.now().Sub(s.attempted) < failureBackoff
	lastErr := s.lastErr
	s.mu.RUnlock()
	if !needed {
		return nil
	}
	if recentFailure {
		return lastErr
	}

	keys, doc, err := s.fetch(ctx)
	if err != nil {
		err = keysUnavailable(s.source, err)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	// A fetch cut short by the caller's own ctx says nothing about the
	// host, so it must not hold back the next caller.
	if err != nil && ctx.Err() != nil {
		return err
	}
	s.attempted = s.now()
	s.lastErr = err
	if err == nil {
		s.keys, s.doc = keys, doc
		s.fetched = s.attempted
		s.generation++
	}
	return err
}

// keyDocument is what the metadata said about the keys.
type keyDocument struct {
	issuer  string
	jwksURI string
}

// fetch reads the metadata document, then the key document its jwks_uri
// names, and returns the usable keys by kid.
func (s *keySet) fetch(ctx context.Context) (map[string]signingKey, keyDocument, error) {
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	var doc keyDocument
	body, err := s.getDoc(ctx, s.metadataURL)
	if err != nil {
		return nil, doc, err
	}
	var md struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.Unmarshal(body, &md); err != nil {
		return nil, doc, fmt.Errorf("decode openid metadata %s: %w", s.metadataURL, err)
	}
	if md.JWKSURI == "" {
		return nil, doc, fmt.Errorf("openid metadata %s has no jwks_uri", s.metadataURL)
	}
	doc = keyDocument{issuer: md.Issuer, jwksURI: md.JWKSURI}
	body, err = s.getDoc(ctx, md.JWKSURI)
	if err != nil {
		return nil, doc, err
	}
	keys, err := parseKeys(body)
	if err != nil {
		return nil, doc, fmt.Errorf("parse keys %s: %w", md.JWKSURI, err)
	}
	s.log.Debug("fetched signing keys", zap.String("jwks_uri", md.JWKSURI), zap.Int("keys", len(keys)))
	return keys, doc, nil
}

// parseKeys keeps the RSA signing keys of a JWK set, as BB-JS does (keys
// without n/e are skipped), and reads each key's endorsements member.
func parseKeys(body []byte) (map[string]signingKey, error) {
	set, err := jwk.Parse(body,
		// An entry jwx cannot parse (a future key type) must not cost us
		// the whole set; it is kept as an unsupported key and skipped below.
		jwk.WithStrictKeySetParsing(false),
		// A malformed endorsements member makes that key unparseable, and
		// so unusable: it fails closed.
		jwk.WithTypedField(endorsementsMember, []string(nil)),
	)
	if err != nil {
		return nil, err
	}
	keys := make(map[string]signingKey, set.Len())
	for i := range set.Len() {
		k, _ := set.Key(i)
		if _, ok := k.(jwk.RSAPublicKey); !ok || k.KeyType() != jwa.RSA() {
			continue
		}
		if use, ok := k.KeyUsage(); ok && use != "sig" {
			continue
		}
		kid, ok := k.KeyID()
		if !ok || kid == "" {
			continue // a kid-less key can never be selected by a token
		}
		if _, dup := keys[kid]; dup {
			continue // first wins, as BB-JS's linear search does
		}
		// Exporting into *rsa.PublicKey directly finds no exporter in jwx
		// v3.3.0; through an interface it works.
		var raw any
		if err := jwk.Export(k, &raw); err != nil {
			continue
		}
		pub, ok := raw.(*rsa.PublicKey)
		if !ok {
			continue
		}
		sk := signingKey{key: pub}
		if k.Has(endorsementsMember) {
			var e []string
			if err := k.Get(endorsementsMember, &e); err == nil && e != nil {
				sk.endorsements, sk.hasEndorsements = e, true
			}
		}
		keys[kid] = sk
	}
	if len(keys) == 0 {
		return nil, errors.New("no usable rsa signing keys")
	}
	return keys, nil
}

func (s *keySet) getDoc(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("build request for %s: %w", url, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, err // *url.Error already names the method and URL
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("get %s: status %d", url, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDocumentBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", url, err)
	}
	if len(body) > maxDocumentBytes {
		return nil, fmt.Errorf("get %s: document larger than %d bytes", url, maxDocumentBytes)
	}
	return body, nil
}
