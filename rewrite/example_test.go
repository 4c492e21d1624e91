package rewrite_test

import (
	"encoding/json"
	"fmt"

	"github.com/botsidecar/sidecar/rewrite"
)

// A bot behind the sidecar replies as itself; the sidecar makes the reply
// come from the bot's channel account and pins the upstream. The unusual
// number and the escapes arrive exactly as the bot wrote them.
func ExampleActivity() {
	reply := []byte(`{"type":"message","text":"caf\u00e9 \ud83d\ude80","seq":12345678901234567890,"serviceUrl":"http://127.0.0.1:3979/"}`)
	out, err := rewrite.Activity(reply, rewrite.Edit{
		From:       json.RawMessage(`{"id":"28:0b7e6c1e","name":"Echo Bot"}`),
		ServiceURL: "https://smba.trafficmanager.net/emea/",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(out))
	// Output:
	// {"type":"message","text":"caf\u00e9 \ud83d\ude80","seq":12345678901234567890,"serviceUrl":"https://smba.trafficmanager.net/emea/","from":{"id":"28:0b7e6c1e","name":"Echo Bot"}}
}

// Inbound, the sidecar reads what it must check and store before the
// activity reaches the bot.
func ExampleInspect() {
	activity := []byte(`{"type":"message","serviceUrl":"https://smba.trafficmanager.net/emea/","channelId":"msteams",
		"conversation":{"id":"a:1Xyz","tenantId":"72f988bf"},"channelData":{"tenant":{"id":"72f988bf"}}}`)
	f, err := rewrite.Inspect(activity)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(f.ServiceURL, f.ConversationID, f.ChannelDataTenantID)
	// Output:
	// https://smba.trafficmanager.net/emea/ a:1Xyz 72f988bf
}

// Malformed bodies are refused with an error that says where and why.
func ExampleActivity_malformed() {
	_, err := rewrite.Activity([]byte(`{"text":"hi"`), rewrite.Edit{ServiceURL: "https://smba.trafficmanager.net/emea/"})
	fmt.Println(err)
	// Output:
	// malformed json: at offset 12: expected ',' or '}' after object member, found end of input
}
