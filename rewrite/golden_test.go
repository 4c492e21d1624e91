package rewrite

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the testdata/*.golden.json files from the current output")

// goldenEdit is what the sidecar does to a Teams bot's reply: the bot
// account as sender, the pinned upstream, and the reference's conversation,
// channel and user for whatever the bot left out.
var goldenEdit = Edit{
	From:         json.RawMessage(`{"id":"28:0b7e6c1e-5c7a-4b8e-9a3f-1d2c3b4a5e6f","name":"Echo Bot"}`),
	ServiceURL:   "https://smba.trafficmanager.net/emea/",
	Conversation: json.RawMessage(`{"id":"19:a1b2c3d4e5f60718293a4b5c6d7e8f90@thread.tacv2","tenantId":"72f988bf-86f1-41af-91ab-2d7cd011db47"}`),
	ChannelID:    "msteams",
	Recipient:    json.RawMessage(`{"id":"29:1a2B3c4D5e6F7g8H9i0JkLmNoPqRsTuVwXyZ","name":"Zoë Müller"}`),
}

const goldenTenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"

var goldenBot = json.RawMessage(`{"id":"28:0b7e6c1e-5c7a-4b8e-9a3f-1d2c3b4a5e6f","name":"Echo Bot"}`)

// goldenTests name each testdata input (without .json) and the call that
// turns it into its golden output.
var goldenTests = []struct {
	name  string
	apply func([]byte) ([]byte, error)
	check func(t *testing.T, in, out []byte) // the "unchanged elsewhere" property
}{
	{"teams_message", applyActivity, checkActivity},
	{"escaped_keys", applyActivity, checkActivity},
	{"empty_object", applyActivity, checkActivity},
	{"create_conversation", func(b []byte) ([]byte, error) {
		return Conversation(b, goldenBot, goldenTenant, goldenEdit)
	}, checkWrapper("bot", "tenantId")},
	{"history", func(b []byte) ([]byte, error) { return Transcript(b, goldenEdit) }, checkTranscript},
	{"batch", func(b []byte) ([]byte, error) { return Nested(b, goldenTenant, goldenEdit) }, checkWrapper("tenantId")},
}

func applyActivity(b []byte) ([]byte, error) { return Activity(b, goldenEdit) }

func TestGolden(t *testing.T) {
	t.Parallel()
	for _, tt := range goldenTests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			source := filepath.Join("testdata", tt.name+".json")
			golden := filepath.Join("testdata", tt.name+".golden.json")
			in, err := os.ReadFile(source)
			if err != nil {
				t.Fatal(err)
			}
			out, err := tt.apply(in)
			if err != nil {
				t.Fatalf("%s: %v", source, err)
			}
			if !json.Valid(out) {
				t.Fatalf("%s: output is not valid JSON:\n%s", source, out)
			}
			tt.check(t, in, out)
			if *update {
				if err := os.WriteFile(golden, out, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if d := firstDiff(out, want); d != "" {
				t.Errorf("%s: output differs from %s (run go test -update to accept):\n%s", source, golden, d)
			}
			// Idempotence: the golden output is already rewritten.
			again, err := tt.apply(want)
			if err != nil {
				t.Fatalf("%s: %v", golden, err)
			}
			if d := firstDiff(again, want); d != "" {
				t.Errorf("%s: editing it again changes it:\n%s", golden, d)
			}
		})
	}
}

// TestGoldenCoversTestdata makes sure a new input file gets a golden file.
func TestGoldenCoversTestdata(t *testing.T) {
	t.Parallel()
	inputs, err := filepath.Glob("testdata/*.json")
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for _, tt := range goldenTests {
		known[tt.name] = true
	}
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".json")
		if strings.HasSuffix(name, ".golden") {
			continue
		}
		if !known[name] {
			t.Errorf("%s has no entry in goldenTests", in)
		}
	}
}

// firstDiff describes the first difference between got and want, or
// returns "" when they are equal.
func firstDiff(got, want []byte) string {
	if bytes.Equal(got, want) {
		return ""
	}
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	from := max(i-40, 0)
	return fmt.Sprintf("at offset %d:\ngot:  ...%s\nwant: ...%s", i, got[from:min(i+40, len(got))], want[from:min(i+40, len(want))])
}
