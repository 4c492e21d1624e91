package authsidecar

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"go.uber.org/zap"

	"github.com/botsidecar/sidecar/proxy"
)

// TokenSource gives an identity's token, from cache when it can
// (*tokencache.Source).
type TokenSource interface {
	Token(ctx context.Context) (string, error)
}

// Identity is one identity the protocol hands tokens of.
type Identity struct {
	// Tokens gives its token; required.
	Tokens TokenSource
	// Scope is the scope its tokens are for, such as
	// https://api.botframework.com/.default; required. A request for
	// another scope is refused rather than answered with a token that the
	// caller did not ask for.
	Scope string
	// Tenant is the tenant its tokens come from; a request that overrides
	// the tenant with another is refused. "" refuses every override.
	Tenant string
}

// Options configures a Handler.
type Options struct {
	// Identities maps the protocol's service names to identities; at
	// least one. The names compare in any case. The SDK asks for
	// "default" unless a connection sets its ServiceName.
	Identities map[string]Identity
	// Signer, when set, has its OpenID metadata and keys served.
	Signer *Signer
	// HostNames are names besides IPs and localhost that a request's Host
	// may carry.
	HostNames []string
	// Logger gets a line per request; nil discards them. No token is
	// ever logged.
	Logger *zap.Logger
}

// Handler serves the auth sidecar listener.
type Handler struct {
	identities map[string]Identity // by lower-case name
	hostNames  []string
	log        *zap.Logger
	mux        *http.ServeMux
}

// New checks opts and returns the handler.
func New(opts Options) (*Handler, error) {
	if len(opts.Identities) == 0 {
		return nil, errors.New("auth sidecar: at least one identity is required")
	}
	h := &Handler{identities: map[string]Identity{}, hostNames: opts.HostNames, log: opts.Logger, mux: http.NewServeMux()}
	for name, id := range opts.Identities {
		if name == "" || id.Tokens == nil || id.Scope == "" {
			return nil, errors.New("auth sidecar: every identity needs a name, a token source and a scope")
		}
		h.identities[strings.ToLower(name)] = id
	}
	if h.log == nil {
		h.log = zap.NewNop()
	}
	h.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, []byte(`{"status":"Healthy"}`))
	})
	h.mux.HandleFunc("GET /AuthorizationHeaderUnauthenticated/{name}", h.serveToken)
	if s := opts.Signer; s != nil {
		h.mux.HandleFunc("GET "+keysPath, func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, s.keys) })
		h.mux.HandleFunc("GET "+metadataPath, func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, s.metadata) })
	}
	return h, nil
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if why := proxy.LocalRefusal(r, h.hostNames...); why != "" {
		// Worth a warning: something in or around the pod tried to get
		// the bot's token from where it must not.
		h.log.Warn("auth sidecar request refused", zap.String("route", r.URL.Path), zap.String("reason", why), zap.String("remote", r.RemoteAddr))
		writeProblem(w, problem{http.StatusForbidden, "Not a loopback caller", why})
		return
	}
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		writeProblem(w, problem{http.StatusMethodNotAllowed, "Method Not Allowed", "the auth sidecar protocol takes GET only"})
		return
	}
	if _, pattern := h.mux.Handler(r); pattern == "" {
		writeProblem(w, problem{http.StatusNotFound, "Not Found", "no such route; tokens are at GET /AuthorizationHeaderUnauthenticated/{serviceName}"})
		return
	}
	h.mux.ServeHTTP(w, r)
}

