package proxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"

	"github.com/botsidecar/sidecar/pacing"
	"github.com/botsidecar/sidecar/store"
)

// TokenSource hands out the bot's bearer token for the connector.
type TokenSource interface {
	// Token returns a valid token, from cache when possible.
	Token(ctx context.Context) (string, error)
	// Invalidate drops token if it is still the cached one: the connector
	// answered 401 to it.
	Invalidate(token string)
}

// Pacer holds a call until it fits the channel's rate limits, or refuses it
// with an error that carries its Retry-After (*pacing.Pacer).
type Pacer interface {
	Wait(ctx context.Context, key pacing.Key) (time.Duration, error)
}

// References resolves conversations to the references captured inbound.
type References interface {
	Get(ctx context.Context, conversationID string) (store.Reference, error)
	NewestForTenant(ctx context.Context, tenantID string) (store.Reference, error)
}

// OutboundOptions configures an Outbound handler.
type OutboundOptions struct {
	// AppID is the bot's app id; required. Teams sends carry "28:<AppID>".
	AppID string
	// TenantID fills a create-conversation's or batch's missing tenantId and
	// picks the tenant's newest reference; set it for single-tenant bots
	// only. "" fills nothing.
	TenantID string
	// Tokens, References and Trust are required.
	Tokens     TokenSource
	References References
	Trust      *TrustList
	// Identities, when set, replace AppID, TenantID and Tokens: the bots
	// this listener knows, the first one the listener's own (the primary
	// on the shared listener, the identity on a listener of its own). A
	// call is made as the identity its path prefix (/bots/{name}/…) names,
	// else its conversation's reference's, else Route's, else the first;
	// never as one marked Elsewhere.
	Identities []Identity
	// Route names the identity of a call to serviceURL that neither named
	// one nor resolved through a reference (the Agents SDK's
	// ConnectionsMap); "" or nil leaves it to the first.
	Route func(serviceURL string) string
	// DefaultServiceURL is the upstream of calls nothing else resolves; it
	// must be trusted. "" answers such calls 404.
	DefaultServiceURL string
	// MaxBodyBytes bounds request bodies (413 past it); required.
	MaxBodyBytes int64
	// HostNames are the names, besides IP literals and localhost, that a
	// request's Host may give for this listener (the host of
	// SIDECAR_OUTBOUND_URL). nil allows IPs and localhost only: any other
	// name is a DNS-rebinding attempt.
	HostNames []string
	// Transport sends upstream; nil uses NewTransport. Redirects are never
	// followed: a 3xx goes back to the bot, so the token never travels to a
	// Location it names.
	Transport http.RoundTripper
	// Retry bounds retries; its zero fields take the documented defaults.
	Retry RetryPolicy
	// Pacer holds each attempt until it fits the rate limits; nil sends
	// at once.
	Pacer Pacer
	// Logger gets one line per call; nil discards them.
	Logger *zap.Logger
	// Metrics records calls; nil records nothing.
	Metrics *Metrics
	// Sleep waits between retries; nil waits on a timer (tests replace it).
	Sleep func(ctx context.Context, d time.Duration) error
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// Tracing traces calls; the zero value traces nothing, at no cost.
	Tracing Tracing
}

// Outbound serves the Bot Connector REST API to the bot on loopback and
// forwards each call, authenticated and corrected, to the conversation's
// real service URL.
type Outbound struct {
	opts       OutboundOptions
	transport  http.RoundTripper
	retry      RetryPolicy
	log        *zap.Logger
	tracing    Tracing
	ids        identities
	multi      bool     // more than one identity
	defaultURL *url.URL // DefaultServiceURL, parsed; nil when unset
	parsing    parsing
	created    *createdConversations
}

