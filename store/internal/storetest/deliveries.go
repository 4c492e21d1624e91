package storetest

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/botsidecar/sidecar/store"
)

// DeliveriesWindow is the claim lifetime the conformance tests use.
const DeliveriesWindow = 2 * time.Minute

// DeliveriesConformance checks the store.Deliveries contract: the first
// Claim wins, later ones read what Record stored, Release frees the key.
// expire, when not nil, moves the backend's clock past DeliveriesWindow, so
// that the expiry is checked too.
func DeliveriesConformance(t *testing.T, d store.Deliveries, expire func()) {
	t.Helper()
	ctx := context.Background()
	claim := func(key string) (*store.Delivery, bool) {
		t.Helper()
		prior, claimed, err := d.Claim(ctx, key, DeliveriesWindow)
		if err != nil {
			t.Fatalf("Claim(%q): %v", key, err)
		}
		return prior, claimed
	}

	if prior, claimed := claim("id:a"); !claimed || prior != nil {
		t.Fatalf("first Claim = %v, %v; want claimed", prior, claimed)
	}
	if prior, claimed := claim("id:a"); claimed || prior == nil || prior.Status != 0 {
		t.Fatalf("Claim in flight = %+v, %v; want not claimed, a zero status", prior, claimed)
	}
	want := store.Delivery{Status: 202, ContentType: "application/json", Body: []byte(`{"status":200}`)}
	if err := d.Record(ctx, "id:a", want); err != nil {
		t.Fatal(err)
	}
	prior, claimed := claim("id:a")
	if claimed || prior == nil || prior.Status != want.Status || prior.ContentType != want.ContentType || !bytes.Equal(prior.Body, want.Body) {
		t.Fatalf("Claim after Record = %+v, %v; want %+v", prior, claimed, want)
	}
	big := store.Delivery{Status: 200, Body: bytes.Repeat([]byte("x"), store.MaxDeliveryBody+1)}
	claim("id:big")
	if err := d.Record(ctx, "id:big", big); err != nil {
		t.Fatal(err)
	}
	if prior, _ := claim("id:big"); prior == nil || prior.Status != 200 || len(prior.Body) != 0 {
		t.Errorf("Claim after a Record over MaxDeliveryBody = %+v; want its status without the body", prior)
	}

	if err := d.Release(ctx, "id:a"); err != nil {
		t.Fatal(err)
	}
	if _, claimed := claim("id:a"); !claimed {
		t.Error("Claim after Release: not claimed; want the key free")
	}
	// Recording a key nobody claimed does not create it.
	if err := d.Record(ctx, "id:never", want); err != nil {
		t.Fatal(err)
	}
	if _, claimed := claim("id:never"); !claimed {
		t.Error("Record of an unclaimed key created it")
	}
	for _, bad := range []string{"", strings.Repeat("k", store.MaxDeliveryKey+1)} {
		if _, _, err := d.Claim(ctx, bad, DeliveriesWindow); !errors.Is(err, store.ErrBadDeliveryKey) {
			t.Errorf("Claim(%d bytes) = %v; want ErrBadDeliveryKey", len(bad), err)
		}
	}

	// One winner among concurrent claims: replicas race for a redelivery.
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		wins int
	)
	for range 8 {
		wg.Go(func() {
			_, claimed, err := d.Claim(ctx, "id:race", DeliveriesWindow)
			if err != nil {
				t.Error(err)
			}
			if claimed {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if wins != 1 {
		t.Errorf("%d of 8 concurrent claims won; want 1", wins)
	}

	if expire == nil {
		return
	}
	claim("id:old")
	if err := d.Record(ctx, "id:old", want); err != nil {
		t.Fatal(err)
	}
	expire()
	if prior, claimed := claim("id:old"); !claimed {
		t.Errorf("Claim after the window = %+v, not claimed; want an expired delivery to count as new", prior)
	}
}
