package channelauth_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/botsidecar/sidecar/channelauth"
	"github.com/botsidecar/sidecar/internal/fakes"
)

func ExampleValidator_Validate() {
	ch := fakes.NewChannel(fakes.ChannelOptions{})
	defer ch.Close()

	v, err := channelauth.New(channelauth.Options{
		AppID:             appID,
		OpenIDMetadataURL: ch.MetadataURL(),
		ChannelIssuer:     ch.Issuer(),
		HTTPClient:        ch.Client(),
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	// The activity's channelId and its serviceUrl as received, before the
	// sidecar rewrites it.
	auth := "Bearer " + ch.Token(appID, "https://smba.trafficmanager.net/amer/")
	id, err := v.Validate(context.Background(), auth, "msteams", "https://smba.trafficmanager.net/amer/")
	fmt.Println(id.Source, id.ServiceURLVouched, err)

	_, err = v.Validate(context.Background(), auth, "msteams", "https://evil.example/")
	switch {
	case errors.Is(err, channelauth.ErrKeysUnavailable):
		fmt.Println("503:", err)
	case errors.Is(err, channelauth.ErrUnauthorized):
		fmt.Println("401:", err)
	}
	// Output:
	// channel true <nil>
	// 401: unauthorized: serviceurl claim does not match activity
}