// NewOutbound checks opts and returns the handler.
func NewOutbound(opts OutboundOptions) (*Outbound, error) {
	if opts.Identities == nil {
		opts.Identities = []Identity{{Primary: true, AppID: opts.AppID, TenantID: opts.TenantID, Tokens: opts.Tokens}}
	}
	ids, err := newIdentities(opts.Identities)
	if err != nil {
		return nil, fmt.Errorf("outbound: %w", err)
	}
	for _, id := range ids {
		switch {
		case id.AppID == "":
			return nil, errors.New("outbound: app id is required")
		case id.Tokens == nil && !id.Elsewhere:
			return nil, errors.New("outbound: tokens, references and trust list are required")
		}
	}
	switch {
	case opts.References == nil || opts.Trust == nil:
		return nil, errors.New("outbound: tokens, references and trust list are required")
	case opts.MaxBodyBytes <= 0:
		return nil, errors.New("outbound: max body bytes must be positive")
	}
	var defaultURL *url.URL
	if opts.DefaultServiceURL != "" {
		u, err := url.Parse(opts.DefaultServiceURL)
		if err != nil || !opts.Trust.Trusted(u) {
			// Only the host: the value might carry user info.
			host := ""
			if u != nil {
				host = " (host " + strconvQuote(u.Host) + ")"
			}
			return nil, fmt.Errorf("SIDECAR_DEFAULT_SERVICE_URL%s is not https on a trusted host (the built-in connector hosts or SIDECAR_TRUSTED_SERVICE_URLS)", host)
		}
		defaultURL = u
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	if opts.Sleep == nil {
		opts.Sleep = sleepCtx
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	t := opts.Transport
	if t == nil {
		t = NewTransport()
	}
	o := &Outbound{opts: opts, transport: t, retry: opts.Retry.withDefaults(), log: opts.Logger, tracing: opts.Tracing, ids: ids, multi: len(ids) > 1,
		defaultURL: defaultURL, created: newCreatedConversations(),
		parsing: parsing{maxBody: opts.MaxBodyBytes, hostNames: opts.HostNames}}
	if o.multi {
		o.parsing.ids = ids
	}
	return o, nil
}

// NewTransport returns the upstream transport: a clone of
// http.DefaultTransport that keeps enough idle connections per host for a
// busy bot, since nearly every call goes to one connector host.
func NewTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 256
	t.MaxIdleConnsPerHost = 128
	t.IdleConnTimeout = 90 * time.Second
	t.ResponseHeaderTimeout = 60 * time.Second
	return t
}

// bufPool holds the buffers bodies are read into, on both listeners.
var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledBuffer is the largest buffer returned to the pool: one large
// body must not keep its memory for the life of the process.
const maxPooledBuffer = 256 << 10

// putBuffer returns buf to the pool unless it grew large.
func putBuffer(buf *bytes.Buffer) {
	if buf.Cap() <= maxPooledBuffer {
		bufPool.Put(buf)
	}
}

func (o *Outbound) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := o.opts.Now()
	var span trace.Span
	if o.tracing.on() {
		r, span = o.tracing.server(r, spanOutbound)
	}
	c := call{id: o.ids[0]}
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	if err := o.serve(w, r, &c, buf); err != nil {
		c.fail(w, err)
	}
	putBuffer(buf)
	route := "unmatched"
	if c.route != nil {
		route = c.route.pattern
	}
	o.opts.Metrics.request(c.id.Name, "outbound", route, c.status)
	var diag zap.Field = zap.Skip()
	if c.diag != nil {
		diag = zap.Object("diagnostics", c.diag)
	}
	upstreamHost := ""
	if c.up.base != nil {
		upstreamHost = c.up.base.Host
	}
	if span != nil {
		endOutbound(span, &c, r.Method, route, upstreamHost)
	}
	logCall(o.log, "outbound call", &c.outcome, o.opts.Now().Sub(start),
		zap.String("method", r.Method),
		zap.String("route", route),
		zap.String("upstream_host", upstreamHost),
		zap.Int("attempts", c.attempts),
		connectionField(o.multi, c.id),
		diag,
	)
}

// serve runs the steps of an outbound call; each reads what the earlier
// ones decided in c. It answers the bot itself on success and returns the
// error to answer otherwise.
func (o *Outbound) serve(w http.ResponseWriter, r *http.Request, c *call, buf *bytes.Buffer) error {
	if err := c.parse(r, buf, o.parsing); err != nil {
		return err
	}
	ctx := r.Context()
	if err := o.resolve(ctx, c); err != nil {
		return err
	}
	if err := o.rewriteBody(c); err != nil {
		return err
	}
	target, err := url.Parse(c.up.serviceURL + strings.TrimPrefix(c.rawPath, "/") + c.rawQuery)
	if err != nil || target.Host != c.up.base.Host || target.Scheme != "https" || target.User != nil {
		// Cannot happen for paths matchRoute accepted; checked anyway
		// because the token must only ever go to the resolved, trusted
		// host.
		return &localError{kind: failInvalidPath, msg: "the upstream url cannot be built from this path", cause: err}
	}
	token, err := c.id.Tokens.Token(ctx)
	if err != nil {
		return tokenFailure(c.id.AppID, false, err)
	}
	header := make(http.Header, len(r.Header)+2)
	copyHeaders(header, r.Header, dropRequestHeaders)
	sendStart := o.opts.Now()
	resp, err := o.send(ctx, target, header, token, c)
	o.opts.Metrics.upstream("outbound", c.route.pattern, o.opts.Now().Sub(sendStart))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	c.msCV = resp.Header.Get("MS-CV")
	c.status, err = o.respond(w, resp, c)
	return err
}

