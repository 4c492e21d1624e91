package proxy

import (
	"strconv"

	"github.com/botsidecar/sidecar/internal/guid"

	"github.com/botsidecar/sidecar/rewrite"
)

// Stable codes of the Teams create-conversation checks. Teams answers
// each of these shapes with nothing but 400 BadSyntax (field reports of
// create-conversation calls); the sidecar says why instead.
const (
	CodeGroupChatNotSupported   = "GroupChatCreationNotSupported"
	CodeChannelThreadNoActivity = "ChannelThreadNeedsActivity"
	CodeOneOnOneMembers         = "OneOnOneNeedsExactlyOneMember"
	CodeTenantRequired          = "TenantIdRequired"
	CodeMemberNotTeamsID        = "MemberIdIsNotATeamsId"
)

// createRule is one create-conversation shape that Teams rejects.
type createRule struct {
	code    string
	applies func(c rewrite.ConversationFields, tenant string) bool
	message func(c rewrite.ConversationFields) string
}

// teamsCreateRules are checked in order; the first that applies answers.
// The accepted shapes (1:1 with exactly one member, with or without bot and
// activity; a channel thread with channelData.channel.id and an activity)
// pass and get tenantId and bot filled.
var teamsCreateRules = []createRule{
	{
		code:    CodeTenantRequired,
		applies: func(_ rewrite.ConversationFields, tenant string) bool { return tenant == "" },
		message: func(rewrite.ConversationFields) string {
			return "Teams needs tenantId on every create-conversation call and none could be filled: " +
				"set tenantId in the body, or MicrosoftAppTenantId for a single-tenant bot"
		},
	},
	{
		code: CodeGroupChatNotSupported,
		applies: func(c rewrite.ConversationFields, _ string) bool {
			return c.IsGroup && c.ChannelDataChannelID == ""
		},
		message: func(rewrite.ConversationFields) string {
			return "Teams does not let bots create group chats (isGroup true without channelData.channel.id); " +
				"create a 1:1 chat with exactly one member (isGroup false), or post a channel thread with channelData.channel.id and an activity"
		},
	},
	{
		code: CodeChannelThreadNoActivity,
		applies: func(c rewrite.ConversationFields, _ string) bool {
			return c.IsGroup && c.ChannelDataChannelID != "" && !c.HasActivity
		},
		message: func(rewrite.ConversationFields) string {
			return "a Teams channel thread is created by its first message: add an activity to the body"
		},
	},
	{
		code: CodeOneOnOneMembers,
		applies: func(c rewrite.ConversationFields, _ string) bool {
			return !c.IsGroup && len(c.MemberIDs) != 1
		},
		message: func(c rewrite.ConversationFields) string {
			return "a Teams 1:1 chat is created with exactly one member (the user's 29: id); this body has " + strconv.Itoa(len(c.MemberIDs)) +
				". To reach several users, create one 1:1 chat each, or use /v3/batch/conversation/users"
		},
	},
	{
		code: CodeMemberNotTeamsID,
		applies: func(c rewrite.ConversationFields, _ string) bool {
			return !c.IsGroup && len(c.MemberIDs) == 1 && guid.Is(c.MemberIDs[0])
		},
		message: func(c rewrite.ConversationFields) string {
			return "member id " + strconvQuote(c.MemberIDs[0]) + " is an Entra object id; Teams needs the user's Teams id (29:…), " +
				"as GET /v3/conversations/{conversationId}/members returns it"
		},
	},
}

// checkTeamsCreate refuses the create-conversation shapes Teams rejects.
// c.tenant is the tenantId the body has or will be filled with.
func checkTeamsCreate(c *call) error {
	if c.createErr != nil {
		return c.createErr
	}
	for _, r := range teamsCreateRules {
		if r.applies(c.create, c.tenant) {
			return &localError{kind: failTeamsCreate, code: r.code, msg: r.message(c.create)}
		}
	}
	return nil
}
