package rewrite

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// isObject reports whether a valid JSON text is an object.
func isObject(b []byte) bool {
	i := skipWS(b, 0)
	return i < len(b) && b[i] == '{'
}

// validRaw reports whether raw is acceptable as an Edit's raw value.
func validRaw(raw []byte) bool {
	return len(raw) == 0 || json.Valid(raw)
}

// testdataBodies returns the testdata inputs and golden outputs, to seed
// the fuzzers with realistic bodies.
func testdataBodies(f *testing.F) [][]byte {
	files, err := filepath.Glob("testdata/*.json")
	if err != nil {
		f.Fatal(err)
	}
	var bodies [][]byte
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		bodies = append(bodies, b)
	}
	return bodies
}

// FuzzActivity checks Activity against encoding/json: it never panics, it
// accepts exactly the valid objects, and its output decodes to the input
// with the edit applied and nothing else changed.
func FuzzActivity(f *testing.F) {
	for _, tt := range activityTests {
		f.Add([]byte(tt.give), []byte(tt.edit.From), tt.edit.ServiceURL, []byte(tt.edit.Conversation), tt.edit.ChannelID, []byte(tt.edit.Recipient))
	}
	for _, tt := range malformedTests {
		f.Add([]byte(tt.give), []byte(botFrom), svc, []byte(conv), "msteams", []byte(user))
	}
	for _, give := range validTests {
		f.Add([]byte(give), []byte(give), give, []byte(give), give, []byte(give))
	}
	for _, b := range testdataBodies(f) {
		e := goldenEdit
		f.Add(b, []byte(e.From), e.ServiceURL, []byte(e.Conversation), e.ChannelID, []byte(e.Recipient))
	}
	f.Fuzz(func(t *testing.T, body, from []byte, serviceURL string, conversation []byte, channelID string, recipient []byte) {
		if max(len(from), len(conversation), len(recipient)) >= 2*(maxDepth-editDepth) {
			// Raw values nested deeper than editDepth leaves room for are
			// refused although json.Valid accepts them; each level takes
			// two bytes, so shorter values cannot be that deep.
			t.Skip("raw value too long to judge")
		}
		e := Edit{
			From:         from,
			ServiceURL:   serviceURL,
			Conversation: conversation,
			ChannelID:    channelID,
			Recipient:    recipient,
		}
		orig := bytes.Clone(body)
		out, err := Activity(body, e)
		if !bytes.Equal(body, orig) {
			t.Fatalf("Activity modified its input")
		}
		editOK := validRaw(from) && validRaw(conversation) && validRaw(recipient)
		bodyOK := json.Valid(body) && isObject(body)
		switch {
		case !editOK:
			if !errors.Is(err, ErrInvalidEdit) {
				t.Fatalf("Activity(%q, %+v) error = %v; want ErrInvalidEdit", body, e, err)
			}
			return
		case !bodyOK:
			want := ErrMalformed
			if json.Valid(body) {
				want = ErrNotObject
			}
			if !errors.Is(err, want) {
				t.Fatalf("Activity(%q) error = %v; want %v", body, err, want)
			}
			return
		case err != nil:
			t.Fatalf("Activity(%q, %+v) error: %v", body, e, err)
		}
		if !json.Valid(out) {
			t.Fatalf("Activity(%q, %+v) = %q; not valid JSON", body, e, out)
		}
		checkActivityEdit(t, body, out, e)
		again, err := Activity(out, e)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("Activity is not idempotent on %q: %q, %v", out, again, err)
		}
	})
}

