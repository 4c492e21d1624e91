package cachedstore

import "github.com/botsidecar/sidecar/store"

// Deliveries returns the backend's redelivery window, or nil when it keeps
// none. The window is not cached: a replica must see the claims the others
// make, and a claim is one write either way.
func (c *Cached) Deliveries() store.Deliveries {
	d, _ := c.backend.(store.Deliveries)
	return d
}
