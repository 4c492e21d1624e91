package rewrite

import (
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
)

// inspectTests are the rows of TestInspect; FuzzInspect starts from them.
var inspectTests = []struct {
	name string
	give string
	want Fields
}{
	{
		name: "all fields",
		give: `{"type":"message","serviceUrl":"https://smba/","channelId":"msteams",` +
			`"from":{"id":"29:u"},"recipient":{"id":"28:b"},` +
			`"conversation":{"id":"a:1","tenantId":"t1","isGroup":false},` +
			`"channelData":{"tenant":{"id":"t2"},"team":{"id":"19:t","name":"T"},"channel":{"id":"19:c"}}}`,
		want: Fields{
			Type: "message", ServiceURL: "https://smba/", ChannelID: "msteams",
			From: json.RawMessage(`{"id":"29:u"}`), Recipient: json.RawMessage(`{"id":"28:b"}`),
			Conversation:         json.RawMessage(`{"id":"a:1","tenantId":"t1","isGroup":false}`),
			ConversationID:       "a:1",
			ConversationTenantID: "t1",
			ChannelDataTenantID:  "t2",
			ChannelDataTeamID:    "19:t",
			ChannelDataChannelID: "19:c",
		},
	},
	{
		name: "empty object",
		give: `{}`,
	},
	{
		name: "nulls read as absent",
		give: `{"type":null,"serviceUrl":null,"channelId":null,"from":null,"recipient":null,"conversation":null,"channelData":null}`,
	},
	{
		name: "nested nulls read as absent",
		give: `{"conversation":{"id":null,"tenantId":null},"channelData":{"tenant":null}}`,
		want: Fields{Conversation: json.RawMessage(`{"id":null,"tenantId":null}`)},
	},
	{
		name: "escapes decoded",
		give: `{"serviceUrl":"https:\/\/smba\/caf\u00e9\ud83d\ude80","\u0074ype":"mes\u0073age"}`,
		want: Fields{ServiceURL: "https://smba/café🚀", Type: "message"},
	},
	{
		name: "raw bytes kept exactly",
		give: `{"from": { "id" : "29:u" , "n":12345678901234567890 }}`,
		want: Fields{From: json.RawMessage(`{ "id" : "29:u" , "n":12345678901234567890 }`)},
	},
	{
		name: "case-insensitive names",
		give: `{"ServiceURL":"https://smba/","Conversation":{"ID":"a:1"}}`,
		want: Fields{ServiceURL: "https://smba/", Conversation: json.RawMessage(`{"ID":"a:1"}`), ConversationID: "a:1"},
	},
	{
		name: "identical duplicates",
		give: `{"serviceUrl":"https://smba/","serviceUrl":"https://smba/"}`,
		want: Fields{ServiceURL: "https://smba/"},
	},
	{
		name: "loose fields of another type read as empty",
		give: `{"conversation":{"tenantId":5},"channelData":{"tenant":{"id":[]}}}`,
		want: Fields{Conversation: json.RawMessage(`{"tenantId":5}`)},
	},
	{
		name: "conversation of another type kept raw",
		give: `{"conversation":"a:1","channelData":"x"}`,
		want: Fields{Conversation: json.RawMessage(`"a:1"`)},
	},
	{
		name: "similar names and nested lookalikes ignored",
		give: `{"types":"x","channelData":{"id":"no","tenantId":"no","tenant":{"ID":"t"}},"value":{"serviceUrl":"no"}}`,
		want: Fields{ChannelDataTenantID: "t"},
	},
}

func TestInspect(t *testing.T) {
	t.Parallel()
	for _, tt := range inspectTests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Inspect([]byte(tt.give))
			if err != nil {
				t.Fatalf("Inspect(%q) error: %v", tt.give, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Inspect(%q) =\n%+v\nwant\n%+v", tt.give, got, tt.want)
			}
		})
	}
}

