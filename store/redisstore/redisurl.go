package redisstore

import (
	"cmp"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// The +cluster schemes select Redis Cluster (see store.Spec).
const (
	schemeCluster    = "redis+cluster"
	schemeClusterTLS = "rediss+cluster"
)

// newRedisClient builds a client for any form Open documents. It never
// returns an error that quotes the URL: url.Parse's errors do, password
// included.
func newRedisClient(raw string) (redis.UniversalClient, error) {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return nil, errors.New("redis URL: missing scheme")
	}
	// An '@' past the host means a password with an unencoded '/', '?' or
	// '#' (common in generated ones): parsers would split the password and
	// quote a piece of it as a host or database number.
	if end := strings.IndexAny(rest, "/?#"); end >= 0 && strings.Contains(rest[end:], "@") {
		return nil, errors.New(`redis URL: '@' after the host: percent-encode the password's reserved characters (/ as %2F, ? as %3F, # as %23, @ as %40)`)
	}
	switch scheme {
	case "redis", "rediss":
		o, err := redis.ParseURL(raw)
		if err != nil {
			return nil, parseErr(err)
		}
		o.DialTimeout = cmp.Or(o.DialTimeout, redisDialTimeout)
		o.ReadTimeout = cmp.Or(o.ReadTimeout, redisIOTimeout)
		o.WriteTimeout = cmp.Or(o.WriteTimeout, redisIOTimeout)
		o.DialerRetries = cmp.Or(o.DialerRetries, redisDialerRetries)
		o.ContextTimeoutEnabled = true
		return redis.NewClient(o), nil
	case schemeCluster, schemeClusterTLS:
		o, err := parseClusterURL(raw)
		if err != nil {
			return nil, err
		}
		o.DialTimeout = cmp.Or(o.DialTimeout, redisDialTimeout)
		o.ReadTimeout = cmp.Or(o.ReadTimeout, redisIOTimeout)
		o.WriteTimeout = cmp.Or(o.WriteTimeout, redisIOTimeout)
		o.DialerRetries = cmp.Or(o.DialerRetries, redisDialerRetries)
		o.ContextTimeoutEnabled = true
		return redis.NewClusterClient(o), nil
	default:
		return nil, fmt.Errorf("redis URL: unknown scheme %q", scheme)
	}
}

// parseClusterURL turns redis+cluster://u:p@h1:1,h2:2?opt into go-redis's
// ParseClusterURL form, redis://u:p@h1:1?opt, and adds the other seeds.
func parseClusterURL(raw string) (*redis.ClusterOptions, error) {
	scheme, rest, _ := strings.Cut(raw, "://")
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	authority, tail := rest[:end], rest[end:]
	userinfo, hosts := "", authority
	if at := strings.LastIndex(authority, "@"); at >= 0 {
		userinfo, hosts = authority[:at+1], authority[at+1:]
	}
	path, query, _ := strings.Cut(tail, "?")
	if path != "" && path != "/" {
		return nil, errors.New("redis cluster URL: a cluster has no database number; remove the path")
	}
	var seeds []string
	for _, h := range strings.Split(hosts, ",") {
		if h = strings.TrimSpace(h); h == "" {
			continue
		}
		seed, err := clusterSeed(h)
		if err != nil {
			return nil, fmt.Errorf("redis cluster URL: host %d: %w", len(seeds)+1, err)
		}
		seeds = append(seeds, seed)
	}
	if len(seeds) == 0 {
		return nil, errors.New("redis cluster URL: no host")
	}
	// go-redis's cluster parser knows no skip_verify; apply it here.
	values, err := url.ParseQuery(query)
	if err != nil {
		return nil, errors.New("redis cluster URL: malformed query")
	}
	skipVerify := false
	if values.Has("skip_verify") {
		if skipVerify, err = strconv.ParseBool(values.Get("skip_verify")); err != nil {
			return nil, errors.New("redis cluster URL: skip_verify: want true or false")
		}
		values.Del("skip_verify")
	}
	base := strings.TrimSuffix(scheme, "+cluster") + "://" + userinfo + seeds[0]
	if len(values) > 0 {
		base += "?" + values.Encode()
	}
	o, err := redis.ParseClusterURL(base)
	if err != nil {
		return nil, parseErr(err)
	}
	o.Addrs = append(o.Addrs, seeds[1:]...)
	if o.TLSConfig != nil {
		// go-redis names only the first seed; verify each node by its own
		// address instead, as a single-host TLS client would.
		o.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: skipVerify}
	}
	return o, nil
}

// clusterSeed normalises one seed to host:port, adding the default port.
func clusterSeed(h string) (string, error) {
	u, err := url.Parse("//" + h)
	if err != nil || u.Hostname() == "" || u.User != nil || u.Path != "" {
		return "", errors.New("want host or host:port")
	}
	port := u.Port()
	if port == "" {
		port = "6379"
	}
	return net.JoinHostPort(u.Hostname(), port), nil
}

// parseErr drops the URL that *url.Error quotes, password included.
func parseErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return errors.New("redis URL: malformed URL")
	}
	return errors.New("redis URL: " + strings.TrimPrefix(err.Error(), "redis: "))
}
