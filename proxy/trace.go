package proxy

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Tracing is how a handler traces its calls. Its zero value traces nothing
// and costs nothing: with a nil Tracer no span starts, no context is
// derived, and the trace headers (traceparent, tracestate, baggage) pass
// through untouched like any other header. With a Tracer, the caller's
// trace headers parent the sidecar's span, and the forwarded request
// carries the sidecar's span instead, so that the peer's spans are its
// children.
type Tracing struct {
	Tracer trace.Tracer
	// Propagator reads and writes the trace headers; nil is W3C
	// tracecontext.
	Propagator propagation.TextMapPropagator
}

// Span names: constant, so that dashboards can match them.
const (
	spanInbound  = "POST /api/messages" // the server span's name, as HTTP semantic conventions name it
	spanVerify   = "validate channel token"
	spanForward  = "forward to bot"
	spanOutbound = "outbound call" // renamed "{method} {route}" once the route is known
	spanAttempt  = "upstream attempt"
	spanPacing   = "pacing wait"
)

// Attribute keys. Only these reach a span: patterns, statuses, reasons and
// the correlation ids Microsoft support asks for. Never a user, tenant or
// conversation id, never a path (it names the conversation), never a
// token, never an error's text (a url.Error holds the path).
const (
	attrMethod      = attribute.Key("http.request.method")
	attrRoute       = attribute.Key("http.route")
	attrStatus      = attribute.Key("http.response.status_code")
	attrServer      = attribute.Key("server.address")
	attrErrorType   = attribute.Key("error.type")
	attrAttempt     = attribute.Key("sidecar.attempt")
	attrAttempts    = attribute.Key("sidecar.attempts")
	attrRetryReason = attribute.Key("sidecar.retry_reason")
	attrRedelivery  = attribute.Key("sidecar.redelivery")
	attrBotStatus   = attribute.Key("sidecar.bot_status")
	attrMSCV        = attribute.Key("botframework.ms_cv")
	attrRequestID   = attribute.Key("botframework.request_id")
	attrCorrelation = attribute.Key("botframework.correlation_id")
	attrChannel     = attribute.Key("botframework.channel_id")
	attrActivity    = attribute.Key("botframework.activity_type")
)

// headerCorrelationID is the Agents SDKs' correlation header: it passes
// through both listeners like any header, and is recorded on the spans.
const headerCorrelationID = "X-Ms-Correlation-Id"

func (t Tracing) on() bool { return t.Tracer != nil }

func (t Tracing) propagator() propagation.TextMapPropagator {
	if t.Propagator == nil {
		return propagation.TraceContext{}
	}
	return t.Propagator
}

// server starts the span of a call received on r, a child of the trace
// r's headers carry, and returns r with the span in its context. Only
// called when t is on.
func (t Tracing) server(r *http.Request, name string) (*http.Request, trace.Span) {
	ctx := t.propagator().Extract(r.Context(), propagation.HeaderCarrier(r.Header))
	ctx, span := t.Tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(correlation(r.Header)...))
	return r.WithContext(ctx), span
}

// client starts a span for a request the sidecar makes, child of ctx's;
// off, it returns ctx and a nil span.
func (t Tracing) client(ctx context.Context, name string, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	if !t.on() {
		return ctx, nil
	}
	return t.Tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
}

// inject writes ctx's span into the headers of a forwarded request,
// replacing the caller's: the peer's spans become the sidecar's children.
// Set replaces the header's slice, so the caller's shared one is not
// edited. Off, it leaves h alone.
func (t Tracing) inject(ctx context.Context, h http.Header) {
	if t.on() {
		t.propagator().Inject(ctx, propagation.HeaderCarrier(h))
	}
}

// correlation is the correlation ids a request or answer carries.
func correlation(h http.Header) []attribute.KeyValue {
	var attrs []attribute.KeyValue
	if v := h.Get("MS-CV"); v != "" {
		attrs = append(attrs, attrMSCV.String(v))
	}
	if v := h.Get(headerCorrelationID); v != "" {
		attrs = append(attrs, attrCorrelation.String(v))
	}
	for _, k := range requestIDHeaders {
		if v := h.Get(k); v != "" {
			attrs = append(attrs, attrRequestID.String(v))
			break
		}
	}
	return attrs
}

// endServer ends a server span with the call's outcome. A 5xx is the
// sidecar's or a peer's failure, so an error; a 4xx is the caller's, as
// the HTTP conventions have it.
func endServer(span trace.Span, o *outcome, attrs ...attribute.KeyValue) {
	span.SetAttributes(attrStatus.Int(o.status))
	span.SetAttributes(attrs...)
	if o.code != "" {
		span.SetAttributes(attrErrorType.String(o.code))
	}
	if o.status >= 500 {
		span.SetStatus(codes.Error, o.code)
	}
	span.End()
}

