package proxy

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/botsidecar/sidecar/internal/fakes"
	"github.com/botsidecar/sidecar/pacing"
	"github.com/botsidecar/sidecar/store"
	"github.com/botsidecar/sidecar/store/memstore"
)

// benchActivity is a realistic Teams reply as botbuilder-js sends it.
const benchActivity = `{"type":"message","serviceUrl":"http://127.0.0.1:3979/","channelId":"msteams","from":{"id":"` + testAppID + `","name":"Echo"},"conversation":{"conversationType":"personal","tenantId":"tenant-1","id":"a:1personal"},"recipient":{"id":"29:user-1","name":"Ada","aadObjectId":"obj-1"},"text":"Echo: hello there","inputHint":"acceptingInput","replyToId":"1712345678901","entities":[{"type":"clientInfo","locale":"en-US","country":"US","platform":"Web","timezone":"Europe/Berlin"}],"channelData":{"tenant":{"id":"tenant-1"}}}`

// newBenchOutbound is the handler in front of a quiet fake connector with
// one Teams reference stored.
func newBenchOutbound(b testing.TB) (*Outbound, *fakes.Connector) {
	conn := fakes.NewConnector(fakes.ConnectorOptions{Quiet: true})
	b.Cleanup(conn.Close)
	mem, _ := memstore.New(10)
	trust, _ := NewTrustList(nil)
	trust.Vouch(conn.ServiceURL()) // as a validated inbound activity would
	_ = mem.Put(context.Background(), store.Reference{ConversationID: "a:1personal", ServiceURL: conn.ServiceURL(), Vouched: true,
		ChannelID: "msteams", Bot: []byte(`{"id":"28:` + testAppID + `","name":"Echo"}`)})
	h, err := NewOutbound(OutboundOptions{AppID: testAppID, Tokens: &fakeTokens{}, References: mem, Trust: trust,
		MaxBodyBytes: 1 << 20, Transport: conn.Transport(), Logger: zap.NewNop()})
	if err != nil {
		b.Fatal(err)
	}
	return h, conn
}

// BenchmarkOutboundSend runs the same sends through the sidecar's handler and, as
// the baseline, through a bare httputil.ReverseProxy to the same fake
// connector, so docs/performance.md can report their ratio.
func BenchmarkOutboundSend(b *testing.B) {
	h, conn := newBenchOutbound(b)
	target, _ := url.Parse(conn.URL)
	rp := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(target)
		pr.Out.URL.Path = "/amer" + pr.In.URL.Path
		pr.Out.URL.RawPath = ""
		pr.Out.Header.Set("Authorization", "Bearer token-0")
	}, Transport: conn.Transport(), BufferPool: rpBufferPool{}}

	for _, tt := range []struct {
		name string
		h    http.Handler
	}{{"sidecar", h}, {"baseline-reverseproxy", rp}} {
		b.Run(tt.name, func(b *testing.B) {
			srv := httptest.NewServer(tt.h)
			defer srv.Close()
			client := srv.Client()
			client.Transport.(*http.Transport).MaxIdleConnsPerHost = 64
			u := srv.URL + "/v3/conversations/a%3A1personal/activities/1712345678901"
			b.ReportAllocs()
			b.SetBytes(int64(len(benchActivity)))
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					resp, err := client.Post(u, "application/json", strings.NewReader(benchActivity))
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						b.Errorf("status %d", resp.StatusCode)
						return
					}
				}
			})
		})
	}
}

// BenchmarkOutboundHandler measures the handler alone (no sockets on the
// bot side): what the sidecar adds per call, allocations included.
func BenchmarkOutboundHandler(b *testing.B) {
	h, _ := newBenchOutbound(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(benchActivity)))
	for b.Loop() {
		req := httptest.NewRequest("POST", "http://127.0.0.1:3979/v3/conversations/a%3A1personal/activities/1712345678901", strings.NewReader(benchActivity))
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatalf("status %d %s", w.Code, w.Body)
		}
	}
}

// rpBufferPool reuses the baseline's copy buffers, as a tuned production
// ReverseProxy would: without it the baseline allocates 32 KiB a response
// and the comparison flatters the sidecar.
type rpBufferPool struct{}

func (rpBufferPool) Get() []byte  { return *copyBufPool.Get().(*[]byte) }
func (rpBufferPool) Put(b []byte) { copyBufPool.Put(&b) }

// BenchmarkOutboundHandlerPaced is BenchmarkOutboundHandler with a pacer
// whose limits never bind: the pacer's own cost per call, against the
// unpaced run of the same harness.
func BenchmarkOutboundHandlerPaced(b *testing.B) {
	lim, err := pacing.ParseLimit("10000/100ms")
	if err != nil {
		b.Fatal(err)
	}
	p, err := pacing.New(pacing.Options{Send: lim, Read: lim, Create: lim, Tenant: lim, MaxWait: time.Second, SpreadTenant: true, Margin: 50 * time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	h, _ := newBenchOutbound(b)
	h.opts.Pacer = p
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest("POST", "http://127.0.0.1:3979/v3/conversations/a%3A1personal/activities/1712345678901", strings.NewReader(benchActivity))
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatalf("status %d %s", w.Code, w.Body)
		}
	}
}
