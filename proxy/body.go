package proxy

import (
	"encoding/json"

	"github.com/botsidecar/sidecar/rewrite"
)

// botAccount is the `from` the call must carry: the bot's channel account
// from the reference (the inbound activity's recipient) when the reference
// is the call's bot's; without one, the Teams form on Teams, else nil
// (leave the bot's own). A tenant's newest reference may be another bot's.
func (o *Outbound) botAccount(c *call) json.RawMessage {
	if c.up.ref != nil && len(c.up.ref.Bot) > 0 && c.up.ref.Identity == c.id.ref {
		return c.up.ref.Bot
	}
	if c.isTeams {
		return c.id.teamsBot
	}
	return nil
}

// rewriteBody applies the contract's rewrite to c's body: `from`,
// `serviceUrl` and the reference's fields in activities; `bot` and
// `tenantId` in create and batch bodies. A Teams create is first checked
// against the shapes Teams refuses.
func (o *Outbound) rewriteBody(c *call) error {
	if c.route.body == bodyNone || len(c.body) == 0 {
		return nil
	}
	e := rewrite.Edit{From: o.botAccount(c), ServiceURL: c.up.serviceURL}
	if c.up.ref != nil {
		e.ChannelID = c.up.ref.ChannelID
	}
	// A create's or a batch's conversations are not the reference's: only
	// the sender, channel and service URL carry over to the nested activity.
	nested := rewrite.Edit{From: e.From, ServiceURL: e.ServiceURL, ChannelID: e.ChannelID}
	var err error
	switch c.route.body {
	case bodyActivity, bodyTranscript:
		if c.up.conversationOwn() {
			e.Conversation = c.up.ref.Conversation
			if c.up.ref.ConversationID != c.conversationID {
				// Resolved through a thread's channel: the activity belongs
				// to the thread the path names.
				e.Conversation, _ = json.Marshal(map[string]string{"id": c.conversationID})
			}
			e.Recipient = c.up.ref.User
		}
		if c.route.body == bodyTranscript {
			c.body, err = rewrite.Transcript(c.body, e)
		} else {
			c.body, err = rewrite.Activity(c.body, e)
		}
	case bodyCreate:
		if c.isTeams {
			if err := checkTeamsCreate(c); err != nil {
				return err
			}
		}
		c.body, err = rewrite.Conversation(c.body, e.From, c.tenant, nested)
	case bodyNested:
		c.body, err = rewrite.Nested(c.body, c.tenant, nested)
	}
	return err
}
