package rewrite

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// Values the table rows set.
const (
	botFrom = `{"id":"28:bot","name":"Bot"}`
	svc     = "https://smba.trafficmanager.net/emea/"
	conv    = `{"id":"a:1"}`
	user    = `{"id":"29:user"}`
)

var (
	editFrom       = Edit{From: json.RawMessage(botFrom)}
	editServiceURL = Edit{ServiceURL: svc}
	editAll        = Edit{
		From:         json.RawMessage(botFrom),
		ServiceURL:   svc,
		Conversation: json.RawMessage(conv),
		ChannelID:    "msteams",
		Recipient:    json.RawMessage(user),
	}
)

// activityTests are the rows of TestActivity; FuzzActivity starts from them.
var activityTests = []struct {
	name string
	give string
	edit Edit
	want string
}{
	{
		name: "replace from",
		give: `{"type":"message","from":{"id":"29:u"},"text":"hi"}`,
		edit: editFrom,
		want: `{"type":"message","from":` + botFrom + `,"text":"hi"}`,
	},
	{
		name: "add missing from",
		give: `{"type":"message"}`,
		edit: editFrom,
		want: `{"type":"message","from":` + botFrom + `}`,
	},
	{
		name: "replace null from",
		give: `{"from":null,"type":"message"}`,
		edit: editFrom,
		want: `{"from":` + botFrom + `,"type":"message"}`,
	},
	{
		name: "replace from of another type",
		give: `{"from":"28:bot","type":"message"}`,
		edit: editFrom,
		want: `{"from":` + botFrom + `,"type":"message"}`,
	},
	{
		name: "replace serviceUrl",
		give: `{"serviceUrl":"http://127.0.0.1:3979/","type":"message"}`,
		edit: editServiceURL,
		want: `{"serviceUrl":"` + svc + `","type":"message"}`,
	},
	{
		name: "add missing serviceUrl",
		give: `{"type":"message"}`,
		edit: editServiceURL,
		want: `{"type":"message","serviceUrl":"` + svc + `"}`,
	},
	{
		name: "serviceUrl is escaped",
		give: `{"serviceUrl":"x"}`,
		edit: Edit{ServiceURL: "https://h/\"q\\\n\x01\u2028&<>é"},
		want: `{"serviceUrl":"https://h/\"q\\\n\u0001\u2028&<>é"}`,
	},
	{
		name: "serviceUrl with invalid utf-8",
		give: `{}`,
		edit: Edit{ServiceURL: "https://h/\xff"},
		want: `{"serviceUrl":"https://h/\ufffd"}`,
	},
	{
		name: "serviceUrl written with escapes is replaced",
		give: `{"serviceUrl":"https:\/\/smba.trafficmanager.net\/emea\/"}`,
		edit: editServiceURL,
		want: `{"serviceUrl":"` + svc + `"}`,
	},
	{
		name: "add missing conversation channelId recipient",
		give: `{"type":"message"}`,
		edit: Edit{Conversation: json.RawMessage(conv), ChannelID: "msteams", Recipient: json.RawMessage(user)},
		want: `{"type":"message","conversation":` + conv + `,"channelId":"msteams","recipient":` + user + `}`,
	},
	{
		name: "fill null conversation channelId recipient",
		give: `{"conversation":null,"channelId":null,"recipient":null}`,
		edit: Edit{Conversation: json.RawMessage(conv), ChannelID: "msteams", Recipient: json.RawMessage(user)},
		want: `{"conversation":` + conv + `,"channelId":"msteams","recipient":` + user + `}`,
	},
	{
		name: "fill empty channelId",
		give: `{"channelId":""}`,
		edit: Edit{ChannelID: "msteams"},
		want: `{"channelId":"msteams"}`,
	},
	{
		name: "keep present conversation channelId recipient",
		give: `{"conversation":{"id":"b:2"},"channelId":"webchat","recipient":{"id":"29:other"}}`,
		edit: Edit{Conversation: json.RawMessage(conv), ChannelID: "msteams", Recipient: json.RawMessage(user)},
		want: `{"conversation":{"id":"b:2"},"channelId":"webchat","recipient":{"id":"29:other"}}`,
	},
	{
		name: "keep empty conversation and recipient objects",
		give: `{"conversation":{},"recipient":""}`,
		edit: Edit{Conversation: json.RawMessage(conv), Recipient: json.RawMessage(user)},
		want: `{"conversation":{},"recipient":""}`,
	},
	{
		name: "all fields on empty object",
		give: `{}`,
		edit: editAll,
		want: `{"from":` + botFrom + `,"serviceUrl":"` + svc + `","conversation":` + conv + `,"channelId":"msteams","recipient":` + user + `}`,
	},
	{
		name: "empty object with whitespace",
		give: "{ \n }",
		edit: editFrom,
		want: `{"from":` + botFrom + " \n }",
	},
	{
		name: "duplicate from all replaced",
		give: `{"from":{"id":"a"},"text":"x","from":{"id":"b"}}`,
		edit: editFrom,
		want: `{"from":` + botFrom + `,"text":"x","from":` + botFrom + `}`,
	},
	{
		name: "duplicate serviceUrl all replaced",
		give: `{"serviceUrl":"https://a/","serviceUrl":"https://b/"}`,
		edit: editServiceURL,
		want: `{"serviceUrl":"` + svc + `","serviceUrl":"` + svc + `"}`,
	},
	{
		name: "duplicate conversation each judged on its own",
		give: `{"conversation":{"id":"b:2"},"conversation":null}`,
		edit: Edit{Conversation: json.RawMessage(conv)},
		want: `{"conversation":{"id":"b:2"},"conversation":` + conv + `}`,
	},
	{
		name: "escaped key replaced",
		give: `{"\u0066rom":{"id":"spoof"}}`,
		edit: editFrom,
		want: `{"\u0066rom":` + botFrom + `}`,
	},
	{
		name: "fully escaped key",
		give: `{"\u0066\u0072\u006f\u006d":1,"from":2}`,
		edit: editFrom,
		want: `{"\u0066\u0072\u006f\u006d":` + botFrom + `,"from":` + botFrom + `}`,
	},
	{
		name: "case variants replaced",
		give: `{"From":{"id":"a"},"FROM":{"id":"b"},"from":{"id":"c"}}`,
		edit: editFrom,
		want: `{"From":` + botFrom + `,"FROM":` + botFrom + `,"from":` + botFrom + `}`,
	},
	{
		name: "case variant replaced and exact key added",
		give: `{"ServiceURL":"https://evil/"}`,
		edit: editServiceURL,
		want: `{"ServiceURL":"` + svc + `","serviceUrl":"` + svc + `"}`,
	},
	{
		name: "unicode folding long s",
		give: `{"ſerviceUrl":"https://evil/"}`,
		edit: editServiceURL,
		want: `{"ſerviceUrl":"` + svc + `","serviceUrl":"` + svc + `"}`,
	},
	{
		name: "case variant counts as present for conditional fields",
		give: `{"Conversation":{"id":"b:2"},"ChannelId":"webchat","RECIPIENT":null}`,
		edit: Edit{Conversation: json.RawMessage(conv), ChannelID: "msteams", Recipient: json.RawMessage(user)},
		want: `{"Conversation":{"id":"b:2"},"ChannelId":"webchat","RECIPIENT":` + user + `}`,
	},
	{
		name: "similar keys untouched",
		give: `{"fromm":1,"fro":2,"from_":3,"serviceUrls":4,"f\u0072omx":5}`,
		edit: editAll,
		want: `{"fromm":1,"fro":2,"from_":3,"serviceUrls":4,"f\u0072omx":5,"from":` + botFrom + `,"serviceUrl":"` + svc + `","conversation":` + conv + `,"channelId":"msteams","recipient":` + user + `}`,
	},
	{
		name: "pretty printed",
		give: "{\n  \"type\": \"message\",\n  \"from\": {\n    \"id\": \"29:u\"\n  }\n}\n",
		edit: Edit{From: json.RawMessage(botFrom), ServiceURL: svc},
		want: "{\n  \"type\": \"message\",\n  \"from\": " + botFrom + ",\n  \"serviceUrl\": \"" + svc + "\"\n}\n",
	},
	{
		name: "tabs and space before colon",
		give: "\t{ \"a\" : 1 }\t",
		edit: editFrom,
		want: "\t{ \"a\" : 1, \"from\" : " + botFrom + " }\t",
	},
	{
		name: "crlf",
		give: "{\r\n\t\"a\": 1\r\n}",
		edit: editFrom,
		want: "{\r\n\t\"a\": 1,\r\n\t\"from\": " + botFrom + "\r\n}",
	},
	{
		name: "everything else byte for byte",
		give: `{"id":12345678901234567890,"n":1.50E+002,"x":{"from":"nested","y":[1,{"z":"\u00e9\/\"😀\\"}]},"from":null,"channelData":{"serviceUrl":"keep"}}`,
		edit: Edit{From: json.RawMessage(botFrom), ServiceURL: svc},
		want: `{"id":12345678901234567890,"n":1.50E+002,"x":{"from":"nested","y":[1,{"z":"\u00e9\/\"😀\\"}]},"from":` + botFrom + `,"channelData":{"serviceUrl":"keep"},"serviceUrl":"` + svc + `"}`,
	},
	{
		name: "raw values are trimmed",
		give: `{"from":1}`,
		edit: Edit{From: json.RawMessage(" \n" + botFrom + "\t")},
		want: `{"from":` + botFrom + `}`,
	},
	{
		name: "raw null is a value",
		give: `{"from":{"id":"x"}}`,
		edit: Edit{From: json.RawMessage(`null`)},
		want: `{"from":null}`,
	},
	{
		name: "empty edit",
		give: `{"a" : [1, 2]}`,
		edit: Edit{},
		want: `{"a" : [1, 2]}`,
	},
	{
		name: "already rewritten",
		give: `{"from":` + botFrom + `,"serviceUrl":"` + svc + `"}`,
		edit: Edit{From: json.RawMessage(botFrom), ServiceURL: svc},
		want: `{"from":` + botFrom + `,"serviceUrl":"` + svc + `"}`,
	},
}

