package redisstore

import (
	"os"
	"testing"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

func TestMain(m *testing.M) {
	// Tests stop Redis on purpose; go-redis would print each failed dial.
	// Its logger is process-wide: the test binary is the process here.
	redis.SetLogger(DriverLog(zap.NewNop()))
	os.Exit(m.Run())
}
