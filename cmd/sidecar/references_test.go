package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/botsidecar/sidecar/store"
	"github.com/botsidecar/sidecar/store/backends"
)

func TestReferencesCommand(t *testing.T) {
	t.Parallel()
	spec := "bolt:" + filepath.Join(t.TempDir(), "refs.db")
	sp, err := store.ParseSpec(spec)
	if err != nil {
		t.Fatal(err)
	}
	s, err := backends.Open(context.Background(), sp, backends.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"a:1", "19:x@thread.tacv2"} {
		if err := s.Put(context.Background(), store.Reference{ConversationID: id, ServiceURL: "https://smba.trafficmanager.net/amer/", ChannelID: "msteams", UpdatedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	cli := func(args ...string) (string, string, error) {
		var out, errOut bytes.Buffer
		err := run(context.Background(), append([]string{"references", "--store", spec}, args...), nil, &out, &errOut)
		return out.String(), errOut.String(), err
	}
	out, msg, err := cli("list")
	if err != nil || strings.Count(out, "\n") != 2 || !strings.Contains(msg, "2 references") {
		t.Fatalf("list = %q %q %v; want two JSON lines", out, msg, err)
	}
	out, _, err = cli("get", "19:x@thread.tacv2")
	var ref store.Reference
	if err != nil || json.Unmarshal([]byte(out), &ref) != nil || ref.ServiceURL != "https://smba.trafficmanager.net/amer/" {
		t.Fatalf("get = %q %v", out, err)
	}
	if _, _, err := cli("delete", "a:1"); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, _, err := cli("get", "a:1"); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("get after delete = %v; want not found", err)
	}
	if _, _, err := cli("frobnicate"); err == nil {
		t.Error("an unknown subcommand succeeded")
	}
}

func TestAdminReferencesEndpoint(t *testing.T) {
	s := startStack(t, nil)
	s.waitReady()
	su := s.conn.ServiceURL()
	if status, body := s.postInbound("Bearer "+s.channel.Token(itAppID, su), s.teamsActivity("a:1admin", su)); status != 200 {
		t.Fatalf("inbound = %d %s", status, body)
	}
	body := s.get(s.admin + "/references/a:1admin")
	var ref store.Reference
	if err := json.Unmarshal([]byte(body), &ref); err != nil || ref.ServiceURL != su || !ref.Vouched || ref.TenantID != itTenant {
		t.Errorf("GET /references/a:1admin = %s; want the stored reference", body)
	}
	if body := s.get(s.admin + "/references/a:missing"); !strings.Contains(body, "ConversationNotResolved") {
		t.Errorf("GET /references/a:missing = %s; want a 404 error body", body)
	}
}
