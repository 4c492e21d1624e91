package store

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
)

// Kind names the backend a Spec selects.
type Kind string

// The kinds of Spec.
const (
	KindBolt   Kind = "bolt"
	KindMemory Kind = "memory"
	// KindRedis is every Redis form: redis://, rediss://, and their
	// +cluster variants; the scheme in Value says whether to use TLS and
	// whether the hosts are cluster seeds.
	KindRedis Kind = "redis"
)

// SpecForms lists the accepted forms of a Spec, for messages and usage.
const SpecForms = "bolt:PATH, memory:, redis://HOST[:PORT][/DB], rediss://HOST[:PORT][/DB], redis+cluster://HOST:PORT[,HOST:PORT…] or rediss+cluster://…"

// redisSchemes are the URL schemes of KindRedis. The +cluster schemes
// select Redis Cluster: a scheme, rather than a query option, keeps the
// choice visible at the start of the value, and lets the seed hosts be
// listed where hosts are written.
var redisSchemes = []string{"redis://", "rediss://", "redis+cluster://", "rediss+cluster://"}

// Spec is a parsed SIDECAR_STORE value: which store, and where.
//
//	memory:                 in process, lost on restart
//	bolt:PATH               a file, durable, one process
//	redis://…, rediss://…   shared by replicas
//	redis+cluster://…, rediss+cluster://…
//
// A Redis URL may carry a password, so a Spec prints like a secret does
// for that part: String, MarshalText and every fmt verb show the value
// with the password replaced by "xxxxx" (see RedactURL). Value returns it
// whole, for the Redis client. The zero Spec names no store.
type Spec struct {
	kind  Kind
	value string
}

// ParseSpec parses a SIDECAR_STORE value. Its errors name the accepted
// forms but never quote the value, which may hold a password; the caller
// names the variable.
func ParseSpec(v string) (Spec, error) {
	k := kindOf(v)
	if k == "" {
		return Spec{}, errors.New("not a store; use " + SpecForms)
	}
	if k == KindRedis {
		u, err := url.Parse(v)
		if err != nil || u.Host == "" || u.Hostname() == "" {
			return Spec{}, errors.New("not a redis URL with a host, like redis://HOST:6379/0")
		}
	}
	return Spec{kind: k, value: v}, nil
}

// kindOf returns the kind v names by its prefix, or "".
func kindOf(v string) Kind {
	switch {
	case strings.HasPrefix(v, "bolt:") && len(v) > len("bolt:"):
		return KindBolt
	case v == "memory:":
		return KindMemory
	}
	for _, s := range redisSchemes {
		if strings.HasPrefix(v, s) {
			return KindRedis
		}
	}
	return ""
}

// UnmarshalText parses text with ParseSpec, so that a Spec can be a
// configuration field.
func (s *Spec) UnmarshalText(text []byte) error {
	v, err := ParseSpec(string(text))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// Kind returns KindBolt, KindMemory or KindRedis, or "" for the zero Spec.
func (s Spec) Kind() Kind { return s.kind }

// Path returns the file of a bolt store, "" for other kinds.
func (s Spec) Path() string {
	if s.kind != KindBolt {
		return ""
	}
	return strings.TrimPrefix(s.value, "bolt:")
}

// Value returns the value whole, password included.
func (s Spec) Value() string { return s.value }

// String returns the value with a Redis password masked.
func (s Spec) String() string { return RedactURL(s.value) }

// GoString returns the same as String.
func (s Spec) GoString() string { return s.String() }

// Format prints the masked form for every verb: without it, %d or %x of a
// struct holding a Spec would print the fields, password included.
func (s Spec) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		_, _ = io.WriteString(f, strconv.Quote(s.String()))
		return
	}
	_, _ = io.WriteString(f, s.String())
}

// MarshalText returns the masked form.
func (s Spec) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// RedactURL returns raw with the password of its userinfo, and the value of
// any query option whose name mentions a password, replaced by "xxxxx"
// (what net/url's Redacted writes). A value without "://" (bolt:, memory:)
// is returned as is. It works on strings url.Parse rejects, such as the
// comma-separated hosts of a cluster URL, so it can show a value that
// failed to parse.
func RedactURL(raw string) string {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return raw
	}
	// The last '@' anywhere ends the userinfo: a password may hold an
	// unencoded '/', '?' or '#', and showing too little beats a leak.
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		if user, _, hasPass := strings.Cut(rest[:at], ":"); hasPass {
			rest = user + ":xxxxx" + rest[at:]
		}
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	authority, tail := rest[:end], rest[end:]
	if before, query, ok := strings.Cut(tail, "?"); ok {
		query, fragment, hasFragment := strings.Cut(query, "#")
		params := strings.Split(query, "&")
		for i, p := range params {
			if name, _, ok := strings.Cut(p, "="); ok && strings.Contains(strings.ToLower(name), "pass") {
				params[i] = name + "=xxxxx"
			}
		}
		tail = before + "?" + strings.Join(params, "&")
		if hasFragment {
			tail += "#" + fragment
		}
	}
	return scheme + "://" + authority + tail
}
