package proxy

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/botsidecar/sidecar/rewrite"
)

func TestCaptured(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		give string
		want []string // conversation ids stored, in order
	}{
		{"personal", `{"type":"message","channelId":"msteams","serviceUrl":"https://smba.trafficmanager.net/amer/","conversation":{"id":"a:1"}}`, []string{"a:1"}},
		{"thread of a channel", `{"type":"message","channelId":"msteams","serviceUrl":"https://s/","conversation":{"id":"19:c@thread.tacv2;messageid=42"},` +
			`"channelData":{"tenant":{"id":"t1"},"team":{"id":"19:team@thread.tacv2"},"channel":{"id":"19:c@thread.tacv2"}}}`,
			[]string{"19:c@thread.tacv2;messageid=42", "19:c@thread.tacv2", "19:team@thread.tacv2"}},
		{"thread, channel from the id", `{"type":"message","channelId":"msteams","serviceUrl":"https://s/","conversation":{"id":"19:c@thread.tacv2;messageid=42"}}`,
			[]string{"19:c@thread.tacv2;messageid=42", "19:c@thread.tacv2"}},
		{"the General channel is the team", `{"type":"message","channelId":"msteams","serviceUrl":"https://s/","conversation":{"id":"19:g@thread.tacv2;messageid=1"},` +
			`"channelData":{"team":{"id":"19:g@thread.tacv2"},"channel":{"id":"19:g@thread.tacv2"}}}`,
			[]string{"19:g@thread.tacv2;messageid=1", "19:g@thread.tacv2"}},
		{"not teams", `{"type":"message","channelId":"webchat","serviceUrl":"https://s/","conversation":{"id":"x;messageid=1"}}`, []string{"x;messageid=1"}},
		{"no conversation", `{"type":"message","channelId":"msteams","serviceUrl":"https://s/"}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := rewrite.Inspect([]byte(tt.give))
			if err != nil {
				t.Fatal(err)
			}
			refs := captured(f, true, "", now)
			var got []string
			for i, r := range refs {
				got = append(got, r.ConversationID)
				if r.ServiceURL != f.ServiceURL || !r.Vouched || !r.UpdatedAt.Equal(now) {
					t.Errorf("ref %d = %+v; want the activity's service URL, vouched, now", i, r)
				}
				if i > 0 {
					var conv channelConversation
					if err := json.Unmarshal(r.Conversation, &conv); err != nil || conv.ID != r.ConversationID || r.User != nil {
						t.Errorf("alias %s: conversation %s, user %s; want its own id and no user", r.ConversationID, r.Conversation, r.User)
					}
				}
			}
			if len(got) != len(tt.want) {
				t.Fatalf("captured ids = %q; want %q", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("captured ids = %q; want %q", got, tt.want)
				}
			}
		})
	}
}
