package config

import (
	"reflect"
	"strings"

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
}

// secret reports whether the value must never be shown.
func (v variable) secret() bool { return v.typ == reflect.TypeFor[Secret]() }

// display returns the value as an error message may show it: nothing for a
// secret, a redis URL with its password masked.
func (v variable) display(value string) string {
	switch v.typ {
	case reflect.TypeFor[Secret]():
		return ""
	case reflect.TypeFor[store.Spec]():
		return store.RedactURL(value)
	}
	return value
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
	}
}
