package proxy

import (
	"net/http"
	"sync/atomic"
)

// ReadinessCheck is one condition of /readyz. It returns nil when met, or
// an error whose message is safe to show (it is served to probes).
type ReadinessCheck struct {
	Name  string
	Check func() error
	// Detail, when set, adds a safe note to a met check ("ok, degraded:
	// …"): a state worth showing that does not make the process unready.
	Detail func() string
}

// Admin serves /healthz and /readyz, plus the handlers the caller mounts
// (/metrics, /references/{id}).
type Admin struct {
	mux      *http.ServeMux
	checks   []ReadinessCheck
	draining atomic.Bool
}

// NewAdmin returns the admin handler. extra handlers (such as /metrics)
// are mounted by pattern.
func NewAdmin(checks []ReadinessCheck, extra map[string]http.Handler) *Admin {
	a := &Admin{mux: http.NewServeMux(), checks: checks}
	a.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	a.mux.HandleFunc("GET /readyz", a.readyz)
	for pattern, h := range extra {
		a.mux.Handle(pattern, h)
	}
	return a
}

// Drain turns /readyz to 503 for the rest of the process's life, so that
// Kubernetes takes the pod out of its endpoints. The listeners start
// draining at once; it is the pod's preStop delay that gives the endpoints
// time to drop the pod first.
func (a *Admin) Drain() { a.draining.Store(true) }

func (a *Admin) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.mux.ServeHTTP(w, r) }

func (a *Admin) readyz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if a.draining.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("shutting down\n"))
		return
	}
	var report []byte
	ready := true
	for _, c := range a.checks {
		if err := c.Check(); err != nil {
			ready = false
			report = append(report, c.Name+": "+err.Error()+"\n"...)
		} else if note := c.detail(); note != "" {
			report = append(report, c.Name+": ok, "+note+"\n"...)
		} else {
			report = append(report, c.Name+": ok\n"...)
		}
	}
	if !ready {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_, _ = w.Write(report)
}

func (c ReadinessCheck) detail() string {
	if c.Detail == nil {
		return ""
	}
	return c.Detail()
}

// ReferenceHandler serves GET /references/{conversationId}: the stored
// reference as JSON (it holds no secrets), or 404. It is mounted on the
// admin listener only, which is not exposed to the channel.
func ReferenceHandler(refs References) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("conversationId")
		ref, err := refs.Get(r.Context(), id)
		switch {
		case err == nil:
			writeJSON(w, http.StatusOK, ref)
		case isNotFound(err):
			writeError(w, refuse(failNoReference, "no reference is stored for conversation "+strconvQuote(id)))
		default:
			writeError(w, storeFailure(false, err))
		}
	})
}