// send makes the upstream call with its retries: one fresh token after a
// 401, and bounded, Retry-After-honouring retries of retryable statuses.
// The body is in memory, so every attempt can replay it.
func (o *Outbound) send(ctx context.Context, target *url.URL, header http.Header, token string, c *call) (*http.Response, error) {
	start := o.opts.Now()
	refreshed := false
	retries := 0
	idempotent := idempotentMethod(c.method)
	for {
		// Every attempt counts at the connector, retries included, so each
		// one waits for its turn.
		if o.opts.Pacer != nil {
			waited, err := o.opts.Pacer.Wait(ctx, o.paceKey(c))
			o.opts.Metrics.paced(c.route.pace, waited, err != nil && ctx.Err() == nil)
			o.tracePacing(ctx, c, waited, err)
			if err != nil {
				return nil, err
			}
		}
		c.attempts++
		c.tokenUsed = token
		header.Set("Authorization", "Bearer "+token)
		req := &http.Request{
			Method:     c.method,
			URL:        target,
			Proto:      "HTTP/1.1",
			ProtoMajor: 1,
			ProtoMinor: 1,
			Header:     header,
			Host:       target.Host,
		}
		actx := o.startAttempt(ctx, c, header)
		var sent *attempt
		if !idempotent {
			sent = newAttempt()
			actx = sent.watch(actx)
		}
		req = req.WithContext(actx)
		setBody(req, c.body, sent)
		resp, err := o.transport.RoundTrip(req)
		c.endAttempt(resp)
		if err != nil {
			// A send that never left cannot have been applied: it is the
			// one transport failure a non-idempotent call may replay.
			if sent != nil && !sent.started() && ctx.Err() == nil {
				if d, ok := o.retry.delay(retries, nil, o.opts.Now(), start); ok {
					retries++
					o.opts.Metrics.retryReason("connection")
					c.retried = retriedConnection
					if err := o.opts.Sleep(ctx, d); err != nil {
						return nil, &exchangeError{peer: peerConnector, host: target.Host, err: withCause(ctx, err)}
					}
					continue
				}
			}
			return nil, &exchangeError{peer: peerConnector, host: target.Host, err: withCause(ctx, err)}
		}
		if resp.StatusCode == http.StatusUnauthorized && !refreshed {
			// A token the connector rejects (revoked, or the app's
			// credentials rotated) is replaced once; a second 401 is real.
			// A refused call was not applied, so any method may be resent.
			refreshed = true
			c.id.Tokens.Invalidate(token)
			fresh, err := c.id.Tokens.Token(ctx)
			if err != nil {
				discard(resp)
				return nil, tokenFailure(c.id.AppID, true, err)
			}
			if fresh == token {
				// The token source refreshes at most so often (a connector
				// that answers 401 to everything must not cost an Entra
				// request per call): a retry with the same token would
				// only be refused again.
				return resp, nil
			}
			o.opts.Metrics.retry(resp.StatusCode)
			c.retried = resp.StatusCode
			discard(resp)
			token = fresh
			continue
		}
		if replayable(idempotent, resp.StatusCode, resp.Header) {
			if d, ok := o.retry.delay(retries, resp.Header, o.opts.Now(), start); ok {
				retries++
				o.opts.Metrics.retry(resp.StatusCode)
				c.retried = resp.StatusCode
				discard(resp)
				if err := o.opts.Sleep(ctx, d); err != nil {
					return nil, &exchangeError{peer: peerConnector, host: target.Host, err: withCause(ctx, err)}
				}
				continue
			}
		}
		return resp, nil
	}
}

// paceKey is what c counts against: the bot, the tenant, and for the
// classes Teams limits per conversation, the conversation (a create's: the
// user it opens a chat with, or the channel it posts in).
func (o *Outbound) paceKey(c *call) pacing.Key {
	k := pacing.Key{Bot: c.id.AppID, Tenant: c.tenant, Class: c.route.pace}
	if k.Tenant == "" && c.up.ref != nil {
		k.Tenant = c.up.ref.TenantID
	}
	if k.Tenant == "" {
		// A single-tenant bot's calls that name no tenant (a batch
		// operation's state) are made in its own tenant.
		k.Tenant = c.id.TenantID
	}
	switch {
	case c.route.pace == pacing.ClassCreate && c.create.ChannelDataChannelID != "":
		k.Conversation = c.create.ChannelDataChannelID
	case c.route.pace == pacing.ClassCreate && len(c.create.MemberIDs) == 1:
		k.Conversation = c.create.MemberIDs[0]
	case c.route.body == bodyNested:
		// No conversation exists yet: a tenant's batch sends share one
		// budget. The prefix keeps it apart from any conversation id.
		k.Conversation = "batch:" + k.Tenant
	case c.operationID != "" && c.route.pace != pacing.ClassOther:
		k.Conversation = "batch-operation:" + c.operationID
	case c.route.pace != pacing.ClassOther:
		k.Conversation = c.conversationID
	}
	return k
}

