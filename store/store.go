// Package store keeps conversation references: what the sidecar learned from
// a validated inbound activity and needs later to send into that
// conversation (the real serviceUrl, the bot's channel account, the tenant).
package store

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"
)

// ErrNotFound is returned when no reference is stored for a key.
var ErrNotFound = errors.New("reference not found")

// Reference is a conversation reference captured from an inbound activity
// whose channel token was validated. It holds no secrets.
type Reference struct {
	// ConversationID is conversation.id of the activity, the store key.
	ConversationID string `json:"conversationId"`
	// ServiceURL is the activity's original serviceUrl, before the sidecar
	// replaced it with its own outbound address.
	ServiceURL string `json:"serviceUrl"`
	// Vouched is true when the channel token's signed serviceurl claim
	// matched ServiceURL, which makes ServiceURL a trusted upstream.
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
}

// SameAs reports whether r and o carry the same reference data, ignoring
// UpdatedAt: an unchanged reference need not be written again.
func (r Reference) SameAs(o Reference) bool {
	return r.ConversationID == o.ConversationID && r.ServiceURL == o.ServiceURL &&
		r.Vouched == o.Vouched && r.ChannelID == o.ChannelID && r.TenantID == o.TenantID &&
		string(r.Bot) == string(o.Bot) && string(r.User) == string(o.User) &&
		string(r.Conversation) == string(o.Conversation)
}

// Store is implemented by every backend.
type Store interface {
	// Put stores ref under ref.ConversationID and marks it the newest
	// reference of its tenant.
	Put(ctx context.Context, ref Reference) error
	// Get returns the reference stored under conversationID, or ErrNotFound.
	Get(ctx context.Context, conversationID string) (Reference, error)
	// NewestForTenant returns the most recently stored reference whose
	// TenantID is tenantID, or ErrNotFound.
	NewestForTenant(ctx context.Context, tenantID string) (Reference, error)
	// Delete removes the reference; deleting a missing one is not an error.
	Delete(ctx context.Context, conversationID string) error
	Close() error
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

// Lookup gets the reference for conversationID, falling back to the channel
// of a Teams thread id.
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
