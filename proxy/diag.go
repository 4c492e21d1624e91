package proxy

import (
	"net/http"
	"strconv"
	"time"

	"github.com/botsidecar/sidecar/rewrite"
)

// diagnostics is what the sidecar knows about a call the connector refused
// without saying why. None of it is secret.
type diagnostics struct {
	SentFromID     string            `json:"sentFromId,omitempty"`
	SentServiceURL string            `json:"sentServiceUrl,omitempty"`
	Upstream       string            `json:"upstream"`
	ResolvedBy     string            `json:"resolvedBy"`
	Reference      *referenceSummary `json:"reference,omitempty"`
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

// requestIDHeaders are the connector's request-id headers, in the order
// they are preferred for diagnostics.
var requestIDHeaders = []string{"X-Correlating-Operationid", "Request-Id", "X-Ms-Request-Id"}

func (o *Outbound) diagnose(resp *http.Response, rt *route, up upstream, sent []byte) *errorBody {
	d := &diagnostics{Upstream: up.base.Host, ResolvedBy: up.via, MSCV: resp.Header.Get("MS-CV")}
	for _, h := range requestIDHeaders {
		if v := resp.Header.Get(h); v != "" {
			d.RequestID = v
			break
		}
	}
	if rt.body == bodyActivity && len(sent) > 0 {
		if f, err := rewrite.Inspect(sent); err == nil {
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
	if resp.StatusCode == http.StatusForbidden {
		d.Hints = []string{
			"the connector authenticated the token but refused this conversation",
			"check that the bot is installed where it sends (tenant, team, chat) and has not been blocked or removed",
			"check that the reference's service URL and bot id belong to this app and cloud",
		}
	}
	var b errorBody
	b.Error.Code = CodeUpstreamEmptyError
	b.Error.Message = "the Bot Connector answered " + strconv.Itoa(resp.StatusCode) + " " + http.StatusText(resp.StatusCode) +
		" with an empty body; the diagnostics say what the sidecar sent"
	b.Error.InnerHTTPError = &innerHTTPError{StatusCode: resp.StatusCode}
	b.Diagnostics = d
	return &b
}
