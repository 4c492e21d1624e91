package fakes

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ConnectorRequest is one request the fake connector received.
type ConnectorRequest struct {
	Method string
	// RawURI is the request-target exactly as sent (path and query).
	RawURI string
	Header http.Header
	Body   []byte
}

// ConnectorResponse is a scripted answer.
type ConnectorResponse struct {
	Status int
	Header http.Header
	Body   string
	// Delay holds the answer back; a caller that hangs up meanwhile (a
	// killed sidecar) ends the wait, so that a long delay does not hold
	// up the server's Close.
	Delay time.Duration
}

// ConnectorOptions configures a fake Bot Connector.
type ConnectorOptions struct {
	// VerifyToken checks the bearer token of each request; a non-nil error
	// is answered 401 like the real connector. Nil accepts any token.
	VerifyToken func(token string) error
	// Quiet makes it record nothing; benchmarks use it.
	Quiet bool
}

// Connector is a fake Bot Connector on loopback TLS. It answers scripted
// responses first, then what the real service answers for each route.
type Connector struct {
	URL  string
	srv  *httptest.Server
	opts ConnectorOptions

	mu       sync.Mutex
	requests []ConnectorRequest
	script   []ConnectorResponse
	nextID   atomic.Int64
}

// NewConnector starts a fake connector.
func NewConnector(opts ConnectorOptions) *Connector {
	c := &Connector{opts: opts}
	c.srv = httptest.NewTLSServer(http.HandlerFunc(c.serve))
	c.URL = c.srv.URL
	return c
}

// Close stops the server.
func (c *Connector) Close() { c.srv.Close() }

// Client returns a client that trusts the fake's certificate.
func (c *Connector) Client() *http.Client { return c.srv.Client() }

// Transport returns a transport that trusts the fake's certificate.
func (c *Connector) Transport() *http.Transport {
	return c.srv.Client().Transport.(*http.Transport).Clone()
}

// CertificatePEM is the server certificate, for SSL_CERT_FILE.
func (c *Connector) CertificatePEM() []byte { return certPEM(c.srv.Certificate()) }

// ServiceURL is the fake's service URL with a region prefix, the way
// Teams hands them out ("https://smba.trafficmanager.net/amer/").
func (c *Connector) ServiceURL() string { return c.URL + "/amer/" }

// Enqueue scripts the next answers, in order.
func (c *Connector) Enqueue(r ...ConnectorResponse) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.script = append(c.script, r...)
}

// Requests returns what the fake has received so far.
func (c *Connector) Requests() []ConnectorRequest {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]ConnectorRequest(nil), c.requests...)
}

// Reset forgets received requests and scripted answers.
func (c *Connector) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.requests, c.script = nil, nil
}

func (c *Connector) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	c.mu.Lock()
	if !c.opts.Quiet {
		c.requests = append(c.requests, ConnectorRequest{Method: r.Method, RawURI: r.RequestURI, Header: r.Header.Clone(), Body: body})
	}
	var scripted *ConnectorResponse
	if len(c.script) > 0 {
		s := c.script[0]
		c.script = c.script[1:]
		scripted = &s
	}
	c.mu.Unlock()

	w.Header().Set("MS-CV", fmt.Sprintf("fakeCV%d.1", c.nextID.Add(1)))
	w.Header().Set("X-Correlating-OperationId", "fake-op")
	if scripted != nil {
		select {
		case <-time.After(scripted.Delay):
		case <-r.Context().Done():
			return
		}
		for k, v := range scripted.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(scripted.Status)
		_, _ = io.WriteString(w, scripted.Body)
		return
	}
	auth := r.Header.Get("Authorization")
	token, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok {
		writeConnectorError(w, http.StatusUnauthorized, "Unauthorized", "Authorization has been denied for this request.")
		return
	}
	if c.opts.VerifyToken != nil {
		if err := c.opts.VerifyToken(token); err != nil {
			writeConnectorError(w, http.StatusUnauthorized, "Unauthorized", "Authorization has been denied for this request.")
			return
		}
	}
	c.answer(w, r, body)
}

// answer mimics the connector's success responses.
func (c *Connector) answer(w http.ResponseWriter, r *http.Request, body []byte) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	path := r.URL.Path
	id := c.nextID.Add(1)
	switch {
	case r.Method == http.MethodPost && strings.HasSuffix(strings.TrimSuffix(path, "/"), "/v3/conversations"):
		var p struct {
			IsGroup     bool            `json:"isGroup"`
			Activity    json.RawMessage `json:"activity"`
			ChannelData struct {
				Channel struct {
					ID string `json:"id"`
				} `json:"channel"`
			} `json:"channelData"`
			Members []struct {
				ID string `json:"id"`
			} `json:"members"`
		}
		if json.Unmarshal(body, &p) != nil {
			writeConnectorError(w, http.StatusBadRequest, "BadSyntax", "Incorrect conversation creation parameters")
			return
		}
		switch {
		case p.IsGroup && p.ChannelData.Channel.ID != "" && len(p.Activity) > 0:
			w.WriteHeader(http.StatusCreated)
			fmt.Fprintf(w, `{"id":%q,"activityId":"%d"}`, fmt.Sprintf("%s;messageid=%d", p.ChannelData.Channel.ID, id), id)
		case !p.IsGroup && len(p.Members) == 1:
			w.WriteHeader(http.StatusCreated)
			fmt.Fprintf(w, `{"id":%q}`, "a:fake-1on1-"+p.Members[0].ID)
		default:
			writeConnectorError(w, http.StatusBadRequest, "BadSyntax", "Incorrect conversation creation parameters")
		}
	case r.Method == http.MethodPost || r.Method == http.MethodPut:
		w.WriteHeader(http.StatusOK)
		fmt.Fprintf(w, `{"id":"%d"}`, id)
	case r.Method == http.MethodDelete:
		w.WriteHeader(http.StatusOK)
	default:
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(`[]`))
	}
}

func writeConnectorError(w http.ResponseWriter, status int, code, msg string) {
	var b bytes.Buffer
	_ = json.NewEncoder(&b).Encode(map[string]any{"error": map[string]string{"code": code, "message": msg}})
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

func certPEM(cert *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
}
