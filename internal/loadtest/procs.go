package main

import (
	"bufio"
	"bytes"
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
	"time"
)

// child is one process the orchestrator started; its stdout and stderr go
// through a pipe (as a container runtime reads them) to WORKDIR/NAME.log,
// of which only the first logCap bytes are kept.
type child struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	exited  chan struct{}
	waitErr error
	stopSig syscall.Signal
	once    sync.Once
}

// startChild starts path with args and the given environment (nil: the
// orchestrator's). The child gets stopSig if the orchestrator dies.
func startChild(name, workdir string, env []string, stopSig syscall.Signal, path string, args ...string) (*child, error) {
	logPath := filepath.Join(workdir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(path, args...)
	cmd.Env = env
	w := &cappedWriter{w: f, left: logCap}
	cmd.Stdout, cmd.Stderr = w, w
	// Its own process group, so that a forced stop reaches what it
	// started (nginx's workers); the stop signal if the orchestrator dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: stopSig, Setpgid: true}
	// A grandchild holding the log pipe must not hold up Wait.
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s (%s): %w", name, path, err)
	}
	c := &child{name: name, cmd: cmd, logPath: logPath, exited: make(chan struct{}), stopSig: stopSig}
	go func() {
		c.waitErr = cmd.Wait()
		f.Close()
		close(c.exited)
	}()
	appendPidFile(workdir, name, cmd.Process.Pid)
	return c, nil
}

// appendPidFile records a child for scripts/bench-outbound's trap, which
// stops what is left should the orchestrator itself be killed.
func appendPidFile(workdir, name string, pid int) {
	f, err := os.OpenFile(filepath.Join(workdir, "pids"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	fmt.Fprintf(f, "%d %s\n", pid, name)
}

func (c *child) pid() int { return c.cmd.Process.Pid }

// logCap bounds a child's log file: the sidecar at level info writes a
// line per call, which the benchmark reads and drops like a log shipper.
const logCap = 1 << 20

// cappedWriter writes the first left bytes to w and drops the rest.
type cappedWriter struct {
	mu   sync.Mutex
	w    *os.File
	left int
}

func (c *cappedWriter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.left > 0 {
		n := min(len(p), c.left)
		c.left -= n
		if _, err := c.w.Write(p[:n]); err != nil {
			c.left = 0
		}
	}
	return len(p), nil
}

// alive returns an error that quotes the child's log if it has exited.
func (c *child) alive() error {
	select {
	case <-c.exited:
		return fmt.Errorf("%s exited (%v); %s ends with:\n%s", c.name, c.waitErr, c.logPath, tailFile(c.logPath, 20))
	default:
		return nil
	}
}

// stop sends the child's stop signal, waits up to grace, then kills it
// (and, for nginx, whatever workers are left).
func (c *child) stop(grace time.Duration) {
	c.once.Do(func() {
		select {
		case <-c.exited:
			return
		default:
		}
		kids := childPids(c.pid())
		_ = c.cmd.Process.Signal(c.stopSig)
		select {
		case <-c.exited:
		case <-time.After(grace):
			_ = syscall.Kill(-c.pid(), syscall.SIGKILL) // the whole group
			_ = c.cmd.Process.Kill()
		}
		for _, k := range kids {
			if processAlive(k) {
				_ = syscall.Kill(k, syscall.SIGKILL)
			}
		}
		<-c.exited
	})
}

func processAlive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// A zombie is not running.
	st, err := parseStat(b)
	return err == nil && st.state != "Z"
}

// waitPort waits until addr accepts TCP connections.
func waitPort(c *child, addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if err := c.alive(); err != nil {
			return err
		}
		conn, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			conn.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not come up on %s within %v; %s ends with:\n%s", c.name, addr, timeout, c.logPath, tailFile(c.logPath, 20))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "  " + strings.Join(lines, "\n  ")
}

func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// memory is one reading of a process tree's memory, in KiB.
type memory struct {
	RSS int64 `json:"rssKiB"` // VmRSS, summed over the processes
	HWM int64 `json:"hwmKiB"` // VmHWM (peak RSS), summed
	PSS int64 `json:"pssKiB"` // Pss from smaps_rollup, summed: shared pages counted once
	// Anon is the anonymous part of RSS (heap, stacks, runtime), summed;
	// the rest is mapped files, mostly the binary's own pages.
	Anon int64 `json:"anonKiB"`
	N    int   `json:"processes"`
}

// readMemory reads pid and its children (nginx's workers).
func readMemory(pid int) (memory, error) {
	var m memory
	for _, p := range append([]int{pid}, childPids(pid)...) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p))
		if err != nil {
			return m, err
		}
		rss, hwm, err := parseStatus(b)
		if err != nil {
			return m, fmt.Errorf("/proc/%d/status: %w", p, err)
		}
		m.RSS += rss
		m.HWM += hwm
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", p)); err == nil {
			m.PSS += parseKB(b, "Pss:")
			m.Anon += parseKB(b, "Anonymous:")
		}
		m.N++
	}
	return m, nil
}

