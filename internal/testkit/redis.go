package testkit

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// redisStartTimeout bounds a start: redis-server answers PING within
// milliseconds, even on a busy machine with the race detector on.
const redisStartTimeout = 10 * time.Second

// redisStartAttempts: a port picked free can be taken before redis-server
// binds it; the first start tries again on another port.
const redisStartAttempts = 3

// errRedisExited is a redis-server that ended while starting, most likely
// because its port was taken meanwhile.
var errRedisExited = errors.New("redis-server exited while starting")

// RedisOptions configures a RedisServer.
type RedisOptions struct {
	// TLS makes the server speak TLS only, with a self-signed certificate
	// for 127.0.0.1; clients need not present one.
	TLS bool
	// Args are more redis-server arguments, e.g. "--cluster-enabled", "yes".
	Args []string
}

// RedisServer is a real, non-persistent redis-server on a loopback port,
// in the test's temporary directory. It needs redis-server installed, as
// scripts/test does (apt-get install -y redis-server). Stop and Start may
// be called from any goroutine, but a failed Start fails the test, so call
// it from the test's.
type RedisServer struct {
	tb   testing.TB
	path string
	port int
	dir  string
	args []string
	tls  bool

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has been waited for
}

// StartRedis starts a redis-server on a free loopback port and stops it
// when the test ends.
func StartRedis(tb testing.TB, opts RedisOptions) *RedisServer {
	tb.Helper()
	path, err := exec.LookPath("redis-server")
	if err != nil {
		tb.Fatalf("redis-server is not on PATH: install it (apt-get install -y redis-server), as scripts/test does: %v", err)
	}
	s := &RedisServer{tb: tb, path: path, dir: tb.TempDir(), tls: opts.TLS}
	s.args = []string{"--save", "", "--appendonly", "no", "--bind", "127.0.0.1", "--dir", s.dir,
		"--logfile", filepath.Join(s.dir, "redis.log")}
	if opts.TLS {
		cert, key := writeSelfSigned(tb, s.dir)
		s.args = append(s.args, "--port", "0",
			"--tls-cert-file", cert, "--tls-key-file", key, "--tls-ca-cert-file", cert, "--tls-auth-clients", "no")
	}
	s.args = append(s.args, opts.Args...)
	tb.Cleanup(s.Stop)
	for attempt := 1; ; attempt++ {
		s.port = freePort(tb)
		s.mu.Lock()
		err := s.startLocked()
		s.mu.Unlock()
		if err == nil {
			return s
		}
		if !errors.Is(err, errRedisExited) || attempt == redisStartAttempts {
			tb.Fatal(err)
		}
	}
}

// Addr is the server's host:port.
func (s *RedisServer) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// URL is the server as a SIDECAR_STORE value: redis://host:port, or
// rediss://host:port?skip_verify=true for a TLS server.
func (s *RedisServer) URL() string {
	if s.tls {
		return "rediss://" + s.Addr() + "?skip_verify=true"
	}
	return "redis://" + s.Addr()
}

// Start starts the server again after Stop, on the same port (its clients
// know no other), empty, and waits until it answers PING. It does nothing
// if the server runs.
func (s *RedisServer) Start() {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return
	}
	if err := s.startLocked(); err != nil {
		s.tb.Fatal(err)
	}
}

// Stop kills the server with SIGKILL, as a crash or a network cut would
// end it, and waits for it to exit. It does nothing if the server is
// stopped.
func (s *RedisServer) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.done
	s.cmd = nil
}

// Pause stops the server with SIGSTOP: it keeps its port and its
// connections but answers nothing, as a hung Redis does. Resume ends it;
// the test's end resumes a paused server before stopping it.
func (s *RedisServer) Pause() { s.signal(syscall.SIGSTOP) }

// Resume continues a paused server with SIGCONT.
func (s *RedisServer) Resume() { s.signal(syscall.SIGCONT) }

func (s *RedisServer) signal(sig syscall.Signal) {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		s.tb.Fatalf("signal %v: redis-server is stopped", sig)
	}
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.tb.Fatalf("signal redis-server %v: %v", sig, err)
	}
}

func (s *RedisServer) startLocked() error {
	portFlag := "--port"
	if s.tls {
		portFlag = "--tls-port"
	}
	cmd := exec.Command(s.path, append([]string{portFlag, strconv.Itoa(s.port)}, s.args...)...)
	cmd.Dir = s.dir
	killWithParent(cmd)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	exited := false
	up := Poll(redisStartTimeout, func() bool {
		select {
		case <-done:
			exited = true
			return true
		default:
			return s.ping()
		}
	})
	switch {
	case exited:
		log, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
		return fmt.Errorf("redis-server on port %d: %w: %s", s.port, errRedisExited, log)
	case !up:
		_ = cmd.Process.Kill()
		<-done
		return fmt.Errorf("redis-server on port %d did not answer PING within %v", s.port, redisStartTimeout)
	}
	s.cmd, s.done = cmd, done
	return nil
}

// ping speaks just enough RESP to see the server up.
func (s *RedisServer) ping() bool {
	d := net.Dialer{Timeout: 200 * time.Millisecond}
	var (
		conn net.Conn
		err  error
	)
	if s.tls {
		conn, err = tls.DialWithDialer(&d, "tcp", s.Addr(), &tls.Config{InsecureSkipVerify: true})
	} else {
		conn, err = d.Dial("tcp", s.Addr())
	}
	if err != nil {
		return false
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Second))
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "+PONG")
}

// StartRedisCluster starts masters cluster-enabled redis-servers, joins
// them with redis-cli --cluster create, waits until every node sees all
// slots covered, and returns the cluster's SIDECAR_STORE value,
// redis+cluster://host:port,….
func StartRedisCluster(tb testing.TB, masters int) string {
	tb.Helper()
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		tb.Fatalf("redis-cli is not on PATH: install redis-server (apt-get install -y redis-server): %v", err)
	}
	addrs := make([]string, masters)
	for i := range addrs {
		s := StartRedis(tb, RedisOptions{Args: []string{"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", "5000"}})
		addrs[i] = s.Addr()
	}
	const timeout = 60 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput(); err != nil {
		tb.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	// Every node must agree the slots are covered before clients use it.
	for _, a := range addrs {
		host, port, _ := net.SplitHostPort(a)
		var out []byte
		ok := Poll(timeout, func() bool {
			out, err = exec.CommandContext(ctx, cli, "-h", host, "-p", port, "cluster", "info").Output()
			return err == nil && strings.Contains(string(out), "cluster_state:ok")
		})
		if !ok {
			tb.Fatalf("cluster node %s not ready: %v %s", a, err, out)
		}
	}
	return "redis+cluster://" + strings.Join(addrs, ",")
}
