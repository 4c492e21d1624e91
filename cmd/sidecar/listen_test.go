package main

import (
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/botsidecar/sidecar/store"
)

// chanListener hands out the connections sent on conns and counts the
// Accept calls that reached it.
type chanListener struct {
	conns    chan net.Conn
	mu       sync.Mutex
	accepted int
	closed   chan struct{}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		l.mu.Lock()
		l.accepted++
		l.mu.Unlock()
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.accepted
}

func (l *chanListener) Close() error   { close(l.closed); return nil }
func (l *chanListener) Addr() net.Addr { return &net.TCPAddr{} }

// TestInboundListenerCapsConnections: past the cap, Accept waits until an
// accepted connection closes.
func TestInboundListenerCapsConnections(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		inner := &chanListener{conns: make(chan net.Conn, 10), closed: make(chan struct{})}
		ln := inboundListener(inner, 2)
		var held []net.Conn
		for range 3 {
			server, client := net.Pipe()
			defer client.Close()
			inner.conns <- server
		}
		for range 2 {
			c, err := ln.Accept()
			if err != nil {
				t.Fatal(err)
			}
			held = append(held, c)
		}
		third := make(chan net.Conn, 1)
		go func() {
			c, err := ln.Accept()
			if err == nil {
				third <- c
			}
		}()
		synctest.Wait()
		if got := inner.count(); got != 2 {
			t.Fatalf("accepted %d connections with a cap of 2", got)
		}
		_ = held[0].Close()
		c := <-third
		_ = c.Close()
		_ = held[1].Close()
		_ = ln.Close()
	})
}

// TestInboundServerHardened: the app's inbound listener is the capped one,
// with the short header and idle timeouts; the others keep theirs.
func TestInboundServerHardened(t *testing.T) {
	s := startStack(t, nil)
	in := s.app.server("inbound")
	if in.http.ReadHeaderTimeout != inboundReadHeaderTimeout || in.http.IdleTimeout != inboundIdleTimeout {
		t.Errorf("inbound timeouts = header %v, idle %v; want %v, %v", in.http.ReadHeaderTimeout, in.http.IdleTimeout, inboundReadHeaderTimeout, inboundIdleTimeout)
	}
	if out := s.app.server("outbound"); out.http.IdleTimeout == inboundIdleTimeout {
		t.Errorf("outbound idle timeout = %v; the bot's keep-alive connections keep the longer one", out.http.IdleTimeout)
	}
	// The cap is observable only past inboundMaxConns connections; the
	// listener's type tells the wrapping apart from the bare one.
	if _, bare := in.ln.(*net.TCPListener); bare {
		t.Error("the inbound listener is not capped")
	}
}

// endless is a request body that never ends.
type endless struct{}

func (endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	return len(p), nil
}

// TestIntegrationUnauthenticatedBodyIsNotRead: a request without a valid
// token is refused from its headers, whatever body it announces.
func TestIntegrationUnauthenticatedBodyIsNotRead(t *testing.T) {
	s := startStack(t, nil)
	s.waitReady()
	for _, length := range []int64{-1, 1 << 40} {
		req, _ := http.NewRequest("POST", s.inbound+"/api/messages", io.NopCloser(endless{}))
		req.ContentLength = length
		req.Header.Set("Authorization", "Bearer "+strings.Repeat("x", 100))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("Content-Length %d: %v", length, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Errorf("Content-Length %d: %d %s; want 401", length, resp.StatusCode, b)
		}
	}
	if got := s.bot.Received(); len(got) != 0 {
		t.Errorf("bot received %d activities", len(got))
	}
}

// TestIntegrationStringTimeClaimsRefused: a signed channel token whose
// exp (or nbf, iat) is a string, which jwx would read as a time, is 401.
func TestIntegrationStringTimeClaimsRefused(t *testing.T) {
	s := startStack(t, nil)
	s.waitReady()
	su := s.conn.ServiceURL()
	for _, claim := range []string{"exp", "nbf", "iat"} {
		claims := s.channel.Claims(itAppID, su)
		claims[claim] = strconv.FormatInt(claims[claim].(int64), 10)
		status, body := s.postInbound("Bearer "+s.channel.Signer().Sign(claims), s.teamsActivity("a:1conv", su))
		if status != 401 {
			t.Errorf("%s as a string: %d %s; want 401", claim, status, body)
		}
	}
	if got := s.bot.Received(); len(got) != 0 {
		t.Errorf("bot received %d activities", len(got))
	}
	if _, err := s.app.store.Get(t.Context(), "a:1conv"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a reference was stored: %v", err)
	}
}
