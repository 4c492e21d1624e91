package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestDemo runs `sidecar demo` as the README's first command does and
// checks that its transcript states the facts it claims.
func TestDemo(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"demo"}, nil, &stdout, &stderr); err != nil {
		t.Fatalf("demo: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{
		"POST /api/messages with a channel JWT: 200",
		"the activity, no Authorization, serviceUrl http://127.0.0.1:",
		`"from":{"id":"` + demoAppID + `"} (the raw app id), "serviceUrl":"https://webchat.botframework.com/"`,
		`"from":{"id":"28:` + demoAppID + `"}, "serviceUrl":"https://127.0.0.1:`,
		"POST /amer/v3/conversations/a:1demo-personal-chat/activities/1700000000001",
		"tid=" + demoTenantID + " appid=" + demoAppID + " (signature verified)",
		"(no from, no serviceUrl): 200",
		"400 GroupChatCreationNotSupported",
		"create a 1:1 chat with exactly one member",
		"403 UpstreamErrorWithoutBody, with diagnostics",
		"sent from.id 28:" + demoAppID,
		"tampered signature: 401; the bot was not called",
		"token requests to Entra for everything above: 1",
		"All steps behaved as described.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("transcript lacks %q", want)
		}
	}
	if strings.Contains(out+stderr.String(), demoSecret) {
		t.Error("the demo printed its client secret")
	}
	if strings.Contains(out, "eyJ") {
		t.Error("the demo printed a token")
	}
}
