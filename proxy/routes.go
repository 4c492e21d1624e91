package proxy

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/botsidecar/sidecar/internal/ascii"
	"github.com/botsidecar/sidecar/pacing"
)

// bodyKind says how a route's request body is rewritten.
type bodyKind uint8

const (
	bodyNone       bodyKind = iota // no body, or one passed through unchanged
	bodyActivity                   // an Activity
	bodyCreate                     // ConversationParameters with a nested activity
	bodyTranscript                 // {"activities":[…]}
	bodyNested                     // Teams batch: {activity, tenantId, …}
)

// tenantSource says where a route's call names its tenant, which picks the
// tenant's newest reference when nothing else resolves the call.
type tenantSource uint8

const (
	tenantNone  tenantSource = iota
	tenantBody               // the body's top-level tenantId (create, batch)
	tenantQuery              // ?tenantId= (meetings)
)

// route is one row of the Bot Connector route table.
type route struct {
	method string
	// pace is the rate-limit class of its calls (pacing).
	pace pacing.Class
	// pattern is the route template, safe for logs and metric labels.
	// Segments in braces match any one non-empty segment.
	pattern string
	body    bodyKind
	tenant  tenantSource
	// conversation is the index of the path segment that names the
	// conversation whose reference resolves the call (a team id for the
	// team routes: a team's id is its General channel's conversation id),
	// or -1.
	conversation int
	// operation is the index of a batch operation id segment, or -1.
	operation int
	segments  []string // pattern split at "/", "" for a parameter
}

// routeTable is every Bot Connector route the sidecar serves, one row
// each. The first row that matches wins,
// so a literal segment comes before a parameter in the same place
// (".../activities/history" before ".../activities/{activityId}").
var routeTable = newRouteTable([]route{
	{method: http.MethodGet, pattern: "/v3/conversations", pace: pacing.ClassRead},
	{method: http.MethodPost, pattern: "/v3/conversations", body: bodyCreate, tenant: tenantBody, pace: pacing.ClassCreate},
	{method: http.MethodPost, pattern: "/v3/conversations/{conversationId}/activities", body: bodyActivity, pace: pacing.ClassSend},
	{method: http.MethodPost, pattern: "/v3/conversations/{conversationId}/activities/history", body: bodyTranscript},
	{method: http.MethodPost, pattern: "/v3/conversations/{conversationId}/activities/{activityId}", body: bodyActivity, pace: pacing.ClassSend},
	{method: http.MethodPut, pattern: "/v3/conversations/{conversationId}/activities/{activityId}", body: bodyActivity},
	{method: http.MethodDelete, pattern: "/v3/conversations/{conversationId}/activities/{activityId}"},
	{method: http.MethodGet, pattern: "/v3/conversations/{conversationId}/activities/{activityId}/members", pace: pacing.ClassRead},
	{method: http.MethodPut, pattern: "/v3/conversations/{conversationId}/activities/{activityId}/reactions/{reactionType}"},
	{method: http.MethodDelete, pattern: "/v3/conversations/{conversationId}/activities/{activityId}/reactions/{reactionType}"},
	{method: http.MethodGet, pattern: "/v3/conversations/{conversationId}/members", pace: pacing.ClassRead},
	{method: http.MethodGet, pattern: "/v3/conversations/{conversationId}/members/{memberId}", pace: pacing.ClassRead},
	{method: http.MethodDelete, pattern: "/v3/conversations/{conversationId}/members/{memberId}"},
	{method: http.MethodGet, pattern: "/v3/conversations/{conversationId}/pagedmembers", pace: pacing.ClassRead},
	{method: http.MethodPost, pattern: "/v3/conversations/{conversationId}/attachments"},
	{method: http.MethodGet, pattern: "/v3/attachments/{attachmentId}"},
	{method: http.MethodGet, pattern: "/v3/attachments/{attachmentId}/views/{viewId}"},
	{method: http.MethodGet, pattern: "/v3/teams/{teamId}", pace: pacing.ClassRead},
	{method: http.MethodGet, pattern: "/v3/teams/{teamId}/conversations", pace: pacing.ClassRead},
	{method: http.MethodGet, pattern: "/v1/meetings/{meetingId}", tenant: tenantQuery},
	{method: http.MethodGet, pattern: "/v1/meetings/{meetingId}/participants/{participantId}", tenant: tenantQuery},
	{method: http.MethodPost, pattern: "/v1/meetings/{meetingId}/notification", tenant: tenantQuery},
	// A batch send is paced like a send into one conversation per tenant
	// (its tenant's batch operations), and polling an operation like a
	// read of it; the tenant's limit counts them all.
	{method: http.MethodPost, pattern: "/v3/batch/conversation/users", body: bodyNested, tenant: tenantBody, pace: pacing.ClassSend},
	{method: http.MethodPost, pattern: "/v3/batch/conversation/tenant", body: bodyNested, tenant: tenantBody, pace: pacing.ClassSend},
	{method: http.MethodPost, pattern: "/v3/batch/conversation/team", body: bodyNested, tenant: tenantBody, pace: pacing.ClassSend},
	{method: http.MethodPost, pattern: "/v3/batch/conversation/channels", body: bodyNested, tenant: tenantBody, pace: pacing.ClassSend},
	{method: http.MethodGet, pattern: "/v3/batch/conversation/failedentries/{operationId}", pace: pacing.ClassRead},
	{method: http.MethodGet, pattern: "/v3/batch/conversation/{operationId}", pace: pacing.ClassRead},
	{method: http.MethodDelete, pattern: "/v3/batch/conversation/{operationId}"},
})

