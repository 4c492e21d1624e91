package config_test

import (
	"strings"
	"testing"

	"github.com/botsidecar/sidecar/config"
)

// TestLoadNeverEchoesSecrets pastes credentials where they do not belong:
// a client secret into every variable, and URLs holding a password, a
// query signature and a fragment token into the URL settings. Whatever Load
// says about them, it never shows the secret.
func TestLoadNeverEchoesSecrets(t *testing.T) {
	t.Parallel()
	const (
		pasted   = "aB3" + "8Q~" + "Zx9yWv7UtSrQpOnMlKjIhGfEdCbA0123456789"
		password = "hunter2-pa55word"
		sig      = "sv2024sigABCDEF0123"
		frag     = "access_tokenXYZ987"
	)
	urls := []string{
		"https://bot:" + password + "@login.example",
		"https://bot:" + password + "@login.example/path?sig=" + sig + "#" + frag,
		"http://user:" + password + "@127.0.0.1:3980/api/messages",
		"https://" + password + "@host.example/",
		"https://u:" + password + "/slash@host.example/", // an unencoded "/" in the password
		"login.example?sig=" + sig,
	}
	for _, v := range config.Variables() {
		for _, give := range append([]string{pasted}, urls...) {
			env := withEnv(map[string]string{v.Name: give})
			_, err := config.Load(env)
			if err == nil {
				continue // a valid value: nothing is printed
			}
			for _, s := range []string{pasted, password, sig, frag} {
				if strings.Contains(err.Error(), s) {
					t.Errorf("Load(%s=%q) error shows a secret: %v", v.Name, give, err)
				}
			}
		}
	}
}

func TestLoadOutboundAddrLoopbackOnly(t *testing.T) {
	t.Parallel()
	for _, addr := range []string{"127.0.0.1:3979", "127.0.0.2:3979", "localhost:3979", "[::1]:3979", "127.0.0.1:0"} {
		cfg := mustLoad(t, withEnv(map[string]string{"SIDECAR_OUTBOUND_ADDR": addr}))
		if cfg.OutboundAddr != addr {
			t.Errorf("OutboundAddr = %q; want %q", cfg.OutboundAddr, addr)
		}
	}
	for _, addr := range []string{"0.0.0.0:3979", ":3979", "[::]:3979", "10.244.1.17:3979", "sidecar.internal:3979"} {
		_, err := config.Load(withEnv(map[string]string{"SIDECAR_OUTBOUND_ADDR": addr}))
		ps := problems(t, err)
		if len(ps) != 1 || ps[0].Variable != "SIDECAR_OUTBOUND_ADDR" ||
			!strings.Contains(ps[0].Reason, "beyond loopback") ||
			!strings.Contains(ps[0].Reason, "SIDECAR_OUTBOUND_NON_LOOPBACK_I_UNDERSTAND=true") {
			t.Errorf("Load(SIDECAR_OUTBOUND_ADDR=%s) problems = %q; want one saying why and naming the override", addr, ps)
		}
		cfg := mustLoad(t, withEnv(map[string]string{
			"SIDECAR_OUTBOUND_ADDR":                      addr,
			"SIDECAR_OUTBOUND_NON_LOOPBACK_I_UNDERSTAND": "true",
		}))
		if cfg.OutboundAddr != addr || !cfg.OutboundNonLoopback {
			t.Errorf("with the override, OutboundAddr = %q; want %q", cfg.OutboundAddr, addr)
		}
	}
}

func TestLoadTrustedSharedHostWildcards(t *testing.T) {
	t.Parallel()
	refused := []string{
		"*.azurewebsites.net",
		"https://*.trafficmanager.net/",
		"*.cloudapp.azure.com",
		"*.westeurope.cloudapp.azure.com", // a region zone is shared too
		"*.cloudapp.net",
		"*.azure-api.net",
		"*.azurefd.net",
		"*.blob.core.windows.net",
		"*.core.windows.net", // covers blob.core.windows.net
		"*.windows.net",
		"*.azure.com",
		"*.ngrok.io",
		"*.ngrok-free.app",
		"*.devtunnels.ms",
		"*.env1.westeurope.azurecontainerapps.io",
		"*.AzureWebsites.net:443",
		"*.azurewebsites.net.",
		"*.co.uk", // a public suffix
		"*.com.au",
		"*.com",
	}
	for _, entry := range refused {
		_, err := config.Load(withEnv(map[string]string{"SIDECAR_TRUSTED_SERVICE_URLS": "smba.example.com," + entry}))
		ps := problems(t, err)
		if len(ps) != 1 || ps[0].Variable != "SIDECAR_TRUSTED_SERVICE_URLS" ||
			!strings.Contains(ps[0].Reason, "strangers") ||
			!strings.Contains(ps[0].Reason, "SIDECAR_TRUST_SHARED_HOSTS_I_UNDERSTAND=true") {
			t.Errorf("Load(SIDECAR_TRUSTED_SERVICE_URLS=%s) problems = %q; want one saying why and naming the override", entry, ps)
		}
		mustLoad(t, withEnv(map[string]string{
			"SIDECAR_TRUSTED_SERVICE_URLS":            entry,
			"SIDECAR_TRUST_SHARED_HOSTS_I_UNDERSTAND": "true",
		}))
	}
	accepted := []string{
		"myconnector.azurewebsites.net", // one specific host is the operator's own
		"https://myconnector.azurewebsites.net/",
		"smba.trafficmanager.net:443",
		"*.contoso.com",
		"*.teams.contoso.co.uk",
		"*.mybot.azurewebsites.net", // names below one app are its owner's
		"*.contoso.blob.core.windows.net",
	}
	for _, entry := range accepted {
		mustLoad(t, withEnv(map[string]string{"SIDECAR_TRUSTED_SERVICE_URLS": entry}))
	}

	// Entries that are not host patterns are refused without being shown.
	for _, entry := range []string{"https://user:pa55word@host.example", "pa55word host"} {
		_, err := config.Load(withEnv(map[string]string{"SIDECAR_TRUSTED_SERVICE_URLS": "smba.example.com," + entry}))
		ps := problems(t, err)
		if len(ps) != 1 || !strings.Contains(ps[0].Reason, "entry 2") || strings.Contains(err.Error(), "pa55word") {
			t.Errorf("Load(SIDECAR_TRUSTED_SERVICE_URLS=…,%s) = %v; want one problem naming entry 2 without its value", entry, err)
		}
	}
}

func TestLoadAdminReferences(t *testing.T) {
	t.Parallel()
	for give, want := range map[string]string{"": "loopback", "Loopback": "loopback", "all": "all", "OFF": "off"} {
		if got := mustLoad(t, withEnv(map[string]string{"SIDECAR_ADMIN_REFERENCES": give})).AdminReferences; got != want {
			t.Errorf("SIDECAR_ADMIN_REFERENCES=%q: AdminReferences = %q; want %q", give, got, want)
		}
	}
	_, err := config.Load(withEnv(map[string]string{"SIDECAR_ADMIN_REFERENCES": "public"}))
	if ps := problems(t, err); len(ps) != 1 || !strings.Contains(ps[0].Reason, "loopback, all, off") {
		t.Errorf("Load(SIDECAR_ADMIN_REFERENCES=public) problems = %q; want the accepted values", ps)
	}
}
