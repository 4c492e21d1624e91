package fakes

// Cloud is everything outside the sidecar's pod: Entra, the Bot Framework
// channel and a Bot Connector that accepts only tokens Entra issued. The
// demo and the tests that run a whole sidecar start it the same way.
type Cloud struct {
	Entra     *Entra
	Channel   *Channel
	Connector *Connector
}

// NewCloud starts the three fakes; entra configures the identity provider.
func NewCloud(entra EntraOptions) *Cloud {
	c := &Cloud{Entra: NewEntra(entra), Channel: NewChannel(ChannelOptions{})}
	c.Connector = NewConnector(ConnectorOptions{VerifyToken: func(tok string) error {
		_, err := c.Entra.Verify(tok)
		return err
	}})
	return c
}

// Close stops the fakes.
func (c *Cloud) Close() {
	c.Connector.Close()
	c.Channel.Close()
	c.Entra.Close()
}

// Env is the sidecar configuration that points at the fakes.
func (c *Cloud) Env() map[string]string {
	return map[string]string{
		"SIDECAR_AUTHORITY_HOST":      c.Entra.URL,
		"SIDECAR_OPENID_METADATA_URL": c.Channel.MetadataURL(),
		"SIDECAR_CHANNEL_ISSUER":      c.Channel.Issuer(),
	}
}

// CertificatesPEM are the fakes' TLS certificates, for a child process's
// SSL_CERT_FILE or NODE_EXTRA_CA_CERTS.
func (c *Cloud) CertificatesPEM() []byte {
	var b []byte
	for _, p := range [][]byte{c.Entra.CertificatePEM(), c.Channel.CertificatePEM(), c.Connector.CertificatePEM()} {
		b = append(b, p...)
	}
	return b
}
