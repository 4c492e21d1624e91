// Package guid recognises the GUIDs that Entra uses for app, tenant and
// object ids. It exists so that the channel token validator and the proxy
// (which may not import each other) share one definition.
package guid

// Is reports whether s is a bare GUID: 8-4-4-4-12 hex digits, either case,
// no braces.
func Is(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := range len(s) {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}
