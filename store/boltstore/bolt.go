// Package boltstore is the bolt:PATH store: references in a single bbolt
// file, durable across restarts, used by one process at a time. It imports
// store, bbolt and zap only.
package boltstore

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
	"go.uber.org/zap"

	"github.com/botsidecar/sidecar/store"
)

// Defaults of Options.
const (
	// DefaultSweepInterval is how often Bolt deletes expired references.
	DefaultSweepInterval = time.Hour
	// DefaultOpenTimeout is how long Open waits for the file lock.
	DefaultOpenTimeout = 3 * time.Second
)

var (
	refsBucket    = []byte("references")
	tenantsBucket = []byte("tenants")
)

// sweepChunk bounds the deletions of one sweep transaction, so that the
// sweep never holds the single bbolt writer long enough to delay a Put.
const sweepChunk = 1000

// Options configures Open.
type Options struct {
	// Path is the database file; its directory is created when missing.
	Path string
	// TTL is how long a reference lives after its UpdatedAt; store.DefaultTTL when zero.
	TTL time.Duration
	// SweepInterval is the period of Run's expiry sweep; DefaultSweepInterval when zero.
	SweepInterval time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Logger receives the sweep loop's messages; a no-op logger when nil.
	Logger *zap.Logger
	// OpenTimeout bounds the wait for a file that another process holds;
	// DefaultOpenTimeout when zero.
	OpenTimeout time.Duration

	// Fault injection for tests: bbolt's MaxSize (a full disk) and ReadOnly.
	maxSize  int
	readOnly bool
}

// Bolt is a persistent store in a single bbolt file. bbolt holds an
// exclusive lock on the file, so exactly one process uses it at a time.
// Every Put is committed and fsync'd before it returns; concurrent Puts
// share one commit (bbolt's Batch), which costs each of them up to
// bbolt's batch delay (10 ms) but one fsync for the lot.
type Bolt struct {
	db       *bolt.DB
	path     string
	ttl      time.Duration
	interval time.Duration
	now      func() time.Time
	logger   *zap.Logger
}

var (
	_ store.Store  = (*Bolt)(nil)
	_ store.Runner = (*Bolt)(nil)
	_ store.Lister = (*Bolt)(nil)
)

// batchDelay is the bbolt MaxBatchDelay of the store's writes.
const batchDelay = time.Millisecond

// Open opens (creating when missing) the database at opts.Path. A file
// locked by another process is an error after opts.OpenTimeout, not a hang;
// it wraps store.ErrLocked.
func Open(ctx context.Context, opts Options) (*Bolt, error) {
	if opts.Path == "" {
		return nil, errors.New("open reference store: empty path")
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("open reference store %s: %w", opts.Path, err)
	}
	b := &Bolt{
		path:     opts.Path,
		ttl:      cmp.Or(opts.TTL, store.DefaultTTL),
		interval: cmp.Or(opts.SweepInterval, DefaultSweepInterval),
		now:      opts.Now,
		logger:   opts.Logger,
	}
	if b.now == nil {
		b.now = time.Now
	}
	if b.logger == nil {
		b.logger = zap.NewNop()
	}
	if !opts.readOnly {
		if err := os.MkdirAll(filepath.Dir(opts.Path), 0o750); err != nil {
			return nil, fmt.Errorf("open reference store %s: %w", opts.Path, err)
		}
	}
	db, err := bolt.Open(opts.Path, 0o600, &bolt.Options{
		Timeout: cmp.Or(opts.OpenTimeout, DefaultOpenTimeout),
		// The hashmap freelist stays fast as a database of millions of
		// references fragments; the array one degrades.
		FreelistType: bolt.FreelistMapType,
		MaxSize:      opts.maxSize,
		ReadOnly:     opts.readOnly,
	})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("open reference store %s: %w: %w", opts.Path, store.ErrLocked, err)
	}
	if err != nil {
		return nil, fmt.Errorf("open reference store %s: %w", opts.Path, err)
	}
	b.db = db
	// A batch waits this long for company after its first call, and an
	// inbound activity makes several calls one after another (its
	// redelivery claims, its reference, the answers): bbolt's 10 ms
	// default added about 45 ms to each. Concurrent activities still
	// share a commit within a millisecond.
	db.MaxBatchDelay = batchDelay
	if opts.readOnly {
		return b, nil
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{refsBucket, tenantsBucket, deliveriesBucket} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open reference store %s: %w", opts.Path, err)
	}
	return b, nil
}

