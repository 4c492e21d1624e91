package rewrite

import "encoding/json"

// Edit says what to change in one Activity object. Raw values are complete
// JSON values (e.g. `{"id":"28:abc","name":"Bot"}`); nil or empty means
// "leave alone".
//
// A member "is" a field when its name matches case-insensitively, the way
// encoding/json and the Bot Connector's Newtonsoft.Json match fields, so a
// bot cannot keep its own sender by spelling it "From". Every such member is
// edited, duplicates included, because a reader may take either.
type Edit struct {
	From         json.RawMessage // always replaces `from` (or adds it when missing)
	ServiceURL   string          // when non-empty: always replaces `serviceUrl` (or adds it); encoded as a JSON string
	Conversation json.RawMessage // only added when `conversation` is missing or null
	ChannelID    string          // only added when `channelId` is missing, null or ""
	Recipient    json.RawMessage // only added when `recipient` is missing or null
}

// editDepth is the deepest place an Edit's raw values are spliced: the
// members of an activity inside a transcript's array (body, array, activity).
const editDepth = 3

// plan is an Edit whose raw values have been validated and trimmed.
type plan struct {
	from, conversation, recipient []byte
	serviceURL, channelID         string
}

// plan validates e once per body, however many activities the body holds.
func (e Edit) plan() (plan, error) {
	var p plan
	var err error
	if p.from, err = rawValue("from", e.From, editDepth); err != nil {
		return p, err
	}
	if p.conversation, err = rawValue("conversation", e.Conversation, editDepth); err != nil {
		return p, err
	}
	if p.recipient, err = rawValue("recipient", e.Recipient, editDepth); err != nil {
		return p, err
	}
	p.serviceURL, p.channelID = e.ServiceURL, e.ChannelID
	return p, nil
}

// size estimates how many bytes one activity's edits may add, so the output
// is allocated once.
func (p *plan) size() int {
	return len(p.from) + len(p.conversation) + len(p.recipient) + len(p.serviceURL) + len(p.channelID) + 96
}

// Activity applies e to one activity object and returns the new body.
// The input slice is not modified. If nothing changes, it returns the input.
// Every byte outside the edited values is kept; members are added after the
// last member, in the whitespace style of the first.
//
// Errors wrap [ErrMalformed] (body is not valid JSON), [ErrNotObject] (body
// is valid JSON but not an object) or [ErrInvalidEdit] (a raw value in e is
// not valid JSON).
func Activity(body []byte, e Edit) ([]byte, error) {
	p, err := e.plan()
	if err != nil {
		return nil, err
	}
	open, err := topObject(body)
	if err != nil {
		return nil, err
	}
	w := editor{src: body, grow: p.size()}
	end, err := editActivity(&w, open, 1, &p)
	if err != nil {
		return nil, err
	}
	if err := endOfInput(body, end); err != nil {
		return nil, err
	}
	return w.result(), nil
}

// editActivity applies p to the activity object at w.src[open], whose
// members have the given depth, and returns the offset just past it.
func editActivity(w *editor, open, depth int, p *plan) (int, error) {
	m := newMembers(w.src, open, depth)
	// from and serviceUrl are added unless some member is spelled exactly
	// so, because case-sensitive readers (JavaScript, Python) must see the
	// new value too; the others only when no member matches at all.
	var exactFrom, exactServiceURL bool
	var hasConversation, hasChannelID, hasRecipient bool
	for m.next() {
		switch {
		case m.is("from"):
			exactFrom = exactFrom || m.exact("from")
			if p.from != nil && m.skip() {
				w.replaceRaw(&m, p.from)
			}
		case m.is("serviceUrl"):
			exactServiceURL = exactServiceURL || m.exact("serviceUrl")
			if p.serviceURL != "" && m.skip() {
				w.replaceString(&m, p.serviceURL)
			}
		case m.is("conversation"):
			hasConversation = true
			if p.conversation != nil && m.skip() && m.isNull() {
				w.replaceRaw(&m, p.conversation)
			}
		case m.is("channelId"):
			hasChannelID = true
			if p.channelID != "" && m.skip() && m.isEmptyOrNull() {
				w.replaceString(&m, p.channelID)
			}
		case m.is("recipient"):
			hasRecipient = true
			if p.recipient != nil && m.skip() && m.isNull() {
				w.replaceRaw(&m, p.recipient)
			}
		}
	}
	if m.err != nil {
		return 0, m.err
	}
	if p.from != nil && !exactFrom {
		w.addRaw(&m, "from", p.from)
	}
	if p.serviceURL != "" && !exactServiceURL {
		w.addString(&m, "serviceUrl", p.serviceURL)
	}
	if p.conversation != nil && !hasConversation {
		w.addRaw(&m, "conversation", p.conversation)
	}
	if p.channelID != "" && !hasChannelID {
		w.addString(&m, "channelId", p.channelID)
	}
	if p.recipient != nil && !hasRecipient {
		w.addRaw(&m, "recipient", p.recipient)
	}
	return m.end, nil
}
