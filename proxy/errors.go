package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/botsidecar/sidecar/pacing"
	"github.com/botsidecar/sidecar/rewrite"
	"github.com/botsidecar/sidecar/store"
)

// Stable error codes of responses the sidecar makes itself. Bots and
// runbooks match on them: never rename one.
const (
	CodeInvalidPath         = "InvalidPath"
	CodeInvalidHeader       = "InvalidHeader"
	CodeUnknownRoute        = "UnknownRoute"
	CodeMalformedJSON       = "MalformedJson"
	CodeBodyTooLarge        = "BodyTooLarge"
	CodeNoReference         = "ConversationNotResolved"
	CodeUntrustedServiceURL = "UntrustedServiceUrl"
	CodeTokenUnavailable    = "TokenUnavailable"
	CodeUpstreamUnreachable = "UpstreamUnreachable"
	CodeUpstreamTimeout     = "UpstreamTimeout"
	CodeUpstreamEmptyError  = "UpstreamErrorWithoutBody"
	CodeUnauthorized        = "Unauthorized"
	CodeAuthUnavailable     = "SigningKeysUnavailable"
	CodeMethodNotAllowed    = "MethodNotAllowed"
	CodeBotUnreachable      = "BotUnreachable"
	CodeBotTimeout          = "BotTimeout"
	CodeStoreUnavailable    = "StoreUnavailable"
	CodeBadConversation     = "BadConversationParameters"
	CodeClientClosed        = "ClientClosedRequest"
	CodeBrowserRefused      = "BrowserRequestRefused"
	CodeHostNotAllowed      = "HostNotAllowed"
	CodeUnsupportedMedia    = "UnsupportedMediaType"
	CodeUpstreamTooLarge    = "UpstreamAnswerTooLarge"
	CodeBotAnswerTooLarge   = "BotAnswerTooLarge"
	CodeInternal            = "InternalError"
	CodeInboundBusy         = "InboundBusy"
	CodeForbidden           = "Forbidden"
	CodeThrottled           = "Throttled"
)

// StatusClientClosedRequest is the status logged (and counted) for a call
// whose client went away before the answer: nginx's and caddy's 499, so
// that a bot's own cancel is not mistaken for a slow connector.
const StatusClientClosedRequest = 499

// failure is a way a call fails that the sidecar answers itself. Its row
// in failures fixes the status and the stable code, so that no step
// chooses them: a step returns an error, and classify reads the table.
type failure uint8

const (
	failInternal failure = iota
	failInvalidPath
	failInvalidHeader
	failUnknownRoute
	failMethodNotAllowed
	failMalformedJSON
	failNoReference
	failUntrustedServiceURL
	failTeamsCreate // the code comes from the Teams rule that refused the body
	failBrowser
	failForeignHost
	failMediaType
	failUpstreamTooLarge
	failBotAnswerTooLarge
	failInboundBusy // the inbound body budget stayed spent
	failForbidden
)

var failures = [...]struct {
	status int
	code   string
}{
	failInternal:            {http.StatusInternalServerError, CodeInternal},
	failInvalidPath:         {http.StatusBadRequest, CodeInvalidPath},
	failInvalidHeader:       {http.StatusBadRequest, CodeInvalidHeader},
	failUnknownRoute:        {http.StatusNotFound, CodeUnknownRoute},
	failMethodNotAllowed:    {http.StatusMethodNotAllowed, CodeMethodNotAllowed},
	failMalformedJSON:       {http.StatusBadRequest, CodeMalformedJSON},
	failNoReference:         {http.StatusNotFound, CodeNoReference},
	failUntrustedServiceURL: {http.StatusForbidden, CodeUntrustedServiceURL},
	failTeamsCreate:         {http.StatusBadRequest, CodeBadConversation},
	failBrowser:             {http.StatusForbidden, CodeBrowserRefused},
	failForeignHost:         {http.StatusForbidden, CodeHostNotAllowed},
	failMediaType:           {http.StatusUnsupportedMediaType, CodeUnsupportedMedia},
	failUpstreamTooLarge:    {http.StatusBadGateway, CodeUpstreamTooLarge},
	failBotAnswerTooLarge:   {http.StatusBadGateway, CodeBotAnswerTooLarge},
	failInboundBusy:         {http.StatusServiceUnavailable, CodeInboundBusy},
	failForbidden:           {http.StatusForbidden, CodeForbidden},
}

