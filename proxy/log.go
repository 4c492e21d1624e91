package proxy

import (
	"net/http"
	"time"

	"go.uber.org/zap"
)

// outcome is how a call ended: the part of its log line that both
// listeners share, filled as the call goes.
type outcome struct {
	status int
	code   string // the stable code of an error the sidecar answered
	cause  error  // why, for the log line only
	msCV   string
	// conversationID is logged at debug level only: it identifies users.
	conversationID string
}

// fail answers err in the Bot Framework error shape and records it.
func (o *outcome) fail(w http.ResponseWriter, err error) {
	o.status, o.code = writeError(w, err)
	o.cause = logCause(err)
}

// logCall writes a call's one log line: msg, then the listener's own
// fields, then the shared ones. A call that failed on the sidecar's or a
// peer's side is a warning; a client that went away is the client's
// business, logged at info like any other answer.
func logCall(log *zap.Logger, msg string, o *outcome, latency time.Duration, fields ...zap.Field) {
	level := zap.InfoLevel
	if o.status >= 500 || o.cause != nil && o.status != StatusClientClosedRequest {
		level = zap.WarnLevel
	}
	ce := log.Check(level, msg)
	if ce == nil {
		return
	}
	fields = append(fields,
		zap.Int("status", o.status),
		zap.Duration("latency", latency),
		zap.String("ms_cv", o.msCV),
	)
	if o.code != "" {
		fields = append(fields, zap.String("code", o.code))
	}
	if o.cause != nil {
		fields = append(fields, zap.Error(o.cause))
	}
	if o.conversationID != "" && log.Core().Enabled(zap.DebugLevel) {
		fields = append(fields, zap.String("conversation_id", o.conversationID))
	}
	ce.Write(fields...)
}
