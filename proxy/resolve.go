package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/botsidecar/sidecar/rewrite"
	"github.com/botsidecar/sidecar/store"
)

// upstream is where a call goes and what is known about it.
type upstream struct {
	serviceURL string // with exactly one trailing slash
	base       *url.URL
	// ref is the reference that resolved the call; nil when the upstream
	// came from X-Service-Url or the default.
	ref *store.Reference
	// vouched: the serviceUrl was signed into a validated channel token.
	vouched bool
	// pathConversationID is the id the path named (a thread id may resolve
	// through its channel's reference).
	pathConversationID string
	tenantID           string
	via                string // "reference", "header", "tenant", "default": for diagnostics
}

// resolve picks the upstream: the path's conversation reference, whatever
// the body or headers say; else a trusted X-Service-Url; else, for calls
// that carry a tenant, the tenant's newest reference; else the default.
func (o *Outbound) resolve(ctx context.Context, rt *route, r *http.Request, body []byte) (upstream, error) {
	if rt.conversationID != "" {
		ref, err := store.Lookup(ctx, o.opts.References, rt.conversationID)
		switch {
		case err == nil:
			return o.fromReference(&ref, rt, "reference")
		case !errors.Is(err, store.ErrNotFound):
			return upstream{}, newLocalError(http.StatusServiceUnavailable, CodeStoreUnavailable,
				"the reference store could not be read", err)
		}
		if ref, ok := o.created.get(rt.conversationID); ok {
			return o.fromReference(&ref, rt, "created")
		}
	}
	if h := r.Header.Get(headerServiceURL); h != "" {
		u, err := url.Parse(h)
		if err != nil || !o.opts.Trust.Trusted(u) {
			return upstream{}, newLocalError(http.StatusForbidden, CodeUntrustedServiceURL,
				"X-Service-Url is not https on a trusted host; add the host to SIDECAR_TRUSTED_SERVICE_URLS if it is a real Bot Connector", nil)
		}
		return o.fromURL(u, rt, "header")
	}
	if tenant := o.callTenant(rt, r, body); tenant != "" && (rt.create || rt.body == bodyNested || rt.tenantFromQuery) {
		ref, err := o.opts.References.NewestForTenant(ctx, tenant)
		switch {
		case err == nil:
			up, err := o.fromReference(&ref, rt, "tenant")
			up.tenantID = tenant
			return up, err
		case !errors.Is(err, store.ErrNotFound):
			return upstream{}, newLocalError(http.StatusServiceUnavailable, CodeStoreUnavailable,
				"the reference store could not be read", err)
		}
	}
	if o.opts.DefaultServiceURL != "" {
		u, _ := url.Parse(o.opts.DefaultServiceURL) // checked by NewOutbound
		return o.fromURL(u, rt, "default")
	}
	what := "this call"
	if rt.conversationID != "" {
		what = "conversation " + strconvQuote(rt.conversationID)
	}
	return upstream{}, newLocalError(http.StatusNotFound, CodeNoReference,
		"the sidecar has no reference for "+what+": it learns a conversation's service URL from an activity the channel sends to the bot through the sidecar. "+
			"Wait for one, or name the service URL with an X-Service-Url header or SIDECAR_DEFAULT_SERVICE_URL", nil)
}

func strconvQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// callTenant is the tenant a call is made for: the body's tenantId (create,
// batch), the query's (meetings), else the configured tenant.
func (o *Outbound) callTenant(rt *route, r *http.Request, body []byte) string {
	var t string
	switch {
	case rt.tenantFromQuery:
		t = r.URL.Query().Get("tenantId")
	case len(body) > 0 && (rt.create || rt.body == bodyNested):
		t, _, _ = rewrite.StringField(body, "tenantId")
	}
	if t == "" {
		t = o.opts.TenantID
	}
	return t
}

