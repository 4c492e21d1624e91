package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// A Teams channel message teaches the sidecar its channel and team: the
// bot can then reply in another thread, post a new top-level message (the
// bare channel id, as the Agents SDK's continueConversation sends it), and
// read the team's details and members, all without a reference of its own.
func TestIntegrationTeamsChannelIdsResolve(t *testing.T) {
	s := startStack(t, map[string]string{"SIDECAR_TRUSTED_SERVICE_URLS": ""}) // trusted only by the token's vouching
	s.waitReady()
	su := s.conn.ServiceURL()
	const (
		channel = "19:chan@thread.tacv2"
		team    = "19:team@thread.tacv2"
	)
	activity := `{"type":"message","id":"1","serviceUrl":"` + su + `","channelId":"msteams",` +
		`"from":{"id":"29:user-1"},"recipient":{"id":"28:` + itAppID + `"},` +
		`"conversation":{"isGroup":true,"conversationType":"channel","tenantId":"` + itTenant + `","id":"` + channel + `;messageid=1"},` +
		`"channelData":{"tenant":{"id":"` + itTenant + `"},"team":{"id":"` + team + `"},"channel":{"id":"` + channel + `"}},"text":"hi"}`
	if status, body := s.postInbound("Bearer "+s.channel.Token(itAppID, su), activity); status != 200 {
		t.Fatalf("inbound = %d %s; want 200", status, body)
	}
	for _, tt := range []struct{ method, path, body string }{
		{"POST", "/v3/conversations/" + channel + ";messageid=7/activities", `{"type":"message","text":"another thread"}`},
		{"POST", "/v3/conversations/" + channel + "/activities", `{"type":"message","text":"a new post"}`},
		{"GET", "/v3/teams/" + team, ""},
		{"GET", "/v3/teams/" + team + "/conversations", ""},
		{"GET", "/v3/conversations/" + team + "/pagedMembers?pageSize=10", ""},
	} {
		s.conn.Reset()
		req, _ := http.NewRequest(tt.method, s.base+tt.path, strings.NewReader(tt.body))
		if tt.body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			t.Errorf("%s %s = %d %s; want it resolved", tt.method, tt.path, resp.StatusCode, b)
			continue
		}
		reqs := s.conn.Requests()
		if len(reqs) != 1 || reqs[0].RawURI != "/amer"+tt.path {
			t.Errorf("%s %s: connector got %v; want the path at the channel's service URL", tt.method, tt.path, reqs)
		}
	}
}
