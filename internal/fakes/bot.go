package fakes

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
)

// EchoBotOptions configures the echo bot.
type EchoBotOptions struct {
	// RawAppID, when set, is put in the reply's `from` (a classic mistake: the
	// raw app id instead of the channel account); else `from` is omitted.
	RawAppID string
	// WrongServiceURL, when set, is put in the reply's serviceUrl body field
	// (the other classic mistake); the call itself still goes to the serviceUrl
	// the activity carried, as every SDK does.
	WrongServiceURL string
}

// EchoBot is a bot with no SDK and no auth code, the "any language" case:
// for each message it receives it replies "echo: <text>" by POSTing to
// the activity's serviceUrl, then answers the inbound call 200.
type EchoBot struct {
	URL  string // POST {URL}/api/messages
	srv  *httptest.Server
	opts EchoBotOptions

	mu       sync.Mutex
	received [][]byte
	replies  []EchoReply
}

// EchoReply is the outcome of one reply the bot sent.
type EchoReply struct {
	Status int
	Body   string
	Err    error
}

// NewEchoBot starts the bot on loopback (plain HTTP, as behind a sidecar).
func NewEchoBot(opts EchoBotOptions) *EchoBot {
	b := &EchoBot{opts: opts}
	b.srv = httptest.NewServer(http.HandlerFunc(b.serve))
	b.URL = b.srv.URL
	return b
}

// Close stops the bot.
func (b *EchoBot) Close() { b.srv.Close() }

// Received returns the activities the bot got, as sent.
func (b *EchoBot) Received() [][]byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([][]byte(nil), b.received...)
}

// Replies returns the outcomes of the replies it sent.
func (b *EchoBot) Replies() []EchoReply {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]EchoReply(nil), b.replies...)
}

func (b *EchoBot) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	b.mu.Lock()
	b.received = append(b.received, body)
	b.mu.Unlock()
	var a struct {
		Type         string `json:"type"`
		ID           string `json:"id"`
		Text         string `json:"text"`
		ServiceURL   string `json:"serviceUrl"`
		Conversation struct {
			ID string `json:"id"`
		} `json:"conversation"`
	}
	if r.Header.Get("Authorization") != "" {
		http.Error(w, "this bot runs behind the sidecar and expects no Authorization", http.StatusBadRequest)
		return
	}
	if err := json.Unmarshal(body, &a); err != nil {
		http.Error(w, "not an activity", http.StatusBadRequest)
		return
	}
	if a.Type == "message" {
		b.reply(a.ServiceURL, a.Conversation.ID, a.ID, "echo: "+a.Text, r.Header.Get("Traceparent"))
	}
	w.WriteHeader(http.StatusOK)
}

// reply answers in the conversation. traceparent, the inbound request's,
// is sent on as an instrumented SDK would (its reply continues the
// activity's trace), or nothing when "".
func (b *EchoBot) reply(serviceURL, conversationID, replyToID, text, traceparent string) {
	reply := map[string]any{"type": "message", "text": text, "replyToId": replyToID}
	if b.opts.RawAppID != "" {
		reply["from"] = map[string]string{"id": b.opts.RawAppID}
	}
	if b.opts.WrongServiceURL != "" {
		reply["serviceUrl"] = b.opts.WrongServiceURL
	}
	payload, _ := json.Marshal(reply)
	target := strings.TrimRight(serviceURL, "/") + "/v3/conversations/" + url.PathEscape(conversationID) + "/activities/" + url.PathEscape(replyToID)
	var out EchoReply
	req, err := http.NewRequest(http.MethodPost, target, bytes.NewReader(payload))
	var resp *http.Response
	if err == nil {
		req.Header.Set("Content-Type", "application/json")
		if traceparent != "" {
			req.Header.Set("Traceparent", traceparent)
		}
		resp, err = http.DefaultClient.Do(req)
	}
	if err != nil {
		out.Err = fmt.Errorf("reply: %w", err)
	} else {
		rb, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		out.Status, out.Body = resp.StatusCode, string(rb)
	}
	b.mu.Lock()
	b.replies = append(b.replies, out)
	b.mu.Unlock()
}
