package rewrite

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

const hexDigits = "0123456789abcdef"

// appendQuoted appends s as a JSON string. It escapes what encoding/json
// escapes except '<', '>' and '&': those escapes only matter for JSON
// embedded in HTML, and "\u0026" in a serviceUrl's query would puzzle
// whoever reads the body. Invalid UTF-8 becomes U+FFFD, as encoding/json
// does, so the output always decodes to valid text.
func appendQuoted(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if plain[c] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		// U+2028 and U+2029 are valid JSON but end lines in JavaScript;
		// encoding/json escapes them too.
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// isQuoted reports whether span is exactly what appendQuoted makes of s,
// so that an editor can skip a rewrite that would change nothing.
func isQuoted(span []byte, s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= utf8.RuneSelf || !plain[c] {
			// Rare: let appendQuoted decide how s is escaped.
			var buf [128]byte
			return bytes.Equal(appendQuoted(buf[:0], s), span)
		}
	}
	return len(span) == len(s)+2 && span[0] == '"' && span[len(span)-1] == '"' && string(span[1:len(span)-1]) == s
}

// unquote decodes span, a JSON string already validated by the scanner.
// Strings without escapes that are valid UTF-8 (nearly all) are copied
// directly; the rest go through encoding/json so that escapes, surrogate
// pairs and invalid UTF-8 decode exactly as a Go decoder would see them.
func unquote(span []byte) string {
	inner := span[1 : len(span)-1]
	if bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
		return string(inner)
	}
	var s string
	if err := json.Unmarshal(span, &s); err != nil {
		// Unreachable for a span the scanner accepted; an empty name
		// matches nothing.
		return ""
	}
	return s
}
