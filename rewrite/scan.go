package rewrite

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
)

// ErrMalformed is wrapped by every error about a body that is not valid
// JSON, or whose fields this package reads have the wrong JSON type or
// conflicting duplicate values. Callers answer it with 400.
var ErrMalformed = errors.New("malformed json")

// ErrNotObject is wrapped when a body is valid JSON but its top-level value
// is not an object.
var ErrNotObject = errors.New("json value is not an object")

// ErrInvalidEdit is wrapped when an [Edit] or another value supplied by the
// caller (not the body) is not valid JSON. It signals a bug in the caller,
// not a bad request, so it deliberately does not wrap [ErrMalformed].
var ErrInvalidEdit = errors.New("invalid edit")

// maxDepth is encoding/json's nesting limit; matching it keeps this scanner
// in exact agreement with json.Valid, which the fuzz tests check.
const maxDepth = 10000

// plain marks the bytes that may appear in a JSON string unescaped. Bytes
// of 0x80 and above are plain: like json.Valid, the scanner does not insist
// on valid UTF-8.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// syntaxError reports that src[i] is not what the grammar allows.
func syntaxError(src []byte, i int, want string) error {
	return fmt.Errorf("%w: at offset %d: expected %s, found %s", ErrMalformed, i, want, describe(src, i))
}

// describe names the byte at src[i] for an error message.
func describe(src []byte, i int) string {
	if i >= len(src) {
		return "end of input"
	}
	if c := src[i]; c > 0x20 && c < 0x7f {
		return fmt.Sprintf("%q", rune(c))
	}
	return fmt.Sprintf("byte 0x%02x", src[i])
}

