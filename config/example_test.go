package config_test

import (
	"errors"
	"flag"
	"fmt"

	"github.com/botsidecar/sidecar/config"
)

// Load takes the environment as a map: main passes
// config.EnvironMap(os.Environ()) after the flags have been parsed into it.
func ExampleLoad() {
	environ := config.EnvironMap([]string{
		// An existing botbuilder .env works as it is...
		"MicrosoftAppId=00000000-0000-0000-0000-0000000000a1",
		"MicrosoftAppPassword=not-a-real-secret",
		"MicrosoftAppTenantId=contoso.onmicrosoft.com",
		"SIDECAR_CLOUD=usgov",
	})
	fs := flag.NewFlagSet("sidecar", flag.ContinueOnError)
	config.Flags(fs, environ)
	// ...and a flag beats the variable.
	if err := fs.Parse([]string{"--inbound-addr=:8080"}); err != nil {
		panic(err)
	}

	cfg, err := config.Load(environ)
	if err != nil {
		panic(err)
	}
	fmt.Println(cfg.Authority())
	fmt.Println(cfg.TokenScope)
	fmt.Println(cfg.InboundAddr, cfg.MaxBodyBytes, cfg.Credential())
	fmt.Printf("%v\n", cfg.AppPassword)

	// Every problem is reported at once, by variable, without the secret.
	_, err = config.Load(map[string]string{
		"CLIENT_ID":                "00000000-0000-0000-0000-0000000000a1",
		"CLIENT_SECRET":            "not-a-real-secret",
		"SIDECAR_CLIENT_CERT_FILE": "/certs/bot.pem",
		"SIDECAR_MAX_BODY_BYTES":   "8MB!",
	})
	var cerr *config.Error
	if errors.As(err, &cerr) {
		for _, p := range cerr.Problems {
			fmt.Println(p)
		}
	}
	// Output:
	// https://login.microsoftonline.us/contoso.onmicrosoft.com
	// https://api.botframework.us/.default
	// :8080 8MiB client secret
	// [redacted]
	// MicrosoftAppTenantId (or TENANT_ID): required for MicrosoftAppType=SingleTenant
	// SIDECAR_MAX_BODY_BYTES (4 characters, not shown): not a size like 8MiB, 512KiB, 1MB or 1048576
	// more than one credential is set (CLIENT_SECRET, SIDECAR_CLIENT_CERT_FILE); keep exactly one of MicrosoftAppPassword (or CLIENT_SECRET), SIDECAR_CLIENT_SECRET_FILE, SIDECAR_CLIENT_CERT_FILE, AZURE_FEDERATED_TOKEN_FILE or SIDECAR_FEDERATED_MANAGED_IDENTITY_CLIENT_ID
}
