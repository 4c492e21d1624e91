package proxy

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap/zapcore"

	"github.com/botsidecar/sidecar/rewrite"
)

// diagnostics is what the sidecar knows about a call the connector refused
// without saying why. None of it is secret: ids of the bot and the
// conversation, the host, correlation ids and the public claims of the
// token (never the token).
type diagnostics struct {
	SentFromID     string            `json:"sentFromId,omitempty"`
	SentServiceURL string            `json:"sentServiceUrl,omitempty"`
	Upstream       string            `json:"upstream"`
	ResolvedBy     string            `json:"resolvedBy"`
	Reference      *referenceSummary `json:"reference,omitempty"`
	Token          *TokenClaims      `json:"token,omitempty"`
	MSCV           string            `json:"msCv,omitempty"`
	RequestID      string            `json:"requestId,omitempty"`
	Hints          []string          `json:"hints,omitempty"`
}

type referenceSummary struct {
	ConversationID string `json:"conversationId"`
	BotID          string `json:"botId,omitempty"`
	ChannelID      string `json:"channelId,omitempty"`
	ServiceURL     string `json:"serviceUrl"`
	TenantID       string `json:"tenantId,omitempty"`
	AgeSeconds     int64  `json:"ageSeconds"`
}

// TokenClaims are the claims of a bearer token that answer "which app,
// which tenant, for which audience, until when". None of them is secret.
type TokenClaims struct {
	Audience string `json:"aud,omitempty"`
	AppID    string `json:"appid,omitempty"`
	AZP      string `json:"azp,omitempty"`
	Tenant   string `json:"tid,omitempty"`
	Issuer   string `json:"iss,omitempty"`
	Expires  int64  `json:"exp,omitempty"`
}

// requestIDHeaders are the connector's request-id headers, in the order
// they are preferred for diagnostics.
var requestIDHeaders = []string{"X-Correlating-Operationid", "Request-Id", "X-Ms-Request-Id"}

// diagnose explains the connector's answer resp to c.
func (o *Outbound) diagnose(resp *http.Response, c *call) *diagnostics {
	up := c.up
	d := &diagnostics{Upstream: up.base.Host, ResolvedBy: up.by.String(), MSCV: resp.Header.Get("MS-CV")}
	for _, h := range requestIDHeaders {
		if v := resp.Header.Get(h); v != "" {
			d.RequestID = v
			break
		}
	}
	if c.route.body == bodyActivity && len(c.body) > 0 {
		if f, err := rewrite.Inspect(c.body); err == nil {
			d.SentServiceURL = f.ServiceURL
			if id, ok, _ := rewrite.StringField(f.From, "id"); ok {
				d.SentFromID = id
			}
		}
	}
	if up.ref != nil {
		s := &referenceSummary{ConversationID: up.ref.ConversationID, ChannelID: up.ref.ChannelID,
			ServiceURL: up.ref.ServiceURL, TenantID: up.ref.TenantID}
		if !up.ref.UpdatedAt.IsZero() {
			s.AgeSeconds = int64(o.opts.Now().Sub(up.ref.UpdatedAt) / time.Second)
		}
		if id, ok, _ := rewrite.StringField(up.ref.Bot, "id"); ok {
			s.BotID = id
		}
		d.Reference = s
	}
	switch resp.StatusCode {
	case http.StatusForbidden:
		d.Hints = []string{
			"the connector accepted the token but refused this conversation",
			"check that the bot is installed where it sends (tenant, team, chat) and has not been blocked or removed",
			"check that the reference's service URL and bot id belong to this app and cloud",
		}
	case http.StatusUnauthorized:
		d.Token = DecodeTokenClaims(c.tokenUsed)
		d.Hints = o.tokenHints(d.Token, c.id)
	case http.StatusNotFound:
		d.Hints = []string{
			"the connector does not know this conversation (or activity): the bot may have been uninstalled from it, " +
				"the conversation deleted, or the id is not one the channel sent",
		}
	}
	return d
}

