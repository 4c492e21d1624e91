// Command reverseproxy is the load benchmark's Go baseline: a bare
// httputil.ReverseProxy that forwards everything to one upstream under a
// path prefix and sets a static Authorization header. It is a separate,
// minimal binary so that its memory is comparable with the sidecar's.
//
// It trusts what SSL_CERT_FILE names, as the sidecar does, and its upstream
// transport is tuned like the sidecar's (http.DefaultTransport with 256
// idle connections, 128 per host). With -buffer-pool (the default) it
// reuses its 32 KiB copy buffers as the sidecar does; without, every
// response allocates one, as a ReverseProxy with no BufferPool does.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:3979", "address to serve on")
	upstream := flag.String("upstream", "", "upstream base URL with its prefix, e.g. https://127.0.0.1:8443/amer")
	bearer := flag.String("bearer", "static", "token sent as Authorization: Bearer <token>")
	pool := flag.Bool("buffer-pool", true, "reuse copy buffers (httputil.ReverseProxy.BufferPool)")
	flag.Parse()
	if err := run(*listen, *upstream, *bearer, *pool); err != nil {
		fmt.Fprintln(os.Stderr, "reverseproxy:", err)
		os.Exit(1)
	}
}

func run(listen, upstream, bearer string, pool bool) error {
	target, err := url.Parse(upstream)
	if err != nil || target.Host == "" {
		return fmt.Errorf("-upstream %q is not an absolute URL", upstream)
	}
	prefix := target.EscapedPath()
	if len(prefix) > 0 && prefix[len(prefix)-1] == '/' {
		prefix = prefix[:len(prefix)-1]
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConns = 256
	transport.MaxIdleConnsPerHost = 128
	transport.IdleConnTimeout = 90 * time.Second
	authz := "Bearer " + bearer
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme, pr.Out.URL.Host = target.Scheme, target.Host
			pr.Out.Host = target.Host
			// The path's bytes as the bot sent them, under the prefix.
			in := pr.In.URL.EscapedPath()
			p, err := url.PathUnescape(prefix + in)
			if err != nil {
				p = prefix + pr.In.URL.Path
			}
			pr.Out.URL.Path, pr.Out.URL.RawPath = p, prefix+in
			pr.Out.Header.Set("Authorization", authz)
		},
		Transport: transport,
	}
	if pool {
		rp.BufferPool = &bufferPool{}
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: rp, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// bufferPool is the usual httputil.BufferPool over a sync.Pool.
type bufferPool struct{ p sync.Pool }

func (b *bufferPool) Get() []byte {
	if v, ok := b.p.Get().(*[]byte); ok {
		return *v
	}
	return make([]byte, 32<<10)
}

func (b *bufferPool) Put(buf []byte) { b.p.Put(&buf) }
