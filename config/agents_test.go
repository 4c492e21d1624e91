package config_test

import (
	"strings"
	"testing"

	"github.com/botsidecar/sidecar/config"
)

const (
	app2ID = "00000000-0000-0000-0000-0000000000a2"
	conn   = "Connections__bot__Settings__"
)

// agents returns an environment with no top-level identity and over
// applied: the Agents SDK variables alone.
func agents(over map[string]string) map[string]string {
	m := map[string]string{}
	for k, v := range over {
		if v != unset {
			m[k] = v
		}
	}
	return m
}

// secretConn is a client-secret connection named bot.
func secretConn(over map[string]string) map[string]string {
	return merge(map[string]string{conn + "ClientId": appID, conn + "ClientSecret": secret, conn + "TenantId": tenantID}, over)
}

func TestLoadAgentsConnection(t *testing.T) {
	t.Parallel()
	// want starts from a single-tenant client-secret identity named bot.
	base := func() config.Identity {
		return config.Identity{
			Name: "bot", AppID: appID, TenantID: tenantID, AppType: config.AppTypeSingleTenant, Cloud: config.CloudPublic,
			AuthorityHost: "https://login.microsoftonline.com", TokenScope: "https://api.botframework.com/.default",
			BotURL: "http://127.0.0.1:3980/api/messages", OutboundAddr: "127.0.0.1:3979", OutboundURL: "http://127.0.0.1:3979/",
		}
	}
	noSecret := map[string]string{conn + "ClientSecret": unset}
	tests := []struct {
		name     string
		give     map[string]string
		wantCred config.CredentialKind
		want     func(*config.Identity)
	}{
		{"client secret inferred", secretConn(nil), config.CredentialSecret,
			func(id *config.Identity) { id.AppPassword = secret }},
		{"client secret", secretConn(map[string]string{conn + "AuthType": "ClientSecret"}), config.CredentialSecret,
			func(id *config.Identity) { id.AppPassword = secret }},
		{"auth type in any case", secretConn(map[string]string{conn + "AUTHTYPE": "clientsecret"}), config.CredentialSecret,
			func(id *config.Identity) { id.AppPassword = secret }},
		// The form an env file written for .NET or a shell takes.
		{"upper case", map[string]string{
			"CONNECTIONS__SERVICE_CONNECTION__SETTINGS__CLIENTID":     appID,
			"CONNECTIONS__SERVICE_CONNECTION__SETTINGS__CLIENTSECRET": secret,
			"CONNECTIONS__SERVICE_CONNECTION__SETTINGS__TENANTID":     tenantID,
		}, config.CredentialSecret, func(id *config.Identity) { id.Name, id.AppPassword = "SERVICE_CONNECTION", secret }},
		{"lower case", map[string]string{
			"connections__serviceConnection__settings__clientId":     appID,
			"connections__serviceConnection__settings__clientSecret": secret,
			"connections__serviceConnection__settings__tenantId":     tenantID,
		}, config.CredentialSecret, func(id *config.Identity) { id.Name, id.AppPassword = "serviceConnection", secret }},
		{"one connection in two spellings", map[string]string{
			"Connections__Bot__Settings__ClientId": appID, "CONNECTIONS__BOT__SETTINGS__CLIENTID": appID,
			"connections__bot__settings__clientSecret": secret, "Connections__BOT__Settings__TenantId": tenantID,
		}, config.CredentialSecret, func(id *config.Identity) { id.Name, id.AppPassword = "BOT", secret }},
		{"certificate inferred", secretConn(map[string]string{conn + "ClientSecret": unset, conn + "CertPemFile": "/c/bot.pem", conn + "CertKeyFile": "/c/bot.key"}),
			config.CredentialCertFile, func(id *config.Identity) { id.ClientCertFile, id.ClientKeyFile = "/c/bot.pem", "/c/bot.key" }},
		{"certificate, key in the PEM", secretConn(map[string]string{conn + "ClientSecret": unset, conn + "CertPemFile": "/c/bot.pem"}),
			config.CredentialCertFile, func(id *config.Identity) { id.ClientCertFile = "/c/bot.pem" }},
		{"certificate with x5c", secretConn(map[string]string{conn + "ClientSecret": unset, conn + "AuthType": "Certificate",
			conn + "CertPemFile": "/c/bot.pem", conn + "CertKeyFile": "/c/bot.key", conn + "SendX5C": "true"}),
			config.CredentialCertFile, func(id *config.Identity) {
				id.ClientCertFile, id.ClientKeyFile, id.SendX5C = "/c/bot.pem", "/c/bot.key", true
			}},
		{"subject name sends x5c", secretConn(map[string]string{conn + "ClientSecret": unset, conn + "AuthType": "CertificateSubjectName",
			conn + "CertPemFile": "/c/bot.pem", conn + "CertKeyFile": "/c/bot.key"}),
			config.CredentialCertFile, func(id *config.Identity) {
				id.ClientCertFile, id.ClientKeyFile, id.SendX5C = "/c/bot.pem", "/c/bot.key", true
			}},
		{"user managed identity inferred", secretConn(noSecret), config.CredentialManagedIdentity,
			func(id *config.Identity) { id.AppType = config.AppTypeUserAssignedMSI }},
		{"user managed identity", secretConn(merge(noSecret, map[string]string{conn + "AuthType": "UserManagedIdentity"})), config.CredentialManagedIdentity,
			func(id *config.Identity) { id.AppType = config.AppTypeUserAssignedMSI }},
		{"system managed identity", secretConn(merge(noSecret, map[string]string{conn + "AuthType": "SystemManagedIdentity"})), config.CredentialSystemManagedIdentity,
			func(id *config.Identity) { id.AppType = config.AppTypeSystemAssignedMSI }},
		{"federated credentials", secretConn(merge(noSecret, map[string]string{conn + "AuthType": "FederatedCredentials", conn + "FederatedClientId": miClientID})),
			config.CredentialFederatedManagedIdentity, func(id *config.Identity) { id.FederatedManagedIdentity = miClientID }},
		{"federated client id inferred", secretConn(merge(noSecret, map[string]string{conn + "FederatedClientId": strings.ToUpper(miClientID)})),
			config.CredentialFederatedManagedIdentity, func(id *config.Identity) { id.FederatedManagedIdentity = miClientID }},
		{"FICClientId alias", secretConn(merge(noSecret, map[string]string{conn + "FICClientId": miClientID})),
			config.CredentialFederatedManagedIdentity, func(id *config.Identity) { id.FederatedManagedIdentity = miClientID }},
		{"FICClientId and FederatedClientId agreeing", secretConn(merge(noSecret, map[string]string{conn + "FICClientId": miClientID, conn + "FederatedClientId": miClientID})),
			config.CredentialFederatedManagedIdentity, func(id *config.Identity) { id.FederatedManagedIdentity = miClientID }},
		// The SDK's own precedence: a federated client id beats a secret
		// (the microsoft/Agents quickstart test env.TEMPLATE sets both).
		{"federated client id beats a secret when inferred", secretConn(map[string]string{conn + "FederatedClientId": miClientID}),
			config.CredentialFederatedManagedIdentity, func(id *config.Identity) { id.FederatedManagedIdentity = miClientID }},
		{"workload identity", secretConn(merge(noSecret, map[string]string{conn + "AuthType": "WorkloadIdentity", conn + "FederatedTokenFile": tokenFile})),
			config.CredentialFederatedFile, func(id *config.Identity) { id.FederatedTokenFile = tokenFile }},
		{"WIDAssertionFile inferred", secretConn(merge(noSecret, map[string]string{conn + "WIDAssertionFile": tokenFile})),
			config.CredentialFederatedFile, func(id *config.Identity) { id.FederatedTokenFile = tokenFile }},
		{"FederatedTokenFile inferred", secretConn(merge(noSecret, map[string]string{conn + "FederatedTokenFile": tokenFile})),
			config.CredentialFederatedFile, func(id *config.Identity) { id.FederatedTokenFile = tokenFile }},
		{"workload identity from the webhook, on the bot's app", merge(webhookEnv(appID), secretConn(merge(noSecret, map[string]string{
			conn + "AuthType": "WorkloadIdentity", conn + "TenantId": unset}))),
			config.CredentialFederatedFile, func(id *config.Identity) { id.FederatedTokenFile, id.FederatedTokenClientID = tokenFile, appID }},
		{"workload identity from the webhook, on a managed identity", merge(webhookEnv(miClientID), secretConn(merge(noSecret, map[string]string{
			conn + "AuthType": "WorkloadIdentity"}))),
			config.CredentialFederatedWorkloadIdentity, func(id *config.Identity) { id.FederatedTokenFile, id.FederatedTokenClientID = tokenFile, miClientID }},
		{"tenant in the authority", secretConn(map[string]string{conn + "TenantId": unset, conn + "AuthorityEndpoint": "https://login.microsoftonline.com/" + tenantID}),
			config.CredentialSecret, func(id *config.Identity) { id.AppPassword = secret }},
		{"Authority alias, agreeing tenant, trailing slash", secretConn(map[string]string{conn + "Authority": "https://login.microsoftonline.com/" + tenantID + "/"}),
			config.CredentialSecret, func(id *config.Identity) { id.AppPassword = secret }},
		{"authority host of a fake", secretConn(map[string]string{conn + "AuthorityEndpoint": "https://127.0.0.1:8443"}),
			config.CredentialSecret, func(id *config.Identity) { id.AppPassword, id.AuthorityHost = secret, "https://127.0.0.1:8443" }},
		{"multi-tenant by the authority", secretConn(map[string]string{conn + "AuthorityEndpoint": "https://login.microsoftonline.com/botframework.com"}),
			config.CredentialSecret, func(id *config.Identity) { id.AppPassword, id.AppType = secret, config.AppTypeMultiTenant }},
		{"multi-tenant without a tenant", secretConn(map[string]string{conn + "TenantId": unset}),
			config.CredentialSecret, func(id *config.Identity) {
				id.AppPassword, id.AppType, id.TenantID = secret, config.AppTypeMultiTenant, ""
			}},
		{"scope", secretConn(map[string]string{conn + "Scopes": "https://api.botframework.us"}),
			config.CredentialSecret, func(id *config.Identity) {
				id.AppPassword, id.TokenScope = secret, "https://api.botframework.us/.default"
			}},
		{"Scope alias", secretConn(map[string]string{conn + "Scope": "https://api.botframework.us/.default"}),
			config.CredentialSecret, func(id *config.Identity) {
				id.AppPassword, id.TokenScope = secret, "https://api.botframework.us/.default"
			}},
		{".NET scope list", secretConn(map[string]string{conn + "Scopes__0": "https://api.botframework.us/.default"}),
			config.CredentialSecret, func(id *config.Identity) {
				id.AppPassword, id.TokenScope = secret, "https://api.botframework.us/.default"
			}},
		{"sidecar settings", secretConn(map[string]string{conn + "BotUrl": "http://bot:8080/api/messages", conn + "OutboundAddr": "127.0.0.1:4001"}),
			config.CredentialSecret, func(id *config.Identity) {
				id.AppPassword, id.BotURL, id.OutboundAddr, id.OutboundURL = secret, "http://bot:8080/api/messages", "127.0.0.1:4001", "http://127.0.0.1:4001/"
			}},
		{"outbound URL", secretConn(map[string]string{conn + "OutboundUrl": "http://sidecar:3979"}),
			config.CredentialSecret, func(id *config.Identity) { id.AppPassword, id.OutboundURL = secret, "http://sidecar:3979/" }},
		{"settings the sidecar does not use", secretConn(map[string]string{conn + "AzureRegion": "westeurope", conn + "ConnectionName": "x",
			"Connections__bot__Type": "MsalAuth", "Connections__bot__Assembly": "Microsoft.Agents.Authentication.Msal"}),
			config.CredentialSecret, func(id *config.Identity) { id.AppPassword = secret }},
		// agents-hosting's single-connection names, read without Connections__.
		{"legacy names", map[string]string{"clientId": appID, "clientSecret": secret, "TENANTID": tenantID},
			config.CredentialSecret, func(id *config.Identity) { id.Name, id.AppPassword = "serviceConnection", secret }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := mustLoad(t, agents(tt.give))
			want := base()
			tt.want(&want)
			got := cfg.Primary()
			if got != want {
				t.Errorf("Primary() =\n%+v\nwant\n%+v", got, want)
			}
			if k := got.Credential(); k != tt.wantCred {
				t.Errorf("Credential() = %v; want %v", k, tt.wantCred)
			}
			if ids := cfg.Identities(); len(ids) != 1 || len(cfg.Connections) != 0 {
				t.Errorf("Identities() = %d, Connections = %d; want the one connection once", len(ids), len(cfg.Connections))
			}
			// What downstream reads directly is the connection's.
			if cfg.AppID != appID || cfg.Credential() != tt.wantCred {
				t.Errorf("AppID, Credential() = %s, %v; want the connection's", cfg.AppID, cfg.Credential())
			}
		})
	}
}

