//go:build !linux

package redistest

import "os/exec"

// killWithParent has no portable equivalent off Linux; t.Cleanup stops the
// server when the test ends normally.
func killWithParent(*exec.Cmd) {}