// parseStatus returns VmRSS and VmHWM of a /proc/PID/status, in KiB.
func parseStatus(b []byte) (rss, hwm int64, err error) {
	rss, hwm = parseKB(b, "VmRSS:"), parseKB(b, "VmHWM:")
	if rss <= 0 {
		return 0, 0, errors.New("no VmRSS")
	}
	return rss, hwm, nil
}

// parseKB returns the value of a "Key:   123 kB" line, or -1.
func parseKB(b []byte, key string) int64 {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, key); ok {
			f := strings.Fields(rest)
			if len(f) >= 1 {
				if v, err := strconv.ParseInt(f[0], 10, 64); err == nil {
					return v
				}
			}
		}
	}
	return -1
}

// procStat is what the orchestrator needs from /proc/PID/stat.
type procStat struct {
	state        string
	ppid         int
	utime, stime int64 // clock ticks
}

func parseStat(b []byte) (procStat, error) {
	// The command name (field 2) is in parentheses and may hold spaces.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return procStat{}, errors.New("malformed stat")
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return procStat{}, errors.New("malformed stat")
	}
	ppid, _ := strconv.Atoi(f[1])
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return procStat{state: f[0], ppid: ppid, utime: ut, stime: st}, nil
}

// childPids lists the live processes whose parent is pid.
func childPids(pid int) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		if st, err := parseStat(b); err == nil && st.ppid == pid && st.state != "Z" {
			out = append(out, p)
		}
	}
	return out
}

// clockTicks is USER_HZ, 100 on every Linux architecture Go supports for
// this program's purpose.
const clockTicks = 100

// cpuTime returns the CPU time used so far by pid and its children (the
// live ones: nginx's workers run for the whole benchmark).
func cpuTime(pid int) time.Duration {
	var ticks int64
	for _, p := range append([]int{pid}, childPids(pid)...) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p))
		if err != nil {
			continue
		}
		if st, err := parseStat(b); err == nil {
			ticks += st.utime + st.stime
		}
	}
	return time.Duration(ticks) * time.Second / clockTicks
}

// machineBusy returns the CPU time all CPUs spent in processes since boot
// (user, nice, system and steal from /proc/stat), so that a run can tell
// how much of the machine something else used. Interrupt and softirq time
// is left out: loopback TCP is processed there, and it is the benchmark's
// own traffic, charged to no process.
func machineBusy() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	return parseMachineBusy(b)
}

func parseMachineBusy(b []byte) time.Duration {
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0
	}
	var ticks int64
	for _, i := range []int{1, 2, 3, 8} { // user nice system steal
		v, _ := strconv.ParseInt(f[i], 10, 64)
		ticks += v
	}
	return time.Duration(ticks) * time.Second / clockTicks
}
