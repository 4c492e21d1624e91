// Package tokencache supplies the bot's outbound Bot Connector token: an
// app-only token for the configured identity, acquired from Entra with MSAL Go
// (client secret, secret file, certificate, federated assertion file) or from
// a user-assigned managed identity.
//
// The cache sits in front of MSAL instead of relying on MSAL's own cache,
// because MSAL's cache does not do what a proxy on the hot path needs:
//
//   - MSAL does not merge concurrent calls. On a cold or expired cache every
//     caller goes to the token endpoint; a burst of replies after a restart
//     would be a burst of token requests. A [Source] has exactly one
//     acquisition in flight, whatever the number of waiting callers.
//   - MSAL treats a cached token as expired 5 minutes early and then blocks
//     the caller on a new request. A Source refreshes in the background at
//     half-life, while callers keep the still-valid token, so no proxied call
//     waits for Entra once the first token is there.
//   - MSAL has no way to drop a token the connector rejected: after a 401,
//     its cache would hand the same token back. [Source.Invalidate] drops it.
//
// So MSAL's confidential-client cache is bypassed on purpose (every
// acquisition reaches the token endpoint), as botbuilder-js does with
// skipCache, and this package keeps the only copy. The hot path,
// [Source.Token] on a fresh token, is an atomic load and a clock comparison.
//
// A [Source] lives as long as the context passed to [Source.Run], which
// acquires the first token at start-up (retrying with back-off, so that a
// wrong credential shows up as not ready) and refreshes it proactively.
package tokencache
