package proxy

import (
	"net/url"
	"testing"
)

var trustTests = []struct {
	name string
	give string
	want bool
}{
	{"teams public", "https://smba.trafficmanager.net/amer/", true},
	{"teams upper case", "https://SMBA.TrafficManager.NET/teams/", true},
	{"teams explicit 443", "https://smba.trafficmanager.net:443/amer/", true},
	{"gcc", "https://smba.infra.gcc.teams.microsoft.com/teams", true},
	{"china", "https://frontend.botapi.msg.infra.teams.microsoftonline.cn/", true},
	{"webchat wildcard", "https://webchat.botframework.com/", true},
	{"deep wildcard", "https://europe.directline.botframework.com/", true},
	{"wildcard apex is not a subdomain", "https://botframework.com/", false},
	{"plain http", "http://smba.trafficmanager.net/amer/", false},
	{"non-default port on built-in", "https://smba.trafficmanager.net:8443/amer/", false},
	{"empty port", "https://smba.trafficmanager.net:/amer/", false},
	{"userinfo", "https://user@smba.trafficmanager.net/amer/", false},
	{"userinfo trick", "https://smba.trafficmanager.net@evil.example/amer/", false},
	{"trailing dot", "https://smba.trafficmanager.net./amer/", false},
	{"look-alike suffix", "https://smba.trafficmanager.net.evil.example/", false},
	{"look-alike wildcard", "https://evilbotframework.com/", false},
	{"look-alike wildcard 2", "https://x.botframework.com.evil.example/", false},
	{"prefix label", "https://xsmba.trafficmanager.net/", false},
	{"extra exact host", "https://bots.example.org/", true},
	{"extra host other port", "https://bots.example.org:8443/", false},
	{"extra host with port", "https://ported.example.org:8443/x/", true},
	{"extra host with port, default port", "https://ported.example.org/x/", false},
	{"extra wildcard", "https://eu.corp.example.net/", true},
	{"ip literal", "https://127.0.0.1/", false},
	{"percent host", "https://smba%2etrafficmanager.net/", false},
	{"opaque", "https:smba.trafficmanager.net", false},
	{"no scheme", "smba.trafficmanager.net", false},
	{"backslash", "https://smba.trafficmanager.net\\@evil.example/", false},
	{"unicode look-alike", "https://smba.trafficmanager.nеt/", false},
}

func newTestTrust(t testing.TB) *TrustList {
	t.Helper()
	tl, err := NewTrustList([]string{"bots.example.org", "ported.example.org:8443", "*.corp.example.net"})
	if err != nil {
		t.Fatal(err)
	}
	return tl
}

func TestTrustList(t *testing.T) {
	t.Parallel()
	tl := newTestTrust(t)
	for _, tt := range trustTests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tl.TrustedString(tt.give); got != tt.want {
				t.Errorf("TrustedString(%q) = %v; want %v", tt.give, got, tt.want)
			}
		})
	}
}

func TestTrustListVouch(t *testing.T) {
	t.Parallel()
	tl := newTestTrust(t)
	const su = "https://canary.botapi.skype.com/amer/"
	if tl.TrustedString(su) {
		t.Fatalf("TrustedString(%q) before Vouch = true", su)
	}
	tl.Vouch(su)
	for _, give := range []string{su, "https://canary.botapi.skype.com/other/path"} {
		if !tl.TrustedString(give) {
			t.Errorf("TrustedString(%q) after Vouch = false; want true", give)
		}
	}
	tl.Vouch("http://plain.example/")
	if tl.TrustedString("http://plain.example/") || tl.TrustedString("https://plain.example/") {
		t.Error("vouching an http URL trusted something")
	}
}

func TestNewTrustListRejects(t *testing.T) {
	t.Parallel()
	for _, give := range []string{"http://x.example", "*.com", "user@x.example", "x.example:99999", "bad_host.example", "*."} {
		if _, err := NewTrustList([]string{give}); err == nil {
			t.Errorf("NewTrustList(%q) = nil error; want error", give)
		}
	}
	if _, err := NewTrustList([]string{"https://bots.example.org/api/", " *.corp.example.net "}); err != nil {
		t.Errorf("NewTrustList(url forms) = %v; want nil", err)
	}
}

func FuzzTrusted(f *testing.F) {
	for _, tt := range trustTests {
		f.Add(tt.give)
	}
	tl := newTestTrust(f)
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := url.Parse(raw)
		if err != nil || !tl.Trusted(u) {
			return
		}
		// Whatever is trusted is https, without userinfo, on a host that
		// is a lower-cased DNS name ending in a listed domain.
		if u.Scheme != "https" || u.User != nil {
			t.Fatalf("Trusted(%q) with scheme %q user %v", raw, u.Scheme, u.User)
		}
		key, ok := hostKey(u)
		if !ok {
			t.Fatalf("Trusted(%q) but hostKey refuses it", raw)
		}
		if _, exact := tl.exact[key]; !exact {
			matched := false
			for _, w := range tl.suffixes {
				if len(key) > len(w.suffix) && containsSuffix(key, w.suffix+":"+w.port) {
					matched = true
				}
			}
			if !matched {
				t.Fatalf("Trusted(%q) = true for %q, which no entry names", raw, key)
			}
		}
	})
}

func containsSuffix(s, suffix string) bool {
	return len(s) >= len(suffix) && s[len(s)-len(suffix):] == suffix
}
