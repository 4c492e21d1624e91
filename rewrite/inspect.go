package rewrite

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Fields are the top-level facts of an inbound activity the sidecar needs.
// Raw fields hold the exact bytes of the value (nil when absent or null),
// copied out of the body so that they stay valid if the body's buffer is
// reused. String fields are "" when absent or null.
type Fields struct {
	Type                 string
	ServiceURL           string
	ChannelID            string
	ConversationID       string          // conversation.id
	Conversation         json.RawMessage // whole conversation object
	ConversationTenantID string          // conversation.tenantId
	From                 json.RawMessage
	Recipient            json.RawMessage
	ChannelDataTenantID  string // channelData.tenant.id
	// Teams names a channel message's team and channel: the team's id is
	// its General channel's conversation id.
	ChannelDataTeamID    string // channelData.team.id
	ChannelDataChannelID string // channelData.channel.id
}

// Inspect reads Fields from an activity. It errors (wrapping
// [ErrMalformed]) on malformed JSON, when a field that must be a string
// (type, serviceUrl, channelId, conversation.id) has another JSON type, and
// when a field it reads appears twice with different values: the sidecar
// checks and stores what it reads here, and a reader downstream could pick
// the other copy. A body that is not a JSON object wraps [ErrNotObject].
//
// Field names match case-insensitively, as in [Edit]. Values of the wrong
// type in fields not listed above (conversation.tenantId,
// channelData.tenant.id) read as "".
func Inspect(body []byte) (Fields, error) {
	var f Fields
	open, err := topObject(body)
	if err != nil {
		return f, err
	}
	var typ, serviceURL, channelID, conv, convID, convTenant, from, recipient, tenant, team, channel fact
	m := newMembers(body, open, 1)
	for m.next() {
		switch {
		case m.is("type"):
			err = typ.set(&m)
		case m.is("serviceUrl"):
			err = serviceURL.set(&m)
		case m.is("channelId"):
			err = channelID.set(&m)
		case m.is("from"):
			err = from.set(&m)
		case m.is("recipient"):
			err = recipient.set(&m)
		case m.is("conversation"):
			if m.first() == '{' {
				if err := readConversation(&m, &convID, &convTenant); err != nil {
					return f, err
				}
			}
			err = conv.set(&m)
		case m.is("channelData"):
			err = readChannelData(&m, &tenant, &team, &channel)
		}
		if err != nil {
			return f, err
		}
	}
	if m.err != nil {
		return f, m.err
	}
	if err := endOfInput(body, m.end); err != nil {
		return f, err
	}
	// Check the types before decoding anything.
	if err := firstError(typ.check("type"), serviceURL.check("serviceUrl"), channelID.check("channelId"), convID.check("conversation.id")); err != nil {
		return f, err
	}
	strs := decodeStrings(typ.raw, serviceURL.raw, channelID.raw, convID.raw, convTenant.raw, tenant.raw, team.raw, channel.raw)
	f.Type, f.ServiceURL, f.ChannelID, f.ConversationID, f.ConversationTenantID, f.ChannelDataTenantID =
		strs[0], strs[1], strs[2], strs[3], strs[4], strs[5]
	f.ChannelDataTeamID, f.ChannelDataChannelID = strs[6], strs[7]
	raws := copyRaws(conv.raw, from.raw, recipient.raw)
	f.Conversation, f.From, f.Recipient = raws[0], raws[1], raws[2]
	return f, nil
}

// ConversationFields are the facts of a create-conversation body
// (ConversationParameters) that the sidecar checks before calling Teams.
type ConversationFields struct {
	IsGroup              bool            // false when absent or null
	MemberIDs            []string        // members[].id, "" for a member without one
	ChannelDataChannelID string          // channelData.channel.id, "" when absent
	HasActivity          bool            // activity is present and an object
	TenantID             string          // "" when absent or null
	Bot                  json.RawMessage // nil when absent or null; a copy
}

