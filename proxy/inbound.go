package proxy

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"golang.org/x/sync/semaphore"

	"github.com/botsidecar/sidecar/rewrite"
	"github.com/botsidecar/sidecar/store"
)

// Authenticator validates the channel's token on an inbound activity, in
// two steps, so that no body is read for a sender without a valid token.
type Authenticator interface {
	// Verify validates the Authorization header value alone: everything
	// that does not need the activity (signature, issuer, audience,
	// lifetime). The handler calls it before it reads the body.
	Verify(ctx context.Context, authorization string) (VerifiedToken, error)
}

// VerifiedToken is a token Verify accepted.
type VerifiedToken interface {
	// CheckActivity checks the rules that bind the token to an activity of
	// channelID whose original serviceUrl is serviceURL, without verifying
	// the signature again. vouched reports that the token's signed
	// serviceurl claim named serviceURL.
	CheckActivity(channelID, serviceURL string) (vouched bool, err error)
	// App is the configured app id the token's audience named: the
	// identity the activity is for.
	App() string
}

// Errors an Authenticator wraps, so that the handler can answer the right
// status without knowing the validator.
var (
	// ErrUnauthenticated: the token is missing or invalid (401).
	ErrUnauthenticated = errors.New("channel token rejected")
	// ErrAuthUnavailable: the signing keys could not be fetched (503, so
	// the channel retries).
	ErrAuthUnavailable = errors.New("channel signing keys unavailable")
)

// BotAuthorizer vouches to the bot for the activities the sidecar
// validated, for a bot that validates inbound tokens itself (an Agents SDK
// bot in production): the channel's own token would not pass there, as its
// serviceurl claim names the real serviceUrl, not the sidecar's.
type BotAuthorizer interface {
	// BotAuthorization returns the Authorization header value of an
	// activity forwarded to the bot of app id audience, with serviceURL as
	// its serviceUrl.
	BotAuthorization(audience, serviceURL string) (string, error)
}

// ReferenceWriter stores references captured inbound.
type ReferenceWriter interface {
	Put(ctx context.Context, ref store.Reference) error
}

// InboundOptions configures an Inbound handler.
type InboundOptions struct {
	// Auth, References and Trust are required. Trust learns the
	// serviceUrls that validated tokens vouch for.
	Auth       Authenticator
	References ReferenceWriter
	Trust      *TrustList
	// BotURL is where activities go; OutboundURL is the serviceUrl the bot
	// sees instead of the real one, so its replies come back to us. Both
	// are required.
	BotURL      string
	OutboundURL string
	// Identities, when set, replace BotURL and OutboundURL: the bots the
	// sidecar speaks for, each with its own. An activity goes to the one
	// whose app id its token's audience named, else the first; its
	// references and redelivery window are that identity's.
	Identities []Identity
	// MaxBodyBytes bounds the activity and the bot's answer; required.
	MaxBodyBytes int64
	// MaxConcurrentBodies is how many bodies of MaxBodyBytes may be held
	// at once (smaller bodies count by their size); 0 is
	// DefaultMaxConcurrentBodies.
	MaxConcurrentBodies int
	// BotTimeout bounds the wait for the bot; required. The channel gives
	// up at about 15 s, and a 504 from us is better than its silence.
	BotTimeout time.Duration
	// BotAuth, when set, gives each forwarded activity an Authorization
	// header of its own; nil forwards none, which stock SDKs with
	// authentication off expect (a token they cannot validate is a 401).
	BotAuth BotAuthorizer
	// Transport reaches the bot; nil uses a loopback-tuned transport.
	Transport http.RoundTripper
	// Logger gets one line per activity; nil discards them.
	Logger *zap.Logger
	// Metrics records activities; nil records nothing.
	Metrics *Metrics
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// Redeliveries is the redelivery window; nil forwards every delivery.
	// A redelivery of an activity within RedeliveryWindow
	// (DefaultRedeliveryWindow when zero) gets the first delivery's answer
	// and does not reach the bot. Each store call is bounded by
	// RedeliveryTimeout (DefaultRedeliveryTimeout when zero).
	Redeliveries      Redeliveries
	RedeliveryWindow  time.Duration
	RedeliveryTimeout time.Duration
	// Tracing traces activities; the zero value traces nothing, at no
	// cost.
	Tracing Tracing
}

