package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"go.uber.org/zap"

	"github.com/botsidecar/sidecar/internal/ascii"
	"github.com/botsidecar/sidecar/store"
)

// Identity is one bot the sidecar speaks for: its Entra app, its token and
// where its activities go. One sidecar may speak for several (the Agents
// SDK's connections); each handler is then given all of them, and a call is
// made as exactly one.
type Identity struct {
	// Name is the identity's name: the path prefix /bots/{Name}/ names it
	// on a shared outbound listener, its references carry it
	// (store.Reference.Identity) unless it is the primary one, and metrics
	// label it. Required when there are several.
	Name string
	// Primary marks the identity of the top-level configuration. Its
	// references carry no name, so that those stored before there were
	// several identities stay valid.
	Primary bool
	// AppID is the bot's app id: Teams sends carry "28:<AppID>", and
	// inbound tokens whose audience names it are this identity's.
	AppID string
	// TenantID fills a create's or batch's missing tenantId and paces
	// calls that name no tenant; "" (a multi-tenant bot) fills nothing.
	TenantID string
	// Tokens hands out the identity's token (outbound).
	Tokens TokenSource
	// BotURL is where its inbound activities go, and OutboundURL the
	// serviceUrl its bot sees instead of the real one (inbound).
	BotURL      string
	OutboundURL string
	// Elsewhere marks an identity with an outbound listener of its own:
	// this listener refuses to make calls as it, so that no other bot
	// reaches its token (outbound).
	Elsewhere bool
}

// errOtherBot refuses a call into a conversation that only another bot has
// a reference for, or that names a bot this listener does not serve.
var errOtherBot = errors.New("belongs to another bot")

// identity is an Identity with what every call reads made once.
type identity struct {
	Identity
	ref      string          // store.Reference.Identity: "" for the primary
	teamsBot json.RawMessage // {"id":"28:<appId>"}
}

// key returns the store key of this identity's reference for id.
func (id *identity) key(conversationID string) string { return store.Key(id.ref, conversationID) }

// identities are a handler's bots; the first is the one a call is made as
// when nothing else decides.
type identities []*identity

// newIdentities checks ids for a handler; what names the handler must
// have of each is up to its constructor.
func newIdentities(ids []Identity) (identities, error) {
	if len(ids) == 0 {
		return nil, errors.New("at least one identity is required")
	}
	out := make(identities, 0, len(ids))
	for i, id := range ids {
		switch {
		case len(ids) > 1 && (id.Name == "" || strings.ContainsAny(id.Name, "/?#%")):
			return nil, fmt.Errorf("identity %d: a name without / ? # %% is required when there are several", i)
		case i > 0 && out.named(id.Name) != nil:
			return nil, fmt.Errorf("identity %q is configured twice", id.Name)
		case i == 0 && id.Elsewhere:
			return nil, fmt.Errorf("identity %q: the listener's own identity cannot be served elsewhere", id.Name)
		}
		x := &identity{Identity: id}
		if !id.Primary {
			x.ref = id.Name
		}
		x.teamsBot, _ = json.Marshal(map[string]string{"id": "28:" + id.AppID})
		out = append(out, x)
	}
	return out, nil
}

// named returns the identity called name (ignoring ASCII case, as the
// Agents SDK's variable names do), or nil.
func (ids identities) named(name string) *identity {
	for _, id := range ids {
		if ascii.EqualFold(id.Name, name) {
			return id
		}
	}
	return nil
}

// forApp returns the identity whose app id is app (ignoring case: app ids
// are GUIDs), else the first.
func (ids identities) forApp(app string) *identity {
	for _, id := range ids[1:] {
		if ascii.EqualFold(id.AppID, app) {
			return id
		}
	}
	return ids[0]
}

// botsPrefix starts the path of a call that names its identity on a shared
// outbound listener: /bots/{name}/v3/…
const botsPrefix = "/bots/"

// identityFromPath takes the /bots/{name} prefix off c.rawPath and makes
// the identity it names the call's. A name the listener does not serve is
// refused: unknown, 404; served by a listener of its own, 403, before any
// token is touched.
func (c *call) identityFromPath(ids identities) error {
	rest, ok := strings.CutPrefix(c.rawPath, botsPrefix)
	if !ok {
		return nil
	}
	name, path := rest, "/"
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		// A slice of rawPath that keeps its leading '/': the path bytes
		// after the prefix still reach the upstream as the bot sent them.
		name, path = rest[:i], rest[i:]
	}
	id := ids.named(name)
	switch {
	case id == nil:
		return refuse(failUnknownRoute, "no bot named "+strconvQuote(name)+" is served here: the path prefix /bots/{name}/ names one of the sidecar's connections")
	case id.Elsewhere:
		return &localError{kind: failForbidden, cause: errOtherBot,
			msg: "bot " + strconvQuote(id.Name) + " has an outbound listener of its own; only its bot sends there, with its token"}
	}
	c.rawPath, c.explicit = path, true
	c.setIdentity(id)
	return nil
}

// setIdentity makes id the call's identity. A tenant that was only the
// configured default follows it.
func (c *call) setIdentity(id *identity) {
	c.id = id
	if c.tenantDefaulted {
		c.tenant = id.TenantID
	}
}

// otherBotsConversation looks for c's conversation among the references of
// the identities besides c's own, once its own has none. A bot may send
// into a conversation that only another bot of this sidecar knows when it
// named no identity and that bot is served here: the reference decides
// whose the call is, so a bot replying through a serviceUrl without the
// prefix still sends as itself. Otherwise the call is refused (403) and no
// token is used: the conversation is another bot's.
func (o *Outbound) otherBotsConversation(ctx context.Context, c *call) (upstream, bool, error) {
	for _, x := range o.ids {
		if x == c.id {
			continue
		}
		up, ok, err := o.conversationOf(ctx, c, x)
		switch {
		case err != nil && !ok:
			return upstream{}, false, err
		case !ok:
			continue
		case c.explicit || x.Elsewhere:
			return upstream{}, true, &localError{kind: failForbidden, cause: errOtherBot,
				msg: "conversation " + strconvQuote(c.conversationID) + " belongs to another bot: the sidecar has a reference for it only for a bot other than the one this call is made for"}
		}
		c.setIdentity(x)
		return up, true, err
	}
	return upstream{}, false, nil
}

// routeIdentity applies the connections map to a call that neither named
// its identity nor resolved through a reference.
func (o *Outbound) routeIdentity(c *call) error {
	if o.opts.Route == nil || c.explicit || c.idByRef {
		return nil
	}
	id := o.ids.named(o.opts.Route(c.up.serviceURL))
	switch {
	case id == nil || id == c.id:
		return nil
	case id.Elsewhere:
		return &localError{kind: failForbidden, cause: errOtherBot,
			msg: "the connections map gives calls to this service URL to bot " + strconvQuote(id.Name) + ", which has an outbound listener of its own; only its bot sends there"}
	}
	c.setIdentity(id)
	return nil
}

// connectionField names the call's identity on its log line when there
// are several.
func connectionField(multi bool, id *identity) zap.Field {
	if !multi {
		return zap.Skip()
	}
	return zap.String("connection", id.Name)
}
