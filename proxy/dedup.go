package proxy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"time"

	"github.com/botsidecar/sidecar/rewrite"
	"github.com/botsidecar/sidecar/store"
)

// Redeliveries is the inbound redelivery window the handler keeps in a
// store (store.Deliveries): memory: in process, bolt: across restarts,
// Redis across replicas.
type Redeliveries interface {
	Claim(ctx context.Context, key string, ttl time.Duration) (prior *store.Delivery, claimed bool, err error)
	Record(ctx context.Context, key string, d store.Delivery) error
	Release(ctx context.Context, key string) error
}

// Defaults of the redelivery options.
const (
	// DefaultRedeliveryWindow is how long a delivery is remembered. The
	// channel redelivers a slow activity about 15 s later with the same
	// id, and about 30 s later with a new one; two minutes covers both
	// with room for a slow channel.
	DefaultRedeliveryWindow = 2 * time.Minute
	// DefaultRedeliveryTimeout bounds each call to the window's store.
	// Past it the activity is forwarded as if it were new (see claim).
	DefaultRedeliveryTimeout = 500 * time.Millisecond
)

// The layers that recognise a redelivery, the metric's label values.
const (
	layerID      = "id"
	layerContent = "content"
)

// deliveryKeys are the window's keys of one activity, "" where a layer
// does not apply. They are hashes, so no store holds a user's id or text
// under this feature, and their length is bounded.
type deliveryKeys struct {
	id      string // channel, conversation and activity id
	content string // channel, conversation, sender, type, timestamp and text
}

// keysOf derives an activity's keys. The activity id names a delivery on
// its own; the content key catches the channel's second redelivery, which
// carries a new id but the first one's sender, timestamp and text. It
// needs all three: without a timestamp two different "yes" messages would
// collide, and without text (an invoke, a reaction) only the timestamp
// would tell two activities apart, so those are recognised by their id
// alone. The type keeps a message and, say, a command with the same text
// and timestamp apart.
//
// Two bots in one group chat each get the activity: the keys of a bot
// other than the primary one (identity, its name) carry its name, so that
// each delivery is its own; the primary's are as before there were
// several, so a window kept across an upgrade still holds.
func keysOf(body []byte, f rewrite.Fields, identity string) deliveryKeys {
	var k deliveryKeys
	if f.ConversationID == "" {
		return k
	}
	conversation := store.Key(identity, f.ConversationID)
	if id, _, _ := rewrite.StringField(body, "id"); id != "" {
		k.id = layerID + ":" + hashParts(f.ChannelID, conversation, id)
	}
	var from struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(f.From, &from)
	ts, _, _ := rewrite.StringField(body, "timestamp")
	text, _, _ := rewrite.StringField(body, "text")
	if from.ID != "" && ts != "" && text != "" {
		k.content = layerContent + ":" + hashParts(f.ChannelID, conversation, from.ID, f.Type, ts, text)
	}
	return k
}

// hashParts hashes the parts with a separator no part contains (JSON
// strings decode to valid UTF-8 and 0xff never occurs in it), so that
// ("ab","c") and ("a","bc") differ.
func hashParts(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0xff})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// delivery is one activity's standing in the window.
type delivery struct {
	claimed []string        // the keys this delivery owns
	prior   *store.Delivery // set when it is a redelivery
	layer   string          // which layer recognised it
}

// claim looks the activity up in the window and claims its keys. It fails
// open: when the store errs or does not answer within the timeout, the
// activity is forwarded as new. A duplicate the bot can recognise (same
// activity id) is better than a message lost because a shared Redis was
// down; and the store's 503 would only make the channel send it again.
// The error is returned for the log line.
func (in *Inbound) claim(ctx context.Context, keys deliveryKeys) (delivery, error) {
	var d delivery
	if in.opts.Redeliveries == nil {
		return d, nil
	}
	for _, l := range []struct{ key, layer string }{{keys.id, layerID}, {keys.content, layerContent}} {
		if l.key == "" {
			continue
		}
		prior, claimed, err := in.callWindow(ctx, func(ctx context.Context) (*store.Delivery, bool, error) {
			return in.opts.Redeliveries.Claim(ctx, l.key, in.opts.RedeliveryWindow)
		})
		switch {
		case err != nil:
			return d, err
		case claimed:
			d.claimed = append(d.claimed, l.key)
			continue
		}
		d.prior, d.layer = prior, l.layer
		if prior == nil {
			d.prior = &store.Delivery{}
		}
		// A new id for a known activity: its id key answers like the first
		// from now on (or stays in flight while the first is).
		if d.prior.Status != 0 {
			in.record(ctx, d, *d.prior)
		}
		return d, nil
	}
	return d, nil
}

// settle records the answer of a delivery that claimed keys, or releases
// them when the bot cannot have seen the activity (it was refused before
// the bot was called, or the connection to the bot failed before the body
// left), so that the channel's retry is forwarded. A delivery that reached
// the bot and got no answer (a timeout, a cut answer) stays claimed with
// no answer: its redeliveries get 200, which stops the channel's, while
// the bot, which has the activity, still replies through the outbound
// listener.
func (in *Inbound) settle(ctx context.Context, d delivery, c *inboundCall, err error) {
	if len(d.claimed) == 0 {
		return
	}
	switch {
	case err == nil:
		in.record(ctx, d, store.Delivery{Status: c.status, ContentType: c.answerType, Body: c.answer})
	case !c.botReached:
		for _, k := range d.claimed {
			_, _, _ = in.callWindow(ctx, func(ctx context.Context) (*store.Delivery, bool, error) {
				return nil, false, in.opts.Redeliveries.Release(ctx, k)
			})
		}
	}
}

// record stores ans under the keys d claimed. A failure costs a later
// redelivery the recorded answer only (it gets the in-flight 200).
func (in *Inbound) record(ctx context.Context, d delivery, ans store.Delivery) {
	for _, k := range d.claimed {
		_, _, _ = in.callWindow(ctx, func(ctx context.Context) (*store.Delivery, bool, error) {
			return nil, false, in.opts.Redeliveries.Record(ctx, k, ans)
		})
	}
}

// callWindow runs one store call within the redelivery timeout. The
// request's cancellation is dropped: the answer of a call the channel has
// just hung up on must still be recorded for its redelivery.
func (in *Inbound) callWindow(ctx context.Context, call func(context.Context) (*store.Delivery, bool, error)) (*store.Delivery, bool, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), in.opts.RedeliveryTimeout)
	defer cancel()
	return call(ctx)
}

// replay answers a redelivery with what the first delivery got, or 200
// with no body while it is in flight: the channel stops redelivering, and
// the bot is not asked twice.
func (in *Inbound) replay(w http.ResponseWriter, d delivery, c *inboundCall) {
	in.opts.Metrics.redelivery(d.layer)
	c.redelivery = d.layer
	status := d.prior.Status
	if status == 0 {
		status = http.StatusOK
	}
	if d.prior.ContentType != "" {
		w.Header().Set("Content-Type", d.prior.ContentType)
	}
	w.WriteHeader(status)
	_, _ = w.Write(d.prior.Body)
	c.status = status
}