func TestLoadAgentsProblems(t *testing.T) {
	t.Parallel()
	noSecret := map[string]string{conn + "ClientSecret": unset}
	tests := []struct {
		name string
		give map[string]string
		// wantVar is the variable the one problem names ("" for several),
		// wantReason part of what it says.
		wantVar, wantReason string
	}{
		{"client secret missing", secretConn(merge(noSecret, map[string]string{conn + "AuthType": "ClientSecret"})),
			conn + "ClientSecret", "required for " + conn + "AuthType=ClientSecret"},
		{"certificate with a secret", secretConn(map[string]string{conn + "AuthType": "Certificate", conn + "CertPemFile": "/c.pem"}),
			conn + "ClientSecret", "does not use it"},
		{"secret with a key file", secretConn(map[string]string{conn + "AuthType": "ClientSecret", conn + "CertKeyFile": "/c.key"}),
			conn + "CertKeyFile", "does not use it"},
		{"certificate missing", secretConn(merge(noSecret, map[string]string{conn + "AuthType": "Certificate"})),
			conn + "CertPemFile", "required for"},
		{"key without certificate", secretConn(merge(noSecret, map[string]string{conn + "CertKeyFile": "/c.key"})),
			conn + "CertKeyFile", "without " + conn + "CertPemFile"},
		{"federated client id missing", secretConn(merge(noSecret, map[string]string{conn + "AuthType": "FederatedCredentials"})),
			conn + "FederatedClientId", "required for"},
		{"token file missing", secretConn(merge(noSecret, map[string]string{conn + "AuthType": "WorkloadIdentity"})),
			conn + "FederatedTokenFile", "AZURE_FEDERATED_TOKEN_FILE"},
		{"FICClientId and FederatedClientId disagree", secretConn(merge(noSecret, map[string]string{conn + "FICClientId": miClientID, conn + "FederatedClientId": app2ID})),
			conn + "FICClientId", "disagrees with " + conn + "FederatedClientId"},
		{"WIDAssertionFile and FederatedTokenFile disagree", secretConn(merge(noSecret, map[string]string{conn + "WIDAssertionFile": "/a", conn + "FederatedTokenFile": "/b"})),
			conn + "FederatedTokenFile", "disagrees with " + conn + "WIDAssertionFile"},
		{"two spellings disagree", secretConn(map[string]string{"CONNECTIONS__BOT__SETTINGS__CLIENTSECRET": "other"}),
			"CONNECTIONS__BOT__SETTINGS__CLIENTSECRET", "disagrees with " + conn + "ClientSecret"},
		{"managed identity with a secret", secretConn(map[string]string{conn + "AuthType": "UserManagedIdentity"}),
			conn + "AuthType", "takes no secret; unset " + conn + "ClientSecret"},
		{"managed identity without tenant", secretConn(merge(noSecret, map[string]string{conn + "TenantId": unset})),
			conn + "TenantId (or a tenant in " + conn + "AuthorityEndpoint)", "required for AuthType=UserManagedIdentity"},
		{"subject name without x5c", secretConn(merge(noSecret, map[string]string{conn + "AuthType": "CertificateSubjectName", conn + "CertPemFile": "/c.pem", conn + "SendX5C": "false"})),
			conn + "SendX5C", "needs the certificate chain sent"},
		{"x5c not a bool", secretConn(merge(noSecret, map[string]string{conn + "CertPemFile": "/c.pem", conn + "SendX5C": "yes"})),
			conn + "SendX5C", "not true or false"},
		{"unknown auth type", secretConn(map[string]string{conn + "AuthType": "Password"}), conn + "AuthType", "not an AuthType"},
		{"entra auth sidecar", secretConn(map[string]string{conn + "AuthType": "EntraAuthSideCar"}), conn + "AuthType", "needs the bot's credential"},
		{"unknown setting", secretConn(map[string]string{conn + "ClientSecert": "x"}), conn + "ClientSecert", "not a connection setting"},
		{"certificate store", secretConn(map[string]string{conn + "CertThumbprint": "AB12"}), conn + "CertThumbprint", "certificate store"},
		{"too many parts", secretConn(map[string]string{conn + "ClientId__x": "x"}), conn + "ClientId__x", "not Connections__<name>__Settings__<Setting>"},
		{"empty connection name", secretConn(map[string]string{"Connections____Settings__ClientId": appID}), "Connections____Settings__ClientId", "connection name is empty"},
		{"connection name with a space", map[string]string{"Connections__my bot__Settings__ClientId": appID, "Connections__my bot__Settings__ClientSecret": secret, "Connections__my bot__Settings__TenantId": tenantID},
			"Connections__my bot__Settings__*", "letters, digits"},
		{"client id missing", secretConn(map[string]string{conn + "ClientId": unset}), conn + "ClientId", "required but not set"},
		{"client id not a GUID", secretConn(map[string]string{conn + "ClientId": "my-bot"}), conn + "ClientId", "not an app (client) id"},
		{"tenants disagree", secretConn(map[string]string{conn + "AuthorityEndpoint": "https://login.microsoftonline.com/" + app2ID}),
			conn + "TenantId", "names another tenant than " + conn + "AuthorityEndpoint"},
		{"authority over http", secretConn(map[string]string{conn + "AuthorityEndpoint": "http://login.microsoftonline.com"}),
			conn + "AuthorityEndpoint", "not an https URL"},
		{"authority with a long path", secretConn(map[string]string{conn + "AuthorityEndpoint": "https://login.microsoftonline.com/" + tenantID + "/v2.0"}),
			conn + "AuthorityEndpoint", "more than a tenant"},
		{"tenant with a slash", secretConn(map[string]string{conn + "TenantId": "a/b"}), conn + "TenantId", "not a tenant id"},
		{"several scopes", secretConn(map[string]string{conn + "Scopes": "https://api.botframework.com/.default https://graph.microsoft.com/.default"}),
			conn + "Scopes", "holds 2 scopes"},
		{"several .NET scopes", secretConn(map[string]string{conn + "Scopes__0": "https://api.botframework.com/.default", conn + "Scopes__1": "https://graph.microsoft.com/.default"}),
			conn + "Scopes__0", "holds 2 scopes"},
		{"scope over http", secretConn(map[string]string{conn + "Scopes": "http://api.botframework.com"}), conn + "Scopes", "not an https URL"},
		{"federated client id not a GUID", secretConn(merge(noSecret, map[string]string{conn + "FederatedClientId": "mi"})),
			conn + "FederatedClientId", "not a managed identity's client id"},
		{"bot URL ftp", secretConn(map[string]string{conn + "BotUrl": "ftp://bot/"}), conn + "BotUrl", "not an http or https URL"},
		{"outbound beyond loopback", secretConn(map[string]string{conn + "OutboundAddr": "0.0.0.0:4001"}), conn + "OutboundAddr", "listens beyond loopback"},
		{"outbound URL with a query", secretConn(map[string]string{conn + "OutboundUrl": "http://x/?a=b"}), conn + "OutboundUrl", "has a query"},
		{"map names no connection", secretConn(map[string]string{"ConnectionsMap__0__ServiceUrl": "*", "ConnectionsMap__0__Connection": "other"}),
			"ConnectionsMap__0__Connection", "names no connection; the connections are bot"},
		{"map rule without connection", secretConn(map[string]string{"ConnectionsMap__0__Audience": appID}),
			"ConnectionsMap__0__Connection", "is unset, which means ServiceConnection"},
		{"map bad regex", secretConn(map[string]string{"ConnectionsMap__0__ServiceUrl": "https://(smba", "ConnectionsMap__0__Connection": "bot"}),
			"ConnectionsMap__0__ServiceUrl", "not a regular expression: missing closing )"},
		{"map bad setting", secretConn(map[string]string{"ConnectionsMap__0__Url": "*"}), "ConnectionsMap__0__Url", "not ConnectionsMap__<index>"},
		{"map bad index", secretConn(map[string]string{"ConnectionsMap__first__Connection": "bot"}), "ConnectionsMap__first__Connection", "not ConnectionsMap__<index>"},
		{"no default among several", merge(secretConn(nil), map[string]string{
			"Connections__two__Settings__ClientId": app2ID, "Connections__two__Settings__ClientSecret": secret, "Connections__two__Settings__TenantId": tenantID}),
			"", "none is the default"},
		{"two connections of one app", merge(secretConn(nil), map[string]string{"ConnectionsMap__0__Connection": "bot",
			"Connections__two__Settings__ClientId": strings.ToUpper(appID), "Connections__two__Settings__ClientSecret": secret, "Connections__two__Settings__TenantId": tenantID}),
			"", conn + "ClientId and Connections__two__Settings__ClientId name the same app"},
		{"two connections on one listener", merge(secretConn(map[string]string{conn + "OutboundAddr": "127.0.0.1:4001"}), map[string]string{"ConnectionsMap__0__Connection": "bot",
			"Connections__two__Settings__ClientId": app2ID, "Connections__two__Settings__ClientSecret": secret, "Connections__two__Settings__TenantId": tenantID,
			"Connections__two__Settings__OutboundAddr": "127.0.0.1:4001"}),
			"", "are the same listener"},
		{"top-level variable without MicrosoftAppId", secretConn(map[string]string{"MicrosoftAppPassword": secret}),
			"MicrosoftAppPassword", "is set without MicrosoftAppId"},
		{"top-level alias without MicrosoftAppId", secretConn(map[string]string{"TENANT_ID": tenantID}),
			"TENANT_ID", "is set without MicrosoftAppId"},
		{"nothing at all", map[string]string{}, "MicrosoftAppId (or CLIENT_ID)", "required but not set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := config.Load(agents(tt.give))
			ps := problems(t, err)
			if tt.name == "nothing at all" {
				ps = ps[:1] // and no credential
			}
			if len(ps) != 1 || ps[0].Variable != tt.wantVar || !strings.Contains(ps[0].Reason, tt.wantReason) {
				t.Errorf("Load problems = %q; want one about %q saying %q", ps, tt.wantVar, tt.wantReason)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error %q shows the secret", err)
			}
		})
	}
}

