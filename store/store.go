// Package store defines conversation references: what the sidecar learned
// from a validated inbound activity and needs later to send into that
// conversation (the real serviceUrl, the bot's channel account, the tenant).
//
// It is a leaf: it imports the standard library only, so that proxy, which
// needs Reference, Lookup and ErrNotFound, and config, which parses
// SIDECAR_STORE into a Spec, link no storage driver. It holds what every
// backend and caller shares: the Reference type, the Store, Runner and
// Lister interfaces, the sentinel errors, and the Spec that names a store.
//
// The backends live beside it, each importing this package and its own
// driver only:
//
//	store/memstore     in process, an LRU (golang-lru)
//	store/boltstore    one file, one process (bbolt)
//	store/redisstore   shared by replicas, standalone or cluster (go-redis)
//	store/cachedstore  a read-through LRU in front of another Store
//	store/backends     Open: the store a Spec names, assembled from the above
package store

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"
)

// Sentinel errors. Backends wrap them; callers branch with errors.Is.
var (
	// ErrNotFound is returned when no reference is stored for a key.
	ErrNotFound = errors.New("reference not found")
	// ErrUnavailable marks a failure of the storage itself (a disk that is
	// full or read-only, a closed database, an unreachable Redis) as
	// opposed to a missing reference. Callers answer 503 so the channel
	// retries later.
	ErrUnavailable = errors.New("reference store unavailable")
	// ErrLocked is returned when opening a store file that another process
	// holds (bbolt's exclusive lock): most likely a running sidecar.
	ErrLocked = errors.New("locked by another process (is another sidecar running?)")
	// ErrCorrupt marks a stored value that does not decode: the storage
	// works, so it is not ErrUnavailable.
	ErrCorrupt = errors.New("corrupt reference")
)

// DefaultTTL is how long a reference lives in a persistent backend without
// an inbound activity refreshing it. Bots send proactive messages months
// after the last message they received, so it is long.
const DefaultTTL = 365 * 24 * time.Hour

// Reference is a conversation reference captured from an inbound activity
// whose channel token was validated. It holds no secrets.
type Reference struct {
	// ConversationID is conversation.id of the activity, the store key.
	ConversationID string `json:"conversationId"`
	// ServiceURL is the activity's original serviceUrl, before the sidecar
	// replaced it with its own outbound address.
	ServiceURL string `json:"serviceUrl"`
	// Vouched is true when the channel token's signed serviceurl claim
	// matched ServiceURL. It is a record for people, never a source of
	// trust: whoever can write to the store could set it, so the sidecar
	// sends a token only to hosts on its trusted list or vouched for by a
	// token it validated itself since it started.
	Vouched   bool   `json:"vouched"`
	ChannelID string `json:"channelId"`
	// Bot is the activity's recipient: the bot's own channel account
	// (on Teams "28:<appId>"), used verbatim as `from` on sends.
	Bot json.RawMessage `json:"bot,omitempty"`
	// User is the activity's from.
	User json.RawMessage `json:"user,omitempty"`
	// Conversation is the activity's conversation object as sent.
	Conversation json.RawMessage `json:"conversation,omitempty"`
	// TenantID comes from channelData.tenant.id, else conversation.tenantId.
	TenantID  string    `json:"tenantId,omitempty"`
	UpdatedAt time.Time `json:"updatedAt"`
	// Identity names the bot the reference belongs to when one sidecar
	// speaks for several: its connection name, "" for the primary one, so
	// that references stored before there were several stay valid. Two
	// bots in one group chat see the same conversation id; each keeps its
	// own reference, under Key.
	Identity string `json:"identity,omitempty"`
}

// Key returns the key r is stored under (see Key).
func (r Reference) Key() string { return Key(r.Identity, r.ConversationID) }

// Key returns the store key of identity's reference for conversationID:
// the conversation id itself for the primary identity (""), as before
// there were several, and "bots/{identity}/{conversationID}" otherwise. No
// channel's conversation id starts with "bots/", so the keys of two
// identities never meet.
func Key(identity, conversationID string) string {
	if identity == "" {
		return conversationID
	}
	return "bots/" + identity + "/" + conversationID
}

// SameAs reports whether r and o carry the same reference data, ignoring
// UpdatedAt: an unchanged reference need not be written again.
func (r Reference) SameAs(o Reference) bool {
	return r.ConversationID == o.ConversationID && r.ServiceURL == o.ServiceURL &&
		r.Vouched == o.Vouched && r.ChannelID == o.ChannelID && r.TenantID == o.TenantID && r.Identity == o.Identity &&
		string(r.Bot) == string(o.Bot) && string(r.User) == string(o.User) &&
		string(r.Conversation) == string(o.Conversation)
}

// Store is implemented by every backend.
type Store interface {
	// Put stores ref under ref.Key() and marks it the newest reference of
	// its tenant.
	Put(ctx context.Context, ref Reference) error
	// Get returns the reference stored under key (Key; for the primary
	// identity the conversation id), or ErrNotFound.
	Get(ctx context.Context, key string) (Reference, error)
	// NewestForTenant returns the most recently stored reference whose
	// TenantID is tenantID, or ErrNotFound.
	NewestForTenant(ctx context.Context, tenantID string) (Reference, error)
	// Delete removes the reference; deleting a missing one is not an error.
	Delete(ctx context.Context, conversationID string) error
	Close() error
}

// Runner is implemented by a store with background work (Bolt's expiry
// sweep, Cached's write retries). The owner runs it for the store's life:
//
//	s, err := backends.Open(ctx, cfg.Store, opts)
//	…
//	if r, ok := s.(store.Runner); ok {
//		g.Go(func() error { return r.Run(ctx) })
//	}
//	…
//	// after ctx is cancelled and g.Wait returns:
//	s.Close()
type Runner interface {
	// Run blocks until ctx is done; it returns nil then.
	Run(ctx context.Context) error
}

// Lister is implemented by the stores that can enumerate their references
// (for `references list`).
type Lister interface {
	// List calls fn with each live reference until fn returns false.
	List(ctx context.Context, fn func(Reference) bool) error
}

// ChannelOf returns the channel conversation id of a Teams channel thread id
// ("19:…@thread.tacv2;messageid=N" → "19:…@thread.tacv2") and true, or the
// id unchanged and false when it names no thread. A thread has no reference
// of its own until someone writes in it; it is reached through its channel.
func ChannelOf(conversationID string) (string, bool) {
	i := strings.Index(conversationID, ";messageid=")
	if i <= 0 {
		return conversationID, false
	}
	return conversationID[:i], true
}

// Lookup gets the reference stored under key (Key), falling back to the
// channel of a Teams thread id: the key of a thread is its channel's key
// with the thread suffix, whatever the identity.
func Lookup(ctx context.Context, s interface {
	Get(context.Context, string) (Reference, error)
}, conversationID string) (Reference, error) {
	ref, err := s.Get(ctx, conversationID)
	if errors.Is(err, ErrNotFound) {
		if channel, ok := ChannelOf(conversationID); ok {
			return s.Get(ctx, channel)
		}
	}
	return ref, err
}
