package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

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

// References resolves conversations to the references captured inbound.
type References interface {
	Get(ctx context.Context, conversationID string) (store.Reference, error)
	NewestForTenant(ctx context.Context, tenantID string) (store.Reference, error)
}

// OutboundOptions configures an Outbound handler.
type OutboundOptions struct {
	AppID string
	// TenantID fills a create-conversation's missing tenantId; set it for
	// single-tenant bots only.
	TenantID          string
	Tokens            TokenSource
	References        References
	Trust             *TrustList
	DefaultServiceURL string
	MaxBodyBytes      int64
	// Transport sends upstream; nil uses a tuned clone of
	// http.DefaultTransport. Redirects are never followed: a 3xx goes back
	// to the bot, so the token never travels to a Location it names.
	Transport http.RoundTripper
	Retry     RetryPolicy
	Logger    *zap.Logger
	Metrics   *Metrics // nil records nothing
	// Sleep waits between retries; tests replace it.
	Sleep func(ctx context.Context, d time.Duration) error
	Now   func() time.Time
}

// Outbound serves the Bot Connector REST API to the bot on loopback and
// forwards each call, authenticated and corrected, to the conversation's
// real service URL.
type Outbound struct {
	opts      OutboundOptions
	transport http.RoundTripper
	retry     RetryPolicy
	log       *zap.Logger
	teamsBot  json.RawMessage // {"id":"28:<appId>"}
	created   *createdConversations
}

