package main

import (
	"net"
	"net/http"
	"time"

	"golang.org/x/net/netutil"
)

// The inbound listener faces the internet. The channel opens connections
// freely and sends one activity of a few KiB at a time, so connections
// are capped and idle ones closed early: 3,000 idle keep-alive
// connections must not stay open, and a client that sends its headers
// slowly must not hold a connection long.
const (
	// inboundMaxConns caps the open inbound connections; further ones wait
	// in the kernel's accept queue until one closes. Each costs a
	// goroutine and its buffers (about 10 KiB idle), 5 MiB at the cap, and
	// a pod's channel traffic needs a few dozen at most.
	inboundMaxConns = 512
	// inboundReadHeaderTimeout bounds a request's headers, against
	// slowloris; a real channel sends them in one packet.
	inboundReadHeaderTimeout = 10 * time.Second
	// inboundIdleTimeout closes a keep-alive connection idle this long; the
	// channel reconnects at no cost to it.
	inboundIdleTimeout = 30 * time.Second
)

// inboundListener caps ln at maxConns open connections.
func inboundListener(ln net.Listener, maxConns int) net.Listener {
	return netutil.LimitListener(ln, maxConns)
}

// hardenInbound applies the inbound timeouts to srv, which has the
// settings every listener shares.
func hardenInbound(srv *http.Server) {
	srv.ReadHeaderTimeout = inboundReadHeaderTimeout
	srv.IdleTimeout = inboundIdleTimeout
}
