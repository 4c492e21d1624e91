// Package redisstore is the Redis store (redis://, rediss:// and their
// +cluster forms), shared by every replica of a bot. It imports store,
// go-redis and zap only.
package redisstore

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/botsidecar/sidecar/store"
)

// Options configures Open.
type Options struct {
	// URL selects the server; see Open for its forms.
	URL string
	// Namespace is the bot's app id. Keys are
	// "botsidecar:<Namespace>:ref:<conversation id>" and
	// "botsidecar:<Namespace>:tenant:<tenant id>", so several bots can
	// share one Redis. It is required and holds no ':', '{' or '}'.
	Namespace string
	// TTL is how long a reference lives after its UpdatedAt; store.DefaultTTL when zero.
	TTL time.Duration
	// Logger is for background work. Redis has none (the server expires
	// keys itself), so it logs nothing; the field keeps the options alike.
	Logger *zap.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Redis is a store in Redis (standalone or Redis Cluster), shared by every
// replica of a bot. Keys expire TTL after the reference's UpdatedAt, so each
// Put refreshes them; Redis itself deletes expired references.
type Redis struct {
	client redis.UniversalClient
	prefix string // "botsidecar:<namespace>:"
	ttl    time.Duration
	now    func() time.Time

	// marker is this process's own key (see Probe); marked is set once
	// Probe has written it, so that its absence means lost data.
	marker string
	marked atomic.Bool
}

var (
	_ store.Store  = (*Redis)(nil)
	_ store.Lister = (*Redis)(nil)
)

// markerTTL is how long a process's marker key outlives its last Probe: a
// process that ended leaves one small key behind for that long. It is far
// longer than any probe interval, so a live process's marker never expires.
const markerTTL = time.Hour

// Timeouts applied when the URL sets none. go-redis's own defaults (5 s
// dial, 3 s reads, 5 dial attempts for each of 4 tries) hold a call to an
// unreachable Redis for seconds, and an inbound activity with it.
const (
	redisDialTimeout   = 2 * time.Second
	redisIOTimeout     = time.Second
	redisDialerRetries = 1
)

// Open connects to the Redis that opts.URL names and checks it
// answers. opts.URL takes one of these forms (options are go-redis's URL
// options, such as dial_timeout=3s, read_timeout=2s, pool_size=20,
// skip_verify=true):
//
//	redis://[user:password@]host[:port][/db][?option=value&…]
//	rediss://[user:password@]host[:port][/db][?option=value&…]
//	redis+cluster://[user:password@]host:port[,host:port…][?option=value&…]
//	rediss+cluster://[user:password@]host:port[,host:port…][?option=value&…]
//
// redis:// is one server (port 6379 and database 0 by default); rediss://
// is the same over TLS, verified against the system roots. The +cluster
// schemes select Redis Cluster: the comma-separated hosts are seed nodes
// (one is enough; the client discovers the rest), and a cluster has no
// database number. A password with URL-reserved characters is
// percent-encoded (p@ss → p%40ss). Errors and logs show the URL with its
// password replaced (see store.RedactURL).
func Open(ctx context.Context, opts Options) (*Redis, error) {
	r, err := New(opts)
	if err != nil {
		return nil, err
	}
	if err := r.Ping(ctx); err != nil {
		_ = r.client.Close()
		return nil, fmt.Errorf("open reference store %s: %w", store.RedactURL(opts.URL), err)
	}
	return r, nil
}

// New is Open without the check that the server answers: the client
// connects on its first call. A sidecar starting while Redis is down uses
// it to start degraded rather than fail.
func New(opts Options) (*Redis, error) {
	shown := store.RedactURL(opts.URL)
	if err := checkNamespace(opts.Namespace); err != nil {
		return nil, fmt.Errorf("open reference store %s: %w", shown, err)
	}
	client, err := newRedisClient(opts.URL)
	if err != nil {
		return nil, fmt.Errorf("open reference store %s: %w", shown, err)
	}
	prefix := "botsidecar:" + opts.Namespace + ":"
	r := &Redis{
		client: client,
		prefix: prefix,
		ttl:    cmp.Or(opts.TTL, store.DefaultTTL),
		now:    opts.Now,
		marker: prefix + "process:" + rand.Text(),
	}
	if r.now == nil {
		r.now = time.Now
	}
	return r, nil
}

// Ping checks that the server answers; its error wraps store.ErrUnavailable.
func (r *Redis) Ping(ctx context.Context) error {
	if err := r.client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("ping: %w: %w", store.ErrUnavailable, err)
	}
	return nil
}

