package config

const (
	varAuthSidecarAddr = "SIDECAR_AUTH_SIDECAR_ADDR"
	varSignInbound     = "SIDECAR_SIGN_INBOUND"
)

// checkAuthSidecar checks the auth sidecar listener and inbound signing.
// Unlike the outbound listener, the auth sidecar listener has no override
// for a wider address: the outbound one attaches the token to calls it
// checks and sends itself, this one hands the token over, to be used
// anywhere until it expires.
func (l *loader) checkAuthSidecar(c *Config) {
	if c.AuthSidecarAddr != "" && l.addr(varAuthSidecarAddr, c.AuthSidecarAddr) && !loopbackAddr(c.AuthSidecarAddr) {
		l.fail(varAuthSidecarAddr, "listens beyond loopback: it hands the bot's token to whoever connects. "+
			"Use 127.0.0.1:5178 (the Agents SDK's default port) and run the bot in the same pod or host")
	}
	if c.SignInbound && c.AuthSidecarAddr == "" && !l.failed[varSignInbound] {
		l.fail(varSignInbound, "needs "+varAuthSidecarAddr+": the bot fetches the keys of the tokens the sidecar signs from that listener")
	}
}
