package proxy

import (
	"encoding/json"
	"time"

	"github.com/botsidecar/sidecar/rewrite"
	"github.com/botsidecar/sidecar/store"
)

// captured returns the references an inbound activity teaches: its
// conversation's, and, for a Teams channel message, the ones the bot will
// need for calls into the same channel and team that name no thread:
//
//   - the channel (channelData.channel.id, else the thread id's channel):
//     a new top-level post (the Agents SDK's continueConversation sends the
//     bare channel id), and another thread of the channel, which resolves
//     through it;
//   - the team (channelData.team.id): /v3/teams/{teamId} and the
//     conversation routes that take a team id, the General channel's id.
//
// They are stored at capture time, while a validated token vouches for
// them, rather than guessed from an id at send time. The channel and team
// references carry no user: nobody in particular is addressed there.
//
// They belong to identity (store.Reference.Identity), the bot the activity
// is for.
func captured(f rewrite.Fields, vouched bool, identity string, now time.Time) []store.Reference {
	if f.ConversationID == "" {
		return nil
	}
	tenant := f.ChannelDataTenantID
	if tenant == "" {
		tenant = f.ConversationTenantID
	}
	ref := store.Reference{
		ConversationID: f.ConversationID, ServiceURL: f.ServiceURL, Vouched: vouched,
		ChannelID: f.ChannelID, Bot: f.Recipient, User: f.From, Conversation: f.Conversation,
		TenantID: tenant, UpdatedAt: now, Identity: identity,
	}
	refs := []store.Reference{ref}
	if f.ChannelID != "msteams" {
		return refs
	}
	channel := f.ChannelDataChannelID
	if channel == "" {
		channel, _ = store.ChannelOf(f.ConversationID)
	}
	seen := map[string]bool{f.ConversationID: true}
	for _, id := range []string{channel, f.ChannelDataTeamID} {
		if id == "" || seen[id] {
			continue
		}
		seen[id] = true
		alias := ref
		alias.ConversationID, alias.User = id, nil
		alias.Conversation, _ = json.Marshal(channelConversation{IsGroup: true, ConversationType: "channel", ID: id, TenantID: tenant})
		refs = append(refs, alias)
	}
	return refs
}

// channelConversation is the conversation object of a Teams channel.
type channelConversation struct {
	IsGroup          bool   `json:"isGroup"`
	ConversationType string `json:"conversationType"`
	ID               string `json:"id"`
	TenantID         string `json:"tenantId,omitempty"`
}
