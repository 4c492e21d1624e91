// Package config reads the sidecar's configuration from environment
// variables and command-line flags.
//
// The variables are the Bot Framework names for the bot's identity
// (MicrosoftAppId, MicrosoftAppPassword, MicrosoftAppTenantId,
// MicrosoftAppType, with the Teams SDK names CLIENT_ID, CLIENT_SECRET and
// TENANT_ID as aliases), so an existing .env works unchanged, and SIDECAR_*
// for everything else. Config's struct tags are the one table of variables:
// Load parses them with caarlos0/env, Flags registers a flag for each
// SIDECAR_* one, and Variables lists them for --help and for
// docs/configuration.md, whose table a test holds to them.
//
// Precedence is flag, then variable, then alias, then default; the four
// endpoint settings default per SIDECAR_CLOUD (cloud.go), each on its own.
//
// Load is a pure function of the map it is given: main passes
// EnvironMap(os.Environ()), tests pass literals. It checks everything,
// including that exactly one credential is configured, and returns one
// *Error naming every bad variable. Secrets are of type Secret, which
// prints as "[redacted]" however it is formatted or marshalled, so a Config
// may be logged whole; SIDECAR_STORE is a store.Spec, which the store
// package parses and prints with a Redis password masked (config imports
// that leaf package, which is std-lib only, so that the value is parsed in
// one place). Load reads no files: the credential files are read
// by the code that builds the credential.
package config
