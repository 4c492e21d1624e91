package config

import (
	"strings"
	"testing"
)

func TestStoreAcceptsClusterURLs(t *testing.T) {
	t.Parallel()
	for _, give := range []string{"redis+cluster://h1:7000,h2:7001", "rediss+cluster://:S3cretPw@h1:7000,h2:7001"} {
		var s Store
		if err := s.UnmarshalText([]byte(give)); err != nil || s.Kind() != StoreRedis {
			t.Errorf("UnmarshalText(%q) = %v, kind %q; want a redis store", give, err, s.Kind())
		}
		if got := s.String(); strings.Contains(got, "S3cretPw") || !strings.Contains(got, "h1:7000") {
			t.Errorf("String() = %q; want the hosts without the password", got)
		}
	}
}
