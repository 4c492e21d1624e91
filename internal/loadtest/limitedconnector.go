package main

import (
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// limitedConnector is the broadcast benchmark's Bot Connector: TLS, the
// send route only, the Teams limits enforced exactly (429 with
// Retry-After past them), and every accepted message recorded so that
// duplicates can be counted. Each run gets a lane of its own, with its own
// limits' state, under its own path prefix: "https://host/<lane>/" is that
// run's service URL.
type limitedConnector struct {
	srv *httptest.Server
	mu  sync.Mutex
	lns map[string]*lane
}

// laneOptions configure one run's part of the connector.
type laneOptions struct {
	Conversation, Tenant limitSpec // per bot: each conversation's sends, the tenant's calls
	DefaultTenant        string    // for a body that names none
	// Fault504 is the fraction of accepted messages answered 504 after
	// they were stored, as a connector that timed out on its way back
	// would: a sender that replays them posts them twice.
	Fault504 float64
	// RetryAfterMs also sends Retry-After-Ms: Teams sends whole seconds,
	// which a run at a reduced time scale would inflate.
	RetryAfterMs bool
	Now          func() time.Time // nil: time.Now
}

// delivery is one message the connector accepted.
type delivery struct {
	Conversation string
	Text         string
	ID           string
	At           time.Time // when it was first accepted
	Times        int       // how often it was accepted: above 1 is a duplicate
}

// lane is one run's connector state.
type lane struct {
	opts      laneOptions
	mu        sync.Mutex
	lim       *limiter
	delivered map[string]*delivery // by conversation and text
	accepted  int
	throttled int // 429s answered
	injected  int // 504s answered after storing
	refused   int // anything else refused (bad token, route, body)
	last      time.Time
}

func newLimitedConnector() *limitedConnector {
	c := &limitedConnector{lns: map[string]*lane{}}
	c.srv = httptest.NewTLSServer(http.HandlerFunc(c.serve))
	return c
}

func (c *limitedConnector) Close() { c.srv.Close() }

// CertificatePEM is the server certificate, for SSL_CERT_FILE.
func (c *limitedConnector) CertificatePEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.srv.Certificate().Raw})
}

// Host is the connector's host:port, for SIDECAR_TRUSTED_SERVICE_URLS.
func (c *limitedConnector) Host() string { return strings.TrimPrefix(c.srv.URL, "https://") }

// addLane makes a lane and returns its service URL.
func (c *limitedConnector) addLane(name string, opts laneOptions) (*lane, string) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	l := &lane{opts: opts, lim: newLimiter(opts.Conversation, opts.Tenant), delivered: map[string]*delivery{}}
	c.mu.Lock()
	c.lns[name] = l
	c.mu.Unlock()
	return l, c.srv.URL + "/" + name + "/"
}

func (c *limitedConnector) serve(w http.ResponseWriter, r *http.Request) {
	name, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.EscapedPath(), "/"), "/")
	c.mu.Lock()
	l := c.lns[name]
	c.mu.Unlock()
	if l == nil {
		connectorError(w, http.StatusNotFound, "NotFound", "no such service URL")
		return
	}
	l.serve(w, r, rest)
}