func TestInspectTeamsMessage(t *testing.T) {
	t.Parallel()
	body, err := os.ReadFile("testdata/teams_message.json")
	if err != nil {
		t.Fatal(err)
	}
	got, err := Inspect(body)
	if err != nil {
		t.Fatal(err)
	}
	if got.Type != "message" || got.ServiceURL != "https://smba.trafficmanager.net/emea/" || got.ChannelID != "msteams" ||
		got.ConversationID != "19:a1b2c3d4e5f60718293a4b5c6d7e8f90@thread.tacv2;messageid=1715678467491" ||
		got.ConversationTenantID != "72f988bf-86f1-41af-91ab-2d7cd011db47" ||
		got.ChannelDataTenantID != "72f988bf-86f1-41af-91ab-2d7cd011db47" {
		t.Errorf("Inspect(teams_message.json) = %+v", got)
	}
	var recipient struct{ ID string }
	if err := json.Unmarshal(got.Recipient, &recipient); err != nil || recipient.ID != "28:0b7e6c1e-5c7a-4b8e-9a3f-1d2c3b4a5e6f" {
		t.Errorf("Inspect(teams_message.json).Recipient = %s", got.Recipient)
	}
}

func TestInspectCopiesRaw(t *testing.T) {
	t.Parallel()
	body := []byte(`{"from":{"id":"a"},"recipient":{"id":"b"},"conversation":{"id":"c"}}`)
	got, err := Inspect(body)
	if err != nil {
		t.Fatal(err)
	}
	for i := range body {
		body[i] = 'x'
	}
	got.From = append(got.From, "garbage"...)
	if string(got.Recipient) != `{"id":"b"}` || string(got.Conversation) != `{"id":"c"}` {
		t.Errorf("Inspect fields changed with the body or a neighbour: %q %q", got.Recipient, got.Conversation)
	}
}

func TestInspectErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		give string
		want string // the error message
	}{
		{"type number", `{"type":1}`, "malformed json: at offset 8: type must be a string, found number"},
		{"serviceUrl object", `{"serviceUrl":{}}`, "malformed json: at offset 14: serviceUrl must be a string, found object"},
		{"channelId bool", `{"channelId":true}`, "malformed json: at offset 13: channelId must be a string, found boolean"},
		{"conversation.id array", `{"conversation":{"id":[]}}`, "malformed json: at offset 22: conversation.id must be a string, found array"},
		{"conflicting serviceUrl", `{"serviceUrl":"https://a/","serviceUrl":"https://b/"}`,
			`malformed json: at offset 27: duplicate member "serviceUrl" with a different value`},
		{"conflicting case variant", `{"from":{"id":"a"},"From":{"id":"b"}}`,
			`malformed json: at offset 19: duplicate member "From" with a different value`},
		{"conflicting null", `{"type":"message","type":null}`,
			`malformed json: at offset 18: duplicate member "type" with a different value`},
		{"conflicting conversation id", `{"conversation":{"id":"a","id":"b"}}`,
			`malformed json: at offset 26: duplicate member "id" with a different value`},
		{"conflicting tenant", `{"channelData":{"tenant":{"id":"a"}},"channelData":{"tenant":{"id":"b"}}}`,
			`malformed json: at offset 62: duplicate member "id" with a different value`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Inspect([]byte(tt.give))
			if !errors.Is(err, ErrMalformed) || err.Error() != tt.want {
				t.Errorf("Inspect(%q) error = %v; want %s", tt.give, err, tt.want)
			}
		})
	}
}

