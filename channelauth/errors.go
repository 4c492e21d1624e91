package channelauth

import (
	"errors"
	"fmt"
)

// ErrUnauthorized is wrapped by every rejection of a token. The caller
// answers 401 and neither stores nor forwards anything. The error's text
// is a short reason that is safe to log: it never contains the token.
var ErrUnauthorized = errors.New("unauthorized")

// ErrKeysUnavailable is wrapped when the signing keys could not be fetched
// (metadata or key document unreachable, not 200, or unusable), so the
// token could not be judged at all. It does not wrap ErrUnauthorized: the
// caller should answer 503 (BB-JS answers 500) so the channel retries,
// rather than 401, which blames the sender. Nothing is forwarded either way.
var ErrKeysUnavailable = errors.New("signing keys unavailable")

// rejection is a token rejection with a constant, log-safe reason. It is a
// string type so that returning one does not allocate.
type rejection string

func (r rejection) Error() string { return "unauthorized: " + string(r) }
func (r rejection) Unwrap() error { return ErrUnauthorized }

// The reasons, one per check. They are constants so that no token bytes
// (header, claims, library error text) can ever reach a log line.
const (
	reasonNoHeader         rejection = "no authorization header"
	reasonNotBearer        rejection = "authorization scheme is not bearer"
	reasonTooLarge         rejection = "token too large"
	reasonMalformed        rejection = "malformed token"
	reasonAlgorithm        rejection = "signing algorithm not allowed"
	reasonNoKeyID          rejection = "token has no key id"
	reasonIssuer           rejection = "issuer not allowed"
	reasonUnknownKey       rejection = "unknown signing key"
	reasonSignature        rejection = "invalid signature"
	reasonNoExpiry         rejection = "token has no expiry"
	reasonExpired          rejection = "token expired"
	reasonNotYetValid      rejection = "token not yet valid"
	reasonClaims           rejection = "invalid time claims"
	reasonTimeNotNumber    rejection = "exp, nbf or iat is not a number"
	reasonAudience         rejection = "audience not accepted"
	reasonNoChannel        rejection = "activity has no channel id"
	reasonNoEndorsements   rejection = "signing key has no endorsements"
	reasonNotEndorsed      rejection = "channel not endorsed by signing key"
	reasonNoServiceURL     rejection = "token has no serviceurl claim"
	reasonServiceURL       rejection = "serviceurl claim does not match activity"
	reasonUntrustedService rejection = "serviceurl not trusted for entra token"
	reasonNoCallingApp     rejection = "entra token names no calling app (appid or azp)"
	reasonCallingApp       rejection = "entra token's calling app (appid or azp) is not allowed; see SIDECAR_ENTRA_TOKEN_APP_IDS"
)

// keysUnavailable wraps a fetch failure so that errors.Is finds both
// ErrKeysUnavailable and the underlying cause (for the log line).
func keysUnavailable(source string, err error) error {
	return fmt.Errorf("%w: %s keys: %w", ErrKeysUnavailable, source, err)
}