// attempt records whether an attempt's request may have reached its
// peer: the transport reports, through httptrace, when it has written the
// headers. A failed attempt it never wrote to a connection (a dial or TLS
// handshake that failed) cannot have been applied.
//
// The body itself stays an io.NopCloser over a *bytes.Reader, which the
// transport knows is in memory: it then writes headers and body in one
// go. Any other body type makes it flush the headers on their own first,
// a TLS record and a write more per call on both sides.
type attempt struct {
	trace httptrace.ClientTrace
	wrote atomic.Bool
	r     bytes.Reader // the first body, kept here to save an allocation
}

func newAttempt() *attempt {
	a := &attempt{}
	a.trace.WroteHeaders = a.markWrote
	return a
}

func (a *attempt) markWrote() { a.wrote.Store(true) }

// watch returns ctx with a's trace hooks.
func (a *attempt) watch(ctx context.Context) context.Context {
	return httptrace.WithClientTrace(ctx, &a.trace)
}

// started reports whether the transport wrote any of the request.
func (a *attempt) started() bool { return a.wrote.Load() }

// setBody gives req body b, replayable by the transport (GetBody); a,
// when not nil, holds the first body's reader.
func setBody(req *http.Request, b []byte, a *attempt) {
	req.ContentLength = int64(len(b))
	if len(b) == 0 {
		return
	}
	var r *bytes.Reader
	if a == nil {
		r = bytes.NewReader(b)
	} else {
		r = &a.r
		r.Reset(b)
	}
	req.Body = io.NopCloser(r)
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
}

// discard drains a little of a response body so its connection can be
// reused, then closes it.
func discard(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}

// respond relays the upstream response. Errors the connector explains
// badly get the sidecar's diagnostics: an empty error body is replaced by
// them (the classic bare 403), and a 401, 403 or 404 JSON body gets them
// added as a "diagnostics" member, its own members untouched. The answers
// it reads whole (a create's, an error's) are bounded by MaxBodyBytes:
// past it the bot gets an error, never a cut body under the connector's
// status.
func (o *Outbound) respond(w http.ResponseWriter, resp *http.Response, c *call) (int, error) {
	created := c.route.create() && resp.StatusCode < 300
	if resp.StatusCode < 400 && !created {
		copyHeaders(w.Header(), resp.Header, nil)
		w.WriteHeader(resp.StatusCode)
		bp := copyBufPool.Get().(*[]byte)
		_, err := io.CopyBuffer(w, resp.Body, *bp)
		copyBufPool.Put(bp)
		if err != nil {
			// The status has gone out; the bot sees a cut body, and the
			// log line must not call it a success.
			c.cause = fmt.Errorf("relay the answer of %s: %w", c.up.base.Host, err)
		}
		return resp.StatusCode, nil
	}
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer putBuffer(buf)
	n, err := buf.ReadFrom(io.LimitReader(resp.Body, o.opts.MaxBodyBytes+1))
	switch {
	case err != nil:
		return 0, &exchangeError{peer: peerConnector, host: c.up.base.Host, reading: true, err: err}
	case n > o.opts.MaxBodyBytes:
		return 0, refuse(failUpstreamTooLarge, "the answer of "+c.up.base.Host+" ("+strconv.Itoa(resp.StatusCode)+
			") is larger than SIDECAR_MAX_BODY_BYTES ("+strconv.FormatInt(o.opts.MaxBodyBytes, 10)+" bytes); it was not relayed")
	}
	answer := buf.Bytes()
	copyHeaders(w.Header(), resp.Header, nil)
	if created {
		// A create's answer is small; it names the new conversation.
		o.created.remember(answer, c, o.botAccount(c), o.opts.Now())
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(answer)
		return resp.StatusCode, nil
	}
	if len(answer) == 0 {
		c.diag = o.diagnose(resp, c)
		writeJSON(w, resp.StatusCode, emptyBodyError(resp.StatusCode, c.diag))
		return resp.StatusCode, nil
	}
	explain := resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden ||
		resp.StatusCode == http.StatusNotFound && c.conversationID != ""
	if explain {
		c.diag = o.diagnose(resp, c)
		if withDiag, ok := addMember(answer, "diagnostics", c.diag); ok {
			w.Header().Del("Content-Length")
			w.WriteHeader(resp.StatusCode)
			_, _ = w.Write(withDiag)
			return resp.StatusCode, nil
		}
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(answer)
	return resp.StatusCode, nil
}

var copyBufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}