func TestInspectConversation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		give string
		want ConversationFields
	}{
		{
			name: "channel thread",
			give: `{"isGroup":true,"bot":{"id":"28:b"},"members":[],"tenantId":"t1",` +
				`"channelData":{"channel":{"id":"19:c@thread.tacv2"},"tenant":{"id":"t2"}},"activity":{"type":"message"}}`,
			want: ConversationFields{IsGroup: true, MemberIDs: nil, ChannelDataChannelID: "19:c@thread.tacv2",
				HasActivity: true, TenantID: "t1", Bot: json.RawMessage(`{"id":"28:b"}`)},
		},
		{
			name: "one to one",
			give: `{"isGroup":false,"members":[{"id":"29:u","name":"U"}],"tenantId":"t1"}`,
			want: ConversationFields{MemberIDs: []string{"29:u"}, TenantID: "t1"},
		},
		{
			name: "members without ids",
			give: `{"members":[{"id":"29:a"},{"name":"no id"},{"id":null},{"ID":"29:d"}]}`,
			want: ConversationFields{MemberIDs: []string{"29:a", "", "", "29:d"}},
		},
		{
			name: "empty object",
			give: `{}`,
		},
		{
			name: "nulls",
			give: `{"isGroup":null,"members":null,"bot":null,"tenantId":null,"activity":null,"channelData":null}`,
		},
		{
			name: "identical duplicate members counted once",
			give: `{"members":[{"id":"29:a"}],"members":[{"id":"29:a"}]}`,
			want: ConversationFields{MemberIDs: []string{"29:a"}},
		},
		{
			name: "activity not an object",
			give: `{"activity":"hi"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := InspectConversation([]byte(tt.give))
			if err != nil {
				t.Fatalf("InspectConversation(%q) error: %v", tt.give, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("InspectConversation(%q) =\n%+v\nwant\n%+v", tt.give, got, tt.want)
			}
		})
	}
}

func TestInspectConversationErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		give string
		want string // a part of the error message
	}{
		{"isGroup string", `{"isGroup":"true"}`, "isGroup must be a boolean, found string"},
		{"members object", `{"members":{}}`, "members must be an array, found object"},
		{"member string", `{"members":[{"id":"a"},"29:b"]}`, "members[1] must be an object, found string"},
		{"member id number", `{"members":[{"id":1}]}`, "members[0].id must be a string, found number"},
		{"tenantId number", `{"tenantId":7}`, "tenantId must be a string, found number"},
		{"conflicting members", `{"members":[{"id":"a"}],"members":[]}`, `duplicate member "members"`},
		{"conflicting member id", `{"members":[{"id":"a","id":"b"}]}`, `duplicate member "id"`},
		{"conflicting bot", `{"bot":{"id":"a"},"Bot":{"id":"b"}}`, `duplicate member "Bot"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := InspectConversation([]byte(tt.give))
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("InspectConversation(%q) error = %v; want one containing %q", tt.give, err, tt.want)
			}
		})
	}
}

func TestStringField(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		give   string
		key    string
		want   string
		wantOK bool
	}{
		{"present", `{"tenantId":"t1","x":1}`, "tenantId", "t1", true},
		{"empty string", `{"tenantId":""}`, "tenantId", "", true},
		{"escaped", `{"tenantId":"t\u00e9"}`, "tenantId", "té", true},
		{"case variant", `{"TenantID":"t1"}`, "tenantId", "t1", true},
		{"absent", `{"x":"t1"}`, "tenantId", "", false},
		{"null", `{"tenantId":null}`, "tenantId", "", false},
		{"number", `{"tenantId":5}`, "tenantId", "", false},
		{"nested is not top-level", `{"activity":{"tenantId":"t1"}}`, "tenantId", "", false},
		{"identical duplicates", `{"tenantId":"t1","tenantId":"t1"}`, "tenantId", "t1", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok, err := StringField([]byte(tt.give), tt.key)
			if err != nil || got != tt.want || ok != tt.wantOK {
				t.Errorf("StringField(%q, %q) = %q, %v, %v; want %q, %v, nil", tt.give, tt.key, got, ok, err, tt.want, tt.wantOK)
			}
		})
	}
	if _, _, err := StringField([]byte(`{"tenantId":"a","tenantId":"b"}`), "tenantId"); !errors.Is(err, ErrMalformed) {
		t.Errorf("StringField(conflicting duplicates) error = %v; want ErrMalformed", err)
	}
}

func TestObject(t *testing.T) {
	t.Parallel()
	tests := []struct {
		give    string
		wantErr error
	}{
		{`{}`, nil},
		{` {"a":[1,{"b":null}],"c":"\u00e9"} `, nil},
		{`{"a":1}{"b":2}`, ErrMalformed},
		{`{"a":}`, ErrMalformed},
		{`{"a":1`, ErrMalformed},
		{`[1]`, ErrNotObject},
		{`"x"`, ErrNotObject},
		{"\x1f\x8b\x08\x00", ErrMalformed}, // gzip
		{``, ErrMalformed},
	}
	for _, tt := range tests {
		err := Object([]byte(tt.give))
		if tt.wantErr == nil && err != nil || tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
			t.Errorf("Object(%q) = %v; want %v", tt.give, err, tt.wantErr)
		}
	}
}
