package proxy

import (
	"context"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/botsidecar/sidecar/pacing"
	"github.com/botsidecar/sidecar/store"
)

// Metrics are the sidecar's Prometheus metrics. Labels carry route
// patterns, statuses and reasons only: never ids, hosts or secrets.
// A nil *Metrics records nothing (a null object), so handlers need no
// checks and tests that do not look at metrics pass none.
type Metrics struct {
	requests     *prometheus.CounterVec
	upstreamTime *prometheus.HistogramVec
	retries      *prometheus.CounterVec
	storeOps     *prometheus.CounterVec
	storeErrors  *prometheus.CounterVec
	redeliveries *prometheus.CounterVec
	pacingWait   *prometheus.HistogramVec
	pacingRefuse *prometheus.CounterVec
	// waitBy holds pacingWait's series per class, resolved once: the
	// pacer is asked on every attempt.
	waitBy       map[pacing.Class]prometheus.Observer
	statusLabels map[int]string
	// byConnection: requests carry the connection label.
	byConnection bool
}

// NewMetrics registers the proxy's metrics with reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) { return newMetrics(reg, false) }

// NewConnectionMetrics is NewMetrics for a sidecar that speaks for several
// bots: sidecar_requests_total also carries the connection, the name of
// the identity each request was made for (never an id). One bot's series
// stay as they were.
func NewConnectionMetrics(reg prometheus.Registerer) (*Metrics, error) { return newMetrics(reg, true) }

func newMetrics(reg prometheus.Registerer, byConnection bool) (*Metrics, error) {
	labels := []string{"direction", "route", "status"}
	if byConnection {
		labels = append([]string{"connection"}, labels...)
	}
	m := &Metrics{
		byConnection: byConnection,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sidecar_requests_total",
			Help: "Requests handled, by direction (inbound from the channel, outbound from the bot), route pattern and response status.",
		}, labels),
		upstreamTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "sidecar_upstream_request_duration_seconds",
			Help:    "Time from the first upstream attempt to the final answer, retries included, by direction and route pattern.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"direction", "route"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sidecar_upstream_retries_total",
			Help: "Upstream retries by reason: the status that caused them (401 gets a fresh token; 412, 429, 502, 503, 504 back off, the last three for reads, PUT and DELETE only), or connection (a send whose body never left).",
		}, []string{"reason"}),
		storeOps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sidecar_reference_store_operations_total",
			Help: "Reference store operations by operation and result (hit, miss, ok, error).",
		}, []string{"op", "result"}),
		storeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sidecar_reference_store_errors_total",
			Help: "Reference store operations that failed, by operation.",
		}, []string{"op"}),
		redeliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sidecar_inbound_redeliveries_total",
			Help: "Inbound activities recognised as a redelivery and answered with the first delivery's answer without reaching the bot, by the layer that recognised them (id: the same activity id; content: a new id with the same sender, timestamp and text).",
		}, []string{"layer"}),
		pacingWait: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "sidecar_pacing_wait_seconds",
			Help:    "Time an upstream attempt was held to fit the rate limits, by class (send, create, read, other); attempts that fit at once count as 0.",
			Buckets: []float64{0, .01, .05, .1, .25, .5, 1, 2, 5, 10, 30},
		}, []string{"class"}),
		pacingRefuse: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sidecar_pacing_refused_total",
			Help: "Upstream attempts refused by the pacer (the bot got 429 Throttled with the pacer's Retry-After), by class.",
		}, []string{"class"}),
		statusLabels: map[int]string{},
	}
	for _, c := range []prometheus.Collector{m.requests, m.upstreamTime, m.retries, m.storeOps, m.storeErrors, m.redeliveries, m.pacingWait, m.pacingRefuse} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	m.waitBy = map[pacing.Class]prometheus.Observer{}
	for _, c := range []pacing.Class{pacing.ClassOther, pacing.ClassSend, pacing.ClassCreate, pacing.ClassRead} {
		m.waitBy[c] = m.pacingWait.WithLabelValues(c.String())
	}
	// Status labels are precomputed for the common statuses so that the hot
	// path does not format integers.
	for _, s := range []int{200, 201, 202, 204, 400, 401, 403, 404, 405, 412, 413, 429, StatusClientClosedRequest, 500, 501, 502, 503, 504} {
		m.statusLabels[s] = strconv.Itoa(s)
	}
	return m, nil
}

func (m *Metrics) status(s int) string {
	if l, ok := m.statusLabels[s]; ok {
		return l
	}
	return strconv.Itoa(s)
}

// request counts a request of connection (the identity's name; counted
// only by NewConnectionMetrics).
func (m *Metrics) request(connection, direction, route string, status int) {
	switch {
	case m == nil:
	case m.byConnection:
		m.requests.WithLabelValues(connection, direction, route, m.status(status)).Inc()
	default:
		m.requests.WithLabelValues(direction, route, m.status(status)).Inc()
	}
}

func (m *Metrics) upstream(direction, route string, d time.Duration) {
	if m == nil {
		return
	}
	m.upstreamTime.WithLabelValues(direction, route).Observe(d.Seconds())
}

func (m *Metrics) retry(status int) {
	if m == nil {
		return
	}
	m.retries.WithLabelValues(m.status(status)).Inc()
}

// retryReason counts a retry that no status caused ("connection": an
// attempt whose body never left).
func (m *Metrics) retryReason(reason string) {
	if m == nil {
		return
	}
	m.retries.WithLabelValues(reason).Inc()
}

// paced records what the pacer did with an attempt: held it for waited,
// or refused it.
func (m *Metrics) paced(class pacing.Class, waited time.Duration, refused bool) {
	if m == nil {
		return
	}
	if refused {
		m.pacingRefuse.WithLabelValues(class.String()).Inc()
		return
	}
	m.waitBy[class].Observe(waited.Seconds())
}

// redelivery counts a redelivery the layer recognised.
func (m *Metrics) redelivery(layer string) {
	if m == nil {
		return
	}
	m.redeliveries.WithLabelValues(layer).Inc()
}

func (m *Metrics) storeOp(op string, err error, found bool) {
	if m == nil {
		return
	}
	result := "ok"
	switch {
	case err != nil && !isNotFound(err):
		result = "error"
		m.storeErrors.WithLabelValues(op).Inc()
	case op == "get" && found:
		result = "hit"
	case op == "get":
		result = "miss"
	}
	m.storeOps.WithLabelValues(op, result).Inc()
}

// InstrumentedStore counts the operations of a store. It wraps the
// interfaces proxy uses, so either handler can be given it.
type InstrumentedStore struct {
	Store interface {
		References
		ReferenceWriter
	}
	Metrics *Metrics
}

// Get implements References.
func (s InstrumentedStore) Get(ctx context.Context, id string) (store.Reference, error) {
	ref, err := s.Store.Get(ctx, id)
	s.Metrics.storeOp("get", err, err == nil)
	return ref, err
}

// NewestForTenant implements References.
func (s InstrumentedStore) NewestForTenant(ctx context.Context, tenant string) (store.Reference, error) {
	ref, err := s.Store.NewestForTenant(ctx, tenant)
	s.Metrics.storeOp("get", err, err == nil)
	return ref, err
}

// Put implements ReferenceWriter.
func (s InstrumentedStore) Put(ctx context.Context, ref store.Reference) error {
	err := s.Store.Put(ctx, ref)
	s.Metrics.storeOp("put", err, false)
	return err
}
