package pacing_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/botsidecar/sidecar/pacing"
)

// A proxy parses the limits from its configuration, holds each outbound
// call in Wait, and answers 429 with Retry-After when the pacer gives up.
func Example() {
	send, _ := pacing.ParseLimit(pacing.TeamsSend)
	tenant, _ := pacing.ParseLimit(pacing.TeamsTenant)
	// MaxWait 0 never holds a call; a stopped clock keeps the output exact.
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	p, err := pacing.New(pacing.Options{Send: send, Tenant: tenant, Now: func() time.Time { return at }})
	if err != nil {
		panic(err)
	}
	key := pacing.Key{Bot: "app-id", Tenant: "tenant-id", Conversation: "a:1xyz", Class: pacing.ClassSend}
	for i := range 8 {
		_, err := p.Wait(context.Background(), key)
		var te *pacing.ThrottledError
		if errors.As(err, &te) {
			fmt.Printf("call %d: 429, Retry-After %v (%s limit %s)\n", i+1, te.RetryAfter(), te.Scope, te.Window)
		}
	}
	// Output: call 8: 429, Retry-After 1s (conversation limit 7/1s)
}