// NewOutbound checks opts and returns the handler.
func NewOutbound(opts OutboundOptions) (*Outbound, error) {
	switch {
	case opts.AppID == "":
		return nil, errors.New("outbound: app id is required")
	case opts.Tokens == nil || opts.References == nil || opts.Trust == nil:
		return nil, errors.New("outbound: tokens, references and trust list are required")
	case opts.MaxBodyBytes <= 0:
		return nil, errors.New("outbound: max body bytes must be positive")
	}
	if opts.DefaultServiceURL != "" && !opts.Trust.TrustedString(opts.DefaultServiceURL) {
		return nil, fmt.Errorf("SIDECAR_DEFAULT_SERVICE_URL %q is not https on a trusted host (the built-in connector hosts or SIDECAR_TRUSTED_SERVICE_URLS)", opts.DefaultServiceURL)
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
	bot, _ := json.Marshal(map[string]string{"id": "28:" + opts.AppID})
	return &Outbound{opts: opts, transport: t, retry: opts.Retry.withDefaults(), log: opts.Logger, teamsBot: bot,
		created: newCreatedConversations()}, nil
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

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// call is the state of one proxied call, gathered for its log line.
type call struct {
	route        string
	upstreamHost string
	attempts     int
	msCV         string
	code         string
	cause        error
	convID       string
	// tokenUsed is the token of the last attempt, kept only to decode its
	// claims for a 401's diagnostics; it is never logged or returned.
	tokenUsed string
	diag      *diagnostics
}

func (o *Outbound) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := o.opts.Now()
	var c call
	status := o.serve(w, r, &c)
	o.logCall(r, &c, status, o.opts.Now().Sub(start))
}

func (o *Outbound) logCall(r *http.Request, c *call, status int, latency time.Duration) {
	o.opts.Metrics.request("outbound", c.route, status)
	level := zap.InfoLevel
	if c.cause != nil || status >= 500 {
		level = zap.WarnLevel
	}
	ce := o.log.Check(level, "outbound call")
	if ce == nil {
		return
	}
	fields := make([]zap.Field, 0, 10)
	fields = append(fields,
		zap.String("method", r.Method),
		zap.String("route", c.route),
		zap.String("upstream_host", c.upstreamHost),
		zap.Int("status", status),
		zap.Duration("latency", latency),
		zap.String("ms_cv", c.msCV),
		zap.Int("attempts", c.attempts),
	)
	if c.code != "" {
		fields = append(fields, zap.String("code", c.code))
	}
	if c.cause != nil {
		fields = append(fields, zap.Error(c.cause))
	}
	if c.diag != nil {
		fields = append(fields, zap.Object("diagnostics", c.diag))
	}
	if o.log.Core().Enabled(zap.DebugLevel) && c.convID != "" {
		fields = append(fields, zap.String("conversation_id", c.convID))
	}
	ce.Write(fields...)
}

// fail answers err and records it for the log line.
func (o *Outbound) fail(w http.ResponseWriter, c *call, err error) int {
	status, code := writeError(w, err)
	c.code, c.cause = code, errors.Unwrap(err)
	if c.cause == nil {
		var le *localError
		if !errors.As(err, &le) {
			c.cause = err
		}
	}
	return status
}

func (o *Outbound) serve(w http.ResponseWriter, r *http.Request, c *call) int {
	rawPath, rawQuery := splitRequestURI(r)
	c.route = "unmatched"
	if !validHeaderValues(r.Header) {
		return o.fail(w, c, newLocalError(http.StatusBadRequest, CodeInvalidHeader,
			"a request header value contains a control character", nil))
	}
	rt, err := matchRoute(r.Method, rawPath)
	if err != nil {
		return o.fail(w, c, err)
	}
	if rt == nil {
		return o.fail(w, c, newLocalError(http.StatusNotFound, CodeUnknownRoute,
			r.Method+" "+rawPath+" is not a Bot Connector route the sidecar serves", nil))
	}
	c.route, c.convID = rt.pattern, rt.conversationID

	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer bufPool.Put(buf)
	if err := readBody(r, buf, o.opts.MaxBodyBytes); err != nil {
		return o.fail(w, c, err)
	}
	body := buf.Bytes()

	ctx := r.Context()
	up, err := o.resolve(ctx, rt, r, body)
	if err != nil {
		return o.fail(w, c, err)
	}
	c.upstreamHost = up.base.Host
	if body, err = o.rewriteBody(rt, body, up); err != nil {
		return o.fail(w, c, err)
	}
	target, err := url.Parse(up.serviceURL + strings.TrimPrefix(rawPath, "/") + rawQuery)
	if err != nil || target.Host != up.base.Host || target.Scheme != "https" || target.User != nil {
		// Cannot happen for paths matchRoute accepted; checked anyway
		// because the token must only ever go to the resolved, trusted
		// host.
		return o.fail(w, c, newLocalError(http.StatusBadRequest, CodeInvalidPath, "the upstream url cannot be built from this path", err))
	}

	token, err := o.opts.Tokens.Token(ctx)
	if err != nil {
		return o.fail(w, c, newLocalError(http.StatusServiceUnavailable, CodeTokenUnavailable,
			"the sidecar could not acquire a token for app "+o.opts.AppID+"; its log says why", err))
	}
	header := make(http.Header, len(r.Header)+2)
	copyHeaders(header, r.Header, dropRequestHeaders)
	sendStart := o.opts.Now()
	resp, err := o.send(ctx, r.Method, target, header, body, token, c)
	o.opts.Metrics.upstream("outbound", c.route, o.opts.Now().Sub(sendStart))
	if err != nil {
		if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) {
			return o.fail(w, c, newLocalError(http.StatusGatewayTimeout, CodeUpstreamTimeout,
				"the call to "+up.base.Host+" did not finish in time", err))
		}
		var le *localError
		if errors.As(err, &le) {
			return o.fail(w, c, err)
		}
		return o.fail(w, c, newLocalError(http.StatusBadGateway, CodeUpstreamUnreachable,
			"the Bot Connector at "+up.base.Host+" could not be reached", err))
	}
	defer resp.Body.Close()
	c.msCV = resp.Header.Get("MS-CV")
	return o.respond(w, resp, rt, up, body, c)
}

// splitRequestURI returns the path and "?query" exactly as the bot sent
// them: Teams ids hold ':' ';' '@' '=' and SDKs differ in escaping them, so
// the upstream must get the same bytes.
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
		return newLocalError(http.StatusBadRequest, CodeMalformedJSON, "the request body could not be read", err)
	}
	if n > limit {
		return &http.MaxBytesError{Limit: limit}
	}
	return nil
}