// InspectConversation reads ConversationFields from a create-conversation
// body. Besides the errors of [Inspect], it errors when isGroup is not a
// boolean, members is not an array of objects, a member's id or tenantId
// is not a string (null reads as absent), or one of these appears twice
// with different values.
func InspectConversation(body []byte) (ConversationFields, error) {
	var f ConversationFields
	open, err := topObject(body)
	if err != nil {
		return f, err
	}
	var isGroup, membersFact, channel, activity, tenantID, bot fact
	m := newMembers(body, open, 1)
	for m.next() {
		switch {
		case m.is("isGroup"):
			err = isGroup.set(&m)
		case m.is("members"):
			// A duplicate "members" with the same bytes adds no members.
			if membersFact.raw == nil && m.first() == '[' {
				if f.MemberIDs, err = memberIDs(&m); err != nil {
					return f, err
				}
			}
			err = membersFact.set(&m)
		case m.is("channelData"):
			err = readPath(&m, &channel, "channel", "id")
		case m.is("activity"):
			err = activity.set(&m)
		case m.is("tenantId"):
			err = tenantID.set(&m)
		case m.is("bot"):
			err = bot.set(&m)
		}
		if err != nil {
			return f, err
		}
	}
	if m.err != nil {
		return f, m.err
	}
	if err := endOfInput(body, m.end); err != nil {
		return f, err
	}
	switch {
	case isGroup.raw == nil || isGroup.raw[0] == 'n':
	case isGroup.raw[0] == 't' || isGroup.raw[0] == 'f':
		f.IsGroup = isGroup.raw[0] == 't'
	default:
		return f, isGroup.typeError("isGroup", "a boolean")
	}
	if membersFact.raw != nil && membersFact.raw[0] != '[' && membersFact.raw[0] != 'n' {
		return f, membersFact.typeError("members", "an array")
	}
	if f.TenantID, err = tenantID.str("tenantId"); err != nil {
		return f, err
	}
	f.ChannelDataChannelID = channel.loose()
	f.HasActivity = activity.raw != nil && activity.raw[0] == '{'
	f.Bot = copyRaws(bot.raw, nil, nil)[0]
	return f, nil
}

// memberIDs reads the id of each element of the members array at m.
func memberIDs(m *members) ([]string, error) {
	a := newElements(m.src, m.valStart, m.depth+1)
	var ids []string
	for a.next() {
		if m.src[a.valStart] != '{' {
			return nil, fmt.Errorf("%w: at offset %d: members[%d] must be an object, found %s",
				ErrMalformed, a.valStart, a.n-1, kind(m.src[a.valStart]))
		}
		var id fact
		c := newMembers(m.src, a.valStart, a.depth+1)
		for c.next() {
			if c.is("id") {
				if err := id.set(&c); err != nil {
					return nil, err
				}
			}
		}
		if c.err != nil {
			return nil, c.err
		}
		a.done(c.end)
		s, err := id.str(fmt.Sprintf("members[%d].id", a.n-1))
		if err != nil {
			return nil, err
		}
		ids = append(ids, s)
	}
	if a.err != nil {
		return nil, a.err
	}
	m.done(a.end)
	return ids, nil
}

// StringField returns the top-level string member key of a JSON object
// body ("", false when absent or not a string). It is used, for example,
// to read tenantId from batch bodies. key matches case-insensitively, and
// must be ASCII. Errors are those of [Inspect].
func StringField(body []byte, key string) (string, bool, error) {
	open, err := topObject(body)
	if err != nil {
		return "", false, err
	}
	var v fact
	m := newMembers(body, open, 1)
	for m.next() {
		if m.is(key) {
			if err := v.set(&m); err != nil {
				return "", false, err
			}
		}
	}
	if m.err != nil {
		return "", false, m.err
	}
	if err := endOfInput(body, m.end); err != nil {
		return "", false, err
	}
	if v.raw == nil || v.raw[0] != '"' {
		return "", false, nil
	}
	return unquote(v.raw), true, nil
}

// readConversation reads conversation.id and conversation.tenantId from
// the current value of m, an object, and consumes it.
func readConversation(m *members, id, tenantID *fact) error {
	c := m.child()
	for c.next() {
		var err error
		switch {
		case c.is("id"):
			err = id.set(&c)
		case c.is("tenantId"):
			err = tenantID.set(&c)
		}
		if err != nil {
			return err
		}
	}
	if c.err != nil {
		return c.err
	}
	m.done(c.end)
	return nil
}

// readChannelData reads channelData.tenant.id, .team.id and .channel.id
// from the current value of m and consumes it.
func readChannelData(m *members, tenant, team, channel *fact) error {
	if m.first() != '{' {
		return nil
	}
	c := m.child()
	for c.next() {
		var err error
		switch {
		case c.is("tenant"):
			err = readPath(&c, tenant, "id")
		case c.is("team"):
			err = readPath(&c, team, "id")
		case c.is("channel"):
			err = readPath(&c, channel, "id")
		}
		if err != nil {
			return err
		}
	}
	if c.err != nil {
		return c.err
	}
	m.done(c.end)
	return nil
}