// Probe checks that the server answers and reports whether it lost the
// data this process wrote to it: restarted without persistence, replaced
// by a new instance, or flushed. Each process keeps a key of its own,
// written by its first Probe and refreshed by every later one; once
// written, its absence means the data went with it. The key is per
// process because the first replica to notice a shared marker missing
// would write it back and hide the loss from the others.
func (r *Redis) Probe(ctx context.Context) (lost bool, err error) {
	// SET … GET answers the key's previous value: one round trip both
	// checks and refreshes it.
	err = r.client.SetArgs(ctx, r.marker, "1", redis.SetArgs{TTL: markerTTL, Get: true}).Err()
	switch {
	case errors.Is(err, redis.Nil):
		return r.marked.Swap(true), nil
	case err != nil:
		return false, fmt.Errorf("probe: %w: %w", store.ErrUnavailable, err)
	}
	r.marked.Store(true)
	return false, nil
}

// checkNamespace keeps namespaces from overlapping (':' separates key
// parts) and from becoming a Redis Cluster hash tag ('{…}' would put every
// key of the bot in one slot).
func checkNamespace(ns string) error {
	switch {
	case ns == "":
		return errors.New("empty namespace: set it to the bot's app id")
	case strings.ContainsAny(ns, ":{}"):
		return fmt.Errorf("namespace %q: must not contain ':', '{' or '}'", ns)
	}
	return nil
}

func (r *Redis) refKey(conversationID string) string { return r.prefix + "ref:" + conversationID }
func (r *Redis) tenantKey(tenantID string) string    { return r.prefix + "tenant:" + tenantID }

// Put implements store.Store. The reference and its tenant pointer are two keys
// written in one pipeline; they may sit on different cluster nodes, so the
// write is not atomic, and a reader may briefly see the new reference with
// the old pointer. Both expire TTL after ref.UpdatedAt.
func (r *Redis) Put(ctx context.Context, ref store.Reference) error {
	return r.write(ctx, ref, false)
}

// Restore writes ref back unless Redis holds the conversation already,
// which then holds a newer write (another replica's, since the loss): a
// process heals what Redis lost without overwriting what it has since.
// The tenant pointer is restored the same way.
func (r *Redis) Restore(ctx context.Context, ref store.Reference) error {
	return r.write(ctx, ref, true)
}

func (r *Redis) write(ctx context.Context, ref store.Reference, ifAbsent bool) error {
	if ref.ConversationID == "" {
		return errors.New("put reference: empty conversation id")
	}
	if ref.UpdatedAt.IsZero() {
		ref.UpdatedAt = r.now()
	}
	// min: an UpdatedAt ahead of this clock (skew between replicas) must
	// not stretch the TTL.
	ttl := min(r.ttl-r.now().Sub(ref.UpdatedAt), r.ttl)
	if ttl <= 0 {
		// Already expired (a write retried for longer than the TTL):
		// storing it would only resurrect it.
		return nil
	}
	value, err := json.Marshal(ref)
	if err != nil {
		return fmt.Errorf("put reference: %w", err)
	}
	set := func(p redis.Pipeliner, key string, value any) {
		if ifAbsent {
			p.SetNX(ctx, key, value, ttl)
		} else {
			p.Set(ctx, key, value, ttl)
		}
	}
	_, err = r.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		set(p, r.refKey(ref.Key()), value)
		if ref.TenantID != "" {
			set(p, r.tenantKey(ref.TenantID), ref.Key())
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("put reference: %w: %w", store.ErrUnavailable, err)
	}
	return nil
}

// Get implements store.Store.
func (r *Redis) Get(ctx context.Context, conversationID string) (store.Reference, error) {
	value, err := r.client.Get(ctx, r.refKey(conversationID)).Bytes()
	if err != nil {
		return store.Reference{}, redisErr("get reference", err)
	}
	var ref store.Reference
	if err := json.Unmarshal(value, &ref); err != nil {
		return store.Reference{}, fmt.Errorf("decode reference: %w: %w", store.ErrCorrupt, err)
	}
	return ref, nil
}

// NewestForTenant implements store.Store.
func (r *Redis) NewestForTenant(ctx context.Context, tenantID string) (store.Reference, error) {
	id, err := r.client.Get(ctx, r.tenantKey(tenantID)).Result()
	if err != nil {
		return store.Reference{}, redisErr("get tenant reference", err)
	}
	return r.Get(ctx, id)
}

// delTenantIfScript deletes the tenant pointer only while it still names
// the deleted conversation: another replica may have moved it on. It
// touches one key, so it runs on Redis Cluster too.
var delTenantIfScript = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
	return redis.call("DEL", KEYS[1])
