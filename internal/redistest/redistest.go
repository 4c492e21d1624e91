// Package redistest starts real redis-server processes for tests: a
// standalone server (plain or TLS) that a test can stop and start again,
// and a three-node Redis Cluster. Tests need redis-server installed; CI's
// scripts/test installs the redis-server package. Only tests import it.
package redistest

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Server is a real redis-server the test starts on a loopback port in its
// temporary directory.
type Server struct {
	tb   testing.TB
	port int
	dir  string
	args []string
	tls  bool

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

const redisStartTimeout = 10 * time.Second

func redisServerPath(tb testing.TB) string {
	tb.Helper()
	path, err := exec.LookPath("redis-server")
	if err != nil {
		tb.Fatalf("redis-server is not on PATH: install it (apt-get install -y redis-server), as CI's scripts/test does: %v", err)
	}
	return path
}

// Start starts a standalone, non-persistent redis-server and stops it
// when the test ends. extra are more redis-server arguments.
func Start(tb testing.TB, extra ...string) *Server {
	tb.Helper()
	s := &Server{tb: tb, port: FreePort(tb), dir: tb.TempDir()}
	s.args = append([]string{"--save", "", "--appendonly", "no", "--bind", "127.0.0.1", "--dir", s.dir}, extra...)
	s.Restart()
	tb.Cleanup(s.Stop)
	return s
}

// StartTLS starts a redis-server that speaks only TLS, with a self-signed
// certificate, and clients need not present one.
func StartTLS(tb testing.TB) *Server {
	tb.Helper()
	dir := tb.TempDir()
	cert, key := writeSelfSigned(tb, dir)
	s := &Server{tb: tb, port: FreePort(tb), dir: dir, tls: true}
	s.args = []string{"--save", "", "--appendonly", "no", "--bind", "127.0.0.1", "--dir", dir,
		"--tls-cert-file", cert, "--tls-key-file", key, "--tls-ca-cert-file", cert, "--tls-auth-clients", "no"}
	s.Restart()
	tb.Cleanup(s.Stop)
	return s
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// URL is the store spec of the server.
func (s *Server) URL() string {
	if s.tls {
		return "rediss://" + s.Addr() + "?skip_verify=true"
	}
	return "redis://" + s.Addr()
}

// Restart starts the server on its port (again, after Stop) and waits
// until it answers PING.
func (s *Server) Restart() {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	portFlag := "--port"
	if s.tls {
		portFlag = "--tls-port"
	}
	args := append([]string{portFlag, strconv.Itoa(s.port)}, s.args...)
	if s.tls {
		args = append(args, "--port", "0")
	}
	args = append(args, "--logfile", filepath.Join(s.dir, "redis.log"))
	cmd := exec.Command(redisServerPath(s.tb), args...)
	cmd.Dir = s.dir
	killWithParent(cmd)
	if err := cmd.Start(); err != nil {
		s.tb.Fatalf("start redis-server: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	s.cmd, s.done = cmd, done
	deadline := time.Now().Add(redisStartTimeout)
	for !s.ping() {
		select {
		case <-done:
			log, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
			s.tb.Fatalf("redis-server on port %d exited: %s", s.port, log)
		default:
		}
		if time.Now().After(deadline) {
			s.tb.Fatalf("redis-server on port %d did not answer within %s", s.port, redisStartTimeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop kills the server, as a crash or a network cut would end it.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.done
	s.cmd = nil
}

func (s *Server) ping() bool {
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

// FreePort returns a loopback port that is free, and whose cluster bus
// port (port+10000) is free too.
func FreePort(tb testing.TB) int {
	tb.Helper()
	for range 100 {
		port := 20000 + mrand.IntN(30000)
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

// StartCluster starts three cluster-enabled masters, joins them with
// redis-cli --cluster create, and returns the seed URL of the cluster.
func StartCluster(tb testing.TB) string {
	tb.Helper()
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		tb.Fatalf("redis-cli is not on PATH: install redis-server (apt-get install -y redis-server): %v", err)
	}
	var addrs []string
	for range 3 {
		s := Start(tb, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", "5000")
		addrs = append(addrs, s.Addr())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput(); err != nil {
		tb.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	// Every node must agree the slots are covered before clients use it.
	for _, a := range addrs {
		host, port, _ := net.SplitHostPort(a)
		for {
			out, err := exec.CommandContext(ctx, cli, "-h", host, "-p", port, "cluster", "info").Output()
			if err == nil && strings.Contains(string(out), "cluster_state:ok") {
				break
			}
			if ctx.Err() != nil {
				tb.Fatalf("cluster node %s not ready: %s", a, out)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return fmt.Sprintf("redis+cluster://%s", strings.Join(addrs, ","))
}

// writeSelfSigned writes a self-signed certificate for 127.0.0.1 and its
// key as PEM files in dir.
func writeSelfSigned(tb testing.TB, dir string) (certFile, keyFile string) {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		tb.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		tb.Fatal(err)
	}
	return certFile, keyFile
}
