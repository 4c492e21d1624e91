package main

import (
	"strings"
	"testing"

	"github.com/botsidecar/sidecar/config"
	"github.com/botsidecar/sidecar/tokencache"
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
