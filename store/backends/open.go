// Package backends opens the store a store.Spec names, assembled from the
// backend packages: memory: is a memstore.Memory; bolt: and Redis stores
// come behind a cachedstore.Cached LRU. It is the one package that links
// every storage driver; only the program's wiring imports it.
package backends

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/botsidecar/sidecar/store"
	"github.com/botsidecar/sidecar/store/boltstore"
	"github.com/botsidecar/sidecar/store/cachedstore"
	"github.com/botsidecar/sidecar/store/memstore"
	"github.com/botsidecar/sidecar/store/redisstore"
)

// redisMaxAge is how long a replica trusts its memory copy of a reference
// in a shared Redis before reading it again, so that a serviceUrl another
// replica stored reaches it within a minute.
const redisMaxAge = time.Minute

// RedisCallTimeout bounds each Redis call made for a request (and each
// retry of a queued write): past it, a hung or unreachable Redis costs the
// call no more, and it takes the degraded path (the write is queued, the
// read is served from memory or fails with store.ErrUnavailable).
const RedisCallTimeout = 500 * time.Millisecond

// redisStartPing bounds the check that Redis answers at start, so that a
// hung Redis delays start-up by no more.
const redisStartPing = 2 * time.Second

// Options configures Open.
type Options struct {
	// CacheSize bounds the references kept in memory (the whole store for
	// memory:); cachedstore.DefaultCacheSize when zero.
	CacheSize int
	// TTL is how long a reference lives without a new inbound activity;
	// store.DefaultTTL when zero. memory: ignores it.
	TTL time.Duration
	// Namespace is the bot's app id, which prefixes Redis keys.
	Namespace string
	// Logger receives background loops' messages; a no-op logger when nil.
	Logger *zap.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// StartUnavailable opens a Redis store that does not answer yet instead
	// of failing: it starts degraded (see cachedstore.Cached.Degraded) and
	// heals when Redis answers. The serving sidecar sets it; tools that
	// only read the store want the error.
	StartUnavailable bool
	// OnEvict is called with the running count when memory: drops a
	// reference to make room; see memstore.Options.
	OnEvict func(total uint64)
}

// Open opens the store that spec names:
//
//	memory:                 in process, lost on restart (memstore)
//	bolt:PATH               a file, durable, one process (boltstore)
//	redis://…, rediss://…   shared by replicas (redisstore)
//	redis+cluster://…, rediss+cluster://…
//
// bolt: and Redis stores come behind a Cached LRU; for bolt: a failed
// write is returned to the caller, for Redis it is queued and retried. The
// result implements store.Runner when it has background loops, and
// store.Lister when it can list. A bolt file another process holds is an
// error wrapping store.ErrLocked.
func Open(ctx context.Context, spec store.Spec, opts Options) (store.Store, error) {
	size := cmp.Or(opts.CacheSize, cachedstore.DefaultCacheSize)
	ttl := cmp.Or(opts.TTL, store.DefaultTTL)
	switch spec.Kind() {
	case store.KindMemory:
		return memstore.Open(memstore.Options{Size: size, OnEvict: opts.OnEvict, Now: opts.Now})
	case store.KindBolt:
		b, err := boltstore.Open(ctx, boltstore.Options{
			Path:   spec.Path(),
			TTL:    ttl,
			Now:    opts.Now,
			Logger: opts.Logger,
		})
		if err != nil {
			return nil, err
		}
		return cachedOr(b, cachedstore.Options{Size: size, Logger: opts.Logger, Durable: true, TTL: ttl, Now: opts.Now})
	case store.KindRedis:
		r, err := redisstore.New(redisstore.Options{
			URL:       spec.Value(),
			Namespace: opts.Namespace,
			TTL:       ttl,
			Logger:    opts.Logger,
			Now:       opts.Now,
		})
		if err != nil {
			return nil, err
		}
		pctx, cancel := context.WithTimeout(ctx, redisStartPing)
		pingErr := r.Ping(pctx)
		cancel()
		if pingErr != nil && !opts.StartUnavailable {
			_ = r.Close()
			return nil, fmt.Errorf("open reference store %s: %w", store.RedactURL(spec.Value()), pingErr)
		}
		if pingErr != nil && opts.Logger != nil {
			opts.Logger.Warn("reference store unavailable at start, starting degraded: writes are queued until it answers",
				zap.Error(pingErr))
		}
		return cachedOr(r, cachedstore.Options{
			Size: size, Logger: opts.Logger, TTL: ttl, MaxAge: redisMaxAge, Now: opts.Now,
			CallTimeout: RedisCallTimeout, Unavailable: pingErr != nil,
		})
	default:
		return nil, errors.New("no store; use " + store.SpecForms)
	}
}

// cachedOr puts backend behind a Cached, closing it when that fails.
func cachedOr(backend store.Store, opts cachedstore.Options) (store.Store, error) {
	c, err := cachedstore.New(backend, opts)
	if err != nil {
		_ = backend.Close()
		return nil, err
	}
	return c, nil
}
