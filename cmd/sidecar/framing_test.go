package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Both bot-facing and channel-facing listeners refuse a request with both
// Content-Length and Transfer-Encoding, and close its connection; nothing
// reaches the bot or the connector.
func TestListenersRefuseAmbiguousLength(t *testing.T) {
	s := startStack(t, nil)
	s.putRef("a:1", s.conn.ServiceURL())
	for name, base := range map[string]string{"outbound": s.base, "inbound": s.inbound} {
		path := "/v3/conversations/a:1/activities"
		if name == "inbound" {
			path = "/api/messages"
		}
		c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(30 * time.Second))
		body := `{"type":"message"}`
		_, _ = io.WriteString(c, "POST "+path+" HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"+
			"Content-Length: 18\r\nTransfer-Encoding: chunked\r\n\r\n12\r\n"+body+"\r\n0\r\n\r\n")
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: response %v, %v; want 400", name, resp, err)
		} else if b, _ := io.ReadAll(resp.Body); !strings.Contains(string(b), "AmbiguousLength") {
			t.Errorf("%s: body %s; want AmbiguousLength", name, b)
		}
		if _, err := br.ReadByte(); err == nil {
			t.Errorf("%s: connection still open after the refusal", name)
		}
		c.Close()
	}
	if n := len(s.conn.Requests()); n != 0 {
		t.Errorf("connector got %d requests; want 0", n)
	}
}
