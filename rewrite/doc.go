// Package rewrite edits Bot Framework activity JSON as raw bytes.
//
// The sidecar sits between a bot and the Bot Connector and must change a
// handful of fields (from, serviceUrl, and missing conversation, channelId,
// recipient, bot and tenantId) while everything else reaches the other side
// exactly as it was sent. Decoding a body into Go values and encoding it
// again would not do that: encoding/json reorders and drops unknown
// members, re-escapes strings, turns a 20-digit id into a float64 that
// loses digits, and rewrites whitespace, and channelData is owned by the
// channel, not by us. It would also cost several allocations per member on
// a path measured against nginx.
//
// So the package scans instead: a small validating scanner finds the byte
// spans of an object's members, skipping nested values, and the editor
// copies the original bytes and splices replacement values into the spans
// that change. Every byte outside those values is preserved; a body that
// already says the right things is returned without a copy. The scanner
// accepts exactly what json.Valid accepts, so a body the sidecar forwards
// is one that any JSON reader can parse.
//
// Member names match the way the Bot Connector's Newtonsoft.Json and Go's
// encoding/json match fields: case-insensitively, after decoding escapes.
// A bot therefore cannot keep its own sender by writing "From" or
// "\u0066rom", and when a member appears more than once every occurrence is
// rewritten, because a reader may take either. The readers (Inspect and
// friends) refuse such duplicates when their values differ, since the
// sidecar checks and stores what it reads.
//
// Everything here is a pure function of its arguments; the package imports
// the standard library only.
package rewrite
