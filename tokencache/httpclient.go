package tokencache

import "net/http"

// noRedirects returns a copy of c (an empty client, as MSAL's default is,
// when c is nil) whose CheckRedirect hands MSAL the redirect response
// itself. The request it would repeat carries the credential, so a 307 or
// 308 from the authority (a compromised or misconfigured proxy, a typo in
// SIDECAR_AUTHORITY_HOST that lands on a redirecting host) must fail the
// acquisition rather than post client_secret to the Location's host. The
// managed identity endpoints do not redirect either.
func noRedirects(c *http.Client) *http.Client {
	var out http.Client
	if c != nil {
		out = *c
	}
	out.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &out
}
