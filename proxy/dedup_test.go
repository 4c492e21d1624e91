package proxy

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/botsidecar/sidecar/internal/testkit"
	"github.com/botsidecar/sidecar/rewrite"
	"github.com/botsidecar/sidecar/store"
	"github.com/botsidecar/sidecar/store/memstore"
)

// dedupActivity is a Teams message as the channel sends it, with the
// timestamp the content layer needs.
const dedupActivity = `{"type":"message","id":"1712","timestamp":"2026-11-23T10:00:00.123Z",` +
	`"serviceUrl":"https://smba.trafficmanager.net/amer/","channelId":"msteams",` +
	`"from":{"id":"29:user-1","name":"Ada"},"recipient":{"id":"28:` + testAppID + `","name":"Echo"},` +
	`"conversation":{"conversationType":"personal","tenantId":"tenant-1","id":"a:conv1"},` +
	`"channelData":{"tenant":{"id":"tenant-1"}},"text":"hello"}`

// dedupHarness is an inbound harness with a redelivery window on a fake
// clock and metrics in a fresh registry.
type dedupHarness struct {
	*inboundHarness
	clock   *testkit.Clock
	metrics *Metrics
}

func newDedupHarness(t *testing.T, bot http.HandlerFunc, mod func(*InboundOptions)) *dedupHarness {
	t.Helper()
	clock := testkit.NewClock()
	window, err := memstore.NewWindow(100, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	metrics, err := NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	h := newInboundHarness(t, bot, func(o *InboundOptions) {
		o.Redeliveries, o.Metrics = window, metrics
		if mod != nil {
			mod(o)
		}
	})
	return &dedupHarness{inboundHarness: h, clock: clock, metrics: metrics}
}

func (h *dedupHarness) botCalls() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.botGot)
}

// redeliveries returns the counter of layer.
func (h *dedupHarness) redeliveries(layer string) float64 {
	return testutil.ToFloat64(h.metrics.redeliveries.WithLabelValues(layer))
}

// invokeBot answers like a bot answering an invoke, counting its calls in
// the answer so that a second call would show.
func invokeBot() http.HandlerFunc {
	var mu sync.Mutex
	n := 0
	return func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		n++
		body := `{"status":200,"body":{"call":` + strconv.Itoa(n) + `}}`
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, body)
	}
}

// heldBot answers 200 with body once release is closed, or gives up with
// its caller.
func heldBot(release <-chan struct{}, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		_, _ = io.WriteString(w, body)
	}
}

func TestRedeliverySameID(t *testing.T) {
	t.Parallel()
	h := newDedupHarness(t, invokeBot(), nil)
	first, firstBody := h.post("Bearer good", dedupActivity, nil)
	h.clock.Advance(15 * time.Second)
	again, againBody := h.post("Bearer good", dedupActivity, nil)
	if n := h.botCalls(); n != 1 {
		t.Fatalf("bot called %d times; want 1: the redelivery was forwarded", n)
	}
	if again.StatusCode != first.StatusCode || againBody != firstBody || again.Header.Get("Content-Type") != "application/json" {
		t.Errorf("redelivery answered %d %q (%s); want the first's %d %q", again.StatusCode, againBody,
			again.Header.Get("Content-Type"), first.StatusCode, firstBody)
	}
	if got := h.redeliveries(layerID); got != 1 {
		t.Errorf("redeliveries{layer=id} = %v; want 1", got)
	}
}

func TestRedeliveryNewIDSameContent(t *testing.T) {
	t.Parallel()
	h := newDedupHarness(t, invokeBot(), nil)
	first, firstBody := h.post("Bearer good", dedupActivity, nil)
	h.clock.Advance(30 * time.Second)
	renamed := strings.Replace(dedupActivity, `"id":"1712"`, `"id":"1799"`, 1)
	again, againBody := h.post("Bearer good", renamed, nil)
	if n := h.botCalls(); n != 1 {
		t.Fatalf("bot called %d times; want 1: the redelivery with a new id was forwarded", n)
	}
	if again.StatusCode != first.StatusCode || againBody != firstBody {
		t.Errorf("redelivery answered %d %q; want the first's %d %q", again.StatusCode, againBody, first.StatusCode, firstBody)
	}
	// Its id is known from now on too.
	third, thirdBody := h.post("Bearer good", renamed, nil)
	if h.botCalls() != 1 || third.StatusCode != first.StatusCode || thirdBody != firstBody {
		t.Errorf("second redelivery of the new id = %d %q, bot calls %d; want the first's answer, 1 call", third.StatusCode, thirdBody, h.botCalls())
	}
	if got := h.redeliveries(layerContent); got != 1 {
		t.Errorf("redeliveries{layer=content} = %v; want 1", got)
	}
	if got := h.redeliveries(layerID); got != 1 {
		t.Errorf("redeliveries{layer=id} = %v; want 1", got)
	}
}

