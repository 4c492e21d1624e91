package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/botsidecar/sidecar/store"
)

// getter is a map standing in for a Store's Get.
type getter map[string]store.Reference

func (g getter) Get(_ context.Context, id string) (store.Reference, error) {
	if ref, ok := g[id]; ok {
		return ref, nil
	}
	return store.Reference{}, store.ErrNotFound
}

func TestLookup(t *testing.T) {
	t.Parallel()
	const channel = "19:general@thread.tacv2"
	refs := getter{
		channel:                  {ConversationID: channel, ServiceURL: "https://smba.trafficmanager.net/amer/"},
		channel + ";messageid=7": {ConversationID: channel + ";messageid=7", ServiceURL: "https://smba.trafficmanager.net/emea/"},
		"a:personal":             {ConversationID: "a:personal", ServiceURL: "https://smba.trafficmanager.net/apac/"},
	}
	tests := []struct {
		give    string
		want    string // ServiceURL; "" for ErrNotFound
		channel bool   // ChannelOf reports a thread
	}{
		{channel, "https://smba.trafficmanager.net/amer/", false},
		{channel + ";messageid=1700000000000", "https://smba.trafficmanager.net/amer/", true},
		{channel + ";messageid=7", "https://smba.trafficmanager.net/emea/", true},
		{"a:personal", "https://smba.trafficmanager.net/apac/", false},
		{"19:none@thread.tacv2;messageid=1", "", true},
		{";messageid=1", "", false},
	}
	for _, tt := range tests {
		ref, err := store.Lookup(t.Context(), refs, tt.give)
		switch {
		case tt.want == "" && !errors.Is(err, store.ErrNotFound):
			t.Errorf("Lookup(%q) = %+v, %v; want ErrNotFound", tt.give, ref, err)
		case tt.want != "" && (err != nil || ref.ServiceURL != tt.want):
			t.Errorf("Lookup(%q) = %q, %v; want %q", tt.give, ref.ServiceURL, err, tt.want)
		}
		if _, ok := store.ChannelOf(tt.give); ok != tt.channel {
			t.Errorf("ChannelOf(%q) reports a thread: %v; want %v", tt.give, ok, tt.channel)
		}
	}
}