// kind names the JSON type of the value that starts with c.
func kind(c byte) string {
	switch c {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

func isSpace(c byte) bool {
	// Most bytes tested are not whitespace; one comparison rejects them.
	return c <= ' ' && (c == ' ' || c == '\t' || c == '\n' || c == '\r')
}

func isDigit(c byte) bool {
	return '0' <= c && c <= '9'
}

// skipWS returns the offset of the first non-whitespace byte at or after i.
func skipWS(src []byte, i int) int {
	for i < len(src) && isSpace(src[i]) {
		i++
	}
	return i
}

// topObject returns the offset of the '{' that opens body's top-level
// object. A body that is valid JSON but not an object gets ErrNotObject, so
// callers can tell "wrong shape" from "broken".
func topObject(body []byte) (int, error) {
	i := skipWS(body, 0)
	if i < len(body) && body[i] == '{' {
		return i, nil
	}
	if i == len(body) {
		return 0, syntaxError(body, i, "a json object")
	}
	end, err := skipValue(body, i, 0)
	if err != nil {
		return 0, err
	}
	if err := endOfInput(body, end); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("%w: found %s", ErrNotObject, kind(body[i]))
}

// endOfInput checks that only whitespace follows the top-level value.
func endOfInput(body []byte, end int) error {
	if i := skipWS(body, end); i != len(body) {
		return syntaxError(body, i, "end of input")
	}
	return nil
}

// rawValue checks that raw, supplied by the caller for splicing, is one
// JSON value, and returns it without surrounding whitespace. The value is
// checked as if nested inside depth containers, so splicing it never makes
// a body deeper than encoding/json accepts. An empty raw means "no value".
func rawValue(name string, raw []byte, depth int) ([]byte, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	i := skipWS(raw, 0)
	end, err := skipValue(raw, i, depth)
	if err == nil {
		err = endOfInput(raw, end)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalidEdit, name, err)
	}
	return raw[i:end], nil
}

// skipValue returns the offset just past the JSON value that starts at
// src[i], validating it exactly as json.Valid would. depth is the number of
// containers the value is nested in.
func skipValue(src []byte, i, depth int) (int, error) {
	if i >= len(src) {
		return i, syntaxError(src, i, "a value")
	}
	switch c := src[i]; c {
	case '"':
		return skipString(src, i)
	case '{', '[':
		return skipNested(src, i, depth)
	default:
		return skipScalar(src, i)
	}
}

// skipScalar skips a number or a literal at src[i].
func skipScalar(src []byte, i int) (int, error) {
	switch c := src[i]; {
	case c == 't':
		return skipLiteral(src, i, "true")
	case c == 'f':
		return skipLiteral(src, i, "false")
	case c == 'n':
		return skipLiteral(src, i, "null")
	case c == '-' || isDigit(c):
		return skipNumber(src, i)
	}
	return i, syntaxError(src, i, "a value")
}

// skipNested skips the object or array at src[i] without recursion, so a
// deeply nested body cannot exhaust the stack; the stack of open brackets
// lives in a small array and only spills to the heap for deep bodies.
func skipNested(src []byte, i, depth int) (int, error) {
	var buf [32]byte
	open := buf[:0]
	var err error
	for {
		// i is at the first byte of a value.
		switch c := src[i]; c {
		case '{', '[':
			if depth+len(open)+1 > maxDepth {
				return i, fmt.Errorf("%w: at offset %d: nesting deeper than %d", ErrMalformed, i, maxDepth)
			}
			i = skipWS(src, i+1)
			if i < len(src) && src[i] == c+2 { // '{'+2 is '}', '['+2 is ']'
				i++
				break
			}
			open = append(open, c)
			if c == '{' {
				if i, err = skipKey(src, i, "'\"' or '}'"); err != nil {
					return i, err
				}
			} else if i >= len(src) {
				return i, syntaxError(src, i, "a value or ']'")
			}
			continue
		case '"':
			i, err = skipString(src, i)
		default:
			i, err = skipScalar(src, i)
		}
		if err != nil {
			return i, err
		}
		// After a complete value: close what ends here, then find the next value.
		for {
			if len(open) == 0 {
				return i, nil
			}
			top := open[len(open)-1]
			i = skipWS(src, i)
			if i < len(src) && src[i] == top+2 {
				open = open[:len(open)-1]
				i++
				continue
			}
			if i >= len(src) || src[i] != ',' {
				if top == '{' {
					return i, syntaxError(src, i, "',' or '}' after object member")
				}
				return i, syntaxError(src, i, "',' or ']' after array element")
			}
			i = skipWS(src, i+1)
			if top == '{' {
				if i, err = skipKey(src, i, "'\"' starting an object key"); err != nil {
					return i, err
				}
			} else if i >= len(src) {
				return i, syntaxError(src, i, "a value")
			}
			break
		}
	}
}

// skipKey skips an object key and its colon at src[i] and returns the
// offset of the value that follows. want describes what may stand at i.
func skipKey(src []byte, i int, want string) (int, error) {
	if i >= len(src) || src[i] != '"' {
		return i, syntaxError(src, i, want)
	}
	i, err := skipString(src, i)
	if err != nil {
		return i, err
	}
	i = skipWS(src, i)
	if i >= len(src) || src[i] != ':' {
		return i, syntaxError(src, i, "':' after object key")
	}
	i = skipWS(src, i+1)
	if i >= len(src) {
		return i, syntaxError(src, i, "a value")
	}
	return i, nil
}

// skipString returns the offset just past the string whose opening quote
// is at src[i].
func skipString(src []byte, i int) (int, error) {
	start := i
	i++
	for {
		i = skipPlain(src, i)
		if i >= len(src) {
			return i, fmt.Errorf("%w: at offset %d: unterminated string starting at offset %d", ErrMalformed, i, start)
		}
		switch c := src[i]; c {
		case '"':
			return i + 1, nil
		case '\\':
			if i+1 >= len(src) {
				return i + 1, syntaxError(src, i+1, "an escape character")
			}
			switch src[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				for k := i + 2; k < i+6; k++ {
					if k >= len(src) || !isHex(src[k]) {
						return k, syntaxError(src, k, `a hex digit in \u escape`)
					}
				}
				i += 6
			default:
				return i + 1, syntaxError(src, i+1, `an escape character (one of "\/bfnrtu)`)
			}
		default:
			return i, fmt.Errorf("%w: at offset %d: control character 0x%02x in string (must be escaped)", ErrMalformed, i, c)
		}
	}
}

// Constants for testing eight bytes at once (SWAR).
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// skipPlain returns the offset of the first byte at or after i that is not
// plain string content ('"', '\\' or a control character), or len(src).
// Strings are most of an activity's bytes, so it looks at eight at a time:
// for each test, (v - ones) & ^v & highs flags the bytes of v that are zero,
// and the lowest flag is always exact (borrows only produce false flags
// above a true one), which is all this needs.
func skipPlain(src []byte, i int) int {
	for i+8 <= len(src) {
		x := binary.LittleEndian.Uint64(src[i:])
		q := x ^ (ones * '"')  // zero where x has '"'
		b := x ^ (ones * '\\') // zero where x has '\\'
		control := (x - ones*0x20) & ^x
		quote := (q - ones) & ^q
		backslash := (b - ones) & ^b
		if m := (control | quote | backslash) & highs; m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
		i += 8
	}
	for i < len(src) && plain[src[i]] {
		i++
	}
	return i
}

func isHex(c byte) bool {
	return isDigit(c) || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// skipNumber skips the number at src[i]:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func skipNumber(src []byte, i int) (int, error) {
	if src[i] == '-' {
		i++
	}
	switch {
	case i < len(src) && src[i] == '0':
		i++
	case i < len(src) && isDigit(src[i]):
		i = skipDigits(src, i)
	default:
		return i, syntaxError(src, i, "a digit")
	}
	if i < len(src) && src[i] == '.' {
		i++
		if i >= len(src) || !isDigit(src[i]) {
			return i, syntaxError(src, i, "a digit after the decimal point")
		}
		i = skipDigits(src, i)
	}
	if i < len(src) && (src[i] == 'e' || src[i] == 'E') {
		i++
		if i < len(src) && (src[i] == '+' || src[i] == '-') {
			i++
		}
		if i >= len(src) || !isDigit(src[i]) {
			return i, syntaxError(src, i, "a digit in the exponent")
		}
		i = skipDigits(src, i)
	}
	return i, nil
}

func skipDigits(src []byte, i int) int {
	for i < len(src) && isDigit(src[i]) {
		i++
	}
	return i
}

// skipLiteral skips lit (true, false or null) at src[i].
func skipLiteral(src []byte, i int, lit string) (int, error) {
	for k := 0; k < len(lit); k++ {
		if i+k >= len(src) || src[i+k] != lit[k] {
			return i + k, syntaxError(src, i+k, fmt.Sprintf("%q (in literal %s)", lit[k], lit))
		}
	}
	return i + len(lit), nil
}
