package main

import (
	"bytes"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"
)

// setProcAttr puts a server process in a process group of its own, so that
// a terminal's Ctrl-C (SIGINT to the foreground group) reaches only this
// process, which then stops the server processes in order.
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// clockTicks is the unit of /proc/<pid>/stat's times (USER_HZ, which
// `getconf CLK_TCK` reports): 100 on the Linux architectures Go runs on.
const clockTicks = 100

// pidCPU returns the CPU time (user and system) process pid has used, from
// /proc/<pid>/stat (fields 14 and 15, in clock ticks).
func pidCPU(pid int) (time.Duration, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	// The command name (field 2) is in parentheses and may hold spaces
	// and parentheses itself: the fields that matter follow the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false
	}
	f := bytes.Fields(b[i+1:]) // f[0] is field 3 (state)
	if len(f) < 13 {
		return 0, false
	}
	utime, err1 := strconv.ParseInt(string(f[11]), 10, 64)
	stime, err2 := strconv.ParseInt(string(f[12]), 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(utime+stime) * time.Second / clockTicks, true
}
