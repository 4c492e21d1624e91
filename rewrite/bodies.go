package rewrite

import "encoding/json"

// The Bot Connector bodies that carry activities inside a wrapper. Each is
// edited in one front-to-back pass over the body: the nested activities
// are edited in place by the same editor, so nothing is copied twice.

// Conversation edits a create-conversation body (ConversationParameters:
// {isGroup, bot, members, topicName, tenantId, activity, channelData}):
// `bot` is added when missing or null (value bot, skipped when bot is
// empty), `tenantId` is added when missing, null or "" (value tenantID,
// skipped when tenantID == ""), and the nested `activity`, when it is an
// object, gets [Activity] with e. Errors are those of [Activity].
func Conversation(body []byte, bot json.RawMessage, tenantID string, e Edit) ([]byte, error) {
	p, err := e.plan()
	if err != nil {
		return nil, err
	}
	botRaw, err := rawValue("bot", bot, 1)
	if err != nil {
		return nil, err
	}
	open, err := topObject(body)
	if err != nil {
		return nil, err
	}
	w := editor{src: body, grow: p.size() + len(botRaw) + len(tenantID) + 32}
	m := newMembers(body, open, 1)
	var hasBot, hasTenant bool
	for m.next() {
		switch {
		case m.is("activity"):
			if m.first() == '{' {
				end, err := editActivity(&w, m.valStart, 2, &p)
				if err != nil {
					return nil, err
				}
				m.done(end)
			}
		case m.is("bot"):
			hasBot = true
			if botRaw != nil && m.skip() && m.isNull() {
				w.replaceRaw(&m, botRaw)
			}
		case m.is("tenantId"):
			hasTenant = true
			if tenantID != "" && m.skip() && m.isEmptyOrNull() {
				w.replaceString(&m, tenantID)
			}
		}
	}
	if m.err != nil {
		return nil, m.err
	}
	if botRaw != nil && !hasBot {
		w.addRaw(&m, "bot", botRaw)
	}
	if tenantID != "" && !hasTenant {
		w.addString(&m, "tenantId", tenantID)
	}
	if err := endOfInput(body, m.end); err != nil {
		return nil, err
	}
	return w.result(), nil
}

// Transcript edits a send-history body `{"activities":[...]}`: each object
// element of the array gets [Activity] with e; other elements, and an
// `activities` that is not an array, are left for the connector to refuse.
// Errors are those of [Activity].
func Transcript(body []byte, e Edit) ([]byte, error) {
	p, err := e.plan()
	if err != nil {
		return nil, err
	}
	open, err := topObject(body)
	if err != nil {
		return nil, err
	}
	// A transcript carries many activities; reserve room for a few edits
	// each and let append grow the rest.
	w := editor{src: body, grow: 4 * p.size()}
	m := newMembers(body, open, 1)
	for m.next() {
		if !m.is("activities") || m.first() != '[' {
			continue
		}
		a := newElements(body, m.valStart, 2)
		for a.next() {
			if body[a.valStart] != '{' {
				continue
			}
			end, err := editActivity(&w, a.valStart, 3, &p)
			if err != nil {
				return nil, err
			}
			a.done(end)
		}
		if a.err != nil {
			return nil, a.err
		}
		m.done(a.end)
	}
	if m.err != nil {
		return nil, m.err
	}
	if err := endOfInput(body, m.end); err != nil {
		return nil, err
	}
	return w.result(), nil
}

// Nested edits a Teams batch body (`{members, activity, tenantId, teamId}`):
// the nested `activity` object gets [Activity] with e; `tenantId` is added
// when missing, null or "" and tenantID != "". Errors are those of
// [Activity].
func Nested(body []byte, tenantID string, e Edit) ([]byte, error) {
	p, err := e.plan()
	if err != nil {
		return nil, err
	}
	open, err := topObject(body)
	if err != nil {
		return nil, err
	}
	w := editor{src: body, grow: p.size() + len(tenantID) + 16}
	m := newMembers(body, open, 1)
	hasTenant := false
	for m.next() {
		switch {
		case m.is("activity"):
			if m.first() == '{' {
				end, err := editActivity(&w, m.valStart, 2, &p)
				if err != nil {
					return nil, err
				}
				m.done(end)
			}
		case m.is("tenantId"):
			hasTenant = true
			if tenantID != "" && m.skip() && m.isEmptyOrNull() {
				w.replaceString(&m, tenantID)
			}
		}
	}
	if m.err != nil {
		return nil, m.err
	}
	if tenantID != "" && !hasTenant {
		w.addString(&m, "tenantId", tenantID)
	}
	if err := endOfInput(body, m.end); err != nil {
		return nil, err
	}
	return w.result(), nil
}
