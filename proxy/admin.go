package proxy

import (
	"net"
	"net/http"
	"net/netip"
	"sync/atomic"

	"github.com/botsidecar/sidecar/store"
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

// ReferenceAccess says who may read /references/{conversationId}. A
// reference holds user ids, names, aadObjectId and the tenant, while the
// admin listener listens on every interface for the kubelet's probes and
// Prometheus, so the references are not served to everyone by default.
type ReferenceAccess uint8

const (
	// ReferencesLoopback serves a connection only when it both comes from
	// and arrives on a loopback address: kubectl port-forward or exec into
	// the pod. Checking the local address too refuses a proxy in the pod
	// that forwards outside callers from a loopback address to the pod IP.
	ReferencesLoopback ReferenceAccess = iota
	// ReferencesAll serves any caller (SIDECAR_ADMIN_REFERENCES=all).
	ReferencesAll
	// ReferencesOff serves nobody (SIDECAR_ADMIN_REFERENCES=off).
	ReferencesOff
)

// The refusals of /references say how to reach it instead.
var (
	errReferencesNotLoopback = refuse(failForbidden, "/references is served only on loopback connections, because a reference holds user ids and names: "+
		"use kubectl port-forward to the pod's port 9090 and call localhost, or kubectl exec into the pod, "+
		"or set SIDECAR_ADMIN_REFERENCES=all to serve it to any caller")
	errReferencesOff = refuse(failForbidden, "/references is turned off by SIDECAR_ADMIN_REFERENCES=off: "+
		"read the store with `sidecar references get ID`, or set SIDECAR_ADMIN_REFERENCES=loopback")
)

// allow returns nil when r may read a reference, else the refusal.
func (a ReferenceAccess) allow(r *http.Request) error {
	switch a {
	case ReferencesAll:
		return nil
	case ReferencesLoopback:
		if loopbackConn(r) {
			return nil
		}
		return errReferencesNotLoopback
	}
	return errReferencesOff
}

// loopbackHostPort reports whether addr ("ip:port") is a loopback IP,
// IPv4-mapped IPv6 included.
func loopbackHostPort(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

func (c ReadinessCheck) detail() string {
	if c.Detail == nil {
		return ""
	}
	return c.Detail()
}

// ReferenceHandler serves GET /references/{conversationId}: the stored
// reference as JSON (it holds no secrets, but personal data), or 404, to
// the callers access allows; others get 403 saying how to reach it. It is
// mounted on the admin listener only, which is not exposed to the channel.
func ReferenceHandler(refs References, access ReferenceAccess) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := access.allow(r); err != nil {
			writeError(w, err)
			return
		}
		// Mounted at /references/bots/{identity}/{conversationId} too: a
		// bot other than the primary one keeps its references apart.
		id := r.PathValue("conversationId")
		ref, err := refs.Get(r.Context(), store.Key(r.PathValue("identity"), id))
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