// readPath reads the value at path inside the current value of m into v
// (for example channelData.tenant.id), skipping values of other types
// along the way, and consumes the current value.
func readPath(m *members, v *fact, path ...string) error {
	if len(path) == 0 {
		return v.set(m)
	}
	if m.first() != '{' {
		return nil
	}
	c := m.child()
	for c.next() {
		if c.is(path[0]) {
			if err := readPath(&c, v, path[1:]...); err != nil {
				return err
			}
		}
	}
	if c.err != nil {
		return c.err
	}
	m.done(c.end)
	return nil
}

// fact is one value read from a body. Reading it again from a duplicate
// member must find the same bytes.
type fact struct {
	raw []byte // the value's bytes in the body; nil until seen
	at  int    // offset of the value, for error messages
}

// set records the current value of m, consuming it.
func (v *fact) set(m *members) error {
	val := m.value()
	if val == nil {
		return m.err
	}
	if v.raw != nil && !bytes.Equal(v.raw, val) {
		return fmt.Errorf("%w: at offset %d: duplicate member %q with a different value", ErrMalformed, m.keyStart, m.key)
	}
	v.raw, v.at = val, m.valStart
	return nil
}

// str returns the value as a string: "" when absent or null, an error
// when it is another type.
func (v *fact) str(name string) (string, error) {
	switch {
	case v.raw == nil || v.raw[0] == 'n':
		return "", nil
	case v.raw[0] == '"':
		return unquote(v.raw), nil
	}
	return "", v.typeError(name, "a string")
}

// check returns the error of str, without decoding.
func (v *fact) check(name string) error {
	if v.raw == nil || v.raw[0] == 'n' || v.raw[0] == '"' {
		return nil
	}
	return v.typeError(name, "a string")
}

// loose returns the value as a string, or "" when it is not one.
func (v *fact) loose() string {
	if v.raw == nil || v.raw[0] != '"' {
		return ""
	}
	return unquote(v.raw)
}

func (v *fact) typeError(name, want string) error {
	return fmt.Errorf("%w: at offset %d: %s must be %s, found %s", ErrMalformed, v.at, name, want, kind(v.raw[0]))
}

// decodeStrings decodes the JSON strings among raws into one allocation
// (Inspect runs once per inbound activity, and eight small strings would be
// eight allocations). A value that is absent or not a string gives "".
func decodeStrings(raws ...[]byte) [8]string {
	n := 0
	for _, r := range raws {
		if r != nil && r[0] == '"' {
			n += len(r) - 2
		}
	}
	var sb strings.Builder
	sb.Grow(n)
	var ends [8]int
	for i, r := range raws {
		if r != nil && r[0] == '"' {
			if inner := r[1 : len(r)-1]; bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
				sb.Write(inner)
			} else {
				sb.WriteString(unquote(r))
			}
		}
		ends[i] = sb.Len()
	}
	all := sb.String()
	var out [8]string
	start := 0
	for i := range raws {
		out[i] = all[start:ends[i]]
		start = ends[i]
	}
	return out
}

// copyRaws copies the non-null values into one allocation. Each result is
// capped at its own length so that appending to one cannot overwrite the
// next.
func copyRaws(raws ...[]byte) [3]json.RawMessage {
	var out [3]json.RawMessage
	n := 0
	for _, r := range raws {
		if r != nil && r[0] != 'n' {
			n += len(r)
		}
	}
	if n == 0 {
		return out
	}
	buf := make([]byte, 0, n)
	for i, r := range raws {
		if r != nil && r[0] != 'n' {
			start := len(buf)
			buf = append(buf, r...)
			out[i] = buf[start:len(buf):len(buf)]
		}
	}
	return out
}

func firstError(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// Object checks that body is one JSON object and nothing else, for the
// bodies the sidecar forwards without editing them. Errors are those of
// [Inspect].
func Object(body []byte) error {
	open, err := topObject(body)
	if err != nil {
		return err
	}
	m := newMembers(body, open, 1)
	for m.next() {
	}
	if m.err != nil {
		return m.err
	}
	return endOfInput(body, m.end)
}
