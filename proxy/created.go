package proxy

import (
	"encoding/json"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/botsidecar/sidecar/rewrite"
	"github.com/botsidecar/sidecar/store"
)

// maxCreated bounds the conversations remembered from create calls.
const maxCreated = 10000

// createdConversations remembers the conversations the bot created through
// the sidecar, so that its first send into a new 1:1 chat resolves (a
// stock SDK creates, then sends, and cannot name a service URL). The new
// conversation lives on the service URL the create call went to, which a
// validated channel token or the trust list already vouched for. These
// are kept in memory only and never written to the reference store, which
// holds only what a validated channel token told us: when the user
// answers, the channel's activity stores the real reference.
type createdConversations struct {
	cache *lru.Cache[string, store.Reference]
}

func newCreatedConversations() *createdConversations {
	c, _ := lru.New[string, store.Reference](maxCreated) // size > 0: cannot fail
	return &createdConversations{cache: c}
}

// remember records the conversation that call's successful create
// returned in respBody; bot is the account the create was sent as.
func (c *createdConversations) remember(respBody []byte, call *call, bot json.RawMessage, now time.Time) {
	id, ok, err := rewrite.StringField(respBody, "id")
	if err != nil || !ok || id == "" {
		return
	}
	up := call.up
	// Vouched stays false: the remembered reference is trusted only as
	// its host is, like every other.
	ref := store.Reference{ConversationID: id, ServiceURL: up.serviceURL, Bot: bot, UpdatedAt: now, Identity: call.id.ref}
	if up.ref != nil {
		ref.ChannelID = up.ref.ChannelID
	}
	if call.createErr == nil {
		// The tenant the body had or was given.
		ref.TenantID = call.tenant
		if f := call.create; len(f.MemberIDs) == 1 && !f.IsGroup {
			ref.User, _ = json.Marshal(map[string]string{"id": f.MemberIDs[0]})
		}
	}
	conv := map[string]string{"id": id}
	if ref.TenantID != "" {
		conv["tenantId"] = ref.TenantID
	}
	ref.Conversation, _ = json.Marshal(conv)
	c.cache.Add(ref.Key(), ref)
}

// get returns the conversation stored under key (store.Key): each bot
// reaches the conversations it created.
func (c *createdConversations) get(key string) (store.Reference, bool) {
	return c.cache.Get(key)
}
