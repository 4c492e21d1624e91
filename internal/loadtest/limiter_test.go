package main

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func mustLimit(t *testing.T, s string) limitSpec {
	t.Helper()
	l, err := parseLimitSpec(s)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// The oracle, step by step on a fake clock: every window of the published
// limits, the tenant's across conversations, refusals not counted, bots
// apart, the boundary.
func TestLimiterEnforcesEveryWindowExactly(t *testing.T) {
	type step struct {
		at       time.Duration // since the start
		n        int           // this many calls at once (default 1)
		bot      string        // default "b"
		conv     string        // default "c"
		tenant   string        // default "t"
		ok       bool          // every call admitted; else the last refused
		wantWait time.Duration // of the refused call
	}
	ms := time.Millisecond
	cases := []struct {
		name         string
		conv, tenant string
		steps        []step
	}{
		{"7 per second", teamsSendLimit, "off", []step{
			{at: 0, n: 7, ok: true},
			{at: 0, wantWait: time.Second},
			{at: 999 * ms, wantWait: ms},
			{at: time.Second, ok: true}, // the 7th most recent is at 0 = t-1s: admitted
		}},
		{"8 per 2 s", teamsSendLimit, "off", []step{
			{at: 0, n: 7, ok: true},
			{at: time.Second, ok: true},
			{at: time.Second, wantWait: time.Second}, // 8 within (−1 s, 1 s]
			{at: 1999 * ms, wantWait: ms},
			{at: 2 * time.Second, n: 7, ok: true},
			{at: 2 * time.Second, wantWait: time.Second},
		}},
		{"60 per 30 s", teamsSendLimit, "off", []step{
			{at: 0, n: 4, ok: true},
			{at: 2 * time.Second, n: 4, ok: true},
			{at: 4 * time.Second, n: 4, ok: true},
			{at: 6 * time.Second, n: 4, ok: true},
			{at: 8 * time.Second, n: 4, ok: true},
			{at: 10 * time.Second, n: 4, ok: true},
			{at: 12 * time.Second, n: 4, ok: true},
			{at: 14 * time.Second, n: 4, ok: true},
			{at: 16 * time.Second, n: 4, ok: true},
			{at: 18 * time.Second, n: 4, ok: true},
			{at: 20 * time.Second, n: 4, ok: true},
			{at: 22 * time.Second, n: 4, ok: true},
			{at: 24 * time.Second, n: 4, ok: true},
			{at: 26 * time.Second, n: 4, ok: true},
			{at: 28 * time.Second, n: 4, ok: true}, // 60
			{at: 29 * time.Second, wantWait: time.Second},
			{at: 30 * time.Second, n: 4, ok: true}, // the first four leave the window
			{at: 30 * time.Second, wantWait: 2 * time.Second},
		}},
		{"1800 per hour", "1800/1h", "off", []step{
			{at: 0, n: 1800, ok: true},
			{at: 59 * time.Minute, wantWait: time.Minute},
			{at: time.Hour, n: 1800, ok: true},
			{at: time.Hour, wantWait: time.Hour},
		}},
		{"50 per second per tenant, across conversations", "off", teamsTenantLimit, []step{
			{at: 0, n: 50, ok: true}, // conv "" varies below
			{at: 0, conv: "other", wantWait: time.Second},
			{at: 0, conv: "other", tenant: "t2", ok: true}, // another tenant has its own
			{at: 0, conv: "other", bot: "b2", ok: true},    // and another bot
			{at: 500 * ms, conv: "other", wantWait: 500 * ms},
			{at: time.Second, conv: "other", ok: true},
		}},
		{"a refused call is not counted", "2/1s", "off", []step{
			{at: 0, n: 2, ok: true},
			{at: 100 * ms, wantWait: 900 * ms},
			{at: 200 * ms, wantWait: 800 * ms},
			{at: time.Second, n: 2, ok: true},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var conv, tenant limitSpec
			if tc.conv != "off" {
				conv = mustLimit(t, tc.conv)
			}
			if tc.tenant != "off" {
				tenant = mustLimit(t, tc.tenant)
			}
			l := newLimiter(conv, tenant)
			t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
			seq := 0
			for i, s := range tc.steps {
				bot, convID, ten := s.bot, s.conv, s.tenant
				if bot == "" {
					bot = "b"
				}
				if ten == "" {
					ten = "t"
				}
				n := max(s.n, 1)
				for j := range n {
					c := convID
					if c == "" {
						c = "c"
						if tc.conv == "off" {
							seq++
							c = fmt.Sprintf("c%d", seq) // the tenant case: each its own conversation
						}
					}
					ok, wait := l.admit(bot, ten, c, t0.Add(s.at))
					last := j == n-1
					switch {
					case s.ok && !ok:
						t.Fatalf("step %d (%+v), call %d: refused (wait %v); want admitted", i, s, j, wait)
					case !s.ok && last && (ok || wait != s.wantWait):
						t.Fatalf("step %d (%+v): admitted %v, wait %v; want refused with wait %v", i, s, ok, wait, s.wantWait)
					}
				}
			}
		})
	}
}

// The fastest schedule, by hand: 7 at 0, then 8 per 2 s (7 on the even
// second, 1 on the odd), so the 60th goes at 14 s and the 61st must wait
// for the 30 s window, at 30 s.
func TestGreedyScheduleAndCeiling(t *testing.T) {
	send := merged(mustLimit(t, teamsSendLimit), mustLimit(t, teamsTenantLimit))
	for _, c := range []struct {
		n    int
		want time.Duration
	}{{1, 0}, {7, 0}, {8, time.Second}, {9, 2 * time.Second}, {15, 2 * time.Second}, {16, 3 * time.Second}, {60, 14 * time.Second}, {61, 30 * time.Second}} {
		if got := idealTime(send, c.n); got != c.want {
			t.Errorf("idealTime(send, %d) = %v; want %v", c.n, got, c.want)
		}
	}
	tenant := mustLimit(t, teamsTenantLimit)
	if got := idealTime(tenant, 1000); got != 19*time.Second {
		t.Errorf("idealTime(tenant, 1000) = %v; want 19s", got)
	}
	for _, c := range []struct {
		elapsed time.Duration
		want    int
	}{{0, 50}, {999 * time.Millisecond, 50}, {19 * time.Second, 1000}, {19*time.Second - 1, 950}} {
		if got := ceiling(tenant, c.elapsed); got != c.want {
			t.Errorf("ceiling(tenant, %v) = %d; want %d", c.elapsed, got, c.want)
		}
	}
	// The schedule is the oracle's: the limiter admits each call of it,
	// and refuses each one a nanosecond early.
	sched := greedy(send, 200, 1<<62)
	early, exact := newLimiter(mustLimit(t, teamsSendLimit), mustLimit(t, teamsTenantLimit)), newLimiter(mustLimit(t, teamsSendLimit), mustLimit(t, teamsTenantLimit))
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	for i, at := range sched {
		if at > 0 {
			if ok, _ := early.admit("b", "t", "c", t0.Add(at-1)); ok {
				t.Fatalf("call %d admitted 1 ns before its greedy time %v", i+1, at)
			}
		}
		if ok, wait := exact.admit("b", "t", "c", t0.Add(at)); !ok {
			t.Fatalf("call %d refused at its greedy time %v (wait %v)", i+1, at, wait)
		}
		_, _ = early.admit("b", "t", "c", t0.Add(at))
	}
}

func TestLimitSpec(t *testing.T) {
	l := mustLimit(t, teamsSendLimit).scaled(0.1, 5*time.Millisecond)
	if got := l.String(); got != "7/105ms,8/205ms,60/3.005s,1800/6m0.005s" {
		t.Errorf("scaled = %q", got)
	}
	for _, bad := range []string{"", "7", "0/1s", "x/1s", "7/0s", "7/soon"} {
		if _, err := parseLimitSpec(bad); err == nil {
			t.Errorf("parseLimitSpec(%q) accepted", bad)
		}
	}
}

func laneToken(appID string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return "Bearer " + enc([]byte(`{"alg":"none"}`)) + "." + enc([]byte(`{"appid":"`+appID+`"}`)) + ".sig"
}

// The connector answers 429 with Retry-After past the limits, records each
// stored message once (and counts a second storing as a duplicate), and
// answers the configured share of stored messages 504.
func TestLimitedConnectorLane(t *testing.T) {
	conn := newLimitedConnector()
	defer conn.Close()
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	var offset atomic.Int64 // the handler reads the fake clock on its own goroutine
	clock := func() time.Time { return t0.Add(time.Duration(offset.Load())) }
	l, base := conn.addLane("r0", laneOptions{Conversation: mustLimit(t, "2/1s"), Tenant: mustLimit(t, "50/1s"), DefaultTenant: "t", Fault504: 0.5, Now: clock})
	client := conn.srv.Client()
	send := func(conv, text, authz string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, base+"v3/conversations/"+conv+"/activities", strings.NewReader(broadcastText(text)))
		if authz != "" {
			req.Header.Set("Authorization", authz)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	tok := laneToken("bot")
	if s := send("a%3A1", "hello", tok).StatusCode; s != http.StatusOK {
		t.Fatalf("first send: %d; want 200", s)
	}
	if s := send("a%3A1", "world", tok).StatusCode; s != http.StatusGatewayTimeout {
		t.Fatalf("second send (the fault's turn): %d; want 504", s)
	}
	resp := send("a%3A1", "again", tok)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "1" || resp.Header.Get("Retry-After-Ms") != "" {
		t.Fatalf("third send: %d Retry-After %q Retry-After-Ms %q; want 429, 1, none", resp.StatusCode, resp.Header.Get("Retry-After"), resp.Header.Get("Retry-After-Ms"))
	}
	offset.Store(int64(time.Second))
	if s := send("a%3A1", "hello", tok).StatusCode; s != http.StatusOK {
		t.Fatalf("a replay after the window: %d; want 200", s)
	}
	if s := send("a%3A1", "x", "").StatusCode; s != http.StatusUnauthorized {
		t.Errorf("no token: %d; want 401", s)
	}
	if s := send("a%3A1/members", "x", tok).StatusCode; s != http.StatusNotFound {
		t.Errorf("another route: %d; want 404", s)
	}
	c := l.counts()
	d, ok := c.Delivered["a:1\x00hello"]
	if c.Accepted != 3 || c.Unique != 2 || c.Duplicates != 1 || c.Throttled != 1 || c.Injected != 1 || c.Refused != 2 || !ok || d.Times != 2 || !d.At.Equal(t0) {
		t.Errorf("counts %+v, hello %+v", c, d)
	}
}
