package rewrite

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

const (
	bot    = `{"id":"28:bot"}`
	tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"
)

// conversationTests are the rows of TestConversation.
var conversationTests = []struct {
	name     string
	give     string
	bot      string
	tenantID string
	edit     Edit
	want     string
}{
	{
		name:     "add bot and tenantId, edit activity",
		give:     `{"isGroup":false,"members":[{"id":"29:u"}],"activity":{"type":"message","text":"hi"}}`,
		bot:      bot,
		tenantID: tenant,
		edit:     editFrom,
		want:     `{"isGroup":false,"members":[{"id":"29:u"}],"activity":{"type":"message","text":"hi","from":` + botFrom + `},"bot":` + bot + `,"tenantId":"` + tenant + `"}`,
	},
	{
		name:     "fill null bot and empty tenantId",
		give:     `{"bot":null,"tenantId":""}`,
		bot:      bot,
		tenantID: tenant,
		want:     `{"bot":` + bot + `,"tenantId":"` + tenant + `"}`,
	},
	{
		name:     "fill null tenantId",
		give:     `{"tenantId":null}`,
		tenantID: tenant,
		want:     `{"tenantId":"` + tenant + `"}`,
	},
	{
		name:     "keep present bot and tenantId",
		give:     `{"bot":{"id":"28:other"},"tenantId":"other-tenant"}`,
		bot:      bot,
		tenantID: tenant,
		want:     `{"bot":{"id":"28:other"},"tenantId":"other-tenant"}`,
	},
	{
		name: "no bot and no tenant given",
		give: `{"members":[]}`,
		want: `{"members":[]}`,
	},
	{
		name: "activity null or not an object left alone",
		give: `{"activity":null,"Activity":"x"}`,
		edit: editAll,
		want: `{"activity":null,"Activity":"x"}`,
	},
	{
		name: "every activity edited",
		give: `{"activity":{"from":1},"activity":{}}`,
		edit: editFrom,
		want: `{"activity":{"from":` + botFrom + `},"activity":{"from":` + botFrom + `}}`,
	},
	{
		name: "activity members are not conversation members",
		give: `{"activity":{"bot":null,"tenantId":""}}`,
		bot:  bot,
		want: `{"activity":{"bot":null,"tenantId":""},"bot":` + bot + `}`,
	},
	{
		name: "top-level from is not the activity's",
		give: `{"from":{"id":"x"},"serviceUrl":"y"}`,
		edit: Edit{From: json.RawMessage(botFrom), ServiceURL: svc},
		want: `{"from":{"id":"x"},"serviceUrl":"y"}`,
	},
	{
		name:     "pretty printed",
		give:     "{\n    \"activity\": {\n        \"type\": \"message\"\n    }\n}",
		tenantID: tenant,
		edit:     editFrom,
		want:     "{\n    \"activity\": {\n        \"type\": \"message\",\n        \"from\": " + botFrom + "\n    },\n    \"tenantId\": \"" + tenant + "\"\n}",
	},
}

func TestConversation(t *testing.T) {
	t.Parallel()
	for _, tt := range conversationTests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Conversation([]byte(tt.give), json.RawMessage(tt.bot), tt.tenantID, tt.edit)
			if err != nil {
				t.Fatalf("Conversation(%q) error: %v", tt.give, err)
			}
			if string(got) != tt.want {
				t.Errorf("Conversation(%q) =\n%s\nwant\n%s", tt.give, got, tt.want)
			}
			if !json.Valid(got) {
				t.Errorf("Conversation(%q) = %s; not valid JSON", tt.give, got)
			}
		})
	}
}

func TestTranscript(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		give string
		want string
	}{
		{
			name: "each activity edited",
			give: `{"activities":[{"type":"message"},{"from":{"id":"x"}}]}`,
			want: `{"activities":[{"type":"message","from":` + botFrom + `},{"from":` + botFrom + `}]}`,
		},
		{
			name: "non-object elements left alone",
			give: `{"activities":[null,1,"x",[{"from":1}],{}]}`,
			want: `{"activities":[null,1,"x",[{"from":1}],{"from":` + botFrom + `}]}`,
		},
		{
			name: "activities not an array",
			give: `{"activities":{"from":1}}`,
			want: `{"activities":{"from":1}}`,
		},
		{
			name: "empty array",
			give: `{"activities":[ ]}`,
			want: `{"activities":[ ]}`,
		},
		{
			name: "no activities",
			give: `{"from":1}`,
			want: `{"from":1}`,
		},
		{
			name: "pretty printed with other members",
			give: "{\n \"activities\": [\n  {\n   \"id\": \"1\"\n  }\n ],\n \"x\": 1\n}",
			want: "{\n \"activities\": [\n  {\n   \"id\": \"1\",\n   \"from\": " + botFrom + "\n  }\n ],\n \"x\": 1\n}",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Transcript([]byte(tt.give), editFrom)
			if err != nil {
				t.Fatalf("Transcript(%q) error: %v", tt.give, err)
			}
			if string(got) != tt.want {
				t.Errorf("Transcript(%q) =\n%s\nwant\n%s", tt.give, got, tt.want)
			}
		})
	}
}

