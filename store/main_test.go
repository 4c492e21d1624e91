package store

import (
	"os"
	"testing"

	"go.uber.org/zap"
)

func TestMain(m *testing.M) {
	// Tests stop Redis on purpose; go-redis would print each failed dial.
	SetRedisLogger(zap.NewNop())
	os.Exit(m.Run())
}
