package gctune

import (
	"runtime/debug"
	"testing"
)

func TestApply(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))

	env := map[string]string{}
	getenv := func(k string) string { return env[k] }
	if p, fromEnv := Apply(getenv); p != DefaultPercent || fromEnv {
		t.Fatalf("no GOGC: got %d, %v", p, fromEnv)
	}
	if got := debug.SetGCPercent(100); got != DefaultPercent {
		t.Fatalf("no GOGC: the runtime's percentage is %d, want %d", got, DefaultPercent)
	}

	// The runtime has applied the operator's GOGC at start: Apply leaves
	// the percentage alone and reports it.
	env["GOGC"] = "150"
	debug.SetGCPercent(150)
	if p, fromEnv := Apply(getenv); p != 150 || !fromEnv {
		t.Fatalf("GOGC=150: got %d, %v", p, fromEnv)
	}
	if got := debug.SetGCPercent(150); got != 150 {
		t.Fatalf("GOGC=150: the runtime's percentage became %d", got)
	}
	env["GOGC"] = "off"
	if p, fromEnv := Apply(getenv); p != -1 || !fromEnv {
		t.Fatalf("GOGC=off: got %d, %v", p, fromEnv)
	}
}