// DefaultMaxConcurrentBodies bounds the memory inbound bodies take to 8 ×
// SIDECAR_MAX_BODY_BYTES, 64 MiB with the default limit: a quarter of the
// chart's 256 MiB memory limit, which leaves room for the rewritten copy
// and the bot's answer. Real activities are a few KiB and count by their
// Content-Length, so only large or unsized bodies ever wait; and only after
// their token is verified, so an unauthenticated sender never takes a share.
const DefaultMaxConcurrentBodies = 8

// Inbound serves POST /api/messages to the channel: it validates the
// channel token, captures the conversation reference, and forwards the
// activity to the bot with serviceUrl pointing at the sidecar.
type Inbound struct {
	opts      InboundOptions
	ids       identities
	multi     bool
	transport http.RoundTripper
	log       *zap.Logger
	tracing   Tracing
	bodies    *semaphore.Weighted // bytes of body held at once
}

// NewInbound checks opts and returns the handler.
func NewInbound(opts InboundOptions) (*Inbound, error) {
	if opts.MaxConcurrentBodies == 0 {
		opts.MaxConcurrentBodies = DefaultMaxConcurrentBodies
	}
	switch {
	case opts.Auth == nil || opts.References == nil || opts.Trust == nil:
		return nil, errors.New("inbound: authenticator, references and trust list are required")
	case opts.Identities == nil && (opts.BotURL == "" || opts.OutboundURL == ""):
		return nil, errors.New("inbound: bot url and outbound url are required")
	case opts.MaxBodyBytes <= 0 || opts.BotTimeout <= 0:
		return nil, errors.New("inbound: max body bytes and bot timeout must be positive")
	case opts.MaxConcurrentBodies < 0 || int64(opts.MaxConcurrentBodies) > math.MaxInt64/opts.MaxBodyBytes:
		return nil, errors.New("inbound: max concurrent bodies times max body bytes must be a positive int64")
	case opts.RedeliveryWindow < 0 || opts.RedeliveryTimeout < 0:
		return nil, errors.New("inbound: redelivery window and timeout must not be negative")
	}
	if opts.Identities == nil {
		opts.Identities = []Identity{{Primary: true, BotURL: opts.BotURL, OutboundURL: opts.OutboundURL}}
	}
	ids, err := newIdentities(opts.Identities)
	if err != nil {
		return nil, fmt.Errorf("inbound: %w", err)
	}
	for _, id := range ids {
		if id.BotURL == "" || id.OutboundURL == "" {
			return nil, errors.New("inbound: bot url and outbound url are required")
		}
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	opts.RedeliveryWindow = cmp.Or(opts.RedeliveryWindow, DefaultRedeliveryWindow)
	opts.RedeliveryTimeout = cmp.Or(opts.RedeliveryTimeout, DefaultRedeliveryTimeout)
	t := opts.Transport
	if t == nil {
		bt := http.DefaultTransport.(*http.Transport).Clone()
		bt.MaxIdleConnsPerHost = 64
		t = bt
	}
	return &Inbound{
		opts: opts, transport: t, log: opts.Logger, tracing: opts.Tracing, ids: ids, multi: len(ids) > 1,
		bodies: semaphore.NewWeighted(int64(opts.MaxConcurrentBodies) * opts.MaxBodyBytes),
	}, nil
}

// inboundCall is the state of one inbound call, for its log line.
type inboundCall struct {
	outcome
	// id is the bot the activity is for.
	id           *identity
	channelID    string
	activityType string
	botStatus    int
	// botReached is set once the bot may have the activity: the body
	// started to leave, or the bot answered.
	botReached bool
	// answer and answerType are the relayed answer, kept for the
	// redelivery window when it fits store.MaxDeliveryBody.
	answer     []byte
	answerType string
	// redelivery is the layer that recognised a redelivery; windowErr is
	// why the window could not be asked (the activity was forwarded).
	redelivery string
	windowErr  error
}

func (in *Inbound) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := in.opts.Now()
	c := inboundCall{outcome: outcome{msCV: r.Header.Get("MS-CV")}, id: in.ids[0]}
	var span trace.Span
	if in.tracing.on() {
		r, span = in.tracing.server(r, spanInbound)
	}
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	if err := in.serve(w, r, &c, buf); err != nil {
		c.fail(w, err)
	}
	putBuffer(buf)
	in.opts.Metrics.request(c.id.Name, "inbound", "/api/messages", c.status)
	fields := []zap.Field{
		connectionField(in.multi, c.id),
		zap.String("channel_id", c.channelID),
		zap.String("activity_type", c.activityType),
		zap.Int("bot_status", c.botStatus),
	}
	if c.redelivery != "" {
		fields = append(fields, zap.String("redelivery", c.redelivery))
	}
	if c.windowErr != nil {
		fields = append(fields, zap.NamedError("redelivery_window_error", c.windowErr))
	}
	if span != nil {
		endInbound(span, &c)
	}
	logCall(in.log, "inbound activity", &c.outcome, in.opts.Now().Sub(start), fields...)
}

