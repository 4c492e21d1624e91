// Package tokencache supplies the bot's outbound Bot Connector token: an
// app-only token for the configured identity, acquired from Entra with MSAL Go
// (client secret, certificate, a federated assertion from a file or from a
// managed identity) or from a user-assigned managed identity directly.
//
// # Shape
//
// A [Credential] says how the identity proves itself. It is built by one of
// [ClientSecret], [ClientSecretFile], [Certificate], [AssertionFile]
// (a federated token file), [ManagedIdentity], and [FederatedManagedIdentity]
// and [FederatedWorkloadIdentity] (another identity's token for the cloud's
// token-exchange audience as the client assertion, kept until near its
// expiry), so a Source has exactly one; each kind lives in a file of its own
// that also builds its MSAL client. [New] validates [Options] and builds that client without a request.
// The Source decides MSAL's instance discovery itself: on for a Microsoft
// login host, off for any other (a fake Entra, a proxy). MSAL's HTTP client
// (the caller's, or a default one) never follows a redirect: the token
// request carries the credential.
//
// A [Source] has one driver, [Source.Run]. It makes every acquisition: the
// first token at start-up (retrying with back-off, 1 s doubling to 60 s with
// jitter, so that a wrong credential shows up as not ready), the proactive
// refresh at half-life, a new token after [Source.Invalidate], and one for
// callers that have none. After each it publishes an immutable state: the
// token with its schedule, the last error and when the next attempt is due.
// [Source.Token] only reads that state. With a usable token it is an atomic
// load and a clock comparison; without one it wakes Run and waits for the
// next published state (or its context). A failure is served to such callers
// for a second before another request is made, and a token is not served in
// its last min(30 s, lifetime/4). Invalidate forces at most one new
// acquisition every 5 s; within that, it leaves the current token in place.
//
// [Source.Acquire] makes one acquisition outside all this, for a one-off
// check such as `sidecar doctor`.
//
// # Why a cache in front of MSAL
//
// MSAL's own cache does not do what a proxy on the hot path needs:
//
//   - MSAL does not merge concurrent calls. On a cold or expired cache every
//     caller goes to the token endpoint; a burst of replies after a restart
//     would be a burst of token requests. A Source has exactly one
//     acquisition in flight, whatever the number of waiting callers.
//   - MSAL treats a cached token as expired 5 minutes early and then blocks
//     the caller on a new request. A Source refreshes in the background at
//     half-life, while callers keep the still-valid token, so no proxied call
//     waits for Entra once the first token is there.
//   - MSAL has no way to drop a token the connector rejected: after a 401,
//     its cache would hand the same token back. Source.Invalidate drops it.
//
// So MSAL's confidential-client cache is bypassed on purpose (every
// acquisition reaches the token endpoint), as botbuilder-js does with
// skipCache, and this package keeps the only copy.
//
// A Source lives as long as the context passed to Run; once Run has
// returned, callers without a usable token get [ErrNoToken] at once.
package tokencache