// tokenHints compares the token's claims with what the sidecar expects.
func (o *Outbound) tokenHints(c *TokenClaims, id *identity) []string {
	if c == nil {
		return []string{"the token could not be decoded"}
	}
	var hints []string
	if app := c.AppID + c.AZP; app != "" && !strings.EqualFold(c.AppID, id.AppID) && !strings.EqualFold(c.AZP, id.AppID) {
		hints = append(hints, "the token was issued to app "+app+", not "+id.AppID)
	}
	if id.TenantID != "" && c.Tenant != "" && !strings.EqualFold(c.Tenant, id.TenantID) {
		hints = append(hints, "the token's tenant "+c.Tenant+" is not the configured tenant "+id.TenantID)
	}
	if c.Expires != 0 && time.Unix(c.Expires, 0).Before(o.opts.Now()) {
		hints = append(hints, "the token had expired")
	}
	return append(hints,
		"the connector refused the token twice (the sidecar fetched a fresh one after the first 401)",
		"check that the bot's Azure Bot resource uses this app id and app type (single-tenant: the same tenant), and that the token audience is the Bot Framework's for this cloud")
}

// DecodeTokenClaims reads the public claims of a JWT without verifying it:
// it is the sidecar's own token, decoded only to explain it (a 401's
// diagnostics, `sidecar doctor`). It returns nil for what is not a JWT.
func DecodeTokenClaims(token string) *TokenClaims {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil
	}
	var raw struct {
		Aud json.RawMessage `json:"aud"`
		TokenClaims
	}
	if json.Unmarshal(payload, &raw) != nil {
		return nil
	}
	c := raw.TokenClaims
	// aud is a string or a list of strings.
	var one string
	var many []string
	if json.Unmarshal(raw.Aud, &one) == nil {
		c.Audience = one
	} else if json.Unmarshal(raw.Aud, &many) == nil {
		c.Audience = strings.Join(many, ",")
	}
	return &c
}

// emptyBodyError is the body for an upstream error without one.
func emptyBodyError(status int, d *diagnostics) *errorBody {
	var b errorBody
	b.Error.Code = CodeUpstreamEmptyError
	b.Error.Message = "the Bot Connector answered " + strconv.Itoa(status) + " " + http.StatusText(status) +
		" with an empty body; the diagnostics say what the sidecar sent"
	b.Error.InnerHTTPError = &innerHTTPError{StatusCode: status}
	b.Diagnostics = d
	return &b
}

// addMember appends "name": v to a JSON object body, leaving every other
// byte alone; false when body is not a JSON object.
func addMember(body []byte, name string, v any) ([]byte, bool) {
	trimmed := bytes.TrimRight(body, " \t\r\n")
	if len(trimmed) < 2 || trimmed[len(trimmed)-1] != '}' || !json.Valid(body) {
		return nil, false
	}
	if _, _, err := rewrite.StringField(body, "x"); err != nil {
		return nil, false // valid JSON, but not an object
	}
	val, err := json.Marshal(v)
	if err != nil {
		return nil, false
	}
	head := bytes.TrimRight(trimmed[:len(trimmed)-1], " \t\r\n")
	out := make([]byte, 0, len(body)+len(name)+len(val)+8)
	out = append(out, head...)
	if head[len(head)-1] != '{' {
		out = append(out, ',')
	}
	out = append(out, '"')
	out = append(out, name...)
	out = append(out, `":`...)
	out = append(out, val...)
	out = append(out, '}')
	return out, true
}

// MarshalLogObject puts the diagnostics on the call's log line.
func (d *diagnostics) MarshalLogObject(e zapcore.ObjectEncoder) error {
	e.AddString("sent_from_id", d.SentFromID)
	e.AddString("sent_service_url", d.SentServiceURL)
	e.AddString("resolved_by", d.ResolvedBy)
	e.AddString("request_id", d.RequestID)
	if r := d.Reference; r != nil {
		e.AddString("reference_bot_id", r.BotID)
		e.AddString("reference_channel_id", r.ChannelID)
		e.AddString("reference_service_url", r.ServiceURL)
		e.AddInt64("reference_age_seconds", r.AgeSeconds)
	}
	if t := d.Token; t != nil {
		e.AddString("token_aud", t.Audience)
		e.AddString("token_appid", t.AppID+t.AZP)
		e.AddString("token_tid", t.Tenant)
		e.AddInt64("token_exp", t.Expires)
	}
	if len(d.Hints) > 0 {
		e.AddString("hint", d.Hints[0])
	}
	return nil
}
