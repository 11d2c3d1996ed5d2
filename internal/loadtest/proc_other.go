//go:build !linux

package main

import (
	"os/exec"
	"time"
)

// setProcAttr leaves the server process in this process's group.
func setProcAttr(*exec.Cmd) {}

// pidCPU is not measured on this platform: the report then leaves the
// multi-process CPU figure out.
func pidCPU(int) (time.Duration, bool) { return 0, false }
