package config

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
)

// Store is the SIDECAR_STORE setting: where conversation references live.
// A redis URL may carry a password, so Store prints like a Secret does for
// that part: String and every fmt verb show the URL with the password
// replaced by "xxxxx". Value returns it whole, for the redis client.
type Store string

// The kinds of Store.
const (
	StoreBolt   = "bolt"
	StoreMemory = "memory"
	StoreRedis  = "redis"
)

const storesAccepted = "bolt:PATH, memory:, redis://HOST[:PORT][/DB], rediss://HOST[:PORT][/DB], redis+cluster://HOST:PORT[,HOST:PORT…] or rediss+cluster://…"

// UnmarshalText accepts the forms in storesAccepted.
func (s *Store) UnmarshalText(text []byte) error {
	v := Store(text)
	if v.Kind() == "" {
		return errors.New("not a store; use " + storesAccepted)
	}
	if v.Kind() == StoreRedis {
		u, err := url.Parse(string(v))
		if err != nil || u.Host == "" || u.Hostname() == "" {
			return errors.New("not a redis URL with a host, like redis://HOST:6379/0")
		}
	}
	*s = v
	return nil
}

// Kind returns StoreBolt, StoreMemory or StoreRedis (for redis:// and
// rediss:// alike; the scheme in Value says whether to use TLS), or "" for a
// value Load would reject.
func (s Store) Kind() string {
	v := string(s)
	switch {
	case strings.HasPrefix(v, "bolt:") && len(v) > len("bolt:"):
		return StoreBolt
	case v == "memory:":
		return StoreMemory
	case strings.HasPrefix(v, "redis://"), strings.HasPrefix(v, "rediss://"),
		strings.HasPrefix(v, "redis+cluster://"), strings.HasPrefix(v, "rediss+cluster://"):
		return StoreRedis
	}
	return ""
}

// Path returns the file of a bolt store, "" for other kinds.
func (s Store) Path() string {
	if s.Kind() != StoreBolt {
		return ""
	}
	return strings.TrimPrefix(string(s), "bolt:")
}

// Value returns the setting whole, password included.
func (s Store) Value() string { return string(s) }

// String returns the setting with a redis password masked.
func (s Store) String() string {
	if s.Kind() != StoreRedis {
		return string(s)
	}
	u, err := url.Parse(string(s))
	if err != nil {
		// Unparseable: the password cannot be located, so show the scheme only.
		scheme, _, _ := strings.Cut(string(s), ":")
		return scheme + "://" + redacted
	}
	if _, ok := u.User.Password(); !ok {
		// As written: Redacted would also tidy the URL ("redis://" to
		// "redis:"), and an error message should quote what the user wrote.
		return string(s)
	}
	return u.Redacted()
}

// GoString returns the same as String.
func (s Store) GoString() string { return s.String() }

// Format prints the masked form for every verb (see Secret.Format for why).
func (s Store) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		_, _ = io.WriteString(f, strconv.Quote(s.String()))
		return
	}
	_, _ = io.WriteString(f, s.String())
}

// MarshalText returns the masked form.
func (s Store) MarshalText() ([]byte, error) { return []byte(s.String()), nil }