// Put implements store.Store. It returns once the reference is on disk.
func (b *Bolt) Put(_ context.Context, ref store.Reference) error {
	if err := checkKeys(ref); err != nil {
		return fmt.Errorf("put reference: %w", err)
	}
	if ref.UpdatedAt.IsZero() {
		ref.UpdatedAt = b.now()
	}
	value, err := json.Marshal(ref)
	if err != nil {
		return fmt.Errorf("put reference: %w", err)
	}
	id := []byte(ref.Key())
	// Batch may run this function more than once; it is idempotent.
	err = b.db.Batch(func(tx *bolt.Tx) error {
		if err := tx.Bucket(refsBucket).Put(id, value); err != nil {
			return err
		}
		if ref.TenantID == "" {
			return nil
		}
		return tx.Bucket(tenantsBucket).Put([]byte(ref.TenantID), id)
	})
	if err != nil {
		// Keys were checked above, so what is left is the file or the disk.
		return fmt.Errorf("put reference: %w: %w", store.ErrUnavailable, err)
	}
	return nil
}

// Get implements store.Store. An expired reference is not found even before the
// sweep deletes it.
func (b *Bolt) Get(_ context.Context, conversationID string) (store.Reference, error) {
	var ref store.Reference
	err := b.db.View(func(tx *bolt.Tx) error {
		var err error
		ref, err = b.get(tx, []byte(conversationID))
		return err
	})
	return ref, b.readErr(err)
}

// NewestForTenant implements store.Store.
func (b *Bolt) NewestForTenant(_ context.Context, tenantID string) (store.Reference, error) {
	var ref store.Reference
	err := b.db.View(func(tx *bolt.Tx) error {
		id := tx.Bucket(tenantsBucket).Get([]byte(tenantID))
		if id == nil {
			return store.ErrNotFound
		}
		var err error
		ref, err = b.get(tx, id)
		return err
	})
	return ref, b.readErr(err)
}

// get decodes the live reference under id; it copies out of bbolt's mmap.
func (b *Bolt) get(tx *bolt.Tx, id []byte) (store.Reference, error) {
	value := tx.Bucket(refsBucket).Get(id)
	if value == nil {
		return store.Reference{}, store.ErrNotFound
	}
	var ref store.Reference
	if err := json.Unmarshal(value, &ref); err != nil {
		return store.Reference{}, fmt.Errorf("decode reference: %w: %w", store.ErrCorrupt, err)
	}
	if b.expired(ref.UpdatedAt) {
		return store.Reference{}, store.ErrNotFound
	}
	return ref, nil
}

// readErr leaves store.ErrNotFound and decoding errors alone and marks failures
// of the database itself unavailable.
func (b *Bolt) readErr(err error) error {
	switch {
	case err == nil, errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrCorrupt):
		return err
	default:
		return fmt.Errorf("get reference: %w: %w", store.ErrUnavailable, err)
	}
}

// Delete implements store.Store. It also drops the tenant's pointer when it names
// this conversation, so NewestForTenant never answers with a deleted one.
func (b *Bolt) Delete(_ context.Context, conversationID string) error {
	err := b.db.Update(func(tx *bolt.Tx) error {
		return b.delete(tx, []byte(conversationID))
	})
	if err != nil {
		return fmt.Errorf("delete reference: %w: %w", store.ErrUnavailable, err)
	}
	return nil
}

func (b *Bolt) delete(tx *bolt.Tx, id []byte) error {
	refs, tenants := tx.Bucket(refsBucket), tx.Bucket(tenantsBucket)
	value := refs.Get(id)
	if value == nil {
		return nil
	}
	var meta refMeta
	if json.Unmarshal(value, &meta) == nil && meta.TenantID != "" {
		if bytes.Equal(tenants.Get([]byte(meta.TenantID)), id) {
			if err := tenants.Delete([]byte(meta.TenantID)); err != nil {
				return err
			}
		}
	}
	return refs.Delete(id)
}

// refMeta is the part of a stored value deletion needs; decoding only it
// skips allocating the rest.
type refMeta struct {
	TenantID  string    `json:"tenantId"`
	UpdatedAt time.Time `json:"updatedAt"`
}

var updatedAtField = []byte(`"updatedAt":"`)

