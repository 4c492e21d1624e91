package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

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
	CodeInternal            = "InternalError"
)

// localError is an error the sidecar answers itself. msg is safe for the
// client: it never holds a token, a secret or an internal error string.
type localError struct {
	status int
	code   string
	msg    string
	cause  error // for the log line only
}

func (e *localError) Error() string {
	if e.cause != nil {
		return e.code + ": " + e.msg + ": " + e.cause.Error()
	}
	return e.code + ": " + e.msg
}

func (e *localError) Unwrap() error { return e.cause }

func newLocalError(status int, code, msg string, cause error) *localError {
	return &localError{status: status, code: code, msg: msg, cause: cause}
}

// classify maps any error to the status, stable code and safe message of
// the response. It is the one place where errors become HTTP.
func classify(err error) (status int, code, msg string) {
	var le *localError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &le):
		return le.status, le.code, le.msg
	case errors.As(err, &mbe):
		return http.StatusRequestEntityTooLarge, CodeBodyTooLarge,
			"the request body is larger than the limit of " + strconv.FormatInt(mbe.Limit, 10) + " bytes (SIDECAR_MAX_BODY_BYTES)"
	case errors.Is(err, rewrite.ErrMalformed), errors.Is(err, rewrite.ErrNotObject):
		// rewrite's messages name an offset and what was expected: no data.
		return http.StatusBadRequest, CodeMalformedJSON, "the request body is not a valid JSON activity: " + err.Error()
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout, CodeUpstreamTimeout, "the upstream call timed out"
	}
	return http.StatusInternalServerError, CodeInternal, "internal error; see the sidecar's log"
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

// writeError answers err in the Bot Framework error shape.
func writeError(w http.ResponseWriter, err error) (status int, code string) {
	status, code, msg := classify(err)
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

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }
