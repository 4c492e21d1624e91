package rewrite

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// These helpers check the package's promise from the outside: decode the
// input and the output with encoding/json (numbers kept as written) and
// compare. Only the members an edit names may differ, and those must hold
// what the edit says.

var activityFields = []string{"from", "serviceUrl", "conversation", "channelId", "recipient"}

// decodeObject decodes a JSON object, keeping numbers as json.Number.
func decodeObject(b []byte) (map[string]any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		return nil, err
	}
	return m, nil
}

// decodeValue decodes one JSON value, keeping numbers as json.Number.
func decodeValue(b []byte) any {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	_ = d.Decode(&v)
	return v
}

// roundTrip is what a reader sees of a string the sidecar writes.
func roundTrip(s string) any {
	b, _ := json.Marshal(s)
	return decodeValue(b)
}

// matchesAny reports whether key names one of names, as the editor matches.
func matchesAny(key string, names []string) bool {
	for _, n := range names {
		if strings.EqualFold(key, n) {
			return true
		}
	}
	return false
}

// othersProblems lists the members, other than those matching names, that
// differ between in and out.
func othersProblems(in, out map[string]any, names []string) []string {
	var probs []string
	for k, v := range in {
		if matchesAny(k, names) {
			continue
		}
		if got, ok := out[k]; !ok || !reflect.DeepEqual(got, v) {
			probs = append(probs, fmt.Sprintf("member %q = %v; want %v", k, got, v))
		}
	}
	for k := range out {
		if _, ok := in[k]; !ok && !matchesAny(k, names) {
			probs = append(probs, fmt.Sprintf("member %q added", k))
		}
	}
	return probs
}

// activityProblems lists how out fails to be in with e applied.
func activityProblems(in, out map[string]any, e Edit) []string {
	probs := othersProblems(in, out, activityFields)
	// from and serviceUrl: every spelling holds the new value, and the
	// exact spelling exists.
	always := func(name string, want any) {
		if _, ok := out[name]; !ok {
			probs = append(probs, fmt.Sprintf("member %q missing", name))
		}
		for k, v := range out {
			if strings.EqualFold(k, name) && !reflect.DeepEqual(v, want) {
				probs = append(probs, fmt.Sprintf("member %q = %v; want %v", k, v, want))
			}
		}
	}
	if len(e.From) > 0 {
		always("from", decodeValue(e.From))
	}
	if e.ServiceURL != "" {
		always("serviceUrl", roundTrip(e.ServiceURL))
	}
	// The others: each empty member is filled; a missing one is added.
	fill := func(name string, set bool, want any, empty func(any) bool) {
		present := false
		for k, v := range in {
			if !strings.EqualFold(k, name) {
				continue
			}
			present = true
			if set && empty(v) {
				v = want
			}
			if got, ok := out[k]; !ok || !reflect.DeepEqual(got, v) {
				probs = append(probs, fmt.Sprintf("member %q = %v; want %v", k, got, v))
			}
		}
		got, ok := out[name]
		switch {
		case !present && set && (!ok || !reflect.DeepEqual(got, want)):
			probs = append(probs, fmt.Sprintf("member %q = %v; want %v", name, got, want))
		case !present && !set && ok:
			probs = append(probs, fmt.Sprintf("member %q added", name))
		}
	}
	isNull := func(v any) bool { return v == nil }
	isEmpty := func(v any) bool { return v == nil || v == "" }
	fill("conversation", len(e.Conversation) > 0, decodeValue(e.Conversation), isNull)
	fill("channelId", e.ChannelID != "", roundTrip(e.ChannelID), isEmpty)
	fill("recipient", len(e.Recipient) > 0, decodeValue(e.Recipient), isNull)
	return probs
}

// checkActivityEdit fails t if out is not in with e applied.
func checkActivityEdit(t testing.TB, in, out []byte, e Edit) {
	t.Helper()
	inMap, err := decodeObject(in)
	if err != nil {
		t.Fatalf("decode input %q: %v", in, err)
	}
	outMap, err := decodeObject(out)
	if err != nil {
		t.Fatalf("decode output %q: %v", out, err)
	}
	for _, p := range activityProblems(inMap, outMap, e) {
		t.Errorf("Activity(%.200q): %s", in, p)
	}
}

func checkActivity(t *testing.T, in, out []byte) {
	checkActivityEdit(t, in, out, goldenEdit)
}

// checkWrapper checks a body holding one activity (create-conversation,
// batch): members other than activity and names are unchanged, and the
// activity got goldenEdit.
func checkWrapper(names ...string) func(t *testing.T, in, out []byte) {
	return func(t *testing.T, in, out []byte) {
		t.Helper()
		inMap, outMap := mustDecode(t, in), mustDecode(t, out)
		for _, p := range othersProblems(inMap, outMap, append(names, "activity")) {
			t.Error(p)
		}
		inAct, ok := inMap["activity"].(map[string]any)
		if !ok {
			return
		}
		outAct, _ := outMap["activity"].(map[string]any)
		for _, p := range activityProblems(inAct, outAct, goldenEdit) {
			t.Errorf("activity: %s", p)
		}
	}
}

// checkTranscript checks a history body: every object in activities got
// goldenEdit and everything else is unchanged.
func checkTranscript(t *testing.T, in, out []byte) {
	t.Helper()
	inMap, outMap := mustDecode(t, in), mustDecode(t, out)
	for _, p := range othersProblems(inMap, outMap, []string{"activities"}) {
		t.Error(p)
	}
	inActs, _ := inMap["activities"].([]any)
	outActs, _ := outMap["activities"].([]any)
	if len(inActs) != len(outActs) {
		t.Fatalf("activities: %d elements; want %d", len(outActs), len(inActs))
	}
	for i := range inActs {
		inAct, ok := inActs[i].(map[string]any)
		if !ok {
			if !reflect.DeepEqual(outActs[i], inActs[i]) {
				t.Errorf("activities[%d] = %v; want %v", i, outActs[i], inActs[i])
			}
			continue
		}
		outAct, _ := outActs[i].(map[string]any)
		for _, p := range activityProblems(inAct, outAct, goldenEdit) {
			t.Errorf("activities[%d]: %s", i, p)
		}
	}
}

func mustDecode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	m, err := decodeObject(b)
	if err != nil {
		t.Fatalf("decode %q: %v", b, err)
	}
	return m
}

// TestUnchangedOutsideRewrittenFields runs the property over every table
// row (the golden files get it in TestGolden).
func TestUnchangedOutsideRewrittenFields(t *testing.T) {
	t.Parallel()
	for _, tt := range activityTests {
		out, err := Activity([]byte(tt.give), tt.edit)
		if err != nil {
			t.Fatalf("Activity(%q) error: %v", tt.give, err)
		}
		checkActivityEdit(t, []byte(tt.give), out, tt.edit)
	}
	for _, tt := range conversationTests {
		out, err := Conversation([]byte(tt.give), json.RawMessage(tt.bot), tt.tenantID, tt.edit)
		if err != nil {
			t.Fatalf("Conversation(%q) error: %v", tt.give, err)
		}
		inMap, outMap := mustDecode(t, []byte(tt.give)), mustDecode(t, out)
		for _, p := range othersProblems(inMap, outMap, []string{"bot", "tenantId", "activity"}) {
			t.Errorf("Conversation(%q): %s", tt.give, p)
		}
	}
}
