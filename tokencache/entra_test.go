package tokencache

import (
	"fmt"
	"strings"
	"testing"
)

func TestInstanceDiscovery(t *testing.T) {
	t.Parallel()
	tests := []struct {
		give string
		want bool
	}{
		{"https://login.microsoftonline.com", true},
		{"https://login.microsoftonline.us", true},
		{"https://login.partner.microsoftonline.cn", true},
		{"https://login.windows.net", true},
		{"https://login.chinacloudapi.cn", true},
		{"https://login.microsoft.com", true},
		{"https://login.sovcloud-identity.fr", true},
		{"https://LOGIN.MicrosoftOnline.com", true},
		{"https://127.0.0.1:8443", false},
		{"https://localhost", false},
		{"https://login.microsoftonline.com.evil.example", false},
		{"https://evil-login.microsoftonline.com", false},
		{"https://sub.login.microsoftonline.com", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := instanceDiscovery(tt.give); got != tt.want {
			t.Errorf("instanceDiscovery(%q) = %v; want %v", tt.give, got, tt.want)
		}
	}
}

func TestClientSecretNotPrinted(t *testing.T) {
	t.Parallel()
	const secret = "do-not-print~1234"
	opts := Options{ClientID: testApp, Credential: ClientSecret(secret)}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		if got := fmt.Sprintf(verb, opts); strings.Contains(got, secret) {
			t.Errorf("Sprintf(%q, opts) = %s; want the secret redacted", verb, got)
		}
	}
}