func TestRedeliveryDifferentActivitiesForwarded(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		give string
	}{
		{"other text", strings.NewReplacer(`"id":"1712"`, `"id":"1713"`, `"text":"hello"`, `"text":"hello again"`).Replace(dedupActivity)},
		{"other sender", strings.NewReplacer(`"id":"1712"`, `"id":"1713"`, `"29:user-1"`, `"29:user-2"`).Replace(dedupActivity)},
		{"other timestamp", strings.NewReplacer(`"id":"1712"`, `"id":"1713"`, `10:00:00.123Z`, `10:00:01.456Z`).Replace(dedupActivity)},
		{"same id, other conversation", strings.Replace(dedupActivity, `"a:conv1"`, `"a:conv2"`, 1)},
		{"no timestamp, same text", strings.NewReplacer(`"id":"1712"`, `"id":"1713"`, `"timestamp":"2026-11-23T10:00:00.123Z",`, ``).Replace(dedupActivity)},
		// Two invokes with no text: only their ids tell them apart.
		{"no text, same timestamp", strings.NewReplacer(`"id":"1712"`, `"id":"1713"`, `"text":"hello"`, `"value":{"n":2}`).Replace(dedupActivity)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newDedupHarness(t, okBot, nil)
			first := dedupActivity
			if strings.Contains(tt.give, `"value"`) {
				first = strings.Replace(dedupActivity, `"text":"hello"`, `"value":{"n":1}`, 1)
			}
			h.post("Bearer good", first, nil)
			resp, body := h.post("Bearer good", tt.give, nil)
			if resp.StatusCode != 200 || h.botCalls() != 2 {
				t.Errorf("second activity = %d %s, bot calls %d; want 200 and forwarded (2 calls)", resp.StatusCode, body, h.botCalls())
			}
		})
	}
}

func TestRedeliveryInFlight(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	h := newDedupHarness(t, heldBot(release, `{"late":true}`), nil)
	done := make(chan string, 1)
	go func() {
		resp, body := h.post("Bearer good", dedupActivity, nil)
		done <- http.StatusText(resp.StatusCode) + " " + body
	}()
	testkit.WaitFor(t, 10*time.Second, func() bool { return h.botCalls() == 1 }, "the first delivery at the bot")
	resp, body := h.post("Bearer good", dedupActivity, nil)
	if resp.StatusCode != 200 || body != "" {
		t.Errorf("redelivery in flight = %d %q; want 200 with no body at once", resp.StatusCode, body)
	}
	close(release)
	if got := <-done; got != `OK {"late":true}` {
		t.Errorf("first delivery = %q; want the bot's answer", got)
	}
	if n := h.botCalls(); n != 1 {
		t.Errorf("bot called %d times; want 1", n)
	}
}

func TestRedeliveryWindowExpires(t *testing.T) {
	t.Parallel()
	h := newDedupHarness(t, okBot, func(o *InboundOptions) { o.RedeliveryWindow = time.Minute })
	h.post("Bearer good", dedupActivity, nil)
	h.clock.Advance(59 * time.Second)
	h.post("Bearer good", dedupActivity, nil)
	if n := h.botCalls(); n != 1 {
		t.Fatalf("bot called %d times within the window; want 1", n)
	}
	h.clock.Advance(2 * time.Second)
	h.post("Bearer good", dedupActivity, nil)
	if n := h.botCalls(); n != 2 {
		t.Errorf("bot called %d times after the window; want 2: an expired delivery is new", n)
	}
}

// A delivery the bot never got (refused before the bot, or the bot down)
// frees its claim: the channel's retry is forwarded.
func TestRedeliveryAfterUnsentFailureForwarded(t *testing.T) {
	t.Parallel()
	fail := true
	var mu sync.Mutex
	h := newDedupHarness(t, okBot, func(o *InboundOptions) {
		o.References = writerFunc(func(ctx context.Context, ref store.Reference) error {
			mu.Lock()
			defer mu.Unlock()
			if fail {
				return errors.New("write references.db: no space left on device")
			}
			return nil
		})
	})
	if resp, _ := h.post("Bearer good", dedupActivity, nil); resp.StatusCode != 503 {
		t.Fatalf("first delivery = %d; want 503 from the store", resp.StatusCode)
	}
	mu.Lock()
	fail = false
	mu.Unlock()
	if resp, _ := h.post("Bearer good", dedupActivity, nil); resp.StatusCode != 200 || h.botCalls() != 1 {
		t.Errorf("retry = %d, bot calls %d; want 200 and forwarded", resp.StatusCode, h.botCalls())
	}
}

func TestRedeliveryAfterBotDownForwarded(t *testing.T) {
	t.Parallel()
	// Nothing listens there: the body never leaves.
	h := newDedupHarness(t, okBot, func(o *InboundOptions) { o.BotURL = "http://127.0.0.1:1/api/messages" })
	for i := range 2 {
		if resp, _ := h.post("Bearer good", dedupActivity, nil); resp.StatusCode != 502 {
			t.Fatalf("delivery %d to a bot that is down = %d; want 502, tried again", i, resp.StatusCode)
		}
	}
	if got := h.redeliveries(layerID); got != 0 {
		t.Errorf("redeliveries{layer=id} = %v; want 0: the retry was not answered from the window", got)
	}
}