func TestLoadAgentsBesideTopLevel(t *testing.T) {
	t.Parallel()
	two := func(over map[string]string) map[string]string {
		return withEnv(merge(map[string]string{
			"Connections__two__Settings__ClientId":     app2ID,
			"Connections__two__Settings__ClientSecret": "other-secret",
			"Connections__two__Settings__TenantId":     tenantID,
			"Connections__two__Settings__BotUrl":       "http://bot2:8080/api/messages",
			"ConnectionsMap__1__ServiceUrl":            "https://smba\\.trafficmanager\\.net/.*",
			"ConnectionsMap__1__Connection":            "TWO",
			"ConnectionsMap__0__Audience":              app2ID,
			"ConnectionsMap__0__Connection":            "two",
			"ConnectionsMap__5__ServiceUrl":            "*",
			"ConnectionsMap__5__Connection":            "Default",
		}, over))
	}
	cfg := mustLoad(t, two(nil))
	ids := cfg.Identities()
	if len(ids) != 2 || ids[0].Name != config.PrimaryName || ids[0].AppID != appID || ids[1].Name != "two" || ids[1].AppID != app2ID {
		t.Fatalf("Identities() = %+v; want default then two", ids)
	}
	if ids[1].BotURL != "http://bot2:8080/api/messages" || ids[0].BotURL != "http://127.0.0.1:3980/api/messages" || ids[1].AppPassword != "other-secret" {
		t.Errorf("identities' bot URLs, secret = %s, %s, %v; want each its own", ids[0].BotURL, ids[1].BotURL, ids[1].AppPassword.Value())
	}
	rules := cfg.ConnectionsMap
	if len(rules) != 3 || rules[0].Connection != "two" || rules[1].Connection != "two" || rules[2].Connection != config.PrimaryName {
		t.Fatalf("ConnectionsMap = %+v; want index order, connections by their names", rules)
	}
	if !rules[1].Matches("https://SMBA.trafficmanager.net/emea/", appID) || rules[1].Matches("https://example.com/", appID) {
		t.Error("rule 1 does not match its service URL case-insensitively, or matches another")
	}
	if rules[0].Matches("https://x/", appID) || !rules[0].Matches("https://x/", app2ID) || !rules[0].Matches("https://x/", "") {
		t.Error("rule 0 does not match by audience as the SDK does")
	}

	for _, tt := range []struct {
		name       string
		give       map[string]string
		wantReason string
	}{
		{"connection of the top-level app", map[string]string{"Connections__two__Settings__ClientId": appID},
			"MicrosoftAppId and Connections__two__Settings__ClientId name the same app"},
		{"alias of the top-level app", map[string]string{"MicrosoftAppId": unset, "CLIENT_ID": appID, "Connections__two__Settings__ClientId": appID},
			"CLIENT_ID and Connections__two__Settings__ClientId name the same app"},
		{"connection named default", map[string]string{"Connections__default__Settings__ClientId": app2ID, "Connections__two__Settings__ClientId": unset,
			"Connections__two__Settings__ClientSecret": unset, "Connections__two__Settings__TenantId": unset, "Connections__two__Settings__BotUrl": unset},
			"is the top-level identity's"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := config.Load(two(tt.give))
			ps := problems(t, err)
			if !strings.Contains(err.Error(), tt.wantReason) {
				t.Errorf("Load problems = %q; want one saying %q", ps, tt.wantReason)
			}
		})
	}
}

