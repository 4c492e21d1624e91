package store_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/botsidecar/sidecar/store"
)

func TestParseSpec(t *testing.T) {
	t.Parallel()
	tests := []struct {
		give       string
		wantKind   store.Kind
		wantPath   string
		wantString string
	}{
		{"bolt:./data/references.db", store.KindBolt, "./data/references.db", "bolt:./data/references.db"},
		{"bolt:/var/lib/sidecar/refs.db", store.KindBolt, "/var/lib/sidecar/refs.db", "bolt:/var/lib/sidecar/refs.db"},
		{"memory:", store.KindMemory, "", "memory:"},
		{"redis://cache:6379/0", store.KindRedis, "", "redis://cache:6379/0"},
		{"rediss://user:pw@cache:6380", store.KindRedis, "", "rediss://user:xxxxx@cache:6380"},
		{"redis+cluster://h1:7000,h2:7001", store.KindRedis, "", "redis+cluster://h1:7000,h2:7001"},
		{"rediss+cluster://:S3cretPw@h1:7000,h2:7001", store.KindRedis, "", "rediss+cluster://:xxxxx@h1:7000,h2:7001"},
	}
	for _, tt := range tests {
		s, err := store.ParseSpec(tt.give)
		if err != nil {
			t.Errorf("ParseSpec(%q): %v", tt.give, err)
			continue
		}
		if s.Kind() != tt.wantKind || s.Path() != tt.wantPath || s.Value() != tt.give {
			t.Errorf("ParseSpec(%q) = kind %q, path %q, value %q; want %q, %q, the value whole",
				tt.give, s.Kind(), s.Path(), s.Value(), tt.wantKind, tt.wantPath)
		}
		if got := fmt.Sprintf("%v|%s|%#v|%d|%x", s, s, s, s, s); got != strings.Repeat(tt.wantString+"|", 4)+tt.wantString {
			t.Errorf("ParseSpec(%q) printed %q; want %q each time", tt.give, got, tt.wantString)
		}
		if got := fmt.Sprintf("%q", s); got != fmt.Sprintf("%q", tt.wantString) {
			t.Errorf("ParseSpec(%q) %%q = %s; want %q", tt.give, got, tt.wantString)
		}
		b, err := json.Marshal(struct{ S store.Spec }{s})
		if err != nil || string(b) != fmt.Sprintf(`{"S":%q}`, tt.wantString) {
			t.Errorf("json.Marshal(ParseSpec(%q)) = %s, %v; want the masked form", tt.give, b, err)
		}
	}
}

func TestParseSpecErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		give string
		want string
	}{
		{"", "not a store; use bolt:PATH, memory:, redis://"},
		{"bolt:", "not a store; use bolt:PATH, memory:, redis://"},
		{"sqlite:x.db", "not a store"},
		{"memory", "not a store"},
		{"memory:/tmp/x", "not a store"},
		{"postgres://u:s3cret@db/refs", "not a store"},
		{"redis://", "not a redis URL with a host"},
		{"redis://:s3cret@/0", "not a redis URL with a host"},
		{"redis://:s3cret@host:port:bad/%zz", "not a redis URL with a host"},
	}
	for _, tt := range tests {
		s, err := store.ParseSpec(tt.give)
		if err == nil {
			t.Errorf("ParseSpec(%q) = %v; want an error", tt.give, s)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseSpec(%q) = %v; want it to mention %q", tt.give, err, tt.want)
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("ParseSpec(%q) = %v; shows the password", tt.give, err)
		}
		var u store.Spec
		if err := u.UnmarshalText([]byte(tt.give)); err == nil || u != (store.Spec{}) {
			t.Errorf("UnmarshalText(%q) = %v, left %v; want an error and the zero Spec", tt.give, err, u)
		}
	}
}

func TestRedactURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		give string
		want string
	}{
		{"no userinfo", "redis://cache:6379/2", "redis://cache:6379/2"},
		{"password only", "redis://:hunter2@cache:6379", "redis://:xxxxx@cache:6379"},
		{"user and password", "rediss://bot:hunter2@cache:6380/1?dial_timeout=3s", "rediss://bot:xxxxx@cache:6380/1?dial_timeout=3s"},
		{"user only", "redis://bot@cache", "redis://bot@cache"},
		{"at sign in password", "redis://bot:p@ss@cache", "redis://bot:xxxxx@cache"},
		{"cluster hosts", "redis+cluster://:pw@a:7000,b:7001?read_timeout=1s", "redis+cluster://:xxxxx@a:7000,b:7001?read_timeout=1s"},
		{"password option", "redis://cache?sentinel_password=pw&x=1#f", "redis://cache?sentinel_password=xxxxx&x=1#f"},
		{"not a URL", "bolt:./data/references.db", "bolt:./data/references.db"},
		{"malformed escape", "redis://:bad%zzpw@cache", "redis://:xxxxx@cache"},
		{"unencoded slash in password", "redis://bot:ab/cd?ef#gh@cache:6379/0", "redis://bot:xxxxx@cache:6379/0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := store.RedactURL(tt.give); got != tt.want {
				t.Errorf("RedactURL(%q) = %q; want %q", tt.give, got, tt.want)
			}
		})
	}
}
