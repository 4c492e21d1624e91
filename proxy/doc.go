// Package proxy holds the sidecar's HTTP handlers: [Inbound] for the
// channel, [Outbound] for the bot, [Admin] for probes and metrics. It
// reaches tokens and references only through the interfaces it declares
// ([TokenSource], [References], [ReferenceWriter], [Authenticator]), so its
// tests never touch MSAL or a database.
//
// # An outbound call, step by step
//
// [Outbound.ServeHTTP] parses the request once into a call (call.go); each
// later step reads the facts an earlier one decided and never decides them
// again:
//
//  1. call.parse: the raw path and query as the bot sent them, header
//     values, the route (routes.go: the route table, one row per Bot
//     Connector route), the body (bounded), and the tenant the call names
//     (a create's or batch's tenantId, a meeting's ?tenantId=, else the
//     configured tenant). A create body is read once, here. With several
//     bots (identity.go), a /bots/{name} prefix names the call's bot.
//  2. Outbound.resolve (resolve.go): the upstream and how it was found
//     (resolvedBy: the path's reference, a conversation the bot created,
//     X-Service-Url, the tenant's newest reference, the default), checked
//     against the [TrustList]; and whether the call goes to Teams. With
//     several bots, a call that named none becomes the bot of its
//     conversation's reference, else the connections map's; the token,
//     account, tenant and pacing of every later step are that bot's.
//  3. Outbound.rewriteBody (body.go): `from`, `serviceUrl` and the
//     reference's fields, in place (package rewrite); a Teams create is
//     first checked against the shapes Teams refuses (teams.go).
//  4. The token, then Outbound.send: the attempts, one fresh token after a
//     401, bounded Retry-After-honouring retries (retry.go).
//  5. Outbound.respond: the answer relayed; an error the connector left
//     unexplained gets diagnostics (diag.go); a create's new conversation
//     is remembered (created.go).
//
// # Errors and logs
//
// A step that fails returns an error: a refusal of the request
// (localError, with its kind), a failed exchange with a peer
// (exchangeError), a failed dependency (token source, store), or a
// rejected channel token. classify (errors.go) is the one place that maps
// an error to a status, a stable Bot Framework error code and a safe
// message: timeouts are 504, the client's own cancel is 499, unreachable
// peers 502. Each call writes one log line through logCall (log.go), the
// same builder for both listeners.
//
// An inbound activity takes the same way in miniature (inbound.go): read,
// authenticate, store the reference, rewrite serviceUrl, forward, relay.
//
// # Why not httputil.ReverseProxy
//
// The upstream leg is a small hand-written loop rather than a
// ReverseProxy. Every call needs its body in memory (to rewrite it, and to
// replay it after a 401 or a throttled attempt), a 401 refresh and a
// throttling retry are one loop with one budget, and error answers are
// read whole to add diagnostics; a ReverseProxy would stream none of this
// and would clone the request and its headers once more per attempt. The
// parts of it that matter are kept: hop-by-hop headers are dropped as it
// drops them (headers.go), the request-target bytes are forwarded as
// received, and redirects are never followed.
package proxy
