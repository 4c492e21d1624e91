package main

import (
	"net"
	"slices"
	"testing"

	"github.com/botsidecar/sidecar/config"
)

// The auth sidecar listener serves the primary bot (also as "default") and
// the bots sharing the outbound listener, each by its connection name, with
// its own tenant; never a bot that has an outbound listener of its own.
func TestAuthSidecarIdentities(t *testing.T) {
	t.Parallel()
	own, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = own.Close() })
	bots := []*bot{
		{cfg: config.Identity{Name: "ServiceConnection", TenantID: "t1", AppType: config.AppTypeSingleTenant, TokenScope: "https://api.botframework.com/.default"}},
		{cfg: config.Identity{Name: "shared", AppType: config.AppTypeMultiTenant, TokenScope: "https://api.botframework.com/.default"}},
		{cfg: config.Identity{Name: "isolated", TenantID: "t3"}, ln: own},
	}
	ids := authSidecarIdentities(bots)
	var names []string
	for n := range ids {
		names = append(names, n)
	}
	slices.Sort(names)
	if want := []string{"ServiceConnection", "default", "shared"}; !slices.Equal(names, want) {
		t.Errorf("served %v; want %v (not the bot with its own listener)", names, want)
	}
	if ids["default"].Tenant != "t1" || ids["ServiceConnection"].Tenant != "t1" || ids["shared"].Tenant != "" {
		t.Errorf("tenants %q, %q, %q; want t1, t1 and none for the multi-tenant bot", ids["default"].Tenant, ids["ServiceConnection"].Tenant, ids["shared"].Tenant)
	}
}
