package config

import (
	"fmt"
	"strconv"
	"strings"
)

// Problem is one thing wrong with the configuration.
type Problem struct {
	// Variable is the variable as it was set (the alias, when that is what
	// the environment holds). It is empty for a problem between variables,
	// whose Reason names them.
	Variable string
	// Value is the offending value as it may be shown: a URL with its user
	// info, query and fragment redacted, a short word or number as given.
	// It is empty when the value is unset, a secret, or could hold one.
	Value string
	// ValueLength is the length of a value that is not shown, so that a
	// secret pasted into the wrong variable can still be recognised; 0 when
	// the value is shown, unset, or a secret (whose length is not told).
	ValueLength int
	// Reason says what is wrong and, where it helps, what to write instead.
	Reason string
}

// Error renders the problem as `VARIABLE="value": reason`, or with
// "(N characters, not shown)" in place of a value that is not shown.
func (p Problem) Error() string {
	switch {
	case p.Variable == "":
		return p.Reason
	case p.Value == "" && p.ValueLength > 0:
		return p.Variable + " (" + strconv.Itoa(p.ValueLength) + " characters, not shown): " + p.Reason
	case p.Value == "":
		return p.Variable + ": " + p.Reason
	}
	return p.Variable + "=" + strconv.Quote(p.Value) + ": " + p.Reason
}

// Error is what Load returns: every problem it found, so that one start-up
// attempt shows them all. Its message holds no secret.
type Error struct {
	Problems []Problem
}

// Error lists the problems on one line, which suits a JSON log.
func (e *Error) Error() string {
	msgs := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		msgs[i] = p.Error()
	}
	if len(msgs) == 1 {
		return msgs[0]
	}
	return fmt.Sprintf("%d problems: %s", len(msgs), strings.Join(msgs, "; "))
}

// Unwrap returns the problems, for errors.As.
func (e *Error) Unwrap() []error {
	errs := make([]error, len(e.Problems))
	for i, p := range e.Problems {
		errs[i] = p
	}
	return errs
}