// endClient ends a client span with the peer's answer: status and
// correlation ids, or the kind of failure when there was none.
func endClient(span trace.Span, resp *http.Response, failure string) {
	if resp != nil {
		span.SetAttributes(attrStatus.Int(resp.StatusCode))
		span.SetAttributes(correlation(resp.Header)...)
		if resp.StatusCode >= 400 {
			span.SetStatus(codes.Error, "")
		}
	}
	if failure != "" {
		span.SetAttributes(attrErrorType.String(failure))
		span.SetStatus(codes.Error, failure)
	}
	span.End()
}

// methodAttr is the method as the conventions want it: one of the
// standard ones, or _OTHER, so that a span never carries arbitrary text.
func methodAttr(m string) attribute.KeyValue {
	switch m {
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch,
		http.MethodHead, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return attrMethod.String(m)
	}
	return attrMethod.String("_OTHER")
}

// retriedConnection is call.retried after a send whose body never left.
const retriedConnection = -1

// startAttempt starts the span of one upstream attempt and writes it into
// header; off, it returns ctx. The attempt says why it was made: the
// status the previous one was answered, or "connection".
func (o *Outbound) startAttempt(ctx context.Context, c *call, header http.Header) context.Context {
	if !o.tracing.on() {
		return ctx
	}
	attrs := []attribute.KeyValue{methodAttr(c.method), attrRoute.String(c.route.pattern),
		attrServer.String(c.up.base.Host), attrAttempt.Int(c.attempts)}
	switch {
	case c.retried == retriedConnection:
		attrs = append(attrs, attrRetryReason.String("connection"))
	case c.retried != 0:
		attrs = append(attrs, attrRetryReason.String(strconv.Itoa(c.retried)))
	}
	ctx, c.attempt = o.tracing.client(ctx, spanAttempt, attrs...)
	o.tracing.inject(ctx, header)
	return ctx
}

// endAttempt ends the attempt's span, if one is open, with the answer
// resp, or as a transport failure when there is none.
func (c *call) endAttempt(resp *http.Response) {
	if c.attempt == nil {
		return
	}
	failure := ""
	if resp == nil {
		failure = failureTransport
	}
	endClient(c.attempt, resp, failure)
	c.attempt = nil
}

// tracePacing records the pacer's hold of an attempt, d, as a span of its
// own, once it is over. A call that did not wait, nearly every one,
// records none: an empty span per attempt would double the spans of every
// trace and say nothing. A refusal is recorded too.
func (o *Outbound) tracePacing(ctx context.Context, c *call, d time.Duration, err error) {
	if !o.tracing.on() || d <= 0 && err == nil {
		return
	}
	end := o.opts.Now()
	_, span := o.tracing.Tracer.Start(ctx, spanPacing, trace.WithTimestamp(end.Add(-d)),
		trace.WithAttributes(attrRoute.String(c.route.pattern)))
	if err != nil {
		span.SetStatus(codes.Error, "refused")
	}
	span.End(trace.WithTimestamp(end))
}

// endOutbound ends an outbound call's span.
func endOutbound(span trace.Span, c *call, method, route, host string) {
	span.SetName(method + " " + route)
	endServer(span, &c.outcome, methodAttr(method), attrRoute.String(route), attrServer.String(host),
		attrAttempts.Int(c.attempts), attrMSCV.String(c.msCV))
}

// verify checks the channel's token, in a span of its own when tracing.
func (in *Inbound) verify(ctx context.Context, authorization string) (VerifiedToken, error) {
	if !in.tracing.on() {
		return in.opts.Auth.Verify(ctx, authorization)
	}
	ctx, span := in.tracing.Tracer.Start(ctx, spanVerify)
	defer span.End()
	token, err := in.opts.Auth.Verify(ctx, authorization)
	if err != nil {
		// The sentinel's text only: the validator's detail stays in the log.
		msg := ErrUnauthenticated.Error()
		if errors.Is(err, ErrAuthUnavailable) {
			msg = ErrAuthUnavailable.Error()
		}
		span.SetStatus(codes.Error, msg)
	}
	return token, err
}

// endInbound ends an inbound activity's span.
func endInbound(span trace.Span, c *inboundCall) {
	attrs := []attribute.KeyValue{attrChannel.String(c.channelID), attrActivity.String(c.activityType)}
	if c.botStatus != 0 {
		attrs = append(attrs, attrBotStatus.Int(c.botStatus))
	}
	if c.redelivery != "" {
		attrs = append(attrs, attrRedelivery.String(c.redelivery))
	}
	endServer(span, &c.outcome, append(attrs, methodAttr(http.MethodPost), attrRoute.String("/api/messages"))...)
}

// transportFailure is the error.type of a request that got no answer.
func transportFailure(err error) string {
	if err == nil {
		return ""
	}
	return failureTransport
}

// failureTransport is the error.type of a request that got no answer.
const failureTransport = "transport"
