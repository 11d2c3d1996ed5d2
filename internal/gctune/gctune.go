// Package gctune sets the garbage collector's pace for the server.
//
// The Go runtime's default (GOGC=100) starts a collection each time the heap
// doubles. This service's live heap is small (caches and pools) while a
// request allocates a good part of it again (a nested page builds thousands
// of small values), so at the default the collector runs every few requests,
// and the load benchmark's saturation rate is markedly lower (BENCHMARKS.md,
// gctune). DefaultPercent lets the heap grow to five times its live size
// between collections instead, a modest amount of memory for a small live
// heap. An operator's GOGC (or GOMEMLIMIT, to cap the heap) always wins.
package gctune

import (
	"runtime/debug"
	"strconv"
)

// DefaultPercent is the GOGC value the server uses when none is set.
const DefaultPercent = 400

// Apply sets the collector's target percentage to DefaultPercent unless the
// environment sets GOGC, which the runtime has then already applied. It
// returns the percentage in force and whether it came from the environment.
func Apply(getenv func(string) string) (percent int, fromEnv bool) {
	if v := getenv("GOGC"); v != "" {
		if v == "off" {
			return -1, true
		}
		p, err := strconv.Atoi(v)
		if err != nil {
			return 100, true // the runtime ignores a malformed GOGC
		}
		return p, true
	}
	debug.SetGCPercent(DefaultPercent)
	return DefaultPercent, false
}
