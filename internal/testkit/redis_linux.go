package testkit

import (
	"os/exec"
	"syscall"
)

// killWithParent makes the kernel kill redis-server when the test binary
// dies (a timeout panic, a SIGKILL), so that no server outlives it holding
// a port.
func killWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