func TestActivity(t *testing.T) {
	t.Parallel()
	for _, tt := range activityTests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			give := []byte(tt.give)
			got, err := Activity(give, tt.edit)
			if err != nil {
				t.Fatalf("Activity(%q) error: %v", tt.give, err)
			}
			if string(got) != tt.want {
				t.Errorf("Activity(%q) =\n%s\nwant\n%s", tt.give, got, tt.want)
			}
			if !json.Valid(got) {
				t.Errorf("Activity(%q) = %s; not valid JSON", tt.give, got)
			}
			if string(give) != tt.give {
				t.Errorf("Activity modified its input: %q", give)
			}
			// Applying the same edit again changes nothing.
			again, err := Activity(got, tt.edit)
			if err != nil || !bytes.Equal(again, got) {
				t.Errorf("Activity(Activity(%q)) = %s, %v; want %s", tt.give, again, err, got)
			}
		})
	}
}

func TestActivityUnchangedReturnsInput(t *testing.T) {
	t.Parallel()
	give := []byte(`{"from":` + botFrom + `,"serviceUrl":"` + svc + `","conversation":{"id":"b"},"channelId":"x","recipient":{}}`)
	got, err := Activity(give, editAll)
	if err != nil {
		t.Fatal(err)
	}
	if &got[0] != &give[0] {
		t.Errorf("Activity(%s) copied a body it did not change", give)
	}
}

