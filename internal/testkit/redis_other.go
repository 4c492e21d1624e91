//go:build !linux

package testkit

import "os/exec"

// killWithParent has no portable equivalent off Linux; the test's cleanup
// stops the server when the test ends normally.
func killWithParent(*exec.Cmd) {}