// newRouteTable splits each row's pattern once, so matching compares
// strings and allocates nothing.
func newRouteTable(rows []route) []route {
	for i := range rows {
		r := &rows[i]
		r.conversation, r.operation = -1, -1
		r.segments = strings.Split(strings.TrimPrefix(r.pattern, "/"), "/")
		for j, s := range r.segments {
			if strings.HasPrefix(s, "{") {
				switch s {
				case "{conversationId}", "{teamId}":
					r.conversation = j
				case "{operationId}":
					r.operation = j
				}
				r.segments[j] = ""
			}
		}
	}
	return rows
}

// create reports whether the route creates a conversation.
func (r *route) create() bool { return r.body == bodyCreate }

// maxSegments bounds path parsing; no Bot Connector route is longer.
const maxSegments = 8

// pathMatch is a matched route and what the path names.
type pathMatch struct {
	route *route
	// conversationID is the decoded conversation (or team) id from the
	// path; "" when the route names none.
	conversationID string
	// operationID is the batch operation id from the path, or "".
	operationID string
	// segments are the decoded segments, for the fuzz oracle.
	segments [maxSegments]string
	n        int
}

// matchRoute parses the raw request path (as the bot sent it, escapes and
// all) into segments, decoding each one on its own: a conversation id may
// hold an escaped "/" and must not be split by it. It returns a zero match
// (route nil) for a path that is no Bot Connector route, and errBadPath for
// dot segments and broken escapes.
func matchRoute(method, rawPath string) (pathMatch, error) {
	var m pathMatch
	if !strings.HasPrefix(rawPath, "/") {
		return m, errBadPath
	}
	if rawPath == "/" {
		return m, nil
	}
	// A single trailing slash is tolerated: SDKs differ (teams.net posts to
	// ".../activities/", BB-NET's batch paths end in "/").
	rest := strings.TrimSuffix(rawPath[1:], "/")
	for {
		seg := rest
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			seg, rest = rest[:i], rest[i+1:]
		} else {
			rest = ""
		}
		if m.n == maxSegments {
			return pathMatch{}, nil
		}
		dec := seg
		if strings.IndexByte(seg, '%') >= 0 {
			var err error
			if dec, err = url.PathUnescape(seg); err != nil {
				return pathMatch{}, errBadPath
			}
		}
		if dec == "" {
			return pathMatch{}, nil // "//": no route has an empty segment
		}
		if hasDotSegment(dec) {
			return pathMatch{}, errBadPath
		}
		m.segments[m.n] = dec
		m.n++
		if rest == "" {
			break
		}
	}
	segs := m.segments[:m.n]
	for i := range routeTable {
		r := &routeTable[i]
		if r.method == method && r.matches(segs) {
			m.route = r
			if r.conversation >= 0 {
				m.conversationID = segs[r.conversation]
			}
			if r.operation >= 0 {
				m.operationID = segs[r.operation]
			}
			return m, nil
		}
	}
	return pathMatch{}, nil
}

// matches reports whether segs fill r's pattern. The fixed words match
// ignoring ASCII case, as the connector does: the M365 Agents SDK sends
// ".../pagedMembers" where botbuilder sends ".../pagedmembers". Only
// ASCII folds: a Unicode look-alike ("ſ" for "s") is no route.
func (r *route) matches(segs []string) bool {
	if len(segs) != len(r.segments) {
		return false
	}
	for i, want := range r.segments {
		if want != "" && !ascii.EqualFold(want, segs[i]) {
			return false
		}
	}
	return true
}

// hasDotSegment reports whether a decoded segment is, or holds behind an
// escaped slash, a "." or ".." segment that an upstream might resolve.
func hasDotSegment(seg string) bool {
	for {
		i := strings.IndexAny(seg, "/\\")
		part := seg
		if i >= 0 {
			part = seg[:i]
		}
		if part == "." || part == ".." {
			return true
		}
		if i < 0 {
			return false
		}
		seg = seg[i+1:]
	}
}