func (o *Outbound) fromReference(ref *store.Reference, rt *route, via string) (upstream, error) {
	u, err := url.Parse(ref.ServiceURL)
	if err != nil {
		return upstream{}, newLocalError(http.StatusForbidden, CodeUntrustedServiceURL,
			"the stored reference's service URL cannot be parsed", err)
	}
	vouched := ref.Vouched
	if vouched {
		if _, ok := hostKey(u); !ok {
			vouched = false // a vouched http:// URL is still not a token's destination
		} else {
			o.opts.Trust.vouchURL(u)
		}
	}
	if !vouched && !o.opts.Trust.Trusted(u) {
		return upstream{}, newLocalError(http.StatusForbidden, CodeUntrustedServiceURL,
			"the conversation's service URL "+strconvQuote(ref.ServiceURL)+" is not https on a trusted host", nil)
	}
	up := upstream{serviceURL: withSlash(ref.ServiceURL), base: u, ref: ref, vouched: vouched,
		pathConversationID: rt.conversationID, tenantID: ref.TenantID, via: via}
	return up, nil
}

func (o *Outbound) fromURL(u *url.URL, rt *route, via string) (upstream, error) {
	return upstream{serviceURL: withSlash(u.Scheme + "://" + u.Host + u.EscapedPath()), base: u,
		pathConversationID: rt.conversationID, via: via}, nil
}

func withSlash(s string) string {
	return strings.TrimRight(s, "/") + "/"
}

// isTeamsHost reports whether host is a Teams connector host, where the
// bot's account is "28:<appId>".
func isTeamsHost(host string) bool {
	host = strings.ToLower(host)
	return strings.HasPrefix(host, "smba.") || strings.Contains(host, ".teams.")
}

// botAccount is the `from` the call must carry: the bot's channel account
// from the reference (the inbound activity's recipient); without one, the
// Teams form on Teams hosts, else nil (leave the bot's own).
func (o *Outbound) botAccount(up upstream) json.RawMessage {
	if up.ref != nil && len(up.ref.Bot) > 0 {
		return up.ref.Bot
	}
	if isTeamsHost(up.base.Hostname()) || up.ref != nil && up.ref.ChannelID == "msteams" {
		return o.teamsBot
	}
	return nil
}

// rewriteBody applies the contract's rewrite to the body of rt.
func (o *Outbound) rewriteBody(rt *route, body []byte, up upstream) ([]byte, error) {
	if rt.body == bodyNone || len(body) == 0 {
		return body, nil
	}
	e := rewrite.Edit{From: o.botAccount(up), ServiceURL: up.serviceURL}
	if up.ref != nil {
		e.ChannelID = up.ref.ChannelID
	}
	switch rt.body {
	case bodyActivity, bodyTranscript:
		if up.ref != nil && (up.via == "reference" || up.via == "created") {
			e.Conversation = up.ref.Conversation
			if up.ref.ConversationID != up.pathConversationID {
				// Resolved through a thread's channel: the activity belongs
				// to the thread the path names.
				e.Conversation, _ = json.Marshal(map[string]string{"id": up.pathConversationID})
			}
			e.Recipient = up.ref.User
		}
		if rt.body == bodyTranscript {
			return rewrite.Transcript(body, e)
		}
		return rewrite.Activity(body, e)
	case bodyCreate:
		tenant, _, err := rewrite.StringField(body, "tenantId")
		if err != nil {
			return nil, err
		}
		if tenant == "" {
			tenant = up.tenantID
		}
		if tenant == "" {
			tenant = o.opts.TenantID
		}
		if isTeamsUpstream(up) {
			if err := checkTeamsCreate(body, tenant); err != nil {
				return nil, err
			}
		}
		// The new conversation is not the reference's: only the sender,
		// channel and service URL carry over to the nested activity.
		return rewrite.Conversation(body, e.From, tenant, rewrite.Edit{From: e.From, ServiceURL: e.ServiceURL, ChannelID: e.ChannelID})
	case bodyNested:
		tenant := up.tenantID
		if tenant == "" {
			tenant = o.opts.TenantID
		}
		return rewrite.Nested(body, tenant, rewrite.Edit{From: e.From, ServiceURL: e.ServiceURL, ChannelID: e.ChannelID})
	}
	return body, nil
}