// TestActivityUnchangedAllocs is not parallel: AllocsPerRun sets GOMAXPROCS.
func TestActivityUnchangedAllocs(t *testing.T) {
	give := []byte(`{"from":` + botFrom + `,"serviceUrl":"` + svc + `","conversation":{"id":"b"},"channelId":"x","recipient":{}}`)
	allocs := testing.AllocsPerRun(100, func() {
		_, _ = Activity(give, editAll)
	})
	if allocs != 0 {
		t.Errorf("Activity of an unchanged body: %v allocs; want 0", allocs)
	}
}

func TestActivityLargeText(t *testing.T) {
	t.Parallel()
	// 50 KB of text with escapes and multi-byte runes scattered through it.
	var sb strings.Builder
	for sb.Len() < 50<<10 {
		sb.WriteString(`lorem ipsum \"dolor\" sit amet \u00e9 😀 \\ \/ `)
	}
	text := sb.String()
	give := `{"type":"message","text":"` + text + `","from":{"id":"29:u"}}`
	want := `{"type":"message","text":"` + text + `","from":` + botFrom + `}`
	got, err := Activity([]byte(give), editFrom)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("Activity(50 KB text) changed bytes outside from (len %d, want %d)", len(got), len(want))
	}
}

func TestActivityBigNumbers(t *testing.T) {
	t.Parallel()
	// Numbers that float64 would round; they must arrive as sent.
	for _, n := range []string{"12345678901234567890", "-98765432109876543210987654321", "1e400", "0.1000000000000000055511151231257827", "-0"} {
		give := `{"n":` + n + `,"from":null}`
		got, err := Activity([]byte(give), editFrom)
		if err != nil {
			t.Fatal(err)
		}
		if want := `{"n":` + n + `,"from":` + botFrom + `}`; string(got) != want {
			t.Errorf("Activity(%q) = %s; want %s", give, got, want)
		}
	}
}

