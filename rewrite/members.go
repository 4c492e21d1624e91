package rewrite

import (
	"bytes"
	"unicode/utf8"
)

// members walks the members of one JSON object in a body, validating as it
// goes and recording byte offsets instead of decoding, so that callers can
// splice new values in and leave every other byte alone.
//
// After next returns true the iterator stands at the member's value
// (valStart). The caller either consumes it itself and reports where it
// ended with done, or leaves it to skip (called explicitly or by the next
// call of next).
type members struct {
	src   []byte
	depth int // containers enclosing this object's members, the object included
	pos   int // next byte to read
	n     int // members seen, plus members added by an editor

	pending bool // the current value has not been consumed yet
	closed  bool // the closing '}' has been read
	err     error

	keyStart, keyEnd int    // the current key, quotes included
	valStart, valEnd int    // the current value; valEnd is set once consumed
	key              []byte // the current key's name, decoded when escaped
	ascii            bool   // key is all ASCII, so only ASCII case folding applies

	open  int // offset of '{'
	after int // just past the last value read, or just past '{': where members are added
	end   int // just past '}', once closed

	// The first member's layout, copied when adding members so that a
	// pretty-printed object stays pretty.
	firstKeyStart, firstKeyEnd, firstColon, firstValStart int
}

// newMembers starts walking the object whose '{' is at src[open]; depth
// counts the containers around its members, the object itself included
// (a top-level object's members have depth 1).
func newMembers(src []byte, open, depth int) members {
	return members{src: src, depth: depth, pos: open + 1, open: open, after: open + 1}
}

// child starts walking the current value, which must be an object.
func (m *members) child() members {
	return newMembers(m.src, m.valStart, m.depth+1)
}

// next advances to the next member. It returns false at the end of the
// object or on an error, which m.err then holds.
func (m *members) next() bool {
	if m.err != nil || m.closed {
		return false
	}
	if m.pending && !m.skip() {
		return false
	}
	src := m.src
	i := skipWS(src, m.pos)
	if i < len(src) && src[i] == '}' {
		m.closed = true
		m.end = i + 1
		return false
	}
	want := "'\"' or '}'"
	if m.n > 0 {
		if i >= len(src) || src[i] != ',' {
			m.err = syntaxError(src, i, "',' or '}' after object member")
			return false
		}
		i = skipWS(src, i+1)
		want = "'\"' starting an object key"
	}
	if i >= len(src) || src[i] != '"' {
		m.err = syntaxError(src, i, want)
		return false
	}
	keyEnd, err := skipString(src, i)
	if err != nil {
		m.err = err
		return false
	}
	colon := skipWS(src, keyEnd)
	if colon >= len(src) || src[colon] != ':' {
		m.err = syntaxError(src, colon, "':' after object key")
		return false
	}
	val := skipWS(src, colon+1)
	if val >= len(src) {
		m.err = syntaxError(src, val, "a value")
		return false
	}
	if m.n == 0 {
		m.firstKeyStart, m.firstKeyEnd, m.firstColon, m.firstValStart = i, keyEnd, colon, val
	}
	m.keyStart, m.keyEnd, m.valStart = i, keyEnd, val
	m.setKey(src[i+1 : keyEnd-1])
	m.n++
	m.pending = true
	return true
}

// setKey records the current key's name. Escaped keys (rare, and a way to
// smuggle a second "from" past a naive byte match) are decoded.
func (m *members) setKey(raw []byte) {
	if bytes.IndexByte(raw, '\\') >= 0 {
		raw = []byte(unquote(m.src[m.keyStart:m.keyEnd]))
	}
	m.key = raw
	m.ascii = true
	for _, c := range raw {
		if c >= utf8.RuneSelf {
			m.ascii = false
			break
		}
	}
}

// skip consumes the current value. It reports false on an error.
func (m *members) skip() bool {
	end, err := skipValue(m.src, m.valStart, m.depth)
	if err != nil {
		m.err = err
		return false
	}
	m.done(end)
	return true
}

// done records that the caller consumed the current value up to end.
func (m *members) done(end int) {
	m.valEnd, m.pos, m.after, m.pending = end, end, end, false
}

// value returns the current value's bytes, consuming it first if needed.
// It returns nil on an error.
func (m *members) value() []byte {
	if m.pending && !m.skip() {
		return nil
	}
	return m.src[m.valStart:m.valEnd]
}

// first returns the first byte of the current value.
func (m *members) first() byte {
	return m.src[m.valStart]
}

// is reports whether the current key names name, comparing the way
// encoding/json and Newtonsoft.Json (the Bot Connector's deserializer) match
// fields: exactly or, failing that, case-insensitively. Matching folded
// spellings means "From" cannot slip a second sender past the rewrite.
// name must be ASCII.
func (m *members) is(name string) bool {
	k := m.key
	if len(k) == len(name) {
		// Same length: only ASCII letters can fold onto ASCII letters here,
		// because the non-ASCII runes that fold to ASCII ('ſ', 'K') are
		// longer than what they fold to.
		for i := 0; i < len(k); i++ {
			if a, b := lower(k[i]), lower(name[i]); a != b {
				return false
			}
		}
		return true
	}
	if m.ascii || len(k) < len(name) {
		return false
	}
	return bytes.EqualFold(k, []byte(name))
}

// exact reports whether the current key is exactly name.
func (m *members) exact(name string) bool {
	return string(m.key) == name
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}

// isNull reports whether the consumed current value is null.
func (m *members) isNull() bool {
	return m.src[m.valStart] == 'n'
}

// isEmptyOrNull reports whether the consumed current value is null or "".
func (m *members) isEmptyOrNull() bool {
	return m.isNull() || m.valEnd-m.valStart == 2 && m.src[m.valStart] == '"'
}

// elements walks the elements of one JSON array, like members does objects.
type elements struct {
	src     []byte
	depth   int // containers enclosing the elements, the array included
	pos     int
	n       int
	pending bool
	closed  bool
	err     error

	valStart int
	end      int // just past ']', once closed
}

// newElements starts walking the array whose '[' is at src[open].
func newElements(src []byte, open, depth int) elements {
	return elements{src: src, depth: depth, pos: open + 1}
}

// next advances to the next element, like members.next.
func (a *elements) next() bool {
	if a.err != nil || a.closed {
		return false
	}
	if a.pending && !a.skip() {
		return false
	}
	src := a.src
	i := skipWS(src, a.pos)
	if i < len(src) && src[i] == ']' {
		a.closed = true
		a.end = i + 1
		return false
	}
	if a.n > 0 {
		if i >= len(src) || src[i] != ',' {
			a.err = syntaxError(src, i, "',' or ']' after array element")
			return false
		}
		i = skipWS(src, i+1)
	}
	if i >= len(src) {
		a.err = syntaxError(src, i, "a value")
		return false
	}
	a.valStart = i
	a.n++
	a.pending = true
	return true
}

// skip consumes the current element.
func (a *elements) skip() bool {
	end, err := skipValue(a.src, a.valStart, a.depth)
	if err != nil {
		a.err = err
		return false
	}
	a.done(end)
	return true
}

// done records that the caller consumed the current element up to end.
func (a *elements) done(end int) {
	a.pos, a.pending = end, false
}
