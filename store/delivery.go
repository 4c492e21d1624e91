package store

import (
	"context"
	"errors"
	"time"
)

// MaxDeliveryBody bounds the answer body a Delivery keeps. Answers are
// usually empty or a small invoke response; a larger one is remembered by
// its status alone (see Delivery.Body), so that a flood of big answers
// cannot fill a shared Redis.
const MaxDeliveryBody = 64 << 10

// ErrBadDeliveryKey is returned for a key no backend can hold (empty, or
// longer than MaxDeliveryKey): a caller bug, not an outage.
var ErrBadDeliveryKey = errors.New("bad delivery key")

// MaxDeliveryKey bounds a delivery key; callers pass a short hash.
const MaxDeliveryKey = 256

// Delivery is what the first delivery of an inbound activity was answered,
// kept so that a redelivery gets the same answer without reaching the bot.
type Delivery struct {
	// Status is the HTTP status the channel got; 0 while the first
	// delivery is still in flight (or reached the bot and got no answer).
	Status int `json:"status,omitempty"`
	// ContentType is the answer's Content-Type, if any.
	ContentType string `json:"contentType,omitempty"`
	// Body is the answer's body, at most MaxDeliveryBody bytes; a larger
	// answer is kept without it.
	Body []byte `json:"body,omitempty"`
}

// Deliveries keeps the inbound redelivery window: which activities were
// delivered recently and what they were answered. Keys are opaque short
// strings (the caller hashes what identifies an activity), so the
// backends store no ids.
type Deliveries interface {
	// Claim records key as delivered for ttl unless it is already. It
	// returns claimed true for the first delivery; otherwise claimed is
	// false and prior is what the first delivery recorded (a zero Status
	// while it is in flight). An expired claim counts as absent.
	Claim(ctx context.Context, key string, ttl time.Duration) (prior *Delivery, claimed bool, err error)
	// Record stores the answer of the delivery that claimed key, keeping
	// the claim's expiry; a claim that expired meanwhile is not revived.
	Record(ctx context.Context, key string, d Delivery) error
	// Release forgets key, so the next delivery is forwarded: the one that
	// claimed it never reached the bot.
	Release(ctx context.Context, key string) error
}

// CheckDeliveryKey returns an error wrapping ErrBadDeliveryKey for a key
// no backend should store.
func CheckDeliveryKey(key string) error {
	if key == "" || len(key) > MaxDeliveryKey {
		return ErrBadDeliveryKey
	}
	return nil
}

// DeliveryRecord is a Delivery with its expiry, as the backends that
// expire entries themselves (memory, bolt) store it.
type DeliveryRecord struct {
	Delivery
	Expires time.Time `json:"expires"`
}

// Live reports whether the record is unexpired at now.
func (r DeliveryRecord) Live(now time.Time) bool { return now.Before(r.Expires) }

// Bounded returns d with a body over MaxDeliveryBody dropped.
func (d Delivery) Bounded() Delivery {
	if len(d.Body) > MaxDeliveryBody {
		d.Body = nil
	}
	return d
}

// DeliveriesOf returns the redelivery window s keeps: s itself when it is
// one (memory:), the window of its backend when s caches one (bolt: and
// Redis behind cachedstore), or nil.
func DeliveriesOf(s any) Deliveries {
	if d, ok := s.(Deliveries); ok {
		return d
	}
	if k, ok := s.(interface{ Deliveries() Deliveries }); ok {
		return k.Deliveries()
	}
	return nil
}
