package proxy

import (
	"mime"
	"net"
	"net/http"
	"strings"

	"github.com/botsidecar/sidecar/internal/ascii"
)

// The bot-facing listeners are reached by programs on the pod's loopback,
// never by browsers: a web page the user has open can still send requests
// to 127.0.0.1, either cross-site (a "simple" text/plain POST needs no CORS
// preflight) or through DNS rebinding (a name of the attacker's that
// resolves to 127.0.0.1, so the browser sends its own Host). Either would
// be served with the bot's token. The guard refuses both before anything
// else is read.

// browserRefusal is why r looks like a browser's request, or "".
func browserRefusal(r *http.Request) string {
	if _, ok := r.Header["Origin"]; ok {
		return "the request carries an Origin header: browsers may not call the sidecar"
	}
	if v := r.Header.Get("Sec-Fetch-Site"); v != "" && v != "none" {
		return "the request carries Sec-Fetch-Site " + strconvQuote(v) + ": browsers may not call the sidecar"
	}
	return ""
}

// hostAllowed reports whether a request's Host names this listener: an IP
// literal (a browser that connected by IP sends that IP, so no other site's
// name can reach us), localhost, or one of names. A DNS name of anyone
// else's, which is what DNS rebinding sends, is refused.
func hostAllowed(host string, names []string) bool {
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	switch {
	case h == "":
		return false
	case net.ParseIP(h) != nil, strings.EqualFold(h, "localhost"):
		return true
	}
	for _, n := range names {
		if strings.EqualFold(h, n) {
			return true
		}
	}
	return false
}

// guardRequest refuses a request to a bot-facing listener that a browser
// made, or that names a host other than this listener's.
func guardRequest(r *http.Request, hostNames []string) error {
	if why := browserRefusal(r); why != "" {
		return refuse(failBrowser, why)
	}
	if !hostAllowed(r.Host, hostNames) {
		return refuse(failForeignHost, "the request's Host "+strconvQuote(r.Host)+
			" is not this listener's address (an IP, localhost or the host of SIDECAR_OUTBOUND_URL)")
	}
	return nil
}

// checkBodyEncoding refuses a body the sidecar cannot read as JSON: a
// content type other than JSON, or any content coding (a gzip body would
// pass every check unread and reach the connector with the token).
func checkBodyEncoding(h http.Header) error {
	if ce := h.Get("Content-Encoding"); ce != "" && !strings.EqualFold(ce, "identity") {
		return refuse(failMediaType, "the body has Content-Encoding "+strconvQuote(ce)+"; send it uncompressed")
	}
	ct := h.Get("Content-Type")
	// What every SDK sends, recognised without mime's parse (it allocates
	// a map per request); anything else is parsed in full.
	if ascii.EqualFold(ct, "application/json") || ascii.EqualFold(ct, "application/json; charset=utf-8") {
		return nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" && !strings.HasSuffix(mt, "+json") {
		return refuse(failMediaType, "the body's Content-Type is "+strconvQuote(ct)+"; the Bot Connector API takes application/json")
	}
	return nil
}

// HostGuard wraps h, a listener's handler that is not for browsers (the
// admin listener), with the same Host rule as the outbound listener:
// requests naming a host other than an IP, localhost or one of names get
// 403 in the Bot Framework error shape.
func HostGuard(h http.Handler, names ...string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !hostAllowed(r.Host, names) {
			writeError(w, refuse(failForeignHost, "the request's Host "+strconvQuote(r.Host)+" is not this listener's address"))
			return
		}
		h.ServeHTTP(w, r)
	})
}

// LocalRefusal is why r may not be served by a listener that hands the
// bot's credentials to programs in the pod (the auth sidecar listener): a
// browser's request, a Host other than an IP, localhost or one of names,
// or a connection that does not both come from and arrive on loopback. ""
// means r may be served. The caller answers in its own protocol's shape.
func LocalRefusal(r *http.Request, names ...string) string {
	if why := browserRefusal(r); why != "" {
		return why
	}
	if !hostAllowed(r.Host, names) {
		return "the request's Host " + strconvQuote(r.Host) + " is not this listener's address"
	}
	if !loopbackConn(r) {
		return "the connection is not on loopback: only programs in the pod may call this listener"
	}
	return ""
}

// loopbackConn reports whether r's connection both comes from and arrives
// on a loopback address. Checking the local address too refuses a proxy in
// the pod that forwards outside callers from loopback to the pod IP.
func loopbackConn(r *http.Request) bool {
	local, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	return local != nil && loopbackHostPort(local.String()) && loopbackHostPort(r.RemoteAddr)
}
