package framing

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestScanner(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		give    []string // the stream, in reads
		wantBad bool
	}{
		{"get", []string{"GET / HTTP/1.1\r\nHost: a\r\n\r\n"}, false},
		{"content-length", []string{"POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\nbody"}, false},
		{"chunked", []string{"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"}, false},
		{"both", []string{"POST / HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"}, true},
		{"both, other order and case", []string{"POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\ncontent-length:0\r\n\r\n"}, true},
		{"both, head split across reads", []string{"POST / HTTP/1.1\r\nContent-Len", "gth: 4\r\nTransfer-Encoding: chunked\r", "\n", "\r\n0\r\n\r\n"}, true},
		// The second request of a keep-alive connection is found behind
		// the first one's body, even when the body holds a fake head.
		{"second request bad", []string{"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", "POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"}, true},
		{"fake head in a body", []string{"POST / HTTP/1.1\r\nContent-Length: 60\r\n\r\n", "POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: x\r\n\r\n"}, false},
		{"pipelined in one read", []string{"GET / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\nContent-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n"}, true},
		{"http/1.0 te is ignored by net/http", []string{"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", "GET / HTTP/1.0\r\nContent-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s scanner
			bad := false
			for _, b := range tt.give {
				bad = bad || s.feed([]byte(b))
			}
			if bad != tt.wantBad {
				t.Errorf("feed(%q) = %v; want %v", tt.give, bad, tt.wantBad)
			}
		})
	}
}

// Through a real net/http server: the ambiguous request is answered 400
// and its connection closed; the handler never sees it.
func TestListenerRefusesAmbiguousLength(t *testing.T) {
	t.Parallel()
	handled := make(chan string, 4)
	srv := httptest.NewUnstartedServer(Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		handled <- r.URL.Path
	})))
	srv.Listener = Listener(srv.Listener)
	srv.Start()
	defer srv.Close()

	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	_, _ = io.WriteString(c, "POST /first HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nok")
	br := bufio.NewReader(c)
	first, err := http.ReadResponse(br, nil)
	if err != nil || first.StatusCode != http.StatusOK {
		t.Fatalf("first response = %v, %v; want 200", first, err)
	}
	_, _ = io.Copy(io.Discard, first.Body)
	// The second request on the keep-alive connection is the ambiguous one.
	_, _ = io.WriteString(c, "POST /smuggled HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
	second, err := http.ReadResponse(br, nil)
	if err != nil || second.StatusCode != http.StatusBadRequest {
		t.Fatalf("second response = %v, %v; want 400", second, err)
	}
	body, _ := io.ReadAll(second.Body)
	if !strings.Contains(string(body), "AmbiguousLength") {
		t.Errorf("body = %s; want the AmbiguousLength error", body)
	}
	if _, err := br.ReadByte(); err == nil {
		t.Error("the connection stayed open after the refusal")
	}
	if got := <-handled; got != "/first" {
		t.Errorf("handled %q; want /first", got)
	}
	select {
	case got := <-handled:
		t.Errorf("the handler saw %q; want the ambiguous request refused before it", got)
	default:
	}
}

// A chunked request is served, and its connection closed after it: the
// scanner no longer follows that connection.
func TestHandlerClosesAfterChunked(t *testing.T) {
	t.Parallel()
	srv := httptest.NewUnstartedServer(Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	})))
	srv.Listener = Listener(srv.Listener)
	srv.Start()
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodPost, srv.URL, io.NopCloser(strings.NewReader("chunked body")))
	req.ContentLength = -1 // sent chunked
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !resp.Close {
		t.Errorf("chunked request: status %d, close %v; want 200 and the connection closed", resp.StatusCode, resp.Close)
	}
}

func FuzzScanner(f *testing.F) {
	f.Add([]byte("POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\nbodyGET / HTTP/1.1\r\n\r\n"), 3)
	f.Add([]byte("POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"), 7)
	f.Fuzz(func(t *testing.T, stream []byte, cut int) {
		// However the stream is split into reads, the verdict is the same.
		var whole, split scanner
		want := whole.feed(stream)
		if cut < 0 {
			cut = -cut
		}
		cut %= len(stream) + 1
		got := split.feed(stream[:cut])
		got = got || split.feed(stream[cut:])
		if got != want {
			t.Fatalf("feed(%q) = %v whole, %v split at %d", stream, want, got, cut)
		}
	})
}
