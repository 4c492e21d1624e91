package proxy

import (
	"net/http"
	"strings"
	"testing"
)

func TestMatchRoute(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		method      string
		give        string
		wantPattern string // "" = no route
		wantConv    string
		wantErr     bool
	}{
		{"send", "POST", "/v3/conversations/a%3A1abc/activities", "/v3/conversations/{conversationId}/activities", "a:1abc", false},
		{"send trailing slash", "POST", "/v3/conversations/a:1abc/activities/", "/v3/conversations/{conversationId}/activities", "a:1abc", false},
		{"send raw teams id", "POST", "/v3/conversations/19:abc@thread.tacv2;messageid=1712/activities", "/v3/conversations/{conversationId}/activities", "19:abc@thread.tacv2;messageid=1712", false},
		{"send encoded teams id", "POST", "/v3/conversations/19%3Aabc%40thread.tacv2%3Bmessageid%3D1712/activities", "/v3/conversations/{conversationId}/activities", "19:abc@thread.tacv2;messageid=1712", false},
		{"escaped slash stays in id", "POST", "/v3/conversations/a%2Fb/activities", "/v3/conversations/{conversationId}/activities", "a/b", false},
		{"reply", "POST", "/v3/conversations/c1/activities/42", "/v3/conversations/{conversationId}/activities/{activityId}", "c1", false},
		{"update", "PUT", "/v3/conversations/c1/activities/42", "/v3/conversations/{conversationId}/activities/{activityId}", "c1", false},
		{"delete", "DELETE", "/v3/conversations/c1/activities/42", "/v3/conversations/{conversationId}/activities/{activityId}", "c1", false},
		{"history", "POST", "/v3/conversations/c1/activities/history", "/v3/conversations/{conversationId}/activities/history", "c1", false},
		{"activity members", "GET", "/v3/conversations/c1/activities/42/members", "/v3/conversations/{conversationId}/activities/{activityId}/members", "c1", false},
		{"reaction", "PUT", "/v3/conversations/c1/activities/42/reactions/like", "/v3/conversations/{conversationId}/activities/{activityId}/reactions/{reactionType}", "c1", false},
		{"members", "GET", "/v3/conversations/c1/members", "/v3/conversations/{conversationId}/members", "c1", false},
		{"member", "GET", "/v3/conversations/c1/members/29:x", "/v3/conversations/{conversationId}/members/{memberId}", "c1", false},
		{"remove member", "DELETE", "/v3/conversations/c1/members/29:x", "/v3/conversations/{conversationId}/members/{memberId}", "c1", false},
		{"paged members", "GET", "/v3/conversations/c1/pagedmembers", "/v3/conversations/{conversationId}/pagedmembers", "c1", false},
		{"paged members, Agents SDK spelling", "GET", "/v3/conversations/c1/pagedMembers", "/v3/conversations/{conversationId}/pagedmembers", "c1", false},
		{"fixed words ignore ascii case", "POST", "/V3/Conversations/c1/Activities", "/v3/conversations/{conversationId}/activities", "c1", false},
		{"batch, any case", "POST", "/v3/batch/Conversation/Users/", "/v3/batch/conversation/users", "", false},
		{"unicode look-alike is no route", "GET", "/v3/conversations/c1/pagedmembersſ", "", "", false},
		{"long s is not s", "GET", "/v3/converſations/c1/members", "", "", false},
		{"upload", "POST", "/v3/conversations/c1/attachments", "/v3/conversations/{conversationId}/attachments", "c1", false},
		{"create", "POST", "/v3/conversations", "/v3/conversations", "", false},
		{"list", "GET", "/v3/conversations", "/v3/conversations", "", false},
		{"attachment", "GET", "/v3/attachments/att1", "/v3/attachments/{attachmentId}", "", false},
		{"attachment view", "GET", "/v3/attachments/att1/views/original", "/v3/attachments/{attachmentId}/views/{viewId}", "", false},
		{"team", "GET", "/v3/teams/19:team@thread.tacv2", "/v3/teams/{teamId}", "19:team@thread.tacv2", false},
		{"team channels", "GET", "/v3/teams/19:team@thread.tacv2/conversations", "/v3/teams/{teamId}/conversations", "19:team@thread.tacv2", false},
		{"meeting", "GET", "/v1/meetings/m1", "/v1/meetings/{meetingId}", "", false},
		{"participant", "GET", "/v1/meetings/m1/participants/29:x", "/v1/meetings/{meetingId}/participants/{participantId}", "", false},
		{"notification", "POST", "/v1/meetings/m1/notification", "/v1/meetings/{meetingId}/notification", "", false},
		{"batch users", "POST", "/v3/batch/conversation/users/", "/v3/batch/conversation/users", "", false},
		{"batch tenant", "POST", "/v3/batch/conversation/tenant", "/v3/batch/conversation/tenant", "", false},
		{"batch state", "GET", "/v3/batch/conversation/op1", "/v3/batch/conversation/{operationId}", "", false},
		{"batch cancel", "DELETE", "/v3/batch/conversation/op1", "/v3/batch/conversation/{operationId}", "", false},
		{"batch failed", "GET", "/v3/batch/conversation/failedentries/op1", "/v3/batch/conversation/failedentries/{operationId}", "", false},
		{"wrong method", "PATCH", "/v3/conversations/c1/activities", "", "", false},
		{"unknown", "GET", "/v3/nothing", "", "", false},
		{"root", "GET", "/", "", "", false},
		{"double slash", "POST", "/v3//conversations", "", "", false},
		{"too long", "GET", "/v3/conversations/c/activities/1/members/x/y/z/w", "", "", false},
		{"dot dot", "POST", "/v3/conversations/../activities", "", "", true},
		{"encoded dot dot", "POST", "/v3/conversations/%2e%2E/activities", "", "", true},
		{"dot", "POST", "/v3/./conversations", "", "", true},
		{"dot dot behind escaped slash", "POST", "/v3/conversations/x%2F..%2F..%2Fteams/activities", "", "", true},
		{"bad escape", "POST", "/v3/conversations/%zz/activities", "", "", true},
		{"relative", "GET", "v3/conversations", "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := matchRoute(tt.method, tt.give)
			if (err != nil) != tt.wantErr {
				t.Fatalf("matchRoute(%q, %q) error = %v; want error %v", tt.method, tt.give, err, tt.wantErr)
			}
			got := ""
			if m.route != nil {
				got = m.route.pattern
			}
			if got != tt.wantPattern {
				t.Fatalf("matchRoute(%q, %q) = %q; want %q", tt.method, tt.give, got, tt.wantPattern)
			}
			if m.conversationID != tt.wantConv {
				t.Errorf("matchRoute(%q, %q).conversationID = %q; want %q", tt.method, tt.give, m.conversationID, tt.wantConv)
			}
		})
	}
}

