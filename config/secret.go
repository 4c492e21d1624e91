package config

import (
	"fmt"
	"io"
	"strconv"
)

// redacted is what a Secret prints instead of its value.
const redacted = "[redacted]"

// Secret is a value that must never be printed: a client secret. Every way
// of formatting or marshalling it (fmt with any verb, JSON, text) yields
// "[redacted]", or "" when it is empty, so that whether a secret is set
// stays visible. Only the code that builds the credential calls Value.
// After prometheus/common config.Secret. The one gap: encoding/json writes a
// map key of string kind as it is, so never key a map by a Secret.
type Secret string

// Value returns the secret itself.
func (s Secret) Value() string { return string(s) }

// String returns "[redacted]", or "" for an empty secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString returns the same as String, so %#v hides the value too.
func (s Secret) GoString() string { return s.String() }

// Format handles every fmt verb. Without it a verb such as %d or %x on a
// struct holding a Secret would print the raw string: fmt only consults
// String for %v, %s, %q, %x and %X, and prints the underlying string in its
// bad-verb message.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		_, _ = io.WriteString(f, strconv.Quote(s.String()))
		return
	}
	_, _ = io.WriteString(f, s.String())
}

// MarshalText returns the redacted form.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// MarshalJSON returns the redacted form as a JSON string.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(strconv.Quote(s.String())), nil }
