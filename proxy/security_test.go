package proxy

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/botsidecar/sidecar/internal/fakes"
	"github.com/botsidecar/sidecar/store"
)

// newEvil starts a second fake connector that no channel token vouched for
// and no trust entry names: an attacker's host.
func newEvil(t *testing.T) *fakes.Connector {
	t.Helper()
	evil := fakes.NewConnector(fakes.ConnectorOptions{})
	t.Cleanup(evil.Close)
	return evil
}

// A reference written into the store (a shared Redis anyone on its network
// can write) with "vouched": true does not make its host a token
// destination, and does not vouch for it for later calls either.
func TestStoreIsNotASourceOfTrust(t *testing.T) {
	t.Parallel()
	evil := newEvil(t)
	h := newHarness(t, func(o *OutboundOptions) { o.Transport = evil.Transport() })
	poisoned := store.Reference{ConversationID: "a:1poisoned", ServiceURL: evil.ServiceURL(), Vouched: true, ChannelID: "msteams",
		Bot: json.RawMessage(`{"id":"28:` + testAppID + `"}`), TenantID: "tenant-1"}
	if err := h.store.Put(context.Background(), poisoned); err != nil {
		t.Fatal(err)
	}
	resp, body := h.do("POST", "/v3/conversations/a:1poisoned/activities", `{"type":"message","text":"hi"}`, nil)
	host := strings.TrimPrefix(evil.URL, "https://")
	if resp.StatusCode != http.StatusForbidden || errorCode(t, body) != CodeUntrustedServiceURL ||
		!strings.Contains(string(body), host) || !strings.Contains(string(body), "SIDECAR_TRUSTED_SERVICE_URLS") {
		t.Errorf("send into a poisoned reference = %d %s; want 403 %s naming %s and SIDECAR_TRUSTED_SERVICE_URLS", resp.StatusCode, body, CodeUntrustedServiceURL, host)
	}
	// The refused reference vouched for nothing: the host is still no
	// destination for a call that names it.
	resp, body = h.do("POST", "/v3/conversations/a:1other/activities", `{"type":"message"}`, http.Header{"X-Service-Url": {evil.ServiceURL()}})
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("X-Service-Url naming the poisoned host = %d %s; want 403", resp.StatusCode, body)
	}
	if n := len(evil.Requests()); n != 0 {
		t.Errorf("the attacker's host got %d requests (with the bot's token); want 0", n)
	}
}

// A poisoned tenant pointer (the newest reference of a tenant) does not
// send a create-conversation call, with the token, to its host.
func TestPoisonedTenantPointerIsRefused(t *testing.T) {
	t.Parallel()
	evil := newEvil(t)
	h := newHarness(t, func(o *OutboundOptions) { o.Transport = evil.Transport() })
	if err := h.store.Put(context.Background(), store.Reference{ConversationID: "a:1newest", ServiceURL: evil.ServiceURL(), Vouched: true,
		ChannelID: "msteams", TenantID: "tenant-9"}); err != nil {
		t.Fatal(err)
	}
	resp, body := h.do("POST", "/v3/conversations", `{"isGroup":false,"members":[{"id":"29:u"}],"tenantId":"tenant-9"}`, nil)
	if resp.StatusCode != http.StatusForbidden || errorCode(t, body) != CodeUntrustedServiceURL {
		t.Errorf("create through a poisoned tenant pointer = %d %s; want 403 %s", resp.StatusCode, body, CodeUntrustedServiceURL)
	}
	if n := len(evil.Requests()); n != 0 {
		t.Errorf("the attacker's host got %d requests; want 0", n)
	}
}
