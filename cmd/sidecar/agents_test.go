package main

import (
	"bufio"
	"strings"
	"testing"
)

// agentsSampleEnv is microsoft/Agents samples/nodejs/auto-signin/env.TEMPLATE
// (commit eb362f48742e0b640149353f6da395b5f48717f0) as a bot team would
// fill it in, comments and all.
const agentsSampleEnv = `# rename to .env
connections__serviceConnection__settings__clientId=` + itAppID + ` # App ID of the App Registration used to log in.
connections__serviceConnection__settings__clientSecret=` + itSecret + ` # Client secret of the App Registration used to log in.
connections__serviceConnection__settings__tenantId=` + itTenant + ` # Tenant ID of the App Registration used to log in.

connectionsMap__0__connection=serviceConnection
connectionsMap__0__serviceUrl=*

graph_connectionName=graph # the connection name configured in the Azure Bot for graph authentication.

DEBUG=agents:*:error,agents:*:info,agents:*:warn
`

// dotenv reads an .env file as dotenv (which the Agents SDK samples load
// with node --env-file) does for unquoted values: KEY=value, "#" starting
// a comment line or, after a space, the rest of the line.
func dotenv(s string) map[string]string {
	m := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		k, v, ok := strings.Cut(line, "=")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		if i := strings.Index(v, " #"); i >= 0 {
			v = v[:i]
		}
		m[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return m
}

// TestIntegrationAgentsSampleEnv starts the sidecar with an Agents SDK
// sample's .env and no top-level identity variables: the send gets its
// token from the fake Entra with the connection's secret, for its app.
func TestIntegrationAgentsSampleEnv(t *testing.T) {
	env := dotenv(agentsSampleEnv)
	// startStack's top-level identity, unset (an empty value is unset).
	for _, k := range []string{"MicrosoftAppId", "MicrosoftAppPassword", "MicrosoftAppTenantId"} {
		env[k] = ""
	}
	s := startStack(t, env)
	if p := s.app.cfg.Primary(); p.Name != "serviceConnection" || p.AppID != itAppID {
		t.Fatalf("primary identity = %s %s; want the sample's serviceConnection", p.Name, p.AppID)
	}
	s.waitReady()
	s.putRef("a:1", s.conn.ServiceURL())
	for i := range 3 {
		if status, body := s.send("a:1", `{"type":"message","text":"n"}`); status != 200 {
			t.Fatalf("send %d = %d %s", i, status, body)
		}
	}
	if n := s.entra.Requests(); n != 1 {
		t.Errorf("token requests = %d for 3 sends; want 1", n)
	}
	reqs := s.conn.Requests()
	if len(reqs) != 3 {
		t.Fatalf("connector got %d sends; want 3", len(reqs))
	}
	claims, err := s.entra.Verify(strings.TrimPrefix(reqs[0].Header.Get("Authorization"), "Bearer "))
	if err != nil {
		t.Fatalf("upstream token does not verify: %v", err)
	}
	if claims["tid"] != itTenant || claims["appid"] != itAppID {
		t.Errorf("token claims = %v; want the connection's tenant and app", claims)
	}
}
