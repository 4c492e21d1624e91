package testkit

import (
	"fmt"
	"net"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

func TestClock(t *testing.T) {
	t.Parallel()
	c := NewClock()
	if !c.Now().Equal(Epoch()) {
		t.Fatalf("NewClock().Now() = %v; want %v", c.Now(), Epoch())
	}
	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() { c.Advance(time.Second); _ = c.Now() })
	}
	wg.Wait()
	if got, want := c.Now(), Epoch().Add(100*time.Second); !got.Equal(want) {
		t.Errorf("after 100 concurrent Advance(1s): %v; want %v", got, want)
	}
	at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	c.Set(at)
	if !c.Now().Equal(at) {
		t.Errorf("after Set(%v): %v", at, c.Now())
	}
}

func TestPoll(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		n := 0
		if !Poll(time.Minute, func() bool { n++; return n == 5 }) {
			t.Fatal("Poll gave up on a condition that came true")
		}
		if n != 5 || time.Since(start) != 4*pollInterval {
			t.Errorf("Poll asked %d times over %v; want 5 times over %v", n, time.Since(start), 4*pollInterval)
		}
		start = time.Now()
		if Poll(time.Second, func() bool { return false }) {
			t.Fatal("Poll reported a condition that never held")
		}
		if took := time.Since(start); took < time.Second || took > time.Second+pollInterval {
			t.Errorf("Poll gave up after %v; want the 1s timeout", took)
		}
	})
}

// recordingTB records a failure instead of ending the test.
type recordingTB struct {
	testing.TB
	failure string
}

func (r *recordingTB) Helper() {}

func (r *recordingTB) Fatalf(format string, args ...any) { r.failure = fmt.Sprintf(format, args...) }

func TestWaitFor(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		tb := &recordingTB{TB: t}
		WaitFor(tb, time.Second, func() bool { return true }, "something true")
		if tb.failure != "" {
			t.Errorf("WaitFor failed on a true condition: %s", tb.failure)
		}
		WaitFor(tb, time.Second, func() bool { return false }, "the impossible")
		if want := "the impossible: not within 1s"; tb.failure != want {
			t.Errorf("WaitFor failure = %q; want %q", tb.failure, want)
		}
	})
}

func TestRedisServerStopStart(t *testing.T) {
	t.Parallel()
	for _, tlsOn := range []bool{false, true} {
		t.Run(fmt.Sprintf("tls=%v", tlsOn), func(t *testing.T) {
			t.Parallel()
			s := StartRedis(t, RedisOptions{TLS: tlsOn})
			scheme := "redis://"
			if tlsOn {
				scheme = "rediss://"
			}
			if !strings.HasPrefix(s.URL(), scheme+s.Addr()) {
				t.Errorf("URL() = %q; want %s%s…", s.URL(), scheme, s.Addr())
			}
			if !s.ping() {
				t.Fatal("a started server does not answer PING")
			}
			s.Stop()
			if s.ping() {
				t.Fatal("a stopped server answers PING")
			}
			s.Stop() // twice is harmless
			addr := s.Addr()
			s.Start()
			if s.Addr() != addr || !s.ping() {
				t.Errorf("after Start: %s answers PING %v; want %s answering", s.Addr(), s.ping(), addr)
			}
		})
	}
}

func TestRedisCluster(t *testing.T) {
	t.Parallel()
	url := StartRedisCluster(t, 3)
	seeds, ok := strings.CutPrefix(url, "redis+cluster://")
	if !ok || len(strings.Split(seeds, ",")) != 3 {
		t.Fatalf("StartRedisCluster = %q; want redis+cluster:// and three seeds", url)
	}
	host, port, _ := strings.Cut(strings.Split(seeds, ",")[0], ":")
	out, err := exec.Command("redis-cli", "-h", host, "-p", port, "cluster", "info").Output()
	if err != nil || !strings.Contains(string(out), "cluster_known_nodes:3") {
		t.Errorf("cluster info = %s, %v; want three known nodes", out, err)
	}
}

// TestOnlyTestsImportTestkit: the kit imports testing and starts servers;
// no package of the product may link it.
func TestOnlyTestsImportTestkit(t *testing.T) {
	t.Parallel()
	const self = "github.com/botsidecar/sidecar/internal/testkit"
	cmd := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Deps " "}}`, "github.com/botsidecar/sidecar/...")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	n := 0
	for line := range strings.Lines(string(out)) {
		pkg, deps, _ := strings.Cut(strings.TrimSpace(line), " ")
		n++
		if pkg != self && strings.Contains(" "+deps+" ", " "+self+" ") {
			t.Errorf("%s links internal/testkit: it is for tests only", pkg)
		}
	}
	if n < 5 {
		t.Fatalf("go list listed %d packages:\n%s", n, out)
	}
}

func TestFreeAddr(t *testing.T) {
	t.Parallel()
	addr := FreeAddr(t)
	if !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Fatalf("FreeAddr() = %q; want a loopback address", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("FreeAddr() = %s, which cannot be bound: %v", addr, err)
	}
	_ = ln.Close()
}
