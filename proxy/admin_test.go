package proxy

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/botsidecar/sidecar/store"
	"github.com/botsidecar/sidecar/store/memstore"
)

// adminWithReference returns the admin handler with /references mounted
// as the sidecar mounts it, over a store holding one reference with
// personal data.
func adminWithReference(t *testing.T, access ReferenceAccess) (*Admin, string) {
	t.Helper()
	mem, err := memstore.New(4)
	if err != nil {
		t.Fatal(err)
	}
	const id = "a:1conv"
	ref := store.Reference{ConversationID: id, ServiceURL: "https://smba.trafficmanager.net/teams/", ChannelID: "msteams"}
	ref.User = json.RawMessage(`{"id":"29:user","name":"Ada Lovelace","aadObjectId":"00000000-0000-0000-0000-00000000a0a0"}`)
	if err := mem.Put(context.Background(), ref); err != nil {
		t.Fatal(err)
	}
	return NewAdmin(nil, map[string]http.Handler{"GET /references/{conversationId}": ReferenceHandler(mem, access)}), id
}

// TestReferencesLoopbackOnly: by default /references answers only a
// connection that comes from and arrives on loopback; probes and metrics
// answer anyone.
func TestReferencesLoopbackOnly(t *testing.T) {
	t.Parallel()
	admin, id := adminWithReference(t, ReferencesLoopback)
	tests := []struct {
		name          string
		remote, local string
		want          int
	}{
		{"loopback v4", "127.0.0.1:51000", "127.0.0.1:9090", http.StatusOK},
		{"loopback v6", "[::1]:51000", "[::1]:9090", http.StatusOK},
		{"loopback v4-mapped", "[::ffff:127.0.0.1]:51000", "[::ffff:127.0.0.1]:9090", http.StatusOK},
		{"pod network", "10.244.0.7:51000", "10.244.1.17:9090", http.StatusForbidden},
		// A proxy in the pod forwarding an outside caller from loopback
		// to the pod IP: the connection did not arrive on loopback.
		{"forwarded to pod IP", "127.0.0.6:51000", "10.244.1.17:9090", http.StatusForbidden},
		{"to loopback from outside", "10.244.0.7:51000", "127.0.0.1:9090", http.StatusForbidden},
		{"no local address", "127.0.0.1:51000", "", http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodGet, "/references/"+id, nil)
			r.RemoteAddr = tt.remote
			if tt.local != "" {
				local, err := net.ResolveTCPAddr("tcp", tt.local)
				if err != nil {
					t.Fatal(err)
				}
				r = r.WithContext(context.WithValue(r.Context(), http.LocalAddrContextKey, net.Addr(local)))
			}
			w := httptest.NewRecorder()
			admin.ServeHTTP(w, r)
			body := w.Body.String()
			if w.Code != tt.want {
				t.Fatalf("GET /references from %s to %s = %d %s; want %d", tt.remote, tt.local, w.Code, body, tt.want)
			}
			if tt.want == http.StatusOK {
				if !strings.Contains(body, "Ada Lovelace") {
					t.Errorf("body = %s; want the reference", body)
				}
				return
			}
			checkForbidden(t, body, "port-forward", "SIDECAR_ADMIN_REFERENCES=all")

			// Probes stay reachable from anywhere.
			for _, path := range []string{"/healthz", "/readyz"} {
				pr := httptest.NewRequest(http.MethodGet, path, nil)
				pr.RemoteAddr = tt.remote
				pw := httptest.NewRecorder()
				admin.ServeHTTP(pw, pr)
				if pw.Code != http.StatusOK {
					t.Errorf("GET %s from %s = %d; want 200", path, tt.remote, pw.Code)
				}
			}
		})
	}
}

// checkForbidden checks a 403 body: the Bot Framework error shape, no
// personal data, and a message with each of hints.
func checkForbidden(t *testing.T, body string, hints ...string) {
	t.Helper()
	var e errorBody
	if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error.Code != CodeForbidden {
		t.Errorf("403 body = %s; want the Bot Framework error shape with code %s", body, CodeForbidden)
	}
	if strings.Contains(body, "Ada") || strings.Contains(body, "29:user") {
		t.Errorf("403 body %s holds personal data", body)
	}
	for _, h := range hints {
		if !strings.Contains(e.Error.Message, h) {
			t.Errorf("403 message %q does not say %q", e.Error.Message, h)
		}
	}
}

// TestReferencesOverTCP runs the handler behind a real server on loopback,
// where net/http sets the connection's local address itself.
func TestReferencesOverTCP(t *testing.T) {
	t.Parallel()
	admin, id := adminWithReference(t, ReferencesLoopback)
	srv := httptest.NewServer(admin)
	t.Cleanup(srv.Close)
	resp, err := http.Get(srv.URL + "/references/" + id)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "Ada Lovelace") {
		t.Errorf("GET /references over loopback = %d %s; want 200 and the reference", resp.StatusCode, body)
	}
}

func TestReferencesAccessAllAndOff(t *testing.T) {
	t.Parallel()
	request := func(admin *Admin, id string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, "/references/"+id, nil)
		r.RemoteAddr = "10.244.0.7:51000"
		w := httptest.NewRecorder()
		admin.ServeHTTP(w, r)
		return w
	}
	all, id := adminWithReference(t, ReferencesAll)
	if w := request(all, id); w.Code != http.StatusOK {
		t.Errorf("ReferencesAll: GET from the pod network = %d; want 200", w.Code)
	}
	off, id := adminWithReference(t, ReferencesOff)
	r := httptest.NewRequest(http.MethodGet, "/references/"+id, nil) // loopback too
	r.RemoteAddr = "127.0.0.1:51000"
	w := httptest.NewRecorder()
	off.ServeHTTP(w, r)
	if w.Code != http.StatusForbidden {
		t.Fatalf("ReferencesOff: GET from loopback = %d; want 403", w.Code)
	}
	checkForbidden(t, w.Body.String(), "SIDECAR_ADMIN_REFERENCES=off", "sidecar references get")
}