// localError is a refusal of the request itself. msg is safe for the
// client: it never holds a token, a secret or an internal error string.
type localError struct {
	kind  failure
	code  string // overrides the table's code (the Teams create rules)
	msg   string
	cause error // for the log line only
}

func (e *localError) Error() string {
	if e.cause != nil {
		return e.msg + ": " + e.cause.Error()
	}
	return e.msg
}

func (e *localError) Unwrap() error { return e.cause }

func refuse(kind failure, msg string) *localError { return &localError{kind: kind, msg: msg} }

// errBadPath is answered with 400: dot segments or broken escapes.
var errBadPath = refuse(failInvalidPath, "the request path has dot segments or invalid percent-escapes")

// peer is the other side of a failed exchange.
type peer uint8

const (
	peerConnector peer = iota
	peerBot
)

// exchangeError is a failed exchange with the connector or the bot: it
// could not be made, did not finish, or its answer could not be read.
// Whether that is a timeout (504), the client's own cancel (499) or an
// unreachable peer (502) is decided by classify alone, from err.
type exchangeError struct {
	peer    peer
	host    string        // the connector host, for the message
	limit   time.Duration // the bot timeout, for the message
	reading bool          // the answer had started
	err     error
}

func (e *exchangeError) Error() string { return "exchange with " + e.host + ": " + e.err.Error() }
func (e *exchangeError) Unwrap() error { return e.err }

// withCause adds ctx's cause to err once ctx is done, so that a transport
// error that hides it ("connection reset", a cut body) still classifies as
// the timeout or cancel it was.
func withCause(ctx context.Context, err error) error {
	if cause := context.Cause(ctx); cause != nil && !errors.Is(err, cause) {
		return errors.Join(cause, err)
	}
	return err
}

// dependency is a part of the sidecar a call needs besides the peers.
type dependency uint8

const (
	depToken dependency = iota
	depStore
)

// dependencyError is a dependency of the sidecar failing: the token source
// or the reference store. The channel and the bot retry a 503.
type dependencyError struct {
	dep dependency
	msg string // safe for the client
	err error
}

func (e *dependencyError) Error() string { return e.msg + ": " + e.err.Error() }
func (e *dependencyError) Unwrap() error { return e.err }

func tokenFailure(appID string, afterRefusal bool, err error) error {
	msg := "the sidecar could not acquire a token for app " + appID + "; its log says why"
	if afterRefusal {
		msg = "the connector refused the token and no fresh one could be acquired; the sidecar's log says why"
	}
	return &dependencyError{dep: depToken, msg: msg, err: err}
}

func storeFailure(write bool, err error) error {
	msg := "the reference store could not be read"
	if write {
		msg = "the conversation reference could not be stored; retry later"
	}
	return &dependencyError{dep: depStore, msg: msg, err: err}
}

// authFailure is a channel token the Authenticator refused.
type authFailure struct{ err error }

func (e *authFailure) Error() string { return e.err.Error() }
func (e *authFailure) Unwrap() error { return e.err }

