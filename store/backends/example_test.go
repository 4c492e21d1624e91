package backends_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/botsidecar/sidecar/store"
	"github.com/botsidecar/sidecar/store/backends"
)

// Open a store from SIDECAR_STORE, run its background loops for as long as
// it lives, and look a reference up the way outbound does.
func ExampleOpen() {
	dir, err := os.MkdirTemp("", "store-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	spec, err := store.ParseSpec("bolt:" + filepath.Join(dir, "references.db"))
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s, err := backends.Open(ctx, spec, backends.Options{Namespace: "app-id"})
	if err != nil {
		panic(err)
	}
	done := make(chan error, 1)
	if r, ok := s.(store.Runner); ok {
		go func() { done <- r.Run(ctx) }()
	} else {
		close(done)
	}

	err = s.Put(ctx, store.Reference{
		ConversationID: "19:general@thread.tacv2",
		ServiceURL:     "https://smba.trafficmanager.net/amer/",
		ChannelID:      "msteams",
		TenantID:       "tenant-id",
		UpdatedAt:      time.Now(),
	})
	if err != nil {
		panic(err)
	}
	// A reply in a channel thread resolves through its channel.
	ref, err := store.Lookup(ctx, s, "19:general@thread.tacv2;messageid=1700000000000")
	fmt.Println(ref.ServiceURL, err)

	cancel()
	<-done
	fmt.Println(s.Close())
	// Output:
	// https://smba.trafficmanager.net/amer/ <nil>
	// <nil>
}
