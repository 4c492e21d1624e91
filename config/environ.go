package config

import "strings"

// EnvironMap turns an os.Environ-style list of "KEY=value" into a map for
// Load. The first "=" splits, so values may contain "=". As with
// os.Getenv, the first of duplicate keys wins. Entries with no "=" or an
// empty key (Windows' per-drive "=C:=C:\" entries) are skipped.
func EnvironMap(environ []string) map[string]string {
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			continue
		}
		if _, dup := m[k]; !dup {
			m[k] = v
		}
	}
	return m
}
