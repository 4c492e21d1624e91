package testkit

import (
	mrand "math/rand/v2"
	"net"
	"strconv"
	"testing"
)

// FreeAddr returns a loopback host:port that was free a moment ago: for a
// child process to bind, or for a client to find nothing listening.
func FreeAddr(tb testing.TB) string {
	tb.Helper()
	// Not port 0: the kernel hands out an ephemeral port, which any
	// outgoing connection of this machine may take between our close and
	// the caller's bind (seen under a parallel test run).
	for range 100 {
		port := 20000 + mrand.IntN(12000)
		if portFree(port) {
			return net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		}
	}
	tb.Fatal("no free loopback port")
	return ""
}

// freePort returns a loopback port that is free, and whose cluster bus
// port (port+10000) is free too. The range stays below the kernel's
// ephemeral ports (32768 and up on Linux) for the port itself, so that a
// client's outgoing connection rarely takes it between pick and bind.
func freePort(tb testing.TB) int {
	tb.Helper()
	for range 100 {
		port := 20000 + mrand.IntN(12000)
		if portFree(port) && portFree(port+10000) {
			return port
		}
	}
	tb.Fatal("no free loopback port")
	return 0
}

func portFree(port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	_ = l.Close()
	return true
}
