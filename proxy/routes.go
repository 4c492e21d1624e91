package proxy

import (
	"net/http"
	"net/url"
	"strings"
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

// route is a matched Bot Connector route.
type route struct {
	// pattern is the route template, safe for logs and metric labels.
	pattern string
	body    bodyKind
	// conversationID is the decoded conversation id from the path, or a team
	// id (a team's id is its General channel's conversation id); "" when the
	// route names none.
	conversationID string
	// tenantFromQuery is set for meeting routes, which carry ?tenantId=.
	tenantFromQuery bool
	create          bool
}

// maxSegments bounds path parsing; no Bot Connector route is longer.
const maxSegments = 8

// errBadPath is answered with 400: dot segments or broken escapes.
var errBadPath = &localError{status: http.StatusBadRequest, code: "InvalidPath",
	msg: "the request path has dot segments or invalid percent-escapes"}

// matchRoute parses the raw request path (as the bot sent it, escapes and
// all) into segments, decoding each one on its own: a conversation id may
// hold an escaped "/" and must not be split by it. It returns nil for a path
// that is no Bot Connector route.
func matchRoute(method, rawPath string) (*route, error) {
	if !strings.HasPrefix(rawPath, "/") {
		return nil, errBadPath
	}
	if rawPath == "/" {
		return nil, nil
	}
	var segs [maxSegments]string
	n := 0
	rest := rawPath[1:]
	// A single trailing slash is tolerated: SDKs differ (teams.net posts to
	// ".../activities/", BB-NET's batch paths end in "/").
	rest = strings.TrimSuffix(rest, "/")
	for rest != "" || n == 0 {
		seg := rest
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			seg, rest = rest[:i], rest[i+1:]
		} else {
			rest = ""
		}
		if n == maxSegments {
			return nil, nil
		}
		dec := seg
		if strings.IndexByte(seg, '%') >= 0 {
			var err error
			if dec, err = url.PathUnescape(seg); err != nil {
				return nil, errBadPath
			}
		}
		if dec == "" {
			return nil, nil // "//": no route has an empty segment
		}
		if hasDotSegment(dec) {
			return nil, errBadPath
		}
		segs[n] = dec
		n++
		if rest == "" {
			break
		}
	}
	return lookupRoute(method, segs[:n]), nil
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

func lookupRoute(method string, s []string) *route {
	n := len(s)
	if n < 2 {
		return nil
	}
	switch {
	case s[0] == "v3" && s[1] == "conversations":
		return conversationRoute(method, s[2:])
	case s[0] == "v3" && s[1] == "attachments":
		switch {
		case n == 3 && method == http.MethodGet:
			return &route{pattern: "/v3/attachments/{attachmentId}"}
		case n == 5 && s[3] == "views" && method == http.MethodGet:
			return &route{pattern: "/v3/attachments/{attachmentId}/views/{viewId}"}
		}
	case s[0] == "v3" && s[1] == "teams" && n >= 3:
		switch {
		case n == 3 && method == http.MethodGet:
			return &route{pattern: "/v3/teams/{teamId}", conversationID: s[2]}
		case n == 4 && s[3] == "conversations" && method == http.MethodGet:
			return &route{pattern: "/v3/teams/{teamId}/conversations", conversationID: s[2]}
		}
	case s[0] == "v1" && s[1] == "meetings" && n >= 3:
		switch {
		case n == 3 && method == http.MethodGet:
			return &route{pattern: "/v1/meetings/{meetingId}", tenantFromQuery: true}
		case n == 5 && s[3] == "participants" && method == http.MethodGet:
			return &route{pattern: "/v1/meetings/{meetingId}/participants/{participantId}", tenantFromQuery: true}
		case n == 4 && s[3] == "notification" && method == http.MethodPost:
			return &route{pattern: "/v1/meetings/{meetingId}/notification", tenantFromQuery: true}
		}
	case s[0] == "v3" && s[1] == "batch" && n >= 4 && s[2] == "conversation":
		return batchRoute(method, s[3:])
	}
	return nil
}

func conversationRoute(method string, s []string) *route {
	if len(s) == 0 {
		switch method {
		case http.MethodGet:
			return &route{pattern: "/v3/conversations"}
		case http.MethodPost:
			return &route{pattern: "/v3/conversations", body: bodyCreate, create: true}
		}
		return nil
	}
	id := s[0]
	s = s[1:]
	r := func(pattern string, body bodyKind) *route {
		return &route{pattern: "/v3/conversations/{conversationId}" + pattern, body: body, conversationID: id}
	}
	switch len(s) {
	case 1:
		switch {
		case s[0] == "activities" && method == http.MethodPost:
			return r("/activities", bodyActivity)
		case s[0] == "members" && method == http.MethodGet:
			return r("/members", bodyNone)
		case s[0] == "pagedmembers" && method == http.MethodGet:
			return r("/pagedmembers", bodyNone)
		case s[0] == "attachments" && method == http.MethodPost:
			return r("/attachments", bodyNone)
		}
	case 2:
		switch {
		case s[0] == "activities" && s[1] == "history" && method == http.MethodPost:
			return r("/activities/history", bodyTranscript)
		case s[0] == "activities" && (method == http.MethodPost || method == http.MethodPut):
			return r("/activities/{activityId}", bodyActivity)
		case s[0] == "activities" && method == http.MethodDelete:
			return r("/activities/{activityId}", bodyNone)
		case s[0] == "members" && (method == http.MethodGet || method == http.MethodDelete):
			return r("/members/{memberId}", bodyNone)
		}
	case 3:
		if s[0] == "activities" && s[2] == "members" && method == http.MethodGet {
			return r("/activities/{activityId}/members", bodyNone)
		}
	case 4:
		if s[0] == "activities" && s[2] == "reactions" && (method == http.MethodPut || method == http.MethodDelete) {
			return r("/activities/{activityId}/reactions/{reactionType}", bodyNone)
		}
	}
	return nil
}

func batchRoute(method string, s []string) *route {
	switch {
	case len(s) == 1 && method == http.MethodPost && (s[0] == "users" || s[0] == "tenant" || s[0] == "team" || s[0] == "channels"):
		return &route{pattern: "/v3/batch/conversation/" + s[0], body: bodyNested}
	case len(s) == 1 && (method == http.MethodGet || method == http.MethodDelete):
		return &route{pattern: "/v3/batch/conversation/{operationId}"}
	case len(s) == 2 && s[0] == "failedentries" && method == http.MethodGet:
		return &route{pattern: "/v3/batch/conversation/failedentries/{operationId}"}
	}
	return nil
}
