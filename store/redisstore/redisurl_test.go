package redisstore

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestNewRedisClient(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		give        string
		wantCluster bool
		wantAddrs   []string
		wantDB      int
		wantTLS     bool
		wantUser    string
		wantPass    string
	}{
		{name: "standalone defaults", give: "redis://cache", wantAddrs: []string{"cache:6379"}},
		{name: "standalone full", give: "redis://bot:p%40ss@10.0.0.5:6380/3",
			wantAddrs: []string{"10.0.0.5:6380"}, wantDB: 3, wantUser: "bot", wantPass: "p@ss"},
		{name: "standalone TLS", give: "rediss://:pw@cache.example.com:6380", wantAddrs: []string{"cache.example.com:6380"},
			wantTLS: true, wantPass: "pw"},
		{name: "cluster seeds", give: "redis+cluster://:pw@n1:7000,n2:7001, n3",
			wantCluster: true, wantAddrs: []string{"n1:7000", "n2:7001", "n3:6379"}, wantPass: "pw"},
		{name: "cluster TLS with options", give: "rediss+cluster://n1:7000,[::1]:7001/?read_timeout=2s&skip_verify=true",
			wantCluster: true, wantAddrs: []string{"n1:7000", "[::1]:7001"}, wantTLS: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			client, err := newRedisClient(tt.give)
			if err != nil {
				t.Fatalf("newRedisClient(%q): %v", tt.give, err)
			}
			defer client.Close()
			var (
				addrs      []string
				db         int
				tls        bool
				user, pass string
				readTO     time.Duration
			)
			switch c := client.(type) {
			case *redis.Client:
				o := c.Options()
				addrs, db, tls, user, pass, readTO = []string{o.Addr}, o.DB, o.TLSConfig != nil, o.Username, o.Password, o.ReadTimeout
			case *redis.ClusterClient:
				o := c.Options()
				addrs, tls, user, pass, readTO = o.Addrs, o.TLSConfig != nil, o.Username, o.Password, o.ReadTimeout
			}
			_, isCluster := client.(*redis.ClusterClient)
			if isCluster != tt.wantCluster || !slices.Equal(addrs, tt.wantAddrs) || db != tt.wantDB ||
				tls != tt.wantTLS || user != tt.wantUser || pass != tt.wantPass {
				t.Errorf("newRedisClient(%q) = cluster %v, addrs %q, db %d, tls %v, user %q, password %q; want %v, %q, %d, %v, %q, %q",
					tt.give, isCluster, addrs, db, tls, user, pass, tt.wantCluster, tt.wantAddrs, tt.wantDB, tt.wantTLS, tt.wantUser, tt.wantPass)
			}
			if readTO <= 0 {
				t.Errorf("newRedisClient(%q) read timeout = %v; want one set", tt.give, readTO)
			}
		})
	}
}

// TestNewRedisClientTimeouts: these bound how long a call to an
// unreachable Redis (Open's PING included) holds the caller.
func TestNewRedisClientTimeouts(t *testing.T) {
	t.Parallel()
	for _, give := range []string{"redis://cache", "redis+cluster://n1:7000"} {
		client, err := newRedisClient(give)
		if err != nil {
			t.Fatalf("newRedisClient(%q): %v", give, err)
		}
		var dial time.Duration
		var retries int
		switch c := client.(type) {
		case *redis.Client:
			dial, retries = c.Options().DialTimeout, c.Options().DialerRetries
		case *redis.ClusterClient:
			dial, retries = c.Options().DialTimeout, c.Options().DialerRetries
		}
		_ = client.Close()
		if dial != redisDialTimeout || retries != redisDialerRetries {
			t.Errorf("newRedisClient(%q): dial timeout %v, dialer retries %d; want %v, %d",
				give, dial, retries, redisDialTimeout, redisDialerRetries)
		}
	}
}

func TestNewRedisClientSkipVerify(t *testing.T) {
	t.Parallel()
	client, err := newRedisClient("rediss+cluster://n1:7000?skip_verify=true")
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if o := client.(*redis.ClusterClient).Options(); !o.TLSConfig.InsecureSkipVerify {
		t.Error("skip_verify=true did not reach the cluster TLS config")
	}
}

func TestNewRedisClientErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		give string
	}{
		{"unknown scheme", "valkey://cache"},
		{"no scheme", "cache:6379"},
		{"bad database", "redis://:pw@cache/x"},
		{"unknown option", "redis://:pw@cache?frobnicate=1"},
		{"cluster database", "redis+cluster://:pw@n1:7000/2"},
		{"cluster no host", "redis+cluster://:pw@"},
		{"cluster bad host", "redis+cluster://n1:7000,n2:port"},
		{"malformed URL", "redis://:bad%zzpw@cache"},
		{"bad skip_verify", "rediss+cluster://:pw@n1?skip_verify=maybe"},
		{"unencoded slash in password", "redis://bot:pw/zzpw@cache:6379/0"},
		{"cluster unencoded slash in password", "redis+cluster://bot:pw/zzpw@n1:7000"},
		{"cluster password as host", "redis+cluster://n1:7000,zzpw:x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			client, err := newRedisClient(tt.give)
			if err == nil {
				client.Close()
				t.Fatalf("newRedisClient(%q) succeeded; want an error", tt.give)
			}
			if msg := err.Error(); strings.Contains(msg, ":pw") || strings.Contains(msg, "zzpw") {
				t.Errorf("newRedisClient(%q) error %q shows the password", tt.give, err)
			}
		})
	}
}