func TestActivityDeepNesting(t *testing.T) {
	t.Parallel()
	// encoding/json allows 10000 levels; the scanner must agree either way.
	nest := func(n int) string {
		return `{"x":` + strings.Repeat("[", n-1) + strings.Repeat("]", n-1) + `}`
	}
	if _, err := Activity([]byte(nest(maxDepth)), editFrom); err != nil {
		t.Errorf("Activity(%d levels) error: %v", maxDepth, err)
	}
	_, err := Activity([]byte(nest(maxDepth+1)), editFrom)
	if !errors.Is(err, ErrMalformed) {
		t.Errorf("Activity(%d levels) error = %v; want ErrMalformed", maxDepth+1, err)
	}
}

func TestActivityInvalidEdit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		edit Edit
	}{
		{"from truncated", Edit{From: json.RawMessage(`{"id":`)}},
		{"from two values", Edit{From: json.RawMessage(`{} {}`)}},
		{"from whitespace only", Edit{From: json.RawMessage(`  `)}},
		{"conversation bare word", Edit{Conversation: json.RawMessage(`abc`)}},
		{"recipient bad escape", Edit{Recipient: json.RawMessage(`"\x"`)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Activity([]byte(`{}`), tt.edit)
			if !errors.Is(err, ErrInvalidEdit) || errors.Is(err, ErrMalformed) {
				t.Errorf("Activity(%+v) error = %v; want ErrInvalidEdit only", tt.edit, err)
			}
		})
	}
}

