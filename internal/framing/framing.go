// Package framing refuses HTTP/1.1 requests whose body length is
// ambiguous: both Content-Length and Transfer-Encoding. net/http follows
// RFC 9112 and lets Transfer-Encoding win, dropping Content-Length before
// any handler can see it; but a proxy in front that honours Content-Length
// instead would frame the stream differently, the classic request
// smuggling. RFC 9112 §6.1 says such a message "ought to be handled as an
// error", so the sidecar's listeners answer it 400 and close the
// connection.
//
// The check runs on the connection, before net/http parses the request:
// [Listener] wraps each accepted connection with a scanner that reads every
// request head as it passes, and skips Content-Length bodies so that it
// finds the next head. A chunked request ends the scanning of its
// connection; [Handler] closes that connection after the response, so no
// unscanned request follows on it. The check fails closed: requests
// pipelined in the same read as an ambiguous one are refused with it.
package framing

import (
	"bytes"
	"errors"
	"net"
	"net/http"
	"strconv"
	"sync"
)

// maxHead bounds the bytes of one request head the scanner keeps. A longer
// head is net/http's to refuse (MaxHeaderBytes); the scanner stops
// guarding that connection.
const maxHead = 1 << 20

// errAmbiguous ends a connection whose request carried both length
// headers.
var errAmbiguous = errors.New("request has both Content-Length and Transfer-Encoding")

// refusalBody is the Bot Framework error shape, like every error the
// sidecar answers itself.
const refusalBody = `{"error":{"code":"AmbiguousLength","message":"the request has both Content-Length and Transfer-Encoding; send exactly one of them"}}`

// refusal is written to the client before the connection is closed.
var refusal = []byte("HTTP/1.1 400 Bad Request\r\nContent-Type: application/json; charset=utf-8\r\nConnection: close\r\nContent-Length: " +
	strconv.Itoa(len(refusalBody)) + "\r\n\r\n" + refusalBody)

// Listener wraps ln so that every connection it accepts is scanned.
func Listener(ln net.Listener) net.Listener { return listener{ln} }

type listener struct{ net.Listener }

func (l listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &conn{Conn: c}, nil
}

// Handler closes the connection after answering a chunked request: its
// scanner stopped at that request, so no further request may follow on it.
func Handler(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.TransferEncoding) > 0 {
			w.Header().Set("Connection", "close")
		}
		h.ServeHTTP(w, r)
	})
}

type conn struct {
	net.Conn
	mu sync.Mutex // Read is called by one goroutine, but Close may race it
	s  scanner
}

func (c *conn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.mu.Lock()
		bad := c.s.feed(p[:n])
		c.mu.Unlock()
		if bad {
			// Nothing of the bad request reaches net/http.
			_, _ = c.Conn.Write(refusal)
			_ = c.Conn.Close()
			return 0, errAmbiguous
		}
	}
	return n, err
}

// state is where the scanner is in the byte stream.
type state uint8

const (
	inHead state = iota // reading a request head
	inBody              // skipping a Content-Length body
	off                 // no longer scanning (a chunked body, an oversized head)
)

// scanner follows HTTP/1.1 request framing far enough to see every request
// head on a connection.
type scanner struct {
	st     state
	head   []byte // the head so far
	remain int64  // body bytes left to skip
}

// feed scans b and reports whether a request head in it carries both
// length headers.
func (s *scanner) feed(b []byte) bool {
	for len(b) > 0 {
		switch s.st {
		case off:
			return false
		case inBody:
			n := min(int64(len(b)), s.remain)
			s.remain -= n
			b = b[n:]
			if s.remain == 0 {
				s.st = inHead
			}
		case inHead:
			// Look for the end of the head across the bytes kept and b.
			start := max(0, len(s.head)-3)
			s.head = append(s.head, b...)
			i := bytes.Index(s.head[start:], []byte("\r\n\r\n"))
			if i < 0 {
				if len(s.head) > maxHead {
					s.st, s.head = off, nil
				}
				return false
			}
			end := start + i + 4
			rest := len(s.head) - end
			head := s.head[:end]
			cl, te := lengthHeaders(head)
			switch {
			case cl >= 0 && te:
				return true
			case te && bytes.Contains(firstLine(head), []byte("HTTP/1.0")):
				// net/http ignores Transfer-Encoding on HTTP/1.0: no body.
				s.st = inHead
			case te:
				s.st = off
			case cl > 0:
				s.st, s.remain = inBody, cl
			default:
				s.st = inHead
			}
			// Continue with what followed the head in b.
			b = b[len(b)-rest:]
			s.head = s.head[:0]
			if cap(s.head) > 8<<10 {
				s.head = nil // an idle connection keeps no large buffer
			}
		}
	}
	return false
}

func firstLine(head []byte) []byte {
	if i := bytes.Index(head, []byte("\r\n")); i >= 0 {
		return head[:i]
	}
	return head
}

// lengthHeaders reads a request head's framing: the Content-Length value
// (-1 when absent; a value net/http will refuse counts as 0, since the
// connection ends there anyway) and whether any Transfer-Encoding is
// present. It allocates nothing: it runs on every request.
func lengthHeaders(head []byte) (contentLength int64, transferEncoding bool) {
	contentLength = -1
	rest := head
	first := true
	for len(rest) > 0 {
		line := rest
		if i := bytes.Index(rest, []byte("\r\n")); i >= 0 {
			line, rest = rest[:i], rest[i+2:]
		} else {
			rest = nil
		}
		if first { // the request line
			first = false
			continue
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			continue
		}
		name, value := line[:colon], bytes.Trim(line[colon+1:], " \t")
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			contentLength = parseLength(value)
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			transferEncoding = true
		}
	}
	return contentLength, transferEncoding
}

// parseLength reads a decimal Content-Length; 0 for what net/http will
// refuse anyway.
func parseLength(v []byte) int64 {
	if len(v) == 0 || len(v) > 18 {
		return 0
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + int64(c-'0')
	}
	return n
}
