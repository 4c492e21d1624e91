package proxy

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
)

// builtinTrustedHosts are the Bot Framework and Teams connector hosts of every
// cloud (public, GCC, GCC High, DoD, China). They are trusted on the
// default https port only.
var builtinTrustedHosts = []string{
	"smba.trafficmanager.net",
	"smba.onyx.prod.teams.trafficmanager.net",
	"smba.infra.gcc.teams.microsoft.com",
	"smba.infra.gov.teams.microsoft.us",
	"smba.infra.dod.teams.microsoft.us",
	"frontend.botapi.msg.infra.teams.microsoftonline.cn",
	"*.botframework.com",
	"*.botframework.us",
	"*.botframework.azure.cn",
}

// maxVouched bounds the set of serviceUrls vouched for by channel tokens.
// Real bots see a handful (one per region); the bound only stops a flood.
const maxVouched = 4096

// TrustList decides which upstreams may receive the bot's token: the
// built-in connector hosts, the operator's extra entries, and serviceUrls a
// validated channel token vouched for. Matching is exact on the parsed,
// lower-cased host; anything unusual (userinfo, a trailing dot, a port the
// entry does not name, characters outside a DNS name) is refused, because a
// token sent to the wrong host is a credential leak.
type TrustList struct {
	exact    map[string]struct{} // "host:port", port always explicit
	suffixes []wildcard

	mu      sync.RWMutex
	vouched map[string]struct{} // "host:port" of vouched serviceUrls
}

type wildcard struct {
	suffix string // ".domain", with the leading dot
	port   string
}

// NewTrustList builds a trust list from the built-in hosts and extra entries
// of the form "host", "host:port" or "*.domain" (a scheme and path, as in
// "https://host/", are tolerated and ignored).
func NewTrustList(extra []string) (*TrustList, error) {
	t := &TrustList{exact: map[string]struct{}{}, vouched: map[string]struct{}{}}
	for _, e := range builtinTrustedHosts {
		if err := t.add(e); err != nil {
			return nil, err
		}
	}
	for i, e := range extra {
		if err := t.add(e); err != nil {
			// By position: an entry pasted wrong may hold user info.
			return nil, fmt.Errorf("trusted service url entry %d: %w", i+1, err)
		}
	}
	return t, nil
}

func (t *TrustList) add(entry string) error {
	entry = strings.ToLower(strings.TrimSpace(entry))
	if i := strings.Index(entry, "://"); i >= 0 {
		if entry[:i] != "https" {
			return fmt.Errorf("only https upstreams can be trusted")
		}
		entry = entry[i+3:]
	}
	if i := strings.IndexByte(entry, '/'); i >= 0 {
		entry = entry[:i]
	}
	if strings.Contains(entry, "@") {
		return fmt.Errorf("userinfo is not allowed")
	}
	host, port := entry, "443"
	if h, p, err := net.SplitHostPort(entry); err == nil {
		host, port = h, p
		if !validPort(port) {
			return fmt.Errorf("bad port %q", port)
		}
	}
	if rest, ok := strings.CutPrefix(host, "*."); ok {
		if !validHostname(rest) || !strings.Contains(rest, ".") {
			return fmt.Errorf("wildcard must be *.domain.tld")
		}
		t.suffixes = append(t.suffixes, wildcard{suffix: "." + rest, port: port})
		return nil
	}
	if !validHostname(host) && net.ParseIP(host) == nil {
		return fmt.Errorf("not a host name")
	}
	t.exact[net.JoinHostPort(host, port)] = struct{}{}
	return nil
}

// Trusted reports whether u may receive a token: https, no userinfo, and a
// host on the list or vouched for.
func (t *TrustList) Trusted(u *url.URL) bool {
	key, ok := hostKey(u)
	if !ok {
		return false
	}
	if _, ok := t.exact[key]; ok {
		return true
	}
	host, port, _ := net.SplitHostPort(key)
	for _, w := range t.suffixes {
		if port == w.port && strings.HasSuffix(host, w.suffix) {
			return true
		}
	}
	t.mu.RLock()
	_, ok = t.vouched[key]
	t.mu.RUnlock()
	return ok
}

// TrustedString parses raw and reports whether it is trusted.
func (t *TrustList) TrustedString(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && t.Trusted(u)
}

// Vouch records a serviceUrl whose signed serviceurl claim a channel token
// carried that this process validated. It stays trusted for any
// conversation for the life of the process; nothing read from the store
// vouches. The common case, a host vouched for already, takes only the read
// lock.
func (t *TrustList) Vouch(serviceURL string) {
	u, err := url.Parse(serviceURL)
	if err != nil {
		return
	}
	key, ok := hostKey(u)
	if !ok {
		return
	}
	t.mu.RLock()
	_, known := t.vouched[key]
	t.mu.RUnlock()
	if known {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.vouched) < maxVouched {
		t.vouched[key] = struct{}{}
	}
}

// hostKey returns "host:port" for an https URL that is safe to compare, or
// false for anything a token must never go to.
func hostKey(u *url.URL) (string, bool) {
	if u == nil || u.Scheme != "https" || u.User != nil || u.Opaque != "" {
		return "", false
	}
	host := strings.ToLower(u.Hostname())
	port := u.Port()
	if port == "" {
		// "host:" (empty port) is an oddity a real SDK never sends.
		if strings.HasSuffix(u.Host, ":") {
			return "", false
		}
		port = "443"
	}
	if !validPort(port) {
		return "", false
	}
	if !validHostname(host) && (net.ParseIP(host) == nil || strings.Contains(host, "%")) {
		return "", false
	}
	return net.JoinHostPort(host, port), true
}

// validHostname accepts lower-case DNS names: labels of [a-z0-9-], no empty
// label (so no trailing dot), no leading or trailing hyphen.
func validHostname(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for h != "" {
		label := h
		if i := strings.IndexByte(h, '.'); i >= 0 {
			label, h = h[:i], h[i+1:]
			if h == "" {
				return false // trailing dot
			}
		} else {
			h = ""
		}
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

func validPort(p string) bool {
	if p == "" || len(p) > 5 {
		return false
	}
	n := 0
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return false
		}
		n = n*10 + int(p[i]-'0')
	}
	return n > 0 && n <= 65535
}
