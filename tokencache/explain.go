package tokencache

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"slices"

	msalerrors "github.com/AzureAD/microsoft-authentication-library-for-go/apps/errors"
)

// Reason is what a failed acquisition means for the operator, as far as
// the identity provider's answer tells.
type Reason uint8

const (
	ReasonUnknown           Reason = iota
	ReasonBadCredential            // the secret, certificate or assertion was refused
	ReasonCredentialExpired        // the client secret has expired
	ReasonAppNotInTenant           // the app id is not registered in the tenant
	ReasonNoSuchTenant             // the tenant does not exist
	ReasonUnreachable              // no answer from the authority at all
	// ReasonCertificateNotRegistered: the assertion's certificate is not
	// one of the app's (or, for subject-name/issuer authentication, it
	// came without its chain: SendX5C).
	ReasonCertificateNotRegistered
	// ReasonNoFederatedCredential: the app has no federated identity
	// credential for the presented token's issuer and subject.
	ReasonNoFederatedCredential
)

// Entra's AADSTS error codes that Explain tells apart.
const (
	aadstsInvalidSecret   = 7000215
	aadstsSecretExpired   = 7000222
	aadstsAppNotFound     = 700016
	aadstsTenantNotFound  = 90002
	aadstsTenantMalformed = 900023
	aadstsKeyNotFound     = 700027 // "the key was not found": certificate not registered
	aadstsNoFederatedID   = 70021  // "no matching federated identity record found"
)

// Explain reads why err, returned by [Source.Token] or [Source.Acquire],
// happened: from the AADSTS codes in Entra's error answer, or from the
// absence of any answer.
func Explain(err error) Reason {
	if err == nil {
		return ReasonUnknown
	}
	var ce msalerrors.CallErr
	if errors.As(err, &ce) && ce.Resp != nil && ce.Resp.Body != nil {
		body, _ := io.ReadAll(io.LimitReader(ce.Resp.Body, 64<<10))
		// MSAL has read the body into memory already; put it back for
		// whoever reads it next.
		ce.Resp.Body = io.NopCloser(bytes.NewReader(body))
		var answer struct {
			Error      string `json:"error"`
			ErrorCodes []int  `json:"error_codes"`
		}
		if json.Unmarshal(body, &answer) == nil {
			has := func(codes ...int) bool {
				return slices.ContainsFunc(codes, func(c int) bool { return slices.Contains(answer.ErrorCodes, c) })
			}
			switch {
			case has(aadstsSecretExpired):
				return ReasonCredentialExpired
			case has(aadstsKeyNotFound):
				return ReasonCertificateNotRegistered
			case has(aadstsNoFederatedID):
				return ReasonNoFederatedCredential
			case has(aadstsInvalidSecret), answer.Error == "invalid_client":
				return ReasonBadCredential
			case has(aadstsAppNotFound):
				return ReasonAppNotInTenant
			case has(aadstsTenantNotFound, aadstsTenantMalformed):
				return ReasonNoSuchTenant
			}
		}
		return ReasonUnknown
	}
	var netErr net.Error
	if errors.As(err, &netErr) || errors.Is(err, context.DeadlineExceeded) {
		return ReasonUnreachable
	}
	return ReasonUnknown
}