// serve answers POST v3/conversations/{id}/activities; rest is the path
// after the lane's prefix, still escaped.
func (l *lane) serve(w http.ResponseWriter, r *http.Request, rest string) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	conv, ok := sendPath(rest)
	if r.Method != http.MethodPost || !ok {
		l.refuse(w, http.StatusNotFound, "NotFound", "the benchmark's connector serves sends only")
		return
	}
	bot := bearerAppID(r.Header.Get("Authorization"))
	if bot == "" {
		l.refuse(w, http.StatusUnauthorized, "Unauthorized", "no bearer token with an appid claim")
		return
	}
	var a struct {
		Text         string `json:"text"`
		Conversation struct {
			TenantID string `json:"tenantId"`
		} `json:"conversation"`
	}
	if json.Unmarshal(body, &a) != nil || a.Text == "" {
		l.refuse(w, http.StatusBadRequest, "BadSyntax", "the activity has no text")
		return
	}
	tenant := a.Conversation.TenantID
	if tenant == "" {
		tenant = l.opts.DefaultTenant
	}

	l.mu.Lock()
	now := l.opts.Now()
	ok, wait := l.lim.admit(bot, tenant, conv, now)
	if !ok {
		l.throttled++
		l.mu.Unlock()
		w.Header().Set("Retry-After", strconv.FormatInt(int64(math.Ceil(wait.Seconds())), 10))
		if l.opts.RetryAfterMs {
			w.Header().Set("Retry-After-Ms", strconv.FormatInt(int64(math.Ceil(float64(wait)/float64(time.Millisecond))), 10))
		}
		connectorError(w, http.StatusTooManyRequests, "Throttled", "API calls quota exceeded")
		return
	}
	l.accepted++
	l.last = now
	key := conv + "\x00" + a.Text
	d := l.delivered[key]
	if d == nil {
		d = &delivery{Conversation: conv, Text: a.Text, ID: strconv.Itoa(l.accepted), At: now}
		l.delivered[key] = d
	}
	d.Times++
	id := d.ID
	// Every 1/Fault504-th accepted message, evenly spread: reproducible.
	fault := l.opts.Fault504 > 0 && math.Floor(float64(l.accepted)*l.opts.Fault504) > math.Floor(float64(l.accepted-1)*l.opts.Fault504)
	if fault {
		l.injected++
	}
	l.mu.Unlock()
	if fault {
		connectorError(w, http.StatusGatewayTimeout, "GatewayTimeout", "the request timed out")
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	fmt.Fprintf(w, `{"id":%q}`, id)
}

func (l *lane) refuse(w http.ResponseWriter, status int, code, msg string) {
	l.mu.Lock()
	l.refused++
	l.mu.Unlock()
	connectorError(w, status, code, msg)
}

// laneCounts is what a lane saw, at one moment.
type laneCounts struct {
	Accepted, Throttled, Injected, Refused int
	Unique, Duplicates                     int // distinct messages; accepted beyond the first of each
	Last                                   time.Time
	Delivered                              map[string]delivery // by conversation and text
}

func (l *lane) counts() laneCounts {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := laneCounts{Accepted: l.accepted, Throttled: l.throttled, Injected: l.injected, Refused: l.refused, Last: l.last,
		Unique: len(l.delivered), Delivered: make(map[string]delivery, len(l.delivered))}
	for k, d := range l.delivered {
		c.Duplicates += d.Times - 1
		c.Delivered[k] = *d
	}
	return c
}

// sendPath returns the conversation of "v3/conversations/{id}/activities"
// (with or without a trailing slash), unescaped.
func sendPath(rest string) (string, bool) {
	rest = strings.TrimSuffix(rest, "/")
	id, ok := strings.CutPrefix(rest, "v3/conversations/")
	if !ok {
		return "", false
	}
	id, ok = strings.CutSuffix(id, "/activities")
	if !ok || id == "" || strings.Contains(id, "/") {
		return "", false
	}
	conv, err := url.PathUnescape(id)
	return conv, err == nil
}

// bearerAppID reads the appid claim of a bearer token without checking
// its signature: the benchmark measures pacing, not token validation, and
// needs only to tell bots apart.
func bearerAppID(authz string) string {
	tok, ok := strings.CutPrefix(authz, "Bearer ")
	if !ok {
		return ""
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return ""
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var claims struct {
		AppID string `json:"appid"`
		AZP   string `json:"azp"`
	}
	if json.Unmarshal(b, &claims) != nil {
		return ""
	}
	if claims.AppID != "" {
		return claims.AppID
	}
	return claims.AZP
}

func connectorError(w http.ResponseWriter, status int, code, msg string) {
	b, _ := json.Marshal(map[string]any{"error": map[string]string{"code": code, "message": msg}})
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