// updatedAtOf reads a stored value's UpdatedAt without decoding the JSON,
// which would cost the sweep seconds per million references. UpdatedAt is
// Reference's last field, so json.Marshal writes it last, after any
// "updatedAt" nested in the raw accounts; anything unexpected falls back to
// decoding.
func updatedAtOf(v []byte) (time.Time, error) {
	if i := bytes.LastIndex(v, updatedAtField); i >= 0 {
		rest := v[i+len(updatedAtField):]
		if j := bytes.IndexByte(rest, '"'); j >= 0 {
			if t, err := time.Parse(time.RFC3339Nano, string(rest[:j])); err == nil {
				return t, nil
			}
		}
	}
	var meta refMeta
	err := json.Unmarshal(v, &meta)
	return meta.UpdatedAt, err
}

func (b *Bolt) expired(updatedAt time.Time) bool {
	return b.now().Sub(updatedAt) > b.ttl
}

// List calls fn with every live reference, in key order, until fn returns
// false. fn runs inside a read transaction: it must not call b.
func (b *Bolt) List(ctx context.Context, fn func(store.Reference) bool) error {
	err := b.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(refsBucket).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			var ref store.Reference
			if err := json.Unmarshal(v, &ref); err != nil {
				return fmt.Errorf("decode reference: %w: %w", store.ErrCorrupt, err)
			}
			if b.expired(ref.UpdatedAt) {
				continue
			}
			if !fn(ref) {
				return nil
			}
		}
		return nil
	})
	switch {
	case err == nil, ctx.Err() != nil:
		return err
	case errors.Is(err, store.ErrCorrupt):
		return fmt.Errorf("list references: %w", err)
	default:
		return fmt.Errorf("list references: %w: %w", store.ErrUnavailable, err)
	}
}

// Run deletes expired references at start and then every SweepInterval,
// and expired deliveries every DefaultDeliverySweepInterval, until ctx is
// done. It logs failures, since no caller waits for them.
func (b *Bolt) Run(ctx context.Context) error {
	t := time.NewTicker(b.interval)
	defer t.Stop()
	dt := time.NewTicker(DefaultDeliverySweepInterval)
	defer dt.Stop()
	sweepRefs := true
	for {
		if sweepRefs {
			n, err := b.Sweep(ctx)
			switch {
			case ctx.Err() != nil:
				return nil
			case err != nil:
				b.logger.Warn("reference sweep failed", zap.Error(err), zap.Int("deleted", n))
			case n > 0:
				b.logger.Info("expired references deleted", zap.Int("deleted", n))
			}
		} else if _, err := b.SweepDeliveries(ctx); err != nil && ctx.Err() == nil {
			b.logger.Warn("delivery sweep failed", zap.Error(err))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			sweepRefs = true
		case <-dt.C:
			sweepRefs = false
		}
	}
}

// Sweep deletes the references older than the TTL now and reports how many.
// It finds them in a read transaction, then deletes them in small write
// transactions that check the age again: a Put may have refreshed one since.
func (b *Bolt) Sweep(ctx context.Context) (int, error) {
	var stale [][]byte
	err := b.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(refsBucket).ForEach(func(k, v []byte) error {
			if t, err := updatedAtOf(v); err == nil && b.expired(t) {
				stale = append(stale, bytes.Clone(k))
			}
			return ctx.Err()
		})
	})
	if err != nil {
		return 0, fmt.Errorf("sweep references: %w", err)
	}
	deleted := 0
	for len(stale) > 0 {
		chunk := stale[:min(sweepChunk, len(stale))]
		stale = stale[len(chunk):]
		err := b.db.Update(func(tx *bolt.Tx) error {
			for _, id := range chunk {
				v := tx.Bucket(refsBucket).Get(id)
				if v == nil {
					continue
				}
				if t, err := updatedAtOf(v); err != nil || !b.expired(t) {
					continue
				}
				if err := b.delete(tx, id); err != nil {
					return err
				}
				deleted++
			}
			return nil
		})
		if err != nil {
			return deleted, fmt.Errorf("sweep references: %w: %w", store.ErrUnavailable, err)
		}
		if err := ctx.Err(); err != nil {
			return deleted, err
		}
	}
	return deleted, nil
}

// Close implements store.Store. The owner stops Run first by cancelling its ctx.
func (b *Bolt) Close() error {
	if err := b.db.Close(); err != nil {
		return fmt.Errorf("close reference store %s: %w", b.path, err)
	}
	return nil
}

// checkKeys rejects what bbolt would refuse as a key, so that a failed
// write can only mean the storage failed.
func checkKeys(ref store.Reference) error {
	switch {
	case ref.ConversationID == "":
		return errors.New("empty conversation id")
	case len(ref.Key()) > bolt.MaxKeySize, len(ref.TenantID) > bolt.MaxKeySize:
		return errors.New("id longer than 32 KiB")
	}
	return nil
}
