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
	Auth       Authenticator
	References ReferenceWriter
	// Trust learns the serviceUrls that validated tokens vouch for.
	Trust *TrustList
	// BotURL is where activities go; OutboundURL is the serviceUrl the bot
	// sees instead of the real one, so its replies come back to us.
	BotURL       string
	OutboundURL  string
	MaxBodyBytes int64
	// BotTimeout bounds the wait for the bot: the channel gives up at
	// about 15 s, and a 504 from us is better than its silence.
	BotTimeout time.Duration
	// Transport reaches the bot; nil uses a loopback-tuned transport.
	Transport http.RoundTripper
	Logger    *zap.Logger
	Metrics   *Metrics // nil records nothing
	Now       func() time.Time
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
	channelID    string
	activityType string
	convID       string
	botStatus    int
	code         string
	cause        error
}

func (in *Inbound) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := in.opts.Now()
	var c inboundCall
	status := in.serve(w, r, &c)
	in.opts.Metrics.request("inbound", "/api/messages", status)
	level := zap.InfoLevel
	if c.cause != nil || status >= 500 {
		level = zap.WarnLevel
	}
	if ce := in.log.Check(level, "inbound activity"); ce != nil {
		fields := []zap.Field{
			zap.String("channel_id", c.channelID),
			zap.String("activity_type", c.activityType),
			zap.Int("status", status),
			zap.Int("bot_status", c.botStatus),
			zap.Duration("latency", in.opts.Now().Sub(start)),
			zap.String("ms_cv", r.Header.Get("MS-CV")),
		}
		if c.code != "" {
			fields = append(fields, zap.String("code", c.code))
		}
		if c.cause != nil {
			fields = append(fields, zap.Error(c.cause))
		}
		if c.convID != "" && in.log.Core().Enabled(zap.DebugLevel) {
			fields = append(fields, zap.String("conversation_id", c.convID))
		}
		ce.Write(fields...)
	}
}

func (in *Inbound) fail(w http.ResponseWriter, c *inboundCall, err error) int {
	status, code := writeError(w, err)
	c.code = code
	var le *localError
	if errors.As(err, &le) {
		c.cause = le.cause
	} else {
		c.cause = err
	}
	return status
}

// authError maps an Authenticator error to the response.
func authError(err error) error {
	if errors.Is(err, ErrAuthUnavailable) {
		return newLocalError(http.StatusServiceUnavailable, CodeAuthUnavailable,
			"the channel's signing keys could not be fetched; retry later", err)
	}
	return newLocalError(http.StatusUnauthorized, CodeUnauthorized,
		"the request does not carry a valid Bot Framework channel token", err)
}

func (in *Inbound) serve(w http.ResponseWriter, r *http.Request, c *inboundCall) int {
	if r.URL.Path != "/api/messages" {
		return in.fail(w, c, newLocalError(http.StatusNotFound, CodeUnknownRoute, "the channel endpoint is POST /api/messages", nil))
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return in.fail(w, c, newLocalError(http.StatusMethodNotAllowed, CodeMethodNotAllowed, "the channel endpoint takes POST only", nil))
	}
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer bufPool.Put(buf)
	if err := readBody(r, buf, in.opts.MaxBodyBytes); err != nil {
		return in.fail(w, c, err)
	}
	body := buf.Bytes()
	ctx := r.Context()
	authz := r.Header.Get("Authorization")

	f, inspectErr := rewrite.Inspect(body)
	if inspectErr == nil && f.Type == "" {
		inspectErr = newLocalError(http.StatusBadRequest, CodeMalformedJSON, "the activity has no type", nil)
	}
	if inspectErr != nil {
		// Only a sender with a valid token learns that its body is bad.
		if err := in.opts.Auth.AuthenticateToken(ctx, authz); err != nil {
			return in.fail(w, c, authError(err))
		}
		return in.fail(w, c, inspectErr)
	}
	c.channelID, c.activityType, c.convID = f.ChannelID, f.Type, f.ConversationID

	// The serviceurl claim is checked against the original serviceUrl,
	// before it is rewritten to the sidecar's.
	vouched, err := in.opts.Auth.Authenticate(ctx, authz, f.ChannelID, f.ServiceURL)
	if err != nil {
		return in.fail(w, c, authError(err))
	}
	if vouched {
		in.opts.Trust.Vouch(f.ServiceURL)
	}
	if f.ConversationID != "" {
		// Stored before the bot sees the activity, so that its first
		// reply resolves.
		tenant := f.ChannelDataTenantID
		if tenant == "" {
			tenant = f.ConversationTenantID
		}
		ref := store.Reference{
			ConversationID: f.ConversationID, ServiceURL: f.ServiceURL, Vouched: vouched,
			ChannelID: f.ChannelID, Bot: f.Recipient, User: f.From, Conversation: f.Conversation,
			TenantID: tenant, UpdatedAt: in.opts.Now(),
		}
		if err := in.opts.References.Put(ctx, ref); err != nil {
			// The channel retries a 503; an activity whose reference is
			// not stored must not reach the bot.
			return in.fail(w, c, newLocalError(http.StatusServiceUnavailable, CodeStoreUnavailable,
				"the conversation reference could not be stored; retry later", err))
		}
	}
	out, err := rewrite.Activity(body, rewrite.Edit{ServiceURL: in.opts.OutboundURL})
	if err != nil {
		return in.fail(w, c, err)
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
func (in *Inbound) forward(w http.ResponseWriter, r *http.Request, body []byte, replies *rewrite.Edit, c *inboundCall) int {
	ctx, cancel := context.WithTimeout(r.Context(), in.opts.BotTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, in.opts.BotURL, bytes.NewReader(body))
	if err != nil {
		return in.fail(w, c, newLocalError(http.StatusBadGateway, CodeBotUnreachable, "the bot url is invalid", err))
	}
	copyHeaders(req.Header, r.Header, dropRequestHeaders)
	botStart := in.opts.Now()
	resp, err := in.transport.RoundTrip(req)
	in.opts.Metrics.upstream("inbound", "/api/messages", in.opts.Now().Sub(botStart))
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return in.fail(w, c, newLocalError(http.StatusGatewayTimeout, CodeBotTimeout,
				"the bot did not answer within SIDECAR_BOT_TIMEOUT ("+in.opts.BotTimeout.String()+")", err))
		}
		return in.fail(w, c, newLocalError(http.StatusBadGateway, CodeBotUnreachable,
			"the bot at SIDECAR_BOT_URL could not be reached", err))
	}
	defer resp.Body.Close()
	c.botStatus = resp.StatusCode
	rb := bufPool.Get().(*bytes.Buffer)
	rb.Reset()
	defer bufPool.Put(rb)
	// Read the whole answer before sending the status, so that a bot that
	// stalls mid-body still gets the timeout's 504, not a cut response.
	if _, err := rb.ReadFrom(io.LimitReader(resp.Body, in.opts.MaxBodyBytes)); err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return in.fail(w, c, newLocalError(http.StatusGatewayTimeout, CodeBotTimeout,
				"the bot did not finish its answer within SIDECAR_BOT_TIMEOUT", err))
		}
		return in.fail(w, c, newLocalError(http.StatusBadGateway, CodeBotUnreachable, "the bot's answer could not be read", err))
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
	return resp.StatusCode
}