// serveToken answers GET /AuthorizationHeaderUnauthenticated/{name}.
func (h *Handler) serveToken(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	id, ok := h.identities[strings.ToLower(name)]
	if !ok {
		h.answer(w, name, problem{http.StatusNotFound, "Service not configured", "service " + quote(name) + " is not configured: the names served are the sidecar's connection names, \"default\" for its primary identity"}, nil)
		return
	}
	if p, bad := id.refusal(r); bad {
		h.answer(w, name, p, nil)
		return
	}
	tok, err := id.Tokens.Token(r.Context())
	if err != nil {
		// The SDK retries a 5xx; the token source is trying meanwhile.
		h.answer(w, name, problem{http.StatusServiceUnavailable, "Token unavailable", "no token for " + quote(name) + " yet; the sidecar's log says why"}, err)
		return
	}
	body, err := json.Marshal(struct {
		AuthorizationHeader string `json:"authorizationHeader"`
	}{"Bearer " + tok})
	if err != nil {
		h.answer(w, name, problem{http.StatusInternalServerError, "Internal Server Error", "the answer could not be written"}, err)
		return
	}
	// A token must not be kept by anything between here and the caller.
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, body)
	h.log.Debug("auth sidecar token served", zap.String("service", name))
}

// refusal is why r asks for a token id does not serve: another scope or
// tenant, an agentic identity or user, a delegated or proof-of-possession
// token. Parameters it does not know are ignored, as the protocol's own
// server ignores them; ForceRefresh is among them, since the source
// refreshes before expiry and after the connector refuses a token.
func (id Identity) refusal(r *http.Request) (problem, bool) {
	q := r.URL.Query()
	for _, p := range []string{"AgentIdentity", "AgentUsername", "AgentUserId"} {
		if q.Has(p) {
			return problem{http.StatusBadRequest, "Agentic identities not supported", p + " is not supported: the sidecar holds the bot's app identity only, no agentic identities"}, true
		}
	}
	if q.Has("optionsOverride.AcquireTokenOptions.PopPublicKey") {
		return problem{http.StatusBadRequest, "Proof-of-possession not supported", "proof-of-possession tokens are not supported; ask for a Bearer token"}, true
	}
	if v := q.Get("optionsOverride.RequestAppToken"); v != "" && !strings.EqualFold(v, "true") {
		return problem{http.StatusBadRequest, "App tokens only", "only app tokens are served (optionsOverride.RequestAppToken=true): there is no user to act for"}, true
	}
	for _, s := range q["optionsOverride.Scopes"] {
		if !id.serves(s) {
			return problem{http.StatusBadRequest, "Scope not served", "scope not served: this identity's tokens are for " + id.Scope + " only"}, true
		}
	}
	if t := q.Get("optionsOverride.AcquireTokenOptions.Tenant"); t != "" && !strings.EqualFold(t, id.Tenant) {
		return problem{http.StatusBadRequest, "Tenant not served", "tenant override not served: this identity's tokens come from its own tenant only"}, true
	}
	return problem{}, false
}

// serves reports whether a requested scope is the identity's. The SDKs ask
// for the resource ("https://api.botframework.com") as often as for its
// ".default" scope; both name the same token.
func (id Identity) serves(scope string) bool {
	scope = strings.TrimSpace(scope)
	resource := strings.TrimSuffix(id.Scope, "/.default")
	return strings.EqualFold(scope, id.Scope) || strings.EqualFold(scope, resource)
}

// answer writes a refusal and its log line.
func (h *Handler) answer(w http.ResponseWriter, name string, p problem, err error) {
	fields := []zap.Field{zap.String("service", name), zap.Int("status", p.Status), zap.String("reason", p.Detail)}
	if err != nil {
		fields = append(fields, zap.Error(err))
	}
	h.log.Info("auth sidecar token refused", fields...)
	writeProblem(w, p)
}

// problem is an RFC 7807 problem details body, the protocol's error shape.
// The SDKs surface Title alone (Detail may echo request parameters, which
// they keep out of their logs), so each kind of problem has a title of its
// own; Detail says what to change.
type problem struct {
	Status int    `json:"status"`
	Title  string `json:"title"`
	Detail string `json:"detail"`
}

func writeProblem(w http.ResponseWriter, p problem) {
	body, _ := json.Marshal(struct {
		Type string `json:"type"`
		problem
	}{"about:blank", p})
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(p.Status)
	_, _ = w.Write(body)
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// quote quotes a name from the request for a message, at most 64 bytes of
// it.
func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	b, _ := json.Marshal(s)
	return string(b)
}