// malformedTests are bodies every function must refuse.
var malformedTests = []struct {
	name string
	give string
	want error
}{
	{"empty body", ``, ErrMalformed},
	{"whitespace only", " \n\t", ErrMalformed},
	{"truncated object", `{"a":1`, ErrMalformed},
	{"truncated key", `{"a`, ErrMalformed},
	{"truncated after colon", `{"a":`, ErrMalformed},
	{"truncated string value", `{"a":"abc`, ErrMalformed},
	{"truncated escape", `{"a":"abc\`, ErrMalformed},
	{"truncated nested", `{"a":{"b":[1,2`, ErrMalformed},
	{"trailing garbage", `{"a":1}x`, ErrMalformed},
	{"two objects", `{"a":1} {"b":2}`, ErrMalformed},
	{"unbalanced close", `{"a":1}}`, ErrMalformed},
	{"mismatched brackets", `{"a":[1,2}}`, ErrMalformed},
	{"bad escape", `{"a":"\x"}`, ErrMalformed},
	{"short unicode escape", `{"a":"\u12"}`, ErrMalformed},
	{"bad unicode escape", `{"a":"\u12g4"}`, ErrMalformed},
	{"raw control character", "{\"a\":\"line\nbreak\"}", ErrMalformed},
	{"escape in key", `{"\q":1}`, ErrMalformed},
	{"leading zero", `{"a":01}`, ErrMalformed},
	{"bare minus", `{"a":-}`, ErrMalformed},
	{"no fraction digits", `{"a":1.}`, ErrMalformed},
	{"no exponent digits", `{"a":1e+}`, ErrMalformed},
	{"plus sign", `{"a":+1}`, ErrMalformed},
	{"bad literal", `{"a":tru}`, ErrMalformed},
	{"capital literal", `{"a":True}`, ErrMalformed},
	{"single quotes", `{'a':1}`, ErrMalformed},
	{"missing colon", `{"a" 1}`, ErrMalformed},
	{"missing comma", `{"a":1 "b":2}`, ErrMalformed},
	{"trailing comma", `{"a":1,}`, ErrMalformed},
	{"trailing comma in array", `{"a":[1,]}`, ErrMalformed},
	{"lone comma", `{,}`, ErrMalformed},
	{"unquoted key", `{a:1}`, ErrMalformed},
	{"byte order mark", "\ufeff{}", ErrMalformed},
	{"truncated array at top", `[1,2`, ErrMalformed},
	{"array", `[{"from":1}]`, ErrNotObject},
	{"string", `"from"`, ErrNotObject},
	{"number", ` 42 `, ErrNotObject},
	{"null", `null`, ErrNotObject},
}

func TestActivityMalformed(t *testing.T) {
	t.Parallel()
	for _, tt := range malformedTests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Activity([]byte(tt.give), editAll)
			if !errors.Is(err, tt.want) {
				t.Errorf("Activity(%q) = %q, %v; want %v", tt.give, got, err, tt.want)
			}
			if got != nil {
				t.Errorf("Activity(%q) returned a body with its error: %q", tt.give, got)
			}
		})
	}
}

func TestErrorMessages(t *testing.T) {
	t.Parallel()
	tests := []struct {
		give string
		want string
	}{
		{``, "malformed json: at offset 0: expected a json object, found end of input"},
		{`{"a":1}x`, "malformed json: at offset 7: expected end of input, found 'x'"},
		{`{"a":1`, "malformed json: at offset 6: expected ',' or '}' after object member, found end of input"},
		{`{"a":[1 2]}`, "malformed json: at offset 8: expected ',' or ']' after array element, found '2'"},
		{`{"a" 1}`, "malformed json: at offset 5: expected ':' after object key, found '1'"},
		{`{"a":"\x"}`, `malformed json: at offset 7: expected an escape character (one of "\/bfnrtu), found 'x'`},
		{"{\"a\":\"\t\"}", "malformed json: at offset 6: control character 0x09 in string (must be escaped)"},
		{`{"a":"abc`, "malformed json: at offset 9: unterminated string starting at offset 5"},
		{`{"a":nul}`, `malformed json: at offset 8: expected 'l' (in literal null), found '}'`},
		{`[1]`, "json value is not an object: found array"},
	}
	for _, tt := range tests {
		_, err := Activity([]byte(tt.give), editFrom)
		if err == nil || err.Error() != tt.want {
			t.Errorf("Activity(%q) error = %v; want %s", tt.give, err, tt.want)
		}
	}
}
