package boltstore

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/botsidecar/sidecar/store"
)

// deliveriesBucket holds the redelivery window: key → DeliveryRecord JSON.
// It lives in the references' file so that the window survives a restart
// as they do.
var deliveriesBucket = []byte("deliveries")

// DefaultDeliverySweepInterval is how often Run deletes expired
// deliveries. Windows last minutes, so the sweep runs far more often than
// the references' one; a claim that expired is ignored before it is swept.
const DefaultDeliverySweepInterval = time.Minute

var _ store.Deliveries = (*Bolt)(nil)

// Claim implements store.Deliveries. The claim is on disk when it returns,
// so a redelivery after a crash is still recognised.
func (b *Bolt) Claim(_ context.Context, key string, ttl time.Duration) (*store.Delivery, bool, error) {
	if err := store.CheckDeliveryKey(key); err != nil {
		return nil, false, err
	}
	now := b.now()
	fresh, err := json.Marshal(store.DeliveryRecord{Expires: now.Add(ttl)})
	if err != nil {
		return nil, false, fmt.Errorf("claim delivery: %w", err)
	}
	var (
		prior   *store.Delivery
		claimed bool
	)
	// Batch may run this more than once; each run starts from scratch.
	err = b.db.Batch(func(tx *bolt.Tx) error {
		prior, claimed = nil, false
		bk := tx.Bucket(deliveriesBucket)
		if r, ok := decodeDelivery(bk.Get([]byte(key))); ok && r.Live(now) {
			d := r.Delivery
			prior = &d
			return nil
		}
		claimed = true
		return bk.Put([]byte(key), fresh)
	})
	if err != nil {
		return nil, false, fmt.Errorf("claim delivery: %w: %w", store.ErrUnavailable, err)
	}
	return prior, claimed, nil
}

// Record implements store.Deliveries.
func (b *Bolt) Record(_ context.Context, key string, d store.Delivery) error {
	if err := store.CheckDeliveryKey(key); err != nil {
		return err
	}
	err := b.db.Batch(func(tx *bolt.Tx) error {
		bk := tx.Bucket(deliveriesBucket)
		r, ok := decodeDelivery(bk.Get([]byte(key)))
		if !ok || !r.Live(b.now()) {
			return nil
		}
		r.Delivery = d.Bounded()
		v, err := json.Marshal(r)
		if err != nil {
			return err
		}
		return bk.Put([]byte(key), v)
	})
	if err != nil {
		return fmt.Errorf("record delivery: %w: %w", store.ErrUnavailable, err)
	}
	return nil
}

// Release implements store.Deliveries.
func (b *Bolt) Release(_ context.Context, key string) error {
	if err := store.CheckDeliveryKey(key); err != nil {
		return err
	}
	err := b.db.Batch(func(tx *bolt.Tx) error {
		return tx.Bucket(deliveriesBucket).Delete([]byte(key))
	})
	if err != nil {
		return fmt.Errorf("release delivery: %w: %w", store.ErrUnavailable, err)
	}
	return nil
}

// decodeDelivery decodes a stored record; a missing or undecodable one
// reads as absent, so a corrupt entry costs one missed duplicate.
func decodeDelivery(v []byte) (store.DeliveryRecord, bool) {
	var r store.DeliveryRecord
	if v == nil || json.Unmarshal(v, &r) != nil {
		return r, false
	}
	return r, true
}

// SweepDeliveries deletes the expired deliveries and reports how many. The
// window holds minutes of traffic, so one transaction suffices.
func (b *Bolt) SweepDeliveries(ctx context.Context) (int, error) {
	now := b.now()
	deleted := 0
	err := b.db.Update(func(tx *bolt.Tx) error {
		bk := tx.Bucket(deliveriesBucket)
		// Collected first: deleting under a cursor makes it skip keys.
		var stale [][]byte
		err := bk.ForEach(func(k, v []byte) error {
			if r, ok := decodeDelivery(v); !ok || !r.Live(now) {
				stale = append(stale, bytes.Clone(k))
			}
			return ctx.Err()
		})
		if err != nil {
			return err
		}
		for _, k := range stale {
			if err := bk.Delete(k); err != nil {
				return err
			}
		}
		deleted = len(stale)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("sweep deliveries: %w: %w", store.ErrUnavailable, err)
	}
	return deleted, nil
}
