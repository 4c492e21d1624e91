package tokencache_test

import (
	"context"
	"fmt"

	"github.com/botsidecar/sidecar/internal/fakes"
	"github.com/botsidecar/sidecar/tokencache"
)

// A Source for a SingleTenant bot with a client secret. Run makes the
// acquisitions; Token reads the cached token. Here Entra is the loopback
// fake, so the Source turns MSAL's instance discovery off; against
// login.microsoftonline.com it would be on.
func ExampleNew() {
	entra := fakes.NewEntra(fakes.EntraOptions{ClientSecret: "secret"})
	defer entra.Close()

	src, err := tokencache.New(tokencache.Options{
		AuthorityHost: entra.URL,
		Tenant:        "my-tenant-id",
		ClientID:      "my-app-id",
		Scope:         "https://api.botframework.com/.default",
		Credential:    tokencache.ClientSecret("secret"),
		HTTPClient:    entra.Client(),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = src.Run(ctx) }() // start-up acquisition and proactive refresh

	tok, err := src.Token(ctx) // waits for the first token, then is a cache hit
	if err != nil {
		fmt.Println(err)
		return
	}
	claims, _ := entra.Verify(tok)
	fmt.Println("aud:", claims["aud"])

	// The connector answered 401 to a request that carried tok:
	src.Invalidate(tok)
	fresh, _ := src.Token(ctx) // waits for Run's new token
	fmt.Println("new token:", fresh != tok)
	// Output:
	// aud: https://api.botframework.com
	// new token: true
}
