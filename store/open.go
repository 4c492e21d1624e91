package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap"
)

// Runner is implemented by a store with background work (Bolt's expiry
// sweep, Cached's write retries). The owner runs it for the store's life:
//
//	s, err := store.Open(ctx, cfg.Store, opts)
//	…
//	if r, ok := s.(store.Runner); ok {
//		g.Go(func() error { return r.Run(ctx) })
//	}
//	…
//	// after ctx is cancelled and g.Wait returns:
//	s.Close()
type Runner interface {
	// Run blocks until ctx is done; it returns nil then.
	Run(ctx context.Context) error
}

// Lister is implemented by the stores that can enumerate their references
// (for `references list`).
type Lister interface {
	// List calls fn with each live reference until fn returns false.
	List(ctx context.Context, fn func(Reference) bool) error
}

// redisMaxAge is how long a replica trusts its memory copy of a reference
// in a shared Redis before reading it again, so that a serviceUrl another
// replica stored reaches it within a minute.
const redisMaxAge = time.Minute

// OpenOptions configures Open.
type OpenOptions struct {
	// CacheSize bounds the references kept in memory (the whole store for
	// memory:); DefaultCacheSize when zero.
	CacheSize int
	// TTL is how long a reference lives without a new inbound activity;
	// DefaultTTL when zero. memory: ignores it.
	TTL time.Duration
	// Namespace is the bot's app id, which prefixes Redis keys.
	Namespace string
	// Logger receives background loops' messages; a no-op logger when nil.
	Logger *zap.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Open opens the store that spec (the SIDECAR_STORE value) names:
//
//	memory:                 in process, lost on restart (NewMemory)
//	bolt:PATH               a file, durable, one process (OpenBolt)
//	redis://…, rediss://…   shared by replicas (OpenRedis)
//	redis+cluster://…, rediss+cluster://…
//
// bolt: and Redis stores come behind a Cached LRU; for bolt: a failed
// write is returned to the caller, for Redis it is queued and retried. The
// result implements Runner when it has background loops, and Lister when
// it can list.
func Open(ctx context.Context, spec string, opts OpenOptions) (Store, error) {
	size := opts.CacheSize
	if size == 0 {
		size = DefaultCacheSize
	}
	ttl := orDefault(opts.TTL, DefaultTTL)
	switch {
	case strings.HasPrefix(spec, "memory:"):
		if rest := strings.TrimPrefix(spec, "memory:"); rest != "" {
			return nil, fmt.Errorf("store %q: memory: takes nothing after the colon", spec)
		}
		return NewMemory(size)
	case strings.HasPrefix(spec, "bolt:"):
		b, err := OpenBolt(ctx, BoltOptions{
			Path:   strings.TrimPrefix(spec, "bolt:"),
			TTL:    ttl,
			Now:    opts.Now,
			Logger: opts.Logger,
		})
		if err != nil {
			return nil, err
		}
		return cachedOr(b, CachedOptions{Size: size, Logger: opts.Logger, Durable: true, TTL: ttl, Now: opts.Now})
	case isRedisSpec(spec):
		r, err := OpenRedis(ctx, RedisOptions{
			URL:       spec,
			Namespace: opts.Namespace,
			TTL:       ttl,
			Logger:    opts.Logger,
			Now:       opts.Now,
		})
		if err != nil {
			return nil, err
		}
		return cachedOr(r, CachedOptions{
			Size: size, Logger: opts.Logger, TTL: ttl, MaxAge: redisMaxAge, Now: opts.Now,
		})
	default:
		return nil, fmt.Errorf("store %q: want memory:, bolt:PATH, redis://…, rediss://…, redis+cluster://… or rediss+cluster://…", RedactURL(spec))
	}
}

// cachedOr puts backend behind a Cached, closing it when that fails.
func cachedOr(backend Store, opts CachedOptions) (Store, error) {
	c, err := NewCached(backend, opts)
	if err != nil {
		_ = backend.Close()
		return nil, err
	}
	return c, nil
}