// send makes the upstream call with its retries: one fresh token after a
// 401, and bounded, Retry-After-honouring retries of retryable statuses.
// The body is in memory, so every attempt can replay it.
func (o *Outbound) send(ctx context.Context, method string, target *url.URL, header http.Header, body []byte, token string, c *call) (*http.Response, error) {
	start := o.opts.Now()
	refreshed := false
	retries := 0
	for {
		c.attempts++
		c.tokenUsed = token
		header.Set("Authorization", "Bearer "+token)
		req := (&http.Request{
			Method:        method,
			URL:           target,
			Proto:         "HTTP/1.1",
			ProtoMajor:    1,
			ProtoMinor:    1,
			Header:        header,
			Host:          target.Host,
			ContentLength: int64(len(body)),
		}).WithContext(ctx)
		if len(body) > 0 {
			req.Body = io.NopCloser(bytes.NewReader(body))
			req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		}
		resp, err := o.transport.RoundTrip(req)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode == http.StatusUnauthorized && !refreshed {
			// A token the connector rejects (revoked, or the app's
			// credentials rotated) is replaced once; a second 401 is real.
			refreshed = true
			o.opts.Metrics.retry(resp.StatusCode)
			discard(resp)
			o.opts.Tokens.Invalidate(token)
			if token, err = o.opts.Tokens.Token(ctx); err != nil {
				return nil, newLocalError(http.StatusServiceUnavailable, CodeTokenUnavailable,
					"the connector refused the token and no fresh one could be acquired; the sidecar's log says why", err)
			}
			continue
		}
		if retryableStatus(resp.StatusCode) {
			if d, ok := o.retry.delay(retries, resp.Header, o.opts.Now(), start); ok {
				retries++
				o.opts.Metrics.retry(resp.StatusCode)
				discard(resp)
				if err := o.opts.Sleep(ctx, d); err != nil {
					return nil, err
				}
				continue
			}
		}
		return resp, nil
	}
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
// added as a "diagnostics" member, its own members untouched.
func (o *Outbound) respond(w http.ResponseWriter, resp *http.Response, rt *route, up upstream, sent []byte, c *call) int {
	copyHeaders(w.Header(), resp.Header, nil)
	if rt.create && resp.StatusCode < 300 {
		// A create's answer is small; read it to learn the new id.
		buf := bufPool.Get().(*bytes.Buffer)
		buf.Reset()
		defer bufPool.Put(buf)
		if _, err := buf.ReadFrom(io.LimitReader(resp.Body, o.opts.MaxBodyBytes)); err == nil {
			o.created.remember(buf.Bytes(), sent, up, o.botAccount(up), o.opts.Now())
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(buf.Bytes())
		return resp.StatusCode
	}
	if resp.StatusCode < 400 {
		w.WriteHeader(resp.StatusCode)
		bp := copyBufPool.Get().(*[]byte)
		_, _ = io.CopyBuffer(w, resp.Body, *bp)
		copyBufPool.Put(bp)
		return resp.StatusCode
	}
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer bufPool.Put(buf)
	_, err := buf.ReadFrom(io.LimitReader(resp.Body, o.opts.MaxBodyBytes))
	upstreamBody := buf.Bytes()
	explain := resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden ||
		resp.StatusCode == http.StatusNotFound && rt.conversationID != ""
	if err == nil && len(upstreamBody) == 0 {
		c.diag = o.diagnose(resp, rt, up, sent, c.tokenUsed)
		writeJSON(w, resp.StatusCode, emptyBodyError(resp.StatusCode, c.diag))
		return resp.StatusCode
	}
	if explain {
		c.diag = o.diagnose(resp, rt, up, sent, c.tokenUsed)
		if withDiag, ok := addMember(upstreamBody, "diagnostics", c.diag); ok {
			w.Header().Del("Content-Length")
			w.WriteHeader(resp.StatusCode)
			_, _ = w.Write(withDiag)
			return resp.StatusCode
		}
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(upstreamBody)
	return resp.StatusCode
}

var copyBufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}