end
return 0`)

// Delete implements store.Store.
func (r *Redis) Delete(ctx context.Context, conversationID string) error {
	ref, err := r.Get(ctx, conversationID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil
	case errors.Is(err, store.ErrUnavailable):
		return fmt.Errorf("delete reference: %w", err)
	}
	// A value that does not decode (err is store.ErrCorrupt) is deleted all the same.
	if err := r.client.Del(ctx, r.refKey(conversationID)).Err(); err != nil {
		return redisErr("delete reference", err)
	}
	if ref.TenantID != "" {
		err := delTenantIfScript.Run(ctx, r.client, []string{r.tenantKey(ref.TenantID)}, conversationID).Err()
		if err != nil && !errors.Is(err, redis.Nil) {
			return redisErr("delete tenant reference", err)
		}
	}
	return nil
}

// listBatch is the SCAN COUNT hint and the size of one pipeline of GETs.
const listBatch = 500

// List calls fn with every reference of the namespace until fn returns
// false, in no particular order. SCAN may report a key twice when Redis
// rehashes meanwhile, so fn may see a reference twice. On Redis Cluster
// every master is scanned; fn is never called concurrently.
func (r *Redis) List(ctx context.Context, fn func(store.Reference) bool) error {
	match := escapeGlob(r.prefix) + "ref:*"
	var (
		mu      sync.Mutex
		stopped bool
	)
	// visit fetches one batch of keys through r.client, which routes each
	// GET to its slot's node, and hands the references to fn.
	visit := func(ctx context.Context, keys []string) error {
		cmds, err := r.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, k := range keys {
				p.Get(ctx, k)
			}
			return nil
		})
		if err != nil && !errors.Is(err, redis.Nil) {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		for _, cmd := range cmds {
			value, err := cmd.(*redis.StringCmd).Bytes()
			if err != nil { // expired since SCAN saw it
				continue
			}
			var ref store.Reference
			if err := json.Unmarshal(value, &ref); err != nil {
				return fmt.Errorf("decode reference: %w: %w", store.ErrCorrupt, err)
			}
			if stopped || !fn(ref) {
				stopped = true
				return errStopList
			}
		}
		return nil
	}
	var err error
	if cluster, ok := r.client.(*redis.ClusterClient); ok {
		err = cluster.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
			return scanKeys(ctx, node, match, visit)
		})
	} else {
		err = scanKeys(ctx, r.client, match, visit)
	}
	switch {
	case err == nil, errors.Is(err, errStopList):
		return nil
	case errors.Is(err, store.ErrCorrupt), ctx.Err() != nil:
		return fmt.Errorf("list references: %w", err)
	default:
		return fmt.Errorf("list references: %w: %w", store.ErrUnavailable, err)
	}
}

// errStopList ends a scan early once fn has returned false.
var errStopList = errors.New("list stopped")

func scanKeys(ctx context.Context, c redis.Cmdable, match string, visit func(context.Context, []string) error) error {
	var cursor uint64
	for {
		keys, next, err := c.Scan(ctx, cursor, match, listBatch).Result()
		if err != nil {
			return err
		}
		if len(keys) > 0 {
			if err := visit(ctx, keys); err != nil {
				return err
			}
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}

// escapeGlob quotes the characters SCAN MATCH treats as a pattern.
func escapeGlob(s string) string {
	var b strings.Builder
	for _, c := range s {
		if strings.ContainsRune(`*?[]\`, c) {
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// Close implements store.Store.
func (r *Redis) Close() error {
	if err := r.client.Close(); err != nil {
		return fmt.Errorf("close reference store: %w", err)
	}
	return nil
}

// redisErr maps a missing key to store.ErrNotFound and every other failure (a
// refused connection, a timeout, a server refusing writes) to store.ErrUnavailable.
func redisErr(op string, err error) error {
	if errors.Is(err, redis.Nil) {
		return store.ErrNotFound
	}
	return fmt.Errorf("%s: %w: %w", op, store.ErrUnavailable, err)
}

// DriverLog adapts l to go-redis's logging interface, at warn level, for
// redis.SetLogger: go-redis logs some events by itself (a dial retried
// inside its pool, a cluster reshard), and by default writes them as plain
// lines on stderr. go-redis v9 has one logger per process and no logger
// per client, so this package installs nothing; the program, which owns
// the process's stderr, does it once. go-redis's lines name addresses and
// errors, never passwords or keys.
func DriverLog(l *zap.Logger) interface {
	Printf(ctx context.Context, format string, v ...any)
} {
	return driverLog{l}
}

type driverLog struct{ l *zap.Logger }

func (d driverLog) Printf(_ context.Context, format string, v ...any) {
	d.l.Warn("redis client", zap.String("detail", fmt.Sprintf(format, v...)))
}
