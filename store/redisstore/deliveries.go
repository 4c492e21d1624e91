package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/botsidecar/sidecar/store"
)

var _ store.Deliveries = (*Redis)(nil)

// claimScript is SET NX with the previous value returned, in one step:
// the replica whose SET lands first owns the delivery, the others read
// its answer. SET NX GET would do it too, but only from Redis 7.0; the
// script runs on the Redis 6 of managed services. It touches one key, so
// it runs on Redis Cluster too.
var claimScript = redis.NewScript(`
local v = redis.call("GET", KEYS[1])
if v then return v end
redis.call("SET", KEYS[1], ARGV[1], "PX", ARGV[2])
return false`)

// inFlight is the value of a claim whose answer is not known yet.
const inFlight = "{}"

func (r *Redis) deliveryKey(key string) string { return r.prefix + "delivery:" + key }

// Claim implements store.Deliveries. Redis expires the claim itself.
func (r *Redis) Claim(ctx context.Context, key string, ttl time.Duration) (*store.Delivery, bool, error) {
	if err := store.CheckDeliveryKey(key); err != nil {
		return nil, false, err
	}
	ms := max(ttl.Milliseconds(), 1)
	v, err := claimScript.Run(ctx, r.client, []string{r.deliveryKey(key)}, inFlight, ms).Text()
	switch {
	case errors.Is(err, redis.Nil):
		return nil, true, nil
	case err != nil:
		return nil, false, fmt.Errorf("claim delivery: %w: %w", store.ErrUnavailable, err)
	}
	var d store.Delivery
	if err := json.Unmarshal([]byte(v), &d); err != nil {
		// Someone else's claim all the same: answer it as in flight.
		return &store.Delivery{}, false, nil
	}
	return &d, false, nil
}

// Record implements store.Deliveries: SET XX KEEPTTL writes the answer
// only while the claim lives, and keeps its expiry.
func (r *Redis) Record(ctx context.Context, key string, d store.Delivery) error {
	if err := store.CheckDeliveryKey(key); err != nil {
		return err
	}
	v, err := json.Marshal(d.Bounded())
	if err != nil {
		return fmt.Errorf("record delivery: %w", err)
	}
	err = r.client.SetArgs(ctx, r.deliveryKey(key), v, redis.SetArgs{Mode: "XX", KeepTTL: true}).Err()
	if err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("record delivery: %w: %w", store.ErrUnavailable, err)
	}
	return nil
}

// Release implements store.Deliveries.
func (r *Redis) Release(ctx context.Context, key string) error {
	if err := store.CheckDeliveryKey(key); err != nil {
		return err
	}
	if err := r.client.Del(ctx, r.deliveryKey(key)).Err(); err != nil {
		return fmt.Errorf("release delivery: %w: %w", store.ErrUnavailable, err)
	}
	return nil
}
