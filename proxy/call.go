package proxy

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"strings"

	"go.opentelemetry.io/otel/trace"

	"github.com/botsidecar/sidecar/rewrite"
)

// call is one outbound request, parsed once. Each fact about it (route,
// conversation, tenant, upstream, Teams or not, how it was resolved) is
// decided in one step and read by every later one.
type call struct {
	outcome
	// id is the bot the call is made as: its token, account, tenant and
	// pacing. The listener's own until the path's prefix, the path's
	// conversation or the connections map decides otherwise (identity.go);
	// explicit says the prefix named it, idByRef that a reference did.
	id       *identity
	explicit bool
	idByRef  bool
	method   string
	rawPath  string // exactly as the bot sent it: Teams ids hold ':' ';' '@' '='
	rawQuery string // "?…" or ""
	route    *route // nil until matched
	// conversationID is the decoded conversation (or team) id the path
	// names, "" when the route names none.
	conversationID string
	// operationID is the batch operation the path names, or "".
	operationID string
	// body is the bot's body, then the rewritten one.
	body []byte
	// create holds a create-conversation body's fields, read once;
	// createErr is why they could not be read (answered only where the
	// fields are needed: the Teams checks).
	create    rewrite.ConversationFields
	createErr error
	// tenant is the tenant the call is made for: what the call names (the
	// body's tenantId, the query's), else the identity's configured tenant
	// (tenantDefaulted). Only routes that name a tenant have one.
	tenant          string
	tenantDefaulted bool
	// serviceURLHeader is the X-Service-Url the bot named, parsed; nil
	// when it named none.
	serviceURLHeader *url.URL
	up               upstream
	isTeams          bool // the upstream is Teams: the bot's account is "28:<appId>"

	attempts int
	// retried is why the latest attempt was retried: its status, or
	// retriedConnection; 0 before any retry. The next attempt's span says so.
	retried int
	// attempt is the open upstream attempt's span; nil when not tracing.
	attempt trace.Span
	// tokenUsed is the token of the last attempt, kept only to decode its
	// claims for a 401's diagnostics; it is never logged or returned.
	tokenUsed string
	diag      *diagnostics
}

// parsing is what call.parse needs of the Outbound's options.
type parsing struct {
	maxBody   int64
	hostNames []string // the listener's names besides IPs and localhost
	// ids are the listener's bots when there are several: a path may then
	// name one (/bots/{name}/…); nil when there is one.
	ids identities
}

// parse fills c from r: the raw path and query, the identity a
// /bots/{name} prefix names, the route, the body (at most p.maxBody bytes,
// into buf) and what the body and query say about the tenant. It refuses
// what a browser sent, bad header values, and bodies that are not one
// JSON object.
func (c *call) parse(r *http.Request, buf *bytes.Buffer, p parsing) error {
	c.method = r.Method
	c.rawPath, c.rawQuery = splitRequestURI(r)
	if !validHeaderValues(r.Header) {
		return refuse(failInvalidHeader, "a request header value contains a control character")
	}
	if err := guardRequest(r, p.hostNames); err != nil {
		return err
	}
	var err error
	if c.serviceURLHeader, err = parseServiceURLHeader(r.Header[headerServiceURL]); err != nil {
		return err
	}
	if p.ids != nil {
		if err := c.identityFromPath(p.ids); err != nil {
			return err
		}
	}
	m, err := matchRoute(r.Method, c.rawPath)
	if err != nil {
		return err
	}
	if m.route == nil {
		return refuse(failUnknownRoute, r.Method+" "+c.rawPath+" is not a Bot Connector route the sidecar serves")
	}
	c.route, c.conversationID, c.operationID = m.route, m.conversationID, m.operationID
	c.outcome.conversationID = m.conversationID
	if err := readBody(r, buf, p.maxBody); err != nil {
		return err
	}
	c.body = buf.Bytes()
	if len(c.body) > 0 {
		if err := checkBodyEncoding(r.Header); err != nil {
			return err
		}
		if c.route.body == bodyNone {
			// Forwarded unedited, but still only as the JSON it claims to be.
			if err := rewrite.Object(c.body); err != nil {
				return err
			}
		}
	}

	switch c.route.tenant {
	case tenantQuery:
		c.tenant = r.URL.Query().Get("tenantId")
	case tenantBody:
		if len(c.body) == 0 {
			break
		}
		if c.route.create() {
			c.create, c.createErr = rewrite.InspectConversation(c.body)
			c.tenant = c.create.TenantID
		}
		if !c.route.create() || c.createErr != nil {
			c.tenant, _, _ = rewrite.StringField(c.body, "tenantId")
		}
	}
	if c.tenant == "" && c.route.tenant != tenantNone {
		c.tenant, c.tenantDefaulted = c.id.TenantID, true
	}
	return nil
}

// parseServiceURLHeader reads X-Service-Url: nothing, or exactly one
// absolute URL that re-serialises to itself. Anything else (a list, a
// folded or padded value, a query, a fragment) is refused, so
// that no part of it can reach the upstream path.
func parseServiceURLHeader(values []string) (*url.URL, error) {
	if len(values) == 0 {
		return nil, nil
	}
	bad := refuse(failInvalidHeader, "X-Service-Url must be exactly one absolute https URL, such as https://smba.trafficmanager.net/amer/")
	if len(values) > 1 {
		return nil, bad
	}
	v := values[0]
	for i := 0; i < len(v); i++ {
		if c := v[i]; c <= ' ' || c == 0x7f || c == ',' {
			return nil, bad
		}
	}
	u, err := url.Parse(v)
	// Userinfo parses, and the trust check refuses it (403) like any
	// untrusted host.
	if err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "" ||
		u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.String() != v {
		return nil, bad
	}
	return u, nil
}

// splitRequestURI returns the path and "?query" exactly as the bot sent
// them: SDKs differ in escaping Teams ids, so the upstream must get the
// same bytes.
func splitRequestURI(r *http.Request) (path, query string) {
	uri := r.RequestURI
	if !strings.HasPrefix(uri, "/") {
		// Absolute-form or empty (a handler called directly in a test).
		uri = r.URL.EscapedPath()
		if r.URL.RawQuery != "" {
			uri += "?" + r.URL.RawQuery
		}
	}
	if i := strings.IndexByte(uri, '?'); i >= 0 {
		return uri[:i], uri[i:]
	}
	return uri, ""
}

// readBody reads the whole body into buf, refusing more than limit bytes.
func readBody(r *http.Request, buf *bytes.Buffer, limit int64) error {
	if r.Body == nil || r.Body == http.NoBody {
		return nil
	}
	if r.ContentLength > limit {
		return &http.MaxBytesError{Limit: limit}
	}
	n, err := buf.ReadFrom(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return withCause(r.Context(), &localError{kind: failMalformedJSON, msg: "the request body could not be read", cause: err})
	}
	if n > limit {
		return &http.MaxBytesError{Limit: limit}
	}
	return nil
}