func TestLoadAgentsPrimary(t *testing.T) {
	t.Parallel()
	pair := merge(secretConn(nil), map[string]string{
		"Connections__two__Settings__ClientId": app2ID, "Connections__two__Settings__ClientSecret": secret, "Connections__two__Settings__TenantId": tenantID})
	tests := []struct {
		name  string
		give  map[string]string
		want  string
		count int
	}{
		{"the catch-all rule's", merge(pair, map[string]string{"ConnectionsMap__0__ServiceUrl": ".*teams.*", "ConnectionsMap__0__Connection": "bot",
			"ConnectionsMap__1__Connection": "TWO", "ConnectionsMap__1__ServiceUrl": "*"}), "two", 2},
		{"a catch-all rule without ServiceUrl", merge(pair, map[string]string{"ConnectionsMap__3__Connection": "two"}), "two", 2},
		{"ServiceConnection", merge(pair, map[string]string{
			"Connections__serviceconnection__Settings__ClientId": "00000000-0000-0000-0000-0000000000a3", "Connections__serviceconnection__Settings__ClientSecret": secret,
			"Connections__serviceconnection__Settings__TenantId": tenantID}), "serviceconnection", 3},
		{"the only one", secretConn(nil), "bot", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := mustLoad(t, agents(tt.give))
			ids := cfg.Identities()
			if ids[0].Name != tt.want || cfg.Primary().Name != tt.want || cfg.Primary().AppID != cfg.AppID {
				t.Errorf("primary = %s; want %s", ids[0].Name, tt.want)
			}
			seen := map[string]bool{}
			for _, id := range ids {
				if seen[id.Name] {
					t.Errorf("Identities() lists %s twice", id.Name)
				}
				seen[id.Name] = true
			}
			if len(ids) != tt.count {
				t.Errorf("Identities() = %d identities; want %d", len(ids), tt.count)
			}
		})
	}
}

