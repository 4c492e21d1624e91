package proxy

import (
	"net/http"
	"testing"
	"time"
)

func TestRetryDelay(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	p := RetryPolicy{}.withDefaults()
	tests := []struct {
		name    string
		n       int
		header  http.Header
		start   time.Time
		wantMin time.Duration
		wantMax time.Duration
		wantOK  bool
	}{
		{"retry-after seconds", 0, http.Header{"Retry-After": {"2"}}, now, 2 * time.Second, 2 * time.Second, true},
		{"retry-after date", 0, http.Header{"Retry-After": {now.Add(3 * time.Second).Format(http.TimeFormat)}}, now, 3 * time.Second, 3 * time.Second, true},
		{"retry-after-ms", 0, http.Header{"Retry-After-Ms": {"150"}}, now, 150 * time.Millisecond, 150 * time.Millisecond, true},
		{"backoff first", 0, nil, now, 250 * time.Millisecond, 500 * time.Millisecond, true},
		{"backoff third", 2, nil, now, time.Second, 2 * time.Second, true},
		{"retries exhausted", 3, nil, now, 0, 0, false},
		{"retry-after beyond budget", 0, http.Header{"Retry-After": {"31"}}, now, 0, 0, false},
		{"budget used up", 1, http.Header{"Retry-After": {"5"}}, now.Add(-28 * time.Second), 0, 0, false},
		{"retry-after-ms beyond budget", 0, http.Header{"Retry-After-Ms": {"31000"}}, now, 0, 0, false},
		// A value whose multiplication into a Duration would overflow
		// (to a negative or short wait) is beyond the budget.
		{"retry-after-ms overflowing a duration", 0, http.Header{"Retry-After-Ms": {"9223372036854775"}}, now, 0, 0, false},
		{"retry-after-ms beyond int64", 0, http.Header{"Retry-After-Ms": {"99999999999999999999999"}}, now, 0, 0, false},
		{"retry-after seconds overflowing a duration", 0, http.Header{"X-Ms-Retry-After-Ms": {""}, "Retry-After": {"9223372036"}}, now, 0, 0, false},
		{"retry-after beyond int64", 0, http.Header{"Retry-After": {"99999999999999999999999"}}, now, 0, 0, false},
		{"negative retry-after-ms falls back", 0, http.Header{"Retry-After-Ms": {"-5"}}, now, 250 * time.Millisecond, 500 * time.Millisecond, true},
		{"garbage retry-after falls back to backoff", 0, http.Header{"Retry-After": {"soon"}}, now, 250 * time.Millisecond, 500 * time.Millisecond, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, ok := p.delay(tt.n, tt.header, now, tt.start)
			if ok != tt.wantOK || d < tt.wantMin || d > tt.wantMax {
				t.Errorf("delay(%d, %v) = %v, %v; want [%v, %v], %v", tt.n, tt.header, d, ok, tt.wantMin, tt.wantMax, tt.wantOK)
			}
		})
	}
}

// The replay policy, row by row: a send (POST) is replayed only when it
// cannot have been applied.
func TestReplayable(t *testing.T) {
	t.Parallel()
	withRA := http.Header{"Retry-After": {"1"}}
	withRAms := http.Header{"Retry-After-Ms": {"100"}}
	tests := []struct {
		status     int
		header     http.Header
		idempotent bool
		want       bool
	}{
		{429, nil, false, true},
		{412, nil, false, true},
		{503, withRA, false, true},
		{503, withRAms, false, true},
		{503, nil, false, false},
		{502, nil, false, false},
		{504, nil, false, false},
		{500, nil, false, false},
		{408, nil, false, false},
		{429, nil, true, true},
		{412, nil, true, true},
		{503, nil, true, true},
		{502, nil, true, true},
		{504, nil, true, true},
		{500, nil, true, false},
		{403, nil, true, false},
		{200, nil, true, false},
		{404, nil, false, false},
	}
	for _, tt := range tests {
		if got := replayable(tt.idempotent, tt.status, tt.header); got != tt.want {
			t.Errorf("replayable(idempotent %v, %d, %v) = %v; want %v", tt.idempotent, tt.status, tt.header, got, tt.want)
		}
	}
	for method, want := range map[string]bool{"GET": true, "PUT": true, "DELETE": true, "POST": false, "PATCH": false} {
		if got := idempotentMethod(method); got != want {
			t.Errorf("idempotentMethod(%s) = %v; want %v", method, got, want)
		}
	}
}
