package proxy

import (
	"net/http"
	"net/textproto"
	"strings"
)

// hopHeaders are hop-by-hop headers (RFC 9110 §7.6.1) that a proxy must not
// forward, as in net/http/httputil.
var hopHeaders = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

// headerServiceURL lets a bot name the upstream of a call no reference
// resolves; it is honoured only for trusted hosts and never forwarded.
const headerServiceURL = "X-Service-Url"

// dropRequestHeaders are request headers that never go upstream: the bot's
// own Authorization is replaced by the sidecar's token, and the sidecar's own
// routing header is for the sidecar.
var dropRequestHeaders = []string{"Authorization", headerServiceURL, "Content-Length", "Host"}

// copyHeaders copies src into dst without hop-by-hop headers (including any
// named by Connection) and without the extra names given.
func copyHeaders(dst, src http.Header, drop []string) {
	var connDrop []string
	for _, v := range src["Connection"] {
		for _, f := range strings.Split(v, ",") {
			if f = textproto.TrimString(f); f != "" {
				connDrop = append(connDrop, http.CanonicalHeaderKey(f))
			}
		}
	}
next:
	for k, vv := range src {
		for _, h := range hopHeaders {
			if k == h {
				continue next
			}
		}
		for _, h := range drop {
			if k == h {
				continue next
			}
		}
		for _, h := range connDrop {
			if k == h {
				continue next
			}
		}
		// The value slices are shared, not copied: nothing downstream
		// edits them in place (Set replaces a slice), and a copy per
		// header is most of a proxy's allocations.
		dst[k] = vv
	}
}

// validHeaderValues reports whether no header value holds a control
// character other than tab: such values are a request-smuggling tool and
// no Bot Framework client sends them.
func validHeaderValues(h http.Header) bool {
	for _, vv := range h {
		for _, v := range vv {
			for i := 0; i < len(v); i++ {
				if c := v[i]; (c < 0x20 && c != '\t') || c == 0x7f {
					return false
				}
			}
		}
	}
	return true
}