// FuzzInspect checks that Inspect never panics, refuses what json.Valid
// refuses, and reads what encoding/json reads.
func FuzzInspect(f *testing.F) {
	for _, tt := range inspectTests {
		f.Add([]byte(tt.give))
	}
	for _, tt := range malformedTests {
		f.Add([]byte(tt.give))
	}
	for _, give := range validTests {
		f.Add([]byte(give))
	}
	for _, b := range testdataBodies(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := Inspect(body)
		_, _, errField := StringField(body, "tenantId")
		_, errConv := InspectConversation(body)
		if !json.Valid(body) || !isObject(body) {
			for _, err := range []error{err, errField, errConv} {
				if err == nil {
					t.Fatalf("Inspect(%q) accepted a body json.Valid refuses or that is not an object", body)
				}
			}
			return
		}
		if err != nil {
			return // a type error or a conflicting duplicate
		}
		// Where Inspect succeeds, encoding/json (which also matches names
		// case-insensitively) must read the same: every field of Fields,
		// the strings decoded, the raw values byte for byte.
		var want struct {
			Type, ServiceURL, ChannelID   *string
			Conversation, From, Recipient json.RawMessage
			ChannelData                   json.RawMessage
		}
		if err := json.Unmarshal(body, &want); err != nil {
			t.Fatalf("Inspect(%q) succeeded; encoding/json: %v", body, err)
		}
		var conv struct{ ID, TenantID json.RawMessage }
		objectInto(t, want.Conversation, &conv)
		var channelData struct{ Tenant, Team, Channel json.RawMessage }
		objectInto(t, want.ChannelData, &channelData)
		var tenant, team, channel struct{ ID json.RawMessage }
		objectInto(t, channelData.Tenant, &tenant)
		objectInto(t, channelData.Team, &team)
		objectInto(t, channelData.Channel, &channel)
		for _, c := range []struct {
			name      string
			got, want string
		}{
			{"type", got.Type, deref(want.Type)},
			{"serviceUrl", got.ServiceURL, deref(want.ServiceURL)},
			{"channelId", got.ChannelID, deref(want.ChannelID)},
			{"conversation.id", got.ConversationID, stringOf(conv.ID)},
			{"conversation.tenantId", got.ConversationTenantID, stringOf(conv.TenantID)},
			{"channelData.tenant.id", got.ChannelDataTenantID, stringOf(tenant.ID)},
			{"channelData.team.id", got.ChannelDataTeamID, stringOf(team.ID)},
			{"channelData.channel.id", got.ChannelDataChannelID, stringOf(channel.ID)},
			{"conversation", string(got.Conversation), rawOf(want.Conversation)},
			{"from", string(got.From), rawOf(want.From)},
			{"recipient", string(got.Recipient), rawOf(want.Recipient)},
		} {
			if c.got != c.want {
				t.Fatalf("Inspect(%q).%s = %q; encoding/json reads %q", body, c.name, c.got, c.want)
			}
		}
	})
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// stringOf is a raw JSON value as Inspect reads a string field: its value
// if it is a string, else "".
func stringOf(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}

// rawOf is a raw JSON value as Inspect reads a raw field: its bytes, and
// null as absent.
func rawOf(raw json.RawMessage) string {
	if string(raw) == "null" {
		return ""
	}
	return string(raw)
}

// objectInto decodes raw into v if it is an object; anything else leaves
// v empty, as Inspect reads no fields from it.
func objectInto(t *testing.T, raw json.RawMessage, v any) {
	t.Helper()
	if !isObject(raw) {
		return
	}
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("encoding/json refuses the object %q: %v", raw, err)
	}
}

// FuzzBodies runs the wrapper editors (create-conversation, history,
// batch) the way FuzzActivity runs Activity.
func FuzzBodies(f *testing.F) {
	for _, tt := range conversationTests {
		f.Add([]byte(tt.give))
	}
	for _, b := range testdataBodies(f) {
		f.Add(b)
	}
	for _, tt := range malformedTests {
		f.Add([]byte(tt.give))
	}
	editors := []struct {
		name  string
		apply func([]byte) ([]byte, error)
		check func(t *testing.T, in, out []byte)
	}{
		{"Conversation", func(b []byte) ([]byte, error) { return Conversation(b, goldenBot, goldenTenant, goldenEdit) }, checkWrapper("bot", "tenantId")},
		{"Transcript", func(b []byte) ([]byte, error) { return Transcript(b, goldenEdit) }, checkTranscript},
		{"Nested", func(b []byte) ([]byte, error) { return Nested(b, goldenTenant, goldenEdit) }, checkWrapper("tenantId")},
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		ok := json.Valid(body) && isObject(body)
		for _, ed := range editors {
			out, err := ed.apply(body)
			if !ok {
				if err == nil {
					t.Fatalf("%s(%q) accepted a body json.Valid refuses or that is not an object", ed.name, body)
				}
				continue
			}
			if err != nil {
				t.Fatalf("%s(%q) error: %v", ed.name, body, err)
			}
			if !json.Valid(out) {
				t.Fatalf("%s(%q) = %q; not valid JSON", ed.name, body, out)
			}
			ed.check(t, body, out)
			if again, err := ed.apply(out); err != nil || !bytes.Equal(again, out) {
				t.Fatalf("%s is not idempotent on %q: %q, %v", ed.name, out, again, err)
			}
		}
	})
}