// classify maps any error to the status, stable code and safe message of
// the response. It is the one place where errors become HTTP.
func classify(err error) (status int, code, msg string) {
	var (
		le  *localError
		mbe *http.MaxBytesError
		xe  *exchangeError
		de  *dependencyError
		ae  *authFailure
	)
	switch {
	case errors.Is(err, context.Canceled):
		// Before everything else: whatever failed, nobody is waiting.
		return StatusClientClosedRequest, CodeClientClosed, "the client closed the request"
	case errors.Is(err, pacing.ErrThrottled):
		// The code Teams itself answers a 429 with; Retry-After comes from
		// the pacer (writeError).
		return http.StatusTooManyRequests, CodeThrottled, "the call would exceed the channel's rate limits: " + err.Error()
	case errors.As(err, &le):
		row := failures[le.kind]
		if le.code != "" {
			row.code = le.code
		}
		return row.status, row.code, le.msg
	case errors.As(err, &mbe):
		return http.StatusRequestEntityTooLarge, CodeBodyTooLarge,
			"the request body is larger than the limit of " + strconv.FormatInt(mbe.Limit, 10) + " bytes (SIDECAR_MAX_BODY_BYTES)"
	case errors.Is(err, rewrite.ErrMalformed), errors.Is(err, rewrite.ErrNotObject):
		// rewrite's messages name an offset and what was expected: no data.
		return http.StatusBadRequest, CodeMalformedJSON, "the request body is not a valid JSON activity: " + err.Error()
	case errors.As(err, &ae):
		if errors.Is(err, ErrAuthUnavailable) {
			return http.StatusServiceUnavailable, CodeAuthUnavailable, "the channel's signing keys could not be fetched; retry later"
		}
		return http.StatusUnauthorized, CodeUnauthorized, "the request does not carry a valid Bot Framework channel token"
	case errors.As(err, &de):
		if de.dep == depStore {
			return http.StatusServiceUnavailable, CodeStoreUnavailable, de.msg
		}
		return http.StatusServiceUnavailable, CodeTokenUnavailable, de.msg
	case errors.As(err, &xe):
		return classifyExchange(xe)
	}
	return http.StatusInternalServerError, CodeInternal, "internal error; see the sidecar's log"
}

func classifyExchange(e *exchangeError) (status int, code, msg string) {
	timedOut := errors.Is(e.err, context.DeadlineExceeded)
	switch {
	case e.peer == peerBot && timedOut && e.reading:
		return http.StatusGatewayTimeout, CodeBotTimeout, "the bot did not finish its answer within SIDECAR_BOT_TIMEOUT (" + e.limit.String() + ")"
	case e.peer == peerBot && timedOut:
		return http.StatusGatewayTimeout, CodeBotTimeout, "the bot did not answer within SIDECAR_BOT_TIMEOUT (" + e.limit.String() + ")"
	case e.peer == peerBot && e.reading:
		return http.StatusBadGateway, CodeBotUnreachable, "the bot's answer could not be read"
	case e.peer == peerBot:
		return http.StatusBadGateway, CodeBotUnreachable, "the bot at SIDECAR_BOT_URL could not be reached"
	case timedOut:
		return http.StatusGatewayTimeout, CodeUpstreamTimeout, "the call to " + e.host + " did not finish in time"
	case e.reading:
		return http.StatusBadGateway, CodeUpstreamUnreachable, "the answer of the Bot Connector at " + e.host + " could not be read"
	}
	return http.StatusBadGateway, CodeUpstreamUnreachable, "the Bot Connector at " + e.host + " could not be reached"
}

// errorBody is the Bot Framework error shape.
type errorBody struct {
	Error struct {
		Code           string          `json:"code"`
		Message        string          `json:"message"`
		InnerHTTPError *innerHTTPError `json:"innerHttpError,omitempty"`
	} `json:"error"`
	Diagnostics any `json:"diagnostics,omitempty"`
}

type innerHTTPError struct {
	StatusCode int `json:"statusCode"`
}

// writeError answers err in the Bot Framework error shape. A client that
// has gone gets no body: there is nobody to read it.
func writeError(w http.ResponseWriter, err error) (status int, code string) {
	status, code, msg := classify(err)
	if status == StatusClientClosedRequest {
		return status, code
	}
	// A dependency that knows when it will be back (the token source
	// while Entra fails) says so; the channel and SDKs honour it.
	var ra interface{ RetryAfter() time.Duration }
	if errors.As(err, &ra) {
		w.Header().Set("Retry-After", strconv.FormatInt(int64(math.Ceil(ra.RetryAfter().Seconds())), 10))
	}
	var b errorBody
	b.Error.Code, b.Error.Message = code, msg
	writeJSON(w, status, &b)
	return status, code
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status, body = http.StatusInternalServerError, []byte(`{"error":{"code":"InternalError","message":"encode error body"}}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// logCause is what a call's log line shows of err: the cause behind a
// refusal (its message is in the body already), else err itself.
func logCause(err error) error {
	var le *localError
	if errors.As(err, &le) {
		return le.cause
	}
	return err
}

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }
