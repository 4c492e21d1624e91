// Package channelauth validates the bearer token the Bot Framework channel
// sends with every activity to POST /api/messages, the way the Bot
// Framework SDKs do. The inbound handler answers a token that breaks any
// rule below with 401, and neither stores nor forwards its activity.
//
// # Rules and where they come from
//
// BB-JS is microsoft/botbuilder-js libraries/botframework-connector/src/auth,
// BB-NET is microsoft/botbuilder-dotnet Microsoft.Bot.Connector/Authentication,
// and the Teams SDKs are microsoft/teams.ts and microsoft/teams.net.
//
//   - Header: "Bearer <jwt>"; anything else is refused (BB-JS
//     jwtTokenExtractor.ts getIdentityFromAuthHeader). The scheme is matched
//     ignoring case, as RFC 7235 says; BB-JS matches "Bearer" exactly.
//   - Algorithms: RS256, RS384 and RS512 only (AllowedSigningAlgorithms in
//     both SDKs). "none", HS* (including HMAC keyed with the RSA public
//     key), ES* and PS* are refused from the header, before any key work.
//     A token must name its key (kid), as all SDKs select keys by kid.
//   - Issuer before signature: a token whose iss is not allowed is refused
//     without touching keys (BB-JS hasAllowedIssuer, BB-NET HasAllowedIssuer).
//     Channel tokens need iss == Options.ChannelIssuer exactly, for every app
//     type (ChannelValidation / ParameterizedBotFrameworkAuthentication).
//   - Keys: from the jwks_uri of the OpenID metadata, cached. A full refresh
//     when they are older than RefreshInterval, 24 h (the docs: "at least
//     once every 24 hours"; BB-JS openIdMetadata.ts). An unknown kid
//     re-fetches at most once per UnknownKIDMinInterval, 5 min, whatever
//     the kids are (BB-JS allows one per hour; IdentityModel's
//     RequestRefresh, which BB-NET uses, one per 5 min), so forged kids
//     cannot flood the metadata host and a real rotation is seen within
//     minutes. Keys without n/e (non-RSA) are skipped (BB-JS). A failed
//     refresh keeps the cached keys (IdentityModel's last known good) and
//     is retried at most every UnknownKIDMinInterval; with no keys cached,
//     a failure is remembered for 5 s so that a burst of requests costs
//     one fetch. One fetch runs at a time per metadata URL. Validator.Run
//     warms and refreshes the cache in the background; without it,
//     Validate fetches on demand.
//   - Signature: verified by github.com/lestrrat-go/jwx/v3 with the
//     algorithm from the header (after the allowlist) and the kid's key.
//   - Lifetime: exp is required; exp and nbf are checked with 5 minutes'
//     skew (BB-JS clockTolerance 300, BB-NET ClockSkew 5 min). iat's value
//     is not judged, as in the SDKs. exp, nbf and iat, where present, must
//     be JSON numbers (RFC 7519 NumericDate); jwx alone would also read a
//     string such as "1712345678" or an RFC 3339 date.
//   - Audience: the app id, api://{appId} or api://botid-{appId}, ignoring
//     ASCII case (teams.net JwtExtensions.cs ValidAudiences, teams.ts
//     jwt-validator.ts; app ids are GUIDs, which the docs say to compare
//     case-insensitively). BB accepts the bare app id only. A sidecar for
//     several bots accepts each one's app id (Options.AppIDs), and the
//     verified token names the one its audience named (Identity.App).
//   - Endorsements: the signing key's endorsements member must exist and
//     contain the activity's channelId, compared exactly (BB-JS
//     endorsementsValidator.ts). Stricter than BB-JS, which skips keys
//     without endorsements and lets an empty channelId pass; like BB-NET,
//     which refuses a channel token whose key has no endorsements.
//   - serviceurl: the lower-case claim must be present and equal the
//     activity's original serviceUrl, ignoring ASCII case and one trailing
//     slash (teams.ts validateServiceUrl; BB-NET requires the claim and
//     compares OrdinalIgnoreCase; BB-JS compares exactly and skips the check
//     when the activity has no serviceUrl). Identity.ServiceURLVouched says
//     the serviceUrl may be trusted for outbound calls.
//   - Entra tokens (Options.AcceptEntraTokens, off by default): newer Teams
//     services send tokens issued by the bot's own tenant, with iss
//     https://sts.windows.net/{tenant}/ or {authority}/{tenant}/v2.0 (teams.net
//     ValidateTeamsIssuer), keys from
//     {authority}/{tenant}/v2.0/.well-known/openid-configuration. They carry
//     no endorsements and no serviceurl (teams.ts
//     inbound-activity-token-validator.ts), so instead the activity's
//     serviceUrl must pass Options.IsTrustedServiceURL, and
//     ServiceURLVouched is false. Any app of the tenant can get such a
//     token for the bot's audience, which is why they are off by default
//     and, when on, the app that requested the token (appid in v1 tokens,
//     azp in v2; each one present) must be on Options.EntraAppIDs, by
//     default the bot's own app id.
//
// # Two steps
//
// VerifyToken checks everything the Authorization header alone can tell,
// so that the inbound handler refuses an invalid sender before it reads
// the body; Verified.CheckActivity then checks the endorsement and the
// serviceurl claim against the activity without verifying the signature
// again. Validate does both.
//
// # Errors
//
// A rejected token gives an error wrapping ErrUnauthorized whose text is a
// constant reason ("token expired", "issuer not allowed", ...), never any
// part of the token: answer 401. When the keys cannot be fetched the error
// wraps ErrKeysUnavailable instead (and names the URL and cause): the token
// was not judged, so answer 503 rather than 401. Never forward on any error.
//
// # Library
//
// jwx v3 parses the compact JWS, verifies the RSA signature, parses JWK
// sets (its keys expose the non-standard endorsements member) and checks
// exp/nbf. Its jwk.Cache is not used: it refreshes on the wall clock from
// goroutines bound to a constructor ctx, knows nothing of the
// metadata-then-jwks_uri indirection, and has no rate limit on unknown-kid
// refreshes; the small keySet here does those with the injected clock, so
// tests never sleep.
package channelauth