// serve validates, stores and forwards one activity. It answers the
// channel itself on success and returns the error to answer otherwise.
func (in *Inbound) serve(w http.ResponseWriter, r *http.Request, c *inboundCall, buf *bytes.Buffer) error {
	if r.URL.Path != "/api/messages" {
		return refuse(failUnknownRoute, "the channel endpoint is POST /api/messages")
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return refuse(failMethodNotAllowed, "the channel endpoint takes POST only")
	}
	ctx := r.Context()
	// The token first, from the header alone: a sender without a valid
	// one costs no body read and no share of the body budget.
	token, err := in.verify(ctx, r.Header.Get("Authorization"))
	if err != nil {
		return &authFailure{err}
	}
	if in.multi {
		c.id = in.ids.forApp(token.App())
	}
	release, err := in.holdBody(r)
	if err != nil {
		return err
	}
	defer release()
	if err := readBody(r, buf, in.opts.MaxBodyBytes); err != nil {
		return err
	}
	body := buf.Bytes()

	f, err := rewrite.Inspect(body)
	if err != nil {
		return err
	}
	if f.Type == "" {
		return refuse(failMalformedJSON, "the activity has no type")
	}
	c.channelID, c.activityType, c.conversationID = f.ChannelID, f.Type, f.ConversationID

	// The serviceurl claim is checked against the original serviceUrl,
	// before it is rewritten to the sidecar's.
	vouched, err := token.CheckActivity(f.ChannelID, f.ServiceURL)
	if err != nil {
		return &authFailure{err}
	}
	if vouched {
		in.opts.Trust.Vouch(f.ServiceURL)
	}
	// Only now, with the token bound to the activity: a sender without a
	// valid one can neither claim an activity nor read a recorded answer.
	d, err := in.claim(ctx, keysOf(body, f, c.id.ref))
	if err != nil {
		c.windowErr = err
	}
	if d.prior != nil {
		in.replay(w, d, c)
		return nil
	}
	err = in.deliver(w, r, body, f, vouched, c)
	in.settle(ctx, d, c, err)
	return err
}

// deliver stores the activity's references and forwards it to the bot.
func (in *Inbound) deliver(w http.ResponseWriter, r *http.Request, body []byte, f rewrite.Fields, vouched bool, c *inboundCall) error {
	ctx := r.Context()
	// Stored before the bot sees the activity, so that its first reply
	// resolves.
	for _, ref := range captured(f, vouched, c.id.ref, in.opts.Now()) {
		if err := in.opts.References.Put(ctx, ref); err != nil {
			// The channel retries a 503; an activity whose reference is
			// not stored must not reach the bot.
			return storeFailure(true, withCause(ctx, err))
		}
	}
	out, err := rewrite.Activity(body, rewrite.Edit{ServiceURL: c.id.OutboundURL})
	if err != nil {
		return err
	}
	// With expectReplies the bot's replies come back in its answer, not
	// through the outbound listener: they get the same correction, so the
	// channel never sees the sidecar's loopback address or a wrong sender.
	var replies *rewrite.Edit
	if mode, _, _ := rewrite.StringField(body, "deliveryMode"); mode == "expectReplies" {
		replies = &rewrite.Edit{ServiceURL: f.ServiceURL, From: f.Recipient}
	}
	return in.forward(w, r, out, replies, c)
}

