package proxy

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestTeamsCreateConversationTable plays every create-conversation shape
// of the field reports: the shapes Teams accepts reach the
// connector (201), the ones it rejects with a bare BadSyntax are answered
// locally with a code and a message that says what to do instead.
func TestTeamsCreateConversationTable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		give       string
		noTenant   bool // the bot is multi-tenant and the body names none
		wantStatus int
		wantCode   string
		wantInMsg  string
	}{
		{"1:1 personal chat", `{"isGroup":false,"members":[{"id":"29:user-2"}]}`, false, 201, "", ""},
		{"1:1 with bot", `{"isGroup":false,"bot":{"id":"28:` + testAppID + `"},"members":[{"id":"29:user-2"}]}`, false, 201, "", ""},
		{"1:1 with initial activity", `{"isGroup":false,"members":[{"id":"29:user-2"}],"activity":{"type":"message","text":"hi"}}`, false, 201, "", ""},
		{"1:1 isGroup omitted", `{"members":[{"id":"29:user-2"}],"tenantId":"tenant-1"}`, false, 201, "", ""},
		{"channel thread", `{"isGroup":true,"channelData":{"channel":{"id":"19:general@thread.tacv2"}},"activity":{"type":"message","text":"new thread"}}`, false, 201, "", ""},
		{"channel thread, members ignored", `{"isGroup":true,"members":[{"id":"29:a"},{"id":"29:b"}],"channelData":{"channel":{"id":"19:general@thread.tacv2"}},"activity":{"type":"message"}}`, false, 201, "", ""},
		{"channel thread, no activity", `{"isGroup":true,"channelData":{"channel":{"id":"19:general@thread.tacv2"}}}`, false, 400, CodeChannelThreadNoActivity, "activity"},
		{"channel thread, no activity, members", `{"isGroup":true,"members":[{"id":"29:a"}],"channelData":{"channel":{"id":"19:general@thread.tacv2"}}}`, false, 400, CodeChannelThreadNoActivity, "activity"},
		{"group chat, 1 member", `{"isGroup":true,"members":[{"id":"29:a"}]}`, false, 400, CodeGroupChatNotSupported, "1:1"},
		{"group chat, 3 members, bot, topic", `{"isGroup":true,"bot":{"id":"28:x"},"topicName":"t","members":[{"id":"29:a"},{"id":"29:b"},{"id":"29:c"}],"tenantId":"tenant-1"}`, false, 400, CodeGroupChatNotSupported, "channel thread"},
		{"group chat with activity", `{"isGroup":true,"members":[{"id":"29:a"},{"id":"29:b"}],"activity":{"type":"message"}}`, false, 400, CodeGroupChatNotSupported, ""},
		{"1:1 with no members", `{"isGroup":false,"members":[]}`, false, 400, CodeOneOnOneMembers, "exactly one member"},
		{"1:1 with two members", `{"isGroup":false,"members":[{"id":"29:a"},{"id":"29:b"}]}`, false, 400, CodeOneOnOneMembers, "batch"},
		{"1:1 with an Entra object id", `{"isGroup":false,"members":[{"id":"5b1c2f3e-8a9b-4c0d-9e1f-2a3b4c5d6e7f"}]}`, false, 400, CodeMemberNotTeamsID, "29:"},
		{"no tenant can be filled", `{"isGroup":false,"members":[{"id":"29:user-2"}]}`, true, 400, CodeTenantRequired, "tenantId"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, func(o *OutboundOptions) {
				if tt.noTenant {
					o.TenantID = ""
				}
			})
			header := http.Header{}
			if tt.noTenant {
				// No reference of a tenant to resolve through: name the host.
				header.Set("X-Service-Url", "https://smba.trafficmanager.net/amer/")
				h.handler.opts.Transport = failTransport{t}
			} else {
				h.putRef("a:1personal")
			}
			resp, body := h.do("POST", "/v3/conversations", tt.give, header)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d %s; want %d", resp.StatusCode, body, tt.wantStatus)
			}
			if tt.wantCode == "" {
				m := decode(t, h.onlyRequest().Body)
				if m["tenantId"] != "tenant-1" || m["bot"] == nil {
					t.Errorf("accepted create sent %v; want tenantId and bot filled", m)
				}
				return
			}
			var e errorBody
			_ = json.Unmarshal(body, &e)
			if e.Error.Code != tt.wantCode || !strings.Contains(e.Error.Message, tt.wantInMsg) {
				t.Errorf("error = %+v; want code %s and a message mentioning %q", e.Error, tt.wantCode, tt.wantInMsg)
			}
			if len(h.conn.Requests()) != 0 {
				t.Error("a refused create reached the connector")
			}
		})
	}
}

// Non-Teams channels get no Teams rules: a group create passes through.
func TestCreateConversationChecksOnlyForTeams(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ref := h.putRef("webchat-conv")
	ref.ChannelID = "webchat"
	ref.Bot = json.RawMessage(`{"id":"bot-handle"}`)
	ref.TenantID = "tenant-1"
	_ = h.store.Put(t.Context(), ref)
	// The fake's host is 127.0.0.1, not a Teams host.
	resp, body := h.do("POST", "/v3/conversations", `{"isGroup":true,"members":[{"id":"u1"},{"id":"u2"}]}`, nil)
	if resp.StatusCode == 400 && strings.Contains(string(body), CodeGroupChatNotSupported) {
		t.Fatalf("Teams rule applied to a webchat conversation: %s", body)
	}
	if len(h.conn.Requests()) != 1 {
		t.Errorf("connector requests = %d; want 1", len(h.conn.Requests()))
	}
}

// failTransport fails the test if anything is sent.
type failTransport struct{ t *testing.T }

func (f failTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	f.t.Errorf("unexpected upstream call to %s", r.URL.Host)
	return nil, http.ErrHandlerTimeout
}
