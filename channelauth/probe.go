package channelauth

import (
	"context"
	"slices"
)

// KeyReport describes the channel's signing keys as a fresh fetch found
// them, for `sidecar doctor`.
type KeyReport struct {
	// JWKSURI is the key document the OpenID metadata names.
	JWKSURI string
	// Issuer is the metadata's issuer; ExpectedIssuer is what tokens must
	// carry (SIDECAR_CHANNEL_ISSUER).
	Issuer, ExpectedIssuer string
	// Keys counts the usable RSA signing keys; KeysFor counts, by channel
	// id asked for, those whose endorsements name it.
	Keys    int
	KeysFor map[string]int
}

// Probe fetches the channel's OpenID metadata and signing keys now,
// whatever the cache holds (within the back-off after a failed fetch, it
// reports that failure), and reports them; the keys it fetched replace the
// cached ones. channels are the channel ids to count endorsed keys
// for. An error wraps ErrKeysUnavailable.
func (v *Validator) Probe(ctx context.Context, channels ...string) (KeyReport, error) {
	s := v.channel
	if err := s.refresh(ctx, nil); err != nil {
		return KeyReport{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	r := KeyReport{JWKSURI: s.doc.jwksURI, Issuer: s.doc.issuer, ExpectedIssuer: v.channelIss,
		Keys: len(s.keys), KeysFor: make(map[string]int, len(channels))}
	for _, ch := range channels {
		for _, k := range s.keys {
			if slices.Contains(k.endorsements, ch) {
				r.KeysFor[ch]++
			}
		}
	}
	return r, nil
}