// TestLoadAgentsSampleEnv loads the .env of an Agents SDK sample as
// published: microsoft/Agents samples/nodejs/auto-signin/env.TEMPLATE
// (commit eb362f48742e0b640149353f6da395b5f48717f0), its placeholders
// filled in and its trailing comments dropped, as dotenv drops them.
func TestLoadAgentsSampleEnv(t *testing.T) {
	t.Parallel()
	cfg := mustLoad(t, map[string]string{
		"connections__serviceConnection__settings__clientId":     appID,
		"connections__serviceConnection__settings__clientSecret": secret,
		"connections__serviceConnection__settings__tenantId":     tenantID,
		"connectionsMap__0__connection":                          "serviceConnection",
		"connectionsMap__0__serviceUrl":                          "*",
		"graph_connectionName":                                   "graph",
		"DEBUG":                                                  "agents:*:error,agents:*:info,agents:*:warn",
	})
	p := cfg.Primary()
	if p.Name != "serviceConnection" || p.AppID != appID || p.TenantID != tenantID || p.Credential() != config.CredentialSecret || p.AppPassword.Value() != secret {
		t.Errorf("Primary() = %+v; want the sample's connection", p)
	}
	if len(cfg.ConnectionsMap) != 1 || !cfg.ConnectionsMap[0].Matches("https://smba.trafficmanager.net/teams/", appID) {
		t.Errorf("ConnectionsMap = %+v; want the catch-all rule", cfg.ConnectionsMap)
	}
}