func TestNested(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		give     string
		tenantID string
		want     string
	}{
		{
			name:     "activity edited and tenantId added",
			give:     `{"members":[{"id":"29:a"}],"activity":{"type":"message"},"teamId":"19:t"}`,
			tenantID: tenant,
			want:     `{"members":[{"id":"29:a"}],"activity":{"type":"message","from":` + botFrom + `},"teamId":"19:t","tenantId":"` + tenant + `"}`,
		},
		{
			name:     "empty tenantId filled",
			give:     `{"tenantId":""}`,
			tenantID: tenant,
			want:     `{"tenantId":"` + tenant + `"}`,
		},
		{
			name:     "present tenantId kept",
			give:     `{"tenantId":"other"}`,
			tenantID: tenant,
			want:     `{"tenantId":"other"}`,
		},
		{
			name: "no tenant given",
			give: `{"activity":null}`,
			want: `{"activity":null}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Nested([]byte(tt.give), tt.tenantID, editFrom)
			if err != nil {
				t.Fatalf("Nested(%q) error: %v", tt.give, err)
			}
			if string(got) != tt.want {
				t.Errorf("Nested(%q) =\n%s\nwant\n%s", tt.give, got, tt.want)
			}
		})
	}
}

// TestBodiesMalformed runs every malformed body through every editor and
// reader, wrapped where a wrapper puts activities, so that no path skips
// validation.
func TestBodiesMalformed(t *testing.T) {
	t.Parallel()
	funcs := []struct {
		name string
		call func([]byte) error
	}{
		{"Activity", func(b []byte) error { _, err := Activity(b, editAll); return err }},
		{"Conversation", func(b []byte) error { _, err := Conversation(b, json.RawMessage(bot), tenant, editAll); return err }},
		{"Transcript", func(b []byte) error { _, err := Transcript(b, editAll); return err }},
		{"Nested", func(b []byte) error { _, err := Nested(b, tenant, editAll); return err }},
		{"Inspect", func(b []byte) error { _, err := Inspect(b); return err }},
		{"InspectConversation", func(b []byte) error { _, err := InspectConversation(b); return err }},
		{"StringField", func(b []byte) error { _, _, err := StringField(b, "tenantId"); return err }},
	}
	for _, f := range funcs {
		for _, tt := range malformedTests {
			if err := f.call([]byte(tt.give)); !errors.Is(err, tt.want) {
				t.Errorf("%s(%q) error = %v; want %v", f.name, tt.give, err, tt.want)
			}
			if tt.want != ErrMalformed || strings.TrimSpace(tt.give) == "" {
				continue
			}
			// The same damage inside the places the editors descend into.
			for _, wrap := range []string{`{"activity":%s}`, `{"activities":[%s]}`, `{"activities":[{},%s]}`, `{"members":[%s]}`, `{"conversation":%s}`, `{"channelData":{"tenant":%s}}`} {
				give := []byte(strings.Replace(wrap, "%s", tt.give, 1))
				if err := f.call(give); !errors.Is(err, ErrMalformed) {
					t.Errorf("%s(%q) error = %v; want ErrMalformed", f.name, give, err)
				}
			}
		}
	}
}

func TestBodiesInvalidEdit(t *testing.T) {
	t.Parallel()
	bad := Edit{From: json.RawMessage(`{`)}
	if _, err := Conversation([]byte(`{}`), nil, "", bad); !errors.Is(err, ErrInvalidEdit) {
		t.Errorf("Conversation(bad edit) error = %v; want ErrInvalidEdit", err)
	}
	if _, err := Conversation([]byte(`{}`), json.RawMessage(`{"id":`), "", Edit{}); !errors.Is(err, ErrInvalidEdit) {
		t.Errorf("Conversation(bad bot) error = %v; want ErrInvalidEdit", err)
	}
	if _, err := Transcript([]byte(`{}`), bad); !errors.Is(err, ErrInvalidEdit) {
		t.Errorf("Transcript(bad edit) error = %v; want ErrInvalidEdit", err)
	}
	if _, err := Nested([]byte(`{}`), "", bad); !errors.Is(err, ErrInvalidEdit) {
		t.Errorf("Nested(bad edit) error = %v; want ErrInvalidEdit", err)
	}
}
