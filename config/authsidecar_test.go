package config_test

import (
	"strings"
	"testing"

	"github.com/botsidecar/sidecar/config"
)

func TestLoadAuthSidecarOffByDefault(t *testing.T) {
	t.Parallel()
	cfg := mustLoad(t, withEnv(nil))
	if cfg.AuthSidecarAddr != "" || cfg.SignInbound {
		t.Errorf("AuthSidecarAddr = %q, SignInbound = %v; want both off", cfg.AuthSidecarAddr, cfg.SignInbound)
	}
}

func TestLoadAuthSidecar(t *testing.T) {
	t.Parallel()
	for _, addr := range []string{"127.0.0.1:5178", "localhost:5178", "[::1]:5178", "127.0.0.1:0"} {
		cfg := mustLoad(t, withEnv(map[string]string{"SIDECAR_AUTH_SIDECAR_ADDR": addr, "SIDECAR_SIGN_INBOUND": "true"}))
		if cfg.AuthSidecarAddr != addr || !cfg.SignInbound {
			t.Errorf("Load(SIDECAR_AUTH_SIDECAR_ADDR=%s) = %q, SignInbound %v; want the address and true", addr, cfg.AuthSidecarAddr, cfg.SignInbound)
		}
	}
	// The listener alone is fine: a bot that takes tokens from it but
	// validates nothing inbound.
	if cfg := mustLoad(t, withEnv(map[string]string{"SIDECAR_AUTH_SIDECAR_ADDR": "127.0.0.1:5178"})); cfg.SignInbound {
		t.Error("SignInbound = true; want false unless set")
	}
}

// The listener hands out the token itself, so no address beyond loopback
// is accepted, whatever the outbound override says.
func TestLoadAuthSidecarLoopbackOnly(t *testing.T) {
	t.Parallel()
	for _, addr := range []string{":5178", "0.0.0.0:5178", "[::]:5178", "10.244.1.17:5178", "sidecar.internal:5178"} {
		_, err := config.Load(withEnv(map[string]string{
			"SIDECAR_AUTH_SIDECAR_ADDR":                  addr,
			"SIDECAR_OUTBOUND_NON_LOOPBACK_I_UNDERSTAND": "true",
		}))
		ps := problems(t, err)
		if len(ps) != 1 || ps[0].Variable != "SIDECAR_AUTH_SIDECAR_ADDR" || !strings.Contains(ps[0].Reason, "beyond loopback") {
			t.Errorf("Load(SIDECAR_AUTH_SIDECAR_ADDR=%s) problems = %q; want one saying it listens beyond loopback", addr, ps)
		}
	}
}
