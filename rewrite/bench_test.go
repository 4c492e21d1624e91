package rewrite

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"
)

func readTestdata(b *testing.B, name string) []byte {
	body, err := os.ReadFile("testdata/" + name)
	if err != nil {
		b.Fatal(err)
	}
	return body
}

// BenchmarkActivity measures the per-request cost on a realistic 2.4 KB
// Teams message, pretty-printed as in testdata and compact as channels
// send it.
func BenchmarkActivity(b *testing.B) {
	pretty := readTestdata(b, "teams_message.json")
	var compact bytes.Buffer
	if err := json.Compact(&compact, pretty); err != nil {
		b.Fatal(err)
	}
	benchmarks := []struct {
		name string
		edit Edit
	}{
		// A bot's reply: new sender, upstream pinned (already right here).
		{"outbound", Edit{From: goldenEdit.From, ServiceURL: goldenEdit.ServiceURL}},
		// An inbound activity: serviceUrl replaced by the sidecar's.
		{"inbound", Edit{ServiceURL: "http://127.0.0.1:3979/"}},
		// Everything, though only from and serviceUrl change.
		{"all", goldenEdit},
	}
	for _, body := range []struct {
		name string
		b    []byte
	}{{"pretty", pretty}, {"compact", compact.Bytes()}} {
		for _, bm := range benchmarks {
			b.Run(body.name+"/"+bm.name, func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(body.b)))
				for b.Loop() {
					if _, err := Activity(body.b, bm.edit); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkActivityUnchanged is the no-op path: a body that already says
// the right things is validated and returned without a copy.
func BenchmarkActivityUnchanged(b *testing.B) {
	body := readTestdata(b, "teams_message.json")
	e := Edit{ServiceURL: "https://smba.trafficmanager.net/emea/"}
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := Activity(body, e); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkJSONValid is the floor to compare with: encoding/json only
// validating the same body.
func BenchmarkJSONValid(b *testing.B) {
	body := readTestdata(b, "teams_message.json")
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if !json.Valid(body) {
			b.Fatal("invalid")
		}
	}
}

func BenchmarkInspect(b *testing.B) {
	body := readTestdata(b, "teams_message.json")
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := Inspect(body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkConversation(b *testing.B) {
	body := readTestdata(b, "create_conversation.json")
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := Conversation(body, goldenBot, goldenTenant, goldenEdit); err != nil {
			b.Fatal(err)
		}
	}
}
