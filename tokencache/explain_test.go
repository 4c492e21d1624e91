package tokencache

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	msalerrors "github.com/AzureAD/microsoft-authentication-library-for-go/apps/errors"

	"github.com/botsidecar/sidecar/internal/fakes"
)

// Explain reads what the real MSAL client returns for Entra's answers.
func TestExplain(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		mod  func(e *fakes.Entra, o *Options)
		want Reason
	}{
		{"wrong secret", func(_ *fakes.Entra, o *Options) { o.Credential = ClientSecret("wrong") }, ReasonBadCredential},
		{"unknown app", func(_ *fakes.Entra, o *Options) { o.ClientID = "99999999-9999-9999-9999-999999999999" }, ReasonAppNotInTenant},
		{"authority down", func(e *fakes.Entra, _ *Options) { e.Close() }, ReasonUnreachable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEntra(t, fakes.EntraOptions{ClientSecret: testSecret})
			opts := entraOptions(e, ClientSecret(testSecret))
			tt.mod(e, &opts)
			s, err := New(opts)
			if err != nil {
				t.Fatalf("New() = %v", err)
			}
			_, _, err = s.Acquire(t.Context())
			if err == nil {
				t.Fatal("Acquire() = nil error")
			}
			if got := Explain(err); got != tt.want {
				t.Errorf("Explain(%v) = %d; want %d", err, got, tt.want)
			}
			// A second reading gives the same answer: the body is kept.
			if got := Explain(fmt.Errorf("doctor: %w", err)); got != tt.want {
				t.Errorf("Explain() the second time = %d; want %d", got, tt.want)
			}
		})
	}
	if got := Explain(errors.New("something else")); got != ReasonUnknown {
		t.Errorf("Explain(other) = %d; want ReasonUnknown", got)
	}
}

// Entra's codes that the fake does not produce, read from the answer MSAL
// keeps in its CallErr.
func TestExplainCodes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		body string
		want Reason
	}{
		{`{"error":"invalid_client","error_codes":[7000222]}`, ReasonCredentialExpired},
		{`{"error":"invalid_client","error_codes":[7000215]}`, ReasonBadCredential},
		{`{"error":"invalid_client","error_codes":[50000]}`, ReasonBadCredential},
		{`{"error":"invalid_client","error_codes":[700027]}`, ReasonCertificateNotRegistered},
		{`{"error":"invalid_client","error_codes":[70021]}`, ReasonNoFederatedCredential},
		{`{"error":"unauthorized_client","error_codes":[700016]}`, ReasonAppNotInTenant},
		{`{"error":"invalid_request","error_codes":[90002]}`, ReasonNoSuchTenant},
		{`{"error":"invalid_request","error_codes":[900023]}`, ReasonNoSuchTenant},
		{`{"error":"temporarily_unavailable","error_codes":[50196]}`, ReasonUnknown},
		{`not json`, ReasonUnknown},
	}
	for _, tt := range tests {
		err := fmt.Errorf("%w: acquire: %w", ErrNoToken, msalerrors.CallErr{
			Resp: &http.Response{StatusCode: 400, Body: io.NopCloser(strings.NewReader(tt.body))},
			Err:  errors.New("http call failed"),
		})
		if got := Explain(err); got != tt.want {
			t.Errorf("Explain(%s) = %d; want %d", tt.body, got, tt.want)
		}
	}
}
