package proxy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/botsidecar/sidecar/rewrite"
	"github.com/botsidecar/sidecar/store"
)

// Authenticator validates the channel's token on an inbound activity.
type Authenticator interface {
	// Authenticate validates authorization for an activity of channelID
	// whose original serviceUrl is serviceURL. vouched reports that the
	// token's signed serviceurl claim named serviceURL.
	Authenticate(ctx context.Context, authorization, channelID, serviceURL string) (vouched bool, err error)
	// AuthenticateToken validates the token alone; it tells a valid sender
	// with a broken body (400) from an invalid sender (401).
	AuthenticateToken(ctx context.Context, authorization string) error
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
	// MaxBodyBytes bounds the activity and the bot's answer; required.
	MaxBodyBytes int64
	// BotTimeout bounds the wait for the bot; required. The channel gives
	// up at about 15 s, and a 504 from us is better than its silence.
	BotTimeout time.Duration
	// Transport reaches the bot; nil uses a loopback-tuned transport.
	Transport http.RoundTripper
	// Logger gets one line per activity; nil discards them.
	Logger *zap.Logger
	// Metrics records activities; nil records nothing.
	Metrics *Metrics
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// Inbound serves POST /api/messages to the channel: it validates the
// channel token, captures the conversation reference, and forwards the
// activity to the bot with serviceUrl pointing at the sidecar.
type Inbound struct {
	opts      InboundOptions
	transport http.RoundTripper
	log       *zap.Logger
}

// NewInbound checks opts and returns the handler.
func NewInbound(opts InboundOptions) (*Inbound, error) {
	switch {
	case opts.Auth == nil || opts.References == nil || opts.Trust == nil:
		return nil, errors.New("inbound: authenticator, references and trust list are required")
	case opts.BotURL == "" || opts.OutboundURL == "":
		return nil, errors.New("inbound: bot url and outbound url are required")
	case opts.MaxBodyBytes <= 0 || opts.BotTimeout <= 0:
		return nil, errors.New("inbound: max body bytes and bot timeout must be positive")
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	t := opts.Transport
	if t == nil {
		bt := http.DefaultTransport.(*http.Transport).Clone()
		bt.MaxIdleConnsPerHost = 64
		t = bt
	}
	return &Inbound{opts: opts, transport: t, log: opts.Logger}, nil
}

// inboundCall is the state of one inbound call, for its log line.
type inboundCall struct {
	outcome
	channelID    string
	activityType string
	botStatus    int
}

func (in *Inbound) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := in.opts.Now()
	c := inboundCall{outcome: outcome{msCV: r.Header.Get("MS-CV")}}
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	if err := in.serve(w, r, &c, buf); err != nil {
		c.fail(w, err)
	}
	bufPool.Put(buf)
	in.opts.Metrics.request("inbound", "/api/messages", c.status)
	logCall(in.log, "inbound activity", &c.outcome, in.opts.Now().Sub(start),
		zap.String("channel_id", c.channelID),
		zap.String("activity_type", c.activityType),
		zap.Int("bot_status", c.botStatus),
	)
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
	if err := readBody(r, buf, in.opts.MaxBodyBytes); err != nil {
		return err
	}
	body := buf.Bytes()
	ctx := r.Context()
	authz := r.Header.Get("Authorization")

	f, inspectErr := rewrite.Inspect(body)
	if inspectErr == nil && f.Type == "" {
		inspectErr = refuse(failMalformedJSON, "the activity has no type")
	}
	if inspectErr != nil {
		// Only a sender with a valid token learns that its body is bad.
		if err := in.opts.Auth.AuthenticateToken(ctx, authz); err != nil {
			return &authFailure{err}
		}
		return inspectErr
	}
	c.channelID, c.activityType, c.conversationID = f.ChannelID, f.Type, f.ConversationID

	// The serviceurl claim is checked against the original serviceUrl,
	// before it is rewritten to the sidecar's.
	vouched, err := in.opts.Auth.Authenticate(ctx, authz, f.ChannelID, f.ServiceURL)
	if err != nil {
		return &authFailure{err}
	}
	if vouched {
		in.opts.Trust.Vouch(f.ServiceURL)
	}
	// Stored before the bot sees the activity, so that its first reply
	// resolves.
	for _, ref := range captured(f, vouched, in.opts.Now()) {
		if err := in.opts.References.Put(ctx, ref); err != nil {
			// The channel retries a 503; an activity whose reference is
			// not stored must not reach the bot.
			return storeFailure(true, withCause(ctx, err))
		}
	}
	out, err := rewrite.Activity(body, rewrite.Edit{ServiceURL: in.opts.OutboundURL})
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
	botErr := func(reading bool, err error) error {
		return &exchangeError{peer: peerBot, limit: in.opts.BotTimeout, reading: reading, err: withCause(ctx, err)}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, in.opts.BotURL, bytes.NewReader(body))
	if err != nil {
		return botErr(false, err)
	}
	copyHeaders(req.Header, r.Header, dropRequestHeaders)
	botStart := in.opts.Now()
	resp, err := in.transport.RoundTrip(req)
	in.opts.Metrics.upstream("inbound", "/api/messages", in.opts.Now().Sub(botStart))
	if err != nil {
		return botErr(false, err)
	}
	defer resp.Body.Close()
	c.botStatus = resp.StatusCode
	rb := bufPool.Get().(*bytes.Buffer)
	rb.Reset()
	defer bufPool.Put(rb)
	// Read the whole answer before sending the status, so that a bot that
	// stalls mid-body still gets the timeout's 504, not a cut response.
	if _, err := rb.ReadFrom(io.LimitReader(resp.Body, in.opts.MaxBodyBytes)); err != nil {
		return botErr(true, err)
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
	return nil
}