func TestLoadTopLevelCertificateSettings(t *testing.T) {
	t.Parallel()
	cfg := mustLoad(t, withEnv(map[string]string{"MicrosoftAppPassword": unset, "SIDECAR_CLIENT_CERT_FILE": "/c/bot.pem",
		"SIDECAR_CLIENT_KEY_FILE": "/c/bot.key", "SIDECAR_CLIENT_CERT_PASSWORD": secret, "SIDECAR_CLIENT_CERT_SEND_X5C": "true"}))
	p := cfg.Primary()
	if p.ClientCertFile != "/c/bot.pem" || p.ClientKeyFile != "/c/bot.key" || p.ClientCertPassword.Value() != secret || !p.SendX5C {
		t.Errorf("Primary() = %+v; want the certificate's files, password and x5c", p)
	}
	_, err := config.Load(withEnv(map[string]string{"SIDECAR_CLIENT_KEY_FILE": "/c/bot.key"}))
	if ps := problems(t, err); len(ps) != 1 || ps[0].Variable != "SIDECAR_CLIENT_KEY_FILE" || !strings.Contains(ps[0].Reason, "applies to a certificate only") {
		t.Errorf("Load(key file without certificate) problems = %q", ps)
	}
}

func TestLoadLegacyNamesBesideTopLevel(t *testing.T) {
	t.Parallel()
	// The same app under both vocabularies: the top-level names win.
	cfg := mustLoad(t, withEnv(map[string]string{"clientId": appID, "clientSecret": "ignored"}))
	if p := cfg.Primary(); p.Name != config.PrimaryName || p.AppPassword.Value() != secret || len(cfg.Connections) != 0 {
		t.Errorf("Primary() = %+v, %d connections; want the top-level identity alone", p, len(cfg.Connections))
	}
	_, err := config.Load(withEnv(map[string]string{"clientId": app2ID}))
	if ps := problems(t, err); len(ps) != 1 || !strings.Contains(ps[0].Reason, "clientId and MicrosoftAppId name different apps") {
		t.Errorf("Load(clientId of another app) problems = %q", ps)
	}
}

func TestConnectionRuleMatchesByHand(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		rule       config.ConnectionRule
		serviceURL string
		want       bool
	}{
		{config.ConnectionRule{ServiceURL: "*"}, "https://x/", true},
		{config.ConnectionRule{}, "https://x/", true},
		{config.ConnectionRule{ServiceURL: "TRAFFICMANAGER"}, "https://smba.trafficmanager.net/", true},
		{config.ConnectionRule{ServiceURL: "^https://smba"}, "https://webchat.botframework.com/", false},
		{config.ConnectionRule{ServiceURL: "(bad"}, "(bad", false},
	} {
		if got := tt.rule.Matches(tt.serviceURL, ""); got != tt.want {
			t.Errorf("%+v.Matches(%q) = %v; want %v", tt.rule, tt.serviceURL, got, tt.want)
		}
	}
}
