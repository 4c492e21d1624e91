package config

import (
	"reflect"
	"strings"
	"time"

	"github.com/botsidecar/sidecar/store"
)

// Variable describes one setting. The table Variables returns is the one
// docs/configuration.md's table, the flags and --help are made from;
// it is read from Config's struct tags, which env parses, so nothing is
// written twice.
type Variable struct {
	// Name is the canonical environment variable.
	Name string
	// Alias is another accepted name (the Teams SDK's), "" if none.
	Alias string
	// Default is the value used when the variable is unset, "" if none. For
	// the endpoints it is the public cloud's; the others follow SIDECAR_CLOUD.
	Default string
	// Usage says what the setting means.
	Usage string
}

// Flag returns the command-line flag of a SIDECAR_* variable: lower case,
// without the prefix, dashes for underscores (SIDECAR_INBOUND_ADDR is
// "inbound-addr"), or "" for the other variables, which have no flag.
func (v Variable) Flag() string {
	name, ok := strings.CutPrefix(v.Name, "SIDECAR_")
	if !ok {
		return ""
	}
	return strings.ReplaceAll(strings.ToLower(name), "_", "-")
}

// variable is a Variable with what Load and Flags need besides.
type variable struct {
	Variable
	// field is the Config field name, which env's ParseError reports.
	field string
	typ   reflect.Type
	// show is the field's show tag: "url" or "word" (see display).
	show string
}

// secret reports whether the value must never be shown.
func (v variable) secret() bool { return v.typ == reflect.TypeFor[Secret]() }

// display returns the value as an error message may show it, or "" when it
// must not be shown. It is the one place that decides, by the rule:
//   - a Secret is never shown;
//   - a URL setting (tag show:"url", and SIDECAR_STORE's redis URLs) is shown with its user info, query and
//     fragment replaced by [redacted], each of which may hold a credential,
//     and not at all unless it starts with scheme://;
//   - an enumeration, number, duration, size or address (those types, or
//     tag show:"word") is shown as given when it is a short word of
//     letters, digits and ".:-_[]", which no secret issued by Entra and no
//     pasted token is; anything else is not shown;
//   - SIDECAR_STORE's bolt:PATH is shown as given;
//   - any other value (ids, file paths, list entries) is not shown.
//
// A value not shown is described by its length (Problem.ValueLength).
func (v variable) display(value string) string {
	switch {
	case v.secret():
		return ""
	case v.typ == reflect.TypeFor[store.Spec]() && !strings.Contains(value, "://"):
		// bolt:PATH and memory: hold no credential.
		if isWord(value) || strings.HasPrefix(value, "bolt:") {
			return value
		}
		return ""
	case v.show == "url" || v.typ == reflect.TypeFor[store.Spec]():
		return redactURL(value)
	case v.show == "word" || isWordType(v.typ):
		if isWord(value) {
			return value
		}
	}
	return ""
}

// isWordType reports whether the valid values of a field of type t are
// short words or numbers.
func isWordType(t reflect.Type) bool {
	switch t {
	case reflect.TypeFor[bool](), reflect.TypeFor[int](), reflect.TypeFor[time.Duration](),
		reflect.TypeFor[Size](), reflect.TypeFor[AppType](), reflect.TypeFor[Cloud]():
		return true
	}
	return false
}

// maxWord is the longest value display shows as a word. The longest valid
// word values ("[0:0:0:0:0:0:0:1]:3979", "UserAssignedMSI") fit; an Entra
// client secret (40 characters, with a "~") does not.
const maxWord = 24

func isWord(s string) bool {
	if len(s) > maxWord {
		return false
	}
	for _, c := range []byte(s) {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte(".:-_[]", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// redactURL returns s with its user info, query and fragment each replaced
// by [redacted], or "" when s does not start with scheme://. The last "@"
// ends the user info, as in store.RedactURL: a password may hold an
// unencoded "/", "?" or "#", and showing too little beats a leak.
func redactURL(s string) string {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok || scheme == "" || !isWord(scheme) {
		return ""
	}
	out := scheme + "://"
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		out += redacted + "@"
		rest = rest[at+1:]
	}
	rest, _, hasFragment := strings.Cut(rest, "#")
	rest, query, hasQuery := strings.Cut(rest, "?")
	out += rest
	if hasQuery {
		out += "?"
		if query != "" {
			out += redacted
		}
	}
	if hasFragment {
		out += "#" + redacted
	}
	return out
}

// Variables returns every setting in Config's field order.
func Variables() []Variable {
	t := table()
	out := make([]Variable, len(t))
	for i, v := range t {
		out[i] = v.Variable
	}
	return out
}

// cloudNote ends the usage of a setting whose default follows SIDECAR_CLOUD.
const cloudNote = "; the default follows SIDECAR_CLOUD"

// table reads the variables from Config's tags. The endpoint fields carry
// no envDefault because their default depends on SIDECAR_CLOUD; their
// Default is read from the public cloud's row instead.
func table() []variable {
	var vars []variable
	cfg := reflect.TypeFor[Config]()
	endpoints := reflect.TypeFor[Endpoints]()
	public := reflect.ValueOf(defaultsFor(CloudPublic).Endpoints)
	for i := range cfg.NumField() {
		f := cfg.Field(i)
		if f.Tag.Get("env") == "-" || !f.IsExported() {
			continue // built by Load from other variables (connections)
		}
		if f.Type != endpoints {
			vars = append(vars, fromField(f, f.Tag.Get("envDefault"), ""))
			continue
		}
		for j := range endpoints.NumField() {
			ef := endpoints.Field(j)
			vars = append(vars, fromField(ef, public.Field(j).String(), cloudNote))
		}
	}
	return vars
}

func fromField(f reflect.StructField, def, note string) variable {
	name, _, _ := strings.Cut(f.Tag.Get("env"), ",")
	return variable{
		Variable: Variable{
			Name:    name,
			Alias:   f.Tag.Get("alias"),
			Default: def,
			Usage:   f.Tag.Get("usage") + note,
		},
		field: f.Name,
		typ:   f.Type,
		show:  f.Tag.Get("show"),
	}
}
