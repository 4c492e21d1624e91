package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"strings"

	"github.com/botsidecar/sidecar/store"
)

// resolvedBy says how a call's upstream was found. It decides which
// reference fields the rewrite may use, and diagnostics name it.
type resolvedBy uint8

const (
	byReference resolvedBy = iota + 1 // the path's conversation, as captured inbound
	byCreated                         // a conversation the bot created through the sidecar
	byHeader                          // a trusted X-Service-Url
	byTenant                          // the newest reference of the call's tenant
	byDefault                         // SIDECAR_DEFAULT_SERVICE_URL
)

var resolvedByNames = [...]string{
	byReference: "reference",
	byCreated:   "created",
	byHeader:    "header",
	byTenant:    "tenant",
	byDefault:   "default",
}

func (b resolvedBy) String() string {
	if int(b) < len(resolvedByNames) && resolvedByNames[b] != "" {
		return resolvedByNames[b]
	}
	return "none"
}

// upstream is where a call goes and what is known about it.
type upstream struct {
	serviceURL string // with exactly one trailing slash
	base       *url.URL
	// ref is the reference that resolved the call; nil when the upstream
	// came from X-Service-Url or the default.
	ref *store.Reference
	by  resolvedBy
}

// conversationOwn reports whether ref is the path's own conversation (or
// its channel's), so its conversation and user fields belong in the body.
func (u upstream) conversationOwn() bool {
	return u.ref != nil && (u.by == byReference || u.by == byCreated)
}

// resolve picks c's upstream: the path's conversation reference, whatever
// the body or headers say; else a trusted X-Service-Url; else, for calls
// that name a tenant, the tenant's newest reference; else the default.
// It also decides whether the call goes to Teams.
//
// With several identities it also settles whose call it is: the path's
// conversation reference decides for a call that named none (see
// otherBotsConversation), else the connections map (routeIdentity).
func (o *Outbound) resolve(ctx context.Context, c *call) error {
	up, err := o.pickUpstream(ctx, c)
	if err != nil {
		return err
	}
	c.up = up
	if o.multi {
		if err := o.routeIdentity(c); err != nil {
			return err
		}
	}
	c.isTeams = up.ref != nil && strings.EqualFold(up.ref.ChannelID, "msteams") || isTeamsHost(up.base.Hostname())
	return nil
}

func (o *Outbound) pickUpstream(ctx context.Context, c *call) (upstream, error) {
	if c.conversationID != "" {
		up, ok, err := o.conversationOf(ctx, c, c.id)
		if !ok && err == nil && o.multi {
			up, ok, err = o.otherBotsConversation(ctx, c)
		}
		if ok || err != nil {
			c.idByRef = true
			return up, err
		}
	}
	if u := c.serviceURLHeader; u != nil {
		if !o.opts.Trust.Trusted(u) {
			return upstream{}, refuse(failUntrustedServiceURL,
				"X-Service-Url is not https on a trusted host; add the host to SIDECAR_TRUSTED_SERVICE_URLS if it is a real Bot Connector")
		}
		return fromURL(u, byHeader), nil
	}
	if c.tenant != "" {
		ref, err := o.opts.References.NewestForTenant(ctx, c.tenant)
		switch {
		case err == nil:
			return o.fromReference(&ref, byTenant)
		case !errors.Is(err, store.ErrNotFound):
			return upstream{}, storeFailure(false, err)
		}
	}
	if o.defaultURL != nil {
		return fromURL(o.defaultURL, byDefault), nil
	}
	what := "this call"
	if c.conversationID != "" {
		what = "conversation " + strconvQuote(c.conversationID)
	}
	return upstream{}, refuse(failNoReference,
		"the sidecar has no reference for "+what+": it learns a conversation's service URL from an activity the channel sends to the bot through the sidecar. "+
			"Wait for one, or name the service URL with an X-Service-Url header or SIDECAR_DEFAULT_SERVICE_URL")
}

// conversationOf finds c's conversation among id's: its stored reference,
// else a conversation its bot created through the sidecar. ok reports that
// one was found; err is then set when its service URL is not trusted.
func (o *Outbound) conversationOf(ctx context.Context, c *call, id *identity) (_ upstream, ok bool, _ error) {
	key := id.key(c.conversationID)
	ref, err := store.Lookup(ctx, o.opts.References, key)
	switch {
	case err == nil && ref.Identity != id.ref:
		// Under this bot's key but not its own: a store that was written
		// by hand, whose word is not taken for whose conversation it is.
		return upstream{}, true, &localError{kind: failForbidden, cause: errOtherBot,
			msg: "the stored reference of conversation " + strconvQuote(c.conversationID) + " names another bot"}
	case err == nil:
		up, err := o.fromReference(&ref, byReference)
		return up, true, err
	case !errors.Is(err, store.ErrNotFound):
		return upstream{}, false, storeFailure(false, err)
	}
	if ref, ok := o.created.get(key); ok {
		up, err := o.fromReference(&ref, byCreated)
		return up, true, err
	}
	return upstream{}, false, nil
}

func strconvQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// fromReference makes ref's serviceUrl the upstream, if this process may
// send the token there. ref comes from the store, which is not a source of
// trust: its serviceUrl must be on the trusted list or vouched for by a
// channel token this process validated, whatever the stored Vouched says
// (anyone who can write to a shared Redis could set it).
func (o *Outbound) fromReference(ref *store.Reference, by resolvedBy) (upstream, error) {
	u, err := url.Parse(ref.ServiceURL)
	if err != nil {
		return upstream{}, &localError{kind: failUntrustedServiceURL, msg: "the stored reference's service URL cannot be parsed", cause: err}
	}
	if !o.opts.Trust.Trusted(u) {
		host := u.Host
		return upstream{}, refuse(failUntrustedServiceURL,
			"the conversation's service URL "+strconvQuote(ref.ServiceURL)+" is not https on a host the sidecar trusts: "+
				"neither on the trusted list nor vouched for by a channel token this process validated. "+
				"If "+strconvQuote(host)+" is a real Bot Connector, add it to SIDECAR_TRUSTED_SERVICE_URLS")
	}
	return upstream{serviceURL: withSlash(ref.ServiceURL), base: u, ref: ref, by: by}, nil
}

func fromURL(u *url.URL, by resolvedBy) upstream {
	return upstream{serviceURL: withSlash(u.Scheme + "://" + u.Host + u.EscapedPath()), base: u, by: by}
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
