package config

import (
	"flag"
	"reflect"
)

// Flags registers on fs one flag per SIDECAR_* variable (Variable.Flag
// names it). Setting a flag writes its value into environ under the
// variable's name, so that after fs.Parse, Load(environ) sees flags first:
// flag, then variable, then alias, then default. environ must not be nil.
//
// A list flag (--trusted-service-urls) may be repeated; the values add up.
func Flags(fs *flag.FlagSet, environ map[string]string) {
	if environ == nil {
		panic("config.Flags: nil environ")
	}
	for _, v := range table() {
		name := v.Flag()
		if name == "" {
			continue
		}
		f := &envFlag{
			environ: environ,
			name:    v.Name,
			isBool:  v.typ.Kind() == reflect.Bool,
			isList:  v.typ.Kind() == reflect.Slice,
		}
		fs.Var(f, name, v.Usage+" ("+v.Name+")")
		// flag.Var takes DefValue from String, which reports only what the
		// flag set; --help should show the variable's default instead.
		fs.Lookup(name).DefValue = v.Default
	}
}

// envFlag is a flag.Value that stores into the environment map.
type envFlag struct {
	environ map[string]string
	name    string
	isBool  bool
	isList  bool
	value   string // what the command line set; "" if nothing
}

func (f *envFlag) String() string { return f.value }

func (f *envFlag) Set(s string) error {
	if f.isList && f.value != "" {
		s = f.value + "," + s
	}
	f.value = s
	f.environ[f.name] = s
	return nil
}

// IsBoolFlag lets a bool setting be given as a bare --accept-entra-tokens.
func (f *envFlag) IsBoolFlag() bool { return f.isBool }