// A bot that has the activity but answers too late: its redelivery gets
// 200, which stops the channel's, and is not forwarded again.
func TestRedeliveryAfterBotTimeoutNotForwarded(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	h := newDedupHarness(t, heldBot(release, ""), func(o *InboundOptions) { o.BotTimeout = 100 * time.Millisecond })
	defer close(release)
	if resp, _ := h.post("Bearer good", dedupActivity, nil); resp.StatusCode != 504 {
		t.Fatalf("first delivery = %d; want 504", resp.StatusCode)
	}
	resp, body := h.post("Bearer good", dedupActivity, nil)
	if resp.StatusCode != 200 || body != "" || h.botCalls() != 1 {
		t.Errorf("redelivery = %d %q, bot calls %d; want 200, empty, not forwarded", resp.StatusCode, body, h.botCalls())
	}
}

// The window's store failing or hanging costs no activity: it is
// forwarded within the timeout.
func TestRedeliveryStoreUnavailableFailsOpen(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		give fakeDeliveries
	}{
		{"error", fakeDeliveries{ClaimFn: func(context.Context, string, time.Duration) (*store.Delivery, bool, error) {
			return nil, false, store.ErrUnavailable
		}}},
		{"hang", fakeDeliveries{ClaimFn: func(ctx context.Context, _ string, _ time.Duration) (*store.Delivery, bool, error) {
			<-ctx.Done()
			return nil, false, ctx.Err()
		}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newDedupHarness(t, okBot, func(o *InboundOptions) {
				o.Redeliveries, o.RedeliveryTimeout = tt.give, 20*time.Millisecond
			})
			for range 2 {
				if resp, body := h.post("Bearer good", dedupActivity, nil); resp.StatusCode != 200 {
					t.Fatalf("status = %d %s; want 200", resp.StatusCode, body)
				}
			}
			if n := h.botCalls(); n != 2 {
				t.Errorf("bot called %d times; want both deliveries forwarded", n)
			}
		})
	}
}

// Without a valid token an activity neither claims nor reads the window.
func TestRedeliveryNeedsValidToken(t *testing.T) {
	t.Parallel()
	h := newDedupHarness(t, invokeBot(), nil)
	if resp, _ := h.post("Bearer forged", dedupActivity, nil); resp.StatusCode != 401 {
		t.Fatalf("forged = %d; want 401", resp.StatusCode)
	}
	h.post("Bearer good", dedupActivity, nil)
	resp, body := h.post("Bearer forged", dedupActivity, nil)
	if resp.StatusCode != 401 || strings.Contains(body, "call") {
		t.Errorf("forged redelivery = %d %s; want 401, not the recorded answer", resp.StatusCode, body)
	}
	if h.botCalls() != 1 {
		t.Errorf("bot calls %d; want 1", h.botCalls())
	}
}

func TestKeysOf(t *testing.T) {
	t.Parallel()
	base := keysOf([]byte(dedupActivity), inspect(t, dedupActivity), "")
	if base.id == "" || base.content == "" || base.id == base.content {
		t.Fatalf("keysOf = %+v; want two distinct keys", base)
	}
	if strings.Contains(base.id+base.content, "1712") || strings.Contains(base.content, "hello") {
		t.Errorf("keysOf = %+v; want hashes, no ids or text", base)
	}
	renamed := strings.Replace(dedupActivity, `"id":"1712"`, `"id":"1799"`, 1)
	k := keysOf([]byte(renamed), inspect(t, renamed), "")
	if k.id == base.id || k.content != base.content {
		t.Errorf("keysOf(new id) = %+v; want a new id key and the same content key as %+v", k, base)
	}
	// A second bot in the same chat gets the same activity: its own delivery.
	other := keysOf([]byte(dedupActivity), inspect(t, dedupActivity), "second")
	if other.id == base.id || other.content == base.content || other.id == "" || other.content == "" {
		t.Errorf("keysOf(second bot) = %+v; want keys of its own, not the primary's %+v", other, base)
	}
}

func inspect(t *testing.T, body string) rewrite.Fields {
	t.Helper()
	f, err := rewrite.Inspect([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// fakeDeliveries is a Redeliveries with function fields; unset ones
// succeed doing nothing.
type fakeDeliveries struct {
	ClaimFn func(ctx context.Context, key string, ttl time.Duration) (*store.Delivery, bool, error)
}

var _ Redeliveries = fakeDeliveries{}

func (f fakeDeliveries) Claim(ctx context.Context, key string, ttl time.Duration) (*store.Delivery, bool, error) {
	return f.ClaimFn(ctx, key, ttl)
}
func (fakeDeliveries) Record(context.Context, string, store.Delivery) error { return nil }
func (fakeDeliveries) Release(context.Context, string) error                { return nil }

// writerFunc is a ReferenceWriter from a function.
type writerFunc func(context.Context, store.Reference) error

func (f writerFunc) Put(ctx context.Context, ref store.Reference) error { return f(ctx, ref) }
