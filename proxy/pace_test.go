package proxy

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/botsidecar/sidecar/pacing"
)

// keyPacer records the keys it is asked to wait for and admits every call.
type keyPacer struct {
	mu   sync.Mutex
	keys []pacing.Key
}

func (p *keyPacer) Wait(_ context.Context, k pacing.Key) (time.Duration, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.keys = append(p.keys, k)
	return 0, nil
}

// TestPaceKey checks what each kind of call counts against, batch routes
// included: they are paced like sends (per tenant) and reads (per
// operation), not passed by.
func TestPaceKey(t *testing.T) {
	const activity = `{"type":"message","text":"hi"}`
	tests := []struct {
		name, method, path, body string
		want                     pacing.Key
	}{
		{"send", "POST", "/v3/conversations/a:1/activities", activity,
			pacing.Key{Tenant: "tenant-1", Conversation: "a:1", Class: pacing.ClassSend}},
		{"reply", "POST", "/v3/conversations/a:1/activities/act-1", activity,
			pacing.Key{Tenant: "tenant-1", Conversation: "a:1", Class: pacing.ClassSend}},
		{"members", "GET", "/v3/conversations/a:1/members", "",
			pacing.Key{Tenant: "tenant-1", Conversation: "a:1", Class: pacing.ClassRead}},
		{"update", "PUT", "/v3/conversations/a:1/activities/act-1", activity,
			pacing.Key{Tenant: "tenant-1", Conversation: "", Class: pacing.ClassOther}},
		{"create 1:1", "POST", "/v3/conversations", `{"members":[{"id":"29:u"}],"tenantId":"tenant-2","bot":{"id":"28:x"}}`,
			pacing.Key{Tenant: "tenant-2", Conversation: "29:u", Class: pacing.ClassCreate}},
		{"batch users", "POST", "/v3/batch/conversation/users/", `{"members":[{"id":"29:u"}],"activity":` + activity + `,"tenantId":"tenant-2"}`,
			pacing.Key{Tenant: "tenant-2", Conversation: "batch:tenant-2", Class: pacing.ClassSend}},
		{"batch tenant, tenant from config", "POST", "/v3/batch/conversation/tenant", `{"activity":` + activity + `}`,
			pacing.Key{Tenant: "tenant-1", Conversation: "batch:tenant-1", Class: pacing.ClassSend}},
		{"batch team", "POST", "/v3/batch/conversation/team", `{"activity":` + activity + `,"teamId":"19:t","tenantId":"tenant-3"}`,
			pacing.Key{Tenant: "tenant-3", Conversation: "batch:tenant-3", Class: pacing.ClassSend}},
		{"batch channels", "POST", "/v3/batch/conversation/channels", `{"members":[{"id":"19:c"}],"activity":` + activity + `,"tenantId":"tenant-3"}`,
			pacing.Key{Tenant: "tenant-3", Conversation: "batch:tenant-3", Class: pacing.ClassSend}},
		{"batch state", "GET", "/v3/batch/conversation/op-1", "",
			pacing.Key{Tenant: "tenant-1", Conversation: "batch-operation:op-1", Class: pacing.ClassRead}},
		{"batch failed entries", "GET", "/v3/batch/conversation/failedentries/op-1", "",
			pacing.Key{Tenant: "tenant-1", Conversation: "batch-operation:op-1", Class: pacing.ClassRead}},
		{"batch cancel", "DELETE", "/v3/batch/conversation/op-1", "",
			pacing.Key{Tenant: "tenant-1", Conversation: "", Class: pacing.ClassOther}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &keyPacer{}
			h := newHarness(t, func(o *OutboundOptions) { o.Pacer = p })
			h.putRef("a:1")
			hdr := http.Header{"X-Service-Url": {h.serviceURL}}
			if resp, body := h.do(tt.method, tt.path, tt.body, hdr); resp.StatusCode >= 300 {
				t.Fatalf("%s %s = %d %s; want success", tt.method, tt.path, resp.StatusCode, body)
			}
			tt.want.Bot = testAppID
			if len(p.keys) != 1 || p.keys[0] != tt.want {
				t.Errorf("paced as %+v; want [%+v]", p.keys, tt.want)
			}
		})
	}
}
