// Package ascii compares protocol words and ids ignoring ASCII case only.
// strings.EqualFold also folds Unicode ("K" and the Kelvin sign, "s" and
// the long s), which would let a look-alike pass for a route word, an
// audience or a URL; the channel token validator and the proxy (which may
// not import each other) share this one definition.
package ascii

// EqualFold reports whether a and b are equal ignoring the case of ASCII
// letters; any other byte must match exactly.
func EqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range len(a) {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
