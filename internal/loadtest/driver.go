package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// message is one send of the broadcast bot and what became of it.
type message struct {
	Conversation string
	Text         string
	// FirstStart is when the bot first posted it, LastStart when it
	// posted it the last time (after its 429s), Done when that answer came.
	FirstStart, LastStart, Done time.Time
	Throttled                   int // 429s the bot got for it
	Status                      int // the final answer; 0: a transport error
}

// botDriver is a bot that broadcasts through the sidecar as fast as it
// can: Concurrency sends in flight, each a plain POST with no token and
// no pacing of its own. A 429 it waits out (Retry-After-Ms, else
// Retry-After, else RetryDefault) and sends again, as a bot should; any
// other failure it records and never retries.
type botDriver struct {
	Client       *http.Client
	BaseURL      string // the sidecar's outbound listener, "http://127.0.0.1:3979"
	Concurrency  int
	RetryDefault time.Duration
	Now          func() time.Time
}

// broadcastText is the activity a broadcast sends: the sidecar fills in
// conversation, channelId, recipient, from and serviceUrl from the stored
// reference, so the bot names only what it says.
func broadcastText(text string) string {
	b, _ := json.Marshal(map[string]string{"type": "message", "text": text, "textFormat": "plain"})
	return string(b)
}

// run sends every message and returns when each has its final answer, or
// ctx ends (the messages not done keep Status 0 and a zero Done).
func (d *botDriver) run(ctx context.Context, msgs []*message) {
	work := make(chan *message)
	var wg sync.WaitGroup
	for range max(1, d.Concurrency) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for m := range work {
				d.send(ctx, m)
			}
		}()
	}
feed:
	for _, m := range msgs {
		select {
		case work <- m:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
}

func (d *botDriver) send(ctx context.Context, m *message) {
	u := d.BaseURL + "/v3/conversations/" + url.PathEscape(m.Conversation) + "/activities"
	body := broadcastText(m.Text)
	for ctx.Err() == nil {
		start := d.Now()
		if m.FirstStart.IsZero() {
			m.FirstStart = start
		}
		m.LastStart = start
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(body))
		if err != nil {
			return
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := d.Client.Do(req)
		if err != nil {
			m.Status, m.Done = 0, d.Now()
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusTooManyRequests {
			m.Status, m.Done = resp.StatusCode, d.Now()
			return
		}
		m.Throttled++
		if sleepCtx(ctx, retryAfterOf(resp.Header, d.RetryDefault)) != nil {
			return
		}
	}
}

// retryAfterOf is the wait a 429 asks for: Retry-After-Ms, else
// Retry-After in seconds, else def.
func retryAfterOf(h http.Header, def time.Duration) time.Duration {
	if n, err := strconv.ParseInt(h.Get("Retry-After-Ms"), 10, 64); err == nil && n >= 0 {
		return time.Duration(n) * time.Millisecond
	}
	if n, err := strconv.ParseInt(h.Get("Retry-After"), 10, 64); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	return def
}
