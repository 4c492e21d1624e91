// Package authsidecar lets a bot that insists on authentication (a stock
// M365 Agents SDK bot with NODE_ENV=production) run behind the sidecar with
// no credential of its own. It serves two things on one loopback listener:
//
//   - the Entra auth sidecar protocol, which the Agents SDKs speak when a
//     connection has AuthType=EntraAuthSideCar: GET
//     /AuthorizationHeaderUnauthenticated/{serviceName} answers
//     {"authorizationHeader":"Bearer …"} with the named identity's cached
//     token, errors are RFC 7807 problem details, and GET /healthz says the
//     listener is up. The SDK's default serviceName, "default", is the
//     primary identity;
//   - the OpenID metadata and keys of a Signer, which signs a token of the
//     sidecar's own for every activity the sidecar forwards, so that the
//     SDK's inbound validation (pointed at this listener as its authority)
//     accepts what the sidecar validated. The channel's own token cannot
//     serve: its serviceurl claim names the real serviceUrl, not the one
//     the bot sees, and the SDK fetches its keys from a host it hard-codes.
//
// Everything here hands out credentials, so every request must come from
// and arrive on loopback, carry no sign of a browser and name this
// listener as its Host (proxy.LocalRefusal).
package authsidecar