// TestRouteTable checks the table's own invariants: every row parses into
// segments, a conversation route names its segment, and no two rows match
// the same method and shape (the first would hide the second).
func TestRouteTable(t *testing.T) {
	t.Parallel()
	seen := map[string]string{}
	for _, r := range routeTable {
		key := r.method + " " + strings.Join(r.segments, "/")
		if prev, ok := seen[key]; ok {
			t.Errorf("route %s %s is hidden by %s", r.method, r.pattern, prev)
		}
		seen[key] = r.pattern
		if strings.Contains(r.pattern, "{conversationId}") || strings.Contains(r.pattern, "{teamId}") {
			if r.conversation < 0 {
				t.Errorf("route %s names a conversation but has no conversation segment", r.pattern)
			}
		} else if r.conversation >= 0 {
			t.Errorf("route %s has a conversation segment but names none", r.pattern)
		}
		if (r.body == bodyCreate || r.body == bodyNested) && r.tenant != tenantBody {
			t.Errorf("route %s: a create or batch names its tenant in the body", r.pattern)
		}
	}
}

func FuzzMatchRoute(f *testing.F) {
	for _, s := range []string{"/v3/conversations/a%3A1/activities", "/v3/conversations/19:x@thread.tacv2;messageid=1/activities/2", "/v3/%2e%2e/x", "/v1/meetings/m/participants/p",
		"/v3/conversations/c/activities/a%2F..%2Fb/reactions/like", "/v3/batch/conversation/failedentries/%2e"} {
		f.Add(http.MethodPost, s)
		f.Add(http.MethodPut, s)
		f.Add(http.MethodGet, s)
	}
	f.Fuzz(func(t *testing.T, method, path string) {
		m, err := matchRoute(method, path)
		if err != nil || m.route == nil {
			return
		}
		// No accepted segment, whichever route parameter it fills, holds a
		// segment an upstream would resolve, or is empty.
		if m.n != len(m.route.segments) {
			t.Fatalf("matchRoute(%q) matched %d segments to %s", path, m.n, m.route.pattern)
		}
		for i, seg := range m.segments[:m.n] {
			if seg == "" || hasDotSegment(seg) {
				t.Fatalf("matchRoute(%q) accepted segment %d %q", path, i, seg)
			}
			if want := m.route.segments[i]; want != "" && !strings.EqualFold(seg, want) {
				t.Fatalf("matchRoute(%q) matched segment %q to %q of %s", path, seg, want, m.route.pattern)
			}
		}
		if m.route.conversation >= 0 && m.conversationID != m.segments[m.route.conversation] {
			t.Fatalf("matchRoute(%q).conversationID = %q; want segment %d", path, m.conversationID, m.route.conversation)
		}
	})
}
