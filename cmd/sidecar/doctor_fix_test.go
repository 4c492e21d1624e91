package main

import (
	"strings"
	"testing"

	"github.com/botsidecar/sidecar/config"
	"github.com/botsidecar/sidecar/tokencache"
	"github.com/botsidecar/sidecar/tracing"
)

// doctor's fix names what the credential in use needs, not a secret's fix
// for every refusal.
func TestTokenFix(t *testing.T) {
	t.Parallel()
	secret := config.Identity{AppID: "app-1", AppPassword: "s"}
	cert := config.Identity{AppID: "app-1", ClientCertFile: "/c.pem"}
	federated := config.Identity{AppID: "app-1", FederatedManagedIdentity: "mi-1"}
	tests := []struct {
		reason tokencache.Reason
		id     config.Identity
		want   string
	}{
		{tokencache.ReasonBadCredential, secret, "client secret is wrong"},
		{tokencache.ReasonBadCredential, cert, "certificate and its key"},
		{tokencache.ReasonBadCredential, federated, "federated identity credential"},
		{tokencache.ReasonCertificateNotRegistered, cert, "SIDECAR_CLIENT_CERT_SEND_X5C"},
		{tokencache.ReasonNoFederatedCredential, federated, "subject its object id"},
	}
	for _, tt := range tests {
		if got := tokenFix(tt.reason, tt.id); !strings.Contains(got, tt.want) || !strings.Contains(got, "app-1") {
			t.Errorf("tokenFix(%d, %v) = %q; want it to say %q about app-1", tt.reason, tt.id.Credential(), got, tt.want)
		}
	}
}

// doctor says whether tracing will run and what an Agents SDK bot must be
// told to use the auth sidecar listener.
func TestDoctorNotes(t *testing.T) {
	t.Parallel()
	cfg := config.Config{AuthSidecarAddr: "127.0.0.1:5178", SignInbound: true}
	notes := doctorNotes(cfg, map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"})
	if len(notes) != 2 || notes[0].Name != "tracing" || notes[1].Name != "authsidecar" {
		t.Fatalf("notes = %+v; want tracing and authsidecar", notes)
	}
	wantTracing := "on: exporter otlp, endpoint http://collector:4318"
	if !tracing.ExportersBuiltIn {
		wantTracing = "this build has no exporters"
	}
	if !strings.Contains(notes[0].Detail, wantTracing) {
		t.Errorf("tracing note = %q; want %q", notes[0].Detail, wantTracing)
	}
	for _, want := range []string{"SIDECAR_URL=http://127.0.0.1:5178", "AuthType=EntraAuthSideCar", "AuthorityEndpoint=http://127.0.0.1:5178/inbound"} {
		if !strings.Contains(notes[1].Detail, want) {
			t.Errorf("authsidecar note = %q; want %q in it", notes[1].Detail, want)
		}
	}
	if n := doctorNotes(config.Config{}, nil); len(n) != 1 || !strings.Contains(n[0].Detail, "off") {
		t.Errorf("notes without either = %+v; want tracing off only", n)
	}
}