// forward posts the activity to the bot and relays its answer (status,
// headers that matter, and body: an invoke response or expectReplies).
func (in *Inbound) forward(w http.ResponseWriter, r *http.Request, body []byte, replies *rewrite.Edit, c *inboundCall) error {
	ctx, cancel := context.WithTimeout(r.Context(), in.opts.BotTimeout)
	defer cancel()
	ctx, span := in.tracing.client(ctx, spanForward)
	botErr := func(reading bool, err error) error {
		return &exchangeError{peer: peerBot, limit: in.opts.BotTimeout, reading: reading, err: withCause(ctx, err)}
	}
	// The attempt records whether the request started to leave: until it
	// has, the bot cannot have the activity, and the redelivery window lets the
	// channel's retry through (see settle).
	sent := newAttempt()
	req, err := http.NewRequestWithContext(sent.watch(ctx), http.MethodPost, c.id.BotURL, nil)
	if err != nil {
		return botErr(false, err)
	}
	setBody(req, body, sent)
	copyHeaders(req.Header, r.Header, dropRequestHeaders)
	if in.opts.BotAuth != nil {
		v, err := in.opts.BotAuth.BotAuthorization(c.id.AppID, c.id.OutboundURL)
		if err != nil {
			// Not expected: signing with a key held in memory does not
			// fail, but a bot must never get an unsigned activity.
			return &localError{kind: failInternal, msg: "the activity could not be signed for the bot", cause: err}
		}
		req.Header.Set("Authorization", v)
	}
	in.tracing.inject(ctx, req.Header)
	botStart := in.opts.Now()
	resp, err := in.transport.RoundTrip(req)
	if span != nil {
		endClient(span, resp, transportFailure(err))
	}
	in.opts.Metrics.upstream("inbound", "/api/messages", in.opts.Now().Sub(botStart))
	c.botReached = err == nil || sent.started()
	if err != nil {
		return botErr(false, err)
	}
	defer resp.Body.Close()
	c.botStatus = resp.StatusCode
	rb := bufPool.Get().(*bytes.Buffer)
	rb.Reset()
	defer putBuffer(rb)
	// Read the whole answer before sending the status, so that a bot that
	// stalls mid-body still gets the timeout's 504, not a cut response.
	n, err := rb.ReadFrom(io.LimitReader(resp.Body, in.opts.MaxBodyBytes+1))
	if err != nil {
		return botErr(true, err)
	}
	if n > in.opts.MaxBodyBytes {
		// Never the bot's status over cut JSON: the channel would take a
		// broken invoke response for an answer.
		return refuse(failBotAnswerTooLarge, "the bot's answer is larger than SIDECAR_MAX_BODY_BYTES ("+
			strconv.FormatInt(in.opts.MaxBodyBytes, 10)+" bytes); it was not relayed")
	}
	answer := rb.Bytes()
	if replies != nil && resp.StatusCode == http.StatusOK {
		if fixed, err := rewrite.Transcript(answer, *replies); err == nil {
			answer = fixed
		}
	}
	copyHeaders(w.Header(), resp.Header, []string{"Content-Length"})
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(answer)
	c.status = resp.StatusCode
	if in.opts.Redeliveries != nil {
		// A copy: answer is a pooled buffer. A larger answer is recorded
		// by its status alone.
		c.answerType = resp.Header.Get("Content-Type")
		if len(answer) <= store.MaxDeliveryBody {
			c.answer = bytes.Clone(answer)
		}
	}
	return nil
}

// holdBody takes r's share of the body budget: its Content-Length, or the
// whole limit when it has none (chunked). It waits while the budget is
// spent, for as long as the request lasts, and returns the release.
func (in *Inbound) holdBody(r *http.Request) (release func(), err error) {
	n := r.ContentLength
	switch {
	case n > in.opts.MaxBodyBytes:
		return nil, &http.MaxBytesError{Limit: in.opts.MaxBodyBytes}
	case n == 0 || r.Body == nil || r.Body == http.NoBody:
		return func() {}, nil
	case n < 0:
		n = in.opts.MaxBodyBytes
	}
	// The wait is bounded by the bot timeout too: net/http notices a
	// client that hung up only once the body is read, and the channel
	// gives up by then anyway; a 503 asks it to retry.
	ctx, cancel := context.WithTimeout(r.Context(), in.opts.BotTimeout)
	defer cancel()
	if err := in.bodies.Acquire(ctx, n); err != nil {
		if r.Context().Err() != nil {
			return nil, withCause(r.Context(), err)
		}
		return nil, &localError{kind: failInboundBusy, msg: "too many large activities are being received at once; retry later", cause: err}
	}
	return func() { in.bodies.Release(n) }, nil
}
