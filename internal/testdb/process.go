package testdb

// process.go is the set-up shared by the tests that run the server itself
// (the binary, or run() in a goroutine) and by those that drive the app's
// goroutines: safe output buffers, a settable clock, the wait for the
// server to serve.

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"
)

// Buffer is a bytes.Buffer safe for a server's goroutines (or a child
// process's output) and the test reading it at once.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns everything written so far.
func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Clock is a settable clock (for app.Config.Now, or a send runner's): it
// moves only when the test advances it.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock standing at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Getenv returns a getenv over vars alone (run() reads its environment
// through one), so that a test's server sees none of the machine's.
func Getenv(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// ServingLine is what the server prints once it listens; its group is the
// base URL (http://host:port).
var ServingLine = regexp.MustCompile(`Serving GraphQL at (http://\S+)/query`)

// WaitServing polls out until the server prints ServingLine and returns
// the base URL. It fails the test when exited yields first (the server
// stopped before serving) or when nothing shows within timeout; the failure
// shows out and the other outputs given.
func WaitServing(t testing.TB, out fmt.Stringer, exited <-chan error, timeout time.Duration, others ...fmt.Stringer) string {
	t.Helper()
	output := func() string {
		s := "output:\n" + out.String()
		for _, o := range others {
			s += "\nother output:\n" + o.String()
		}
		return s
	}
	for deadline := time.Now().Add(timeout); ; {
		if m := ServingLine.FindStringSubmatch(out.String()); m != nil {
			return m[1]
		}
		select {
		case err := <-exited:
			t.Fatalf("the server stopped before serving: %v\n%s", err, output())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server is not serving after %s\n%s", timeout, output())
		}
	}
}

// WaitFor checks cond every interval until it holds; once timeout has
// passed without it, it fails t with what() says.
func WaitFor(t testing.TB, timeout, interval time.Duration, cond func() bool, what func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal(what())
		}
		time.Sleep(interval)
	}
}

// BuildServer builds the server binary (the module's main package) to bin;
// the error carries the compiler's output.
func BuildServer(bin string) error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, out)
	}
	return nil
}

// moduleRoot is the folder of the go.mod above the working directory (a
// test runs in its package's folder).
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}
