package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"regexp"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/frsvc/fulfillment/internal/testdb"
)

// TestMain lets this test binary serve as the server processes of
// multi-process mode: they are os.Executable re-executed with
// serveChildArg, which here is the test binary.
func TestMain(m *testing.M) {
	if isChild() {
		os.Exit(childMain())
	}
	os.Exit(m.Run())
}

// TestSeedAndCheck exercises the benchmark on a small SQLite data set: seed,
// both servers, the GraphQL vs baseline correctness check, a few requests of
// each load model and the report. It is not a measurement.
func TestSeedAndCheck(t *testing.T) {
	ctx := context.Background()
	e, err := setup(ctx, "sqlite", 60, "", t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	defer e.close()
	if e.seed.Orders != 60 || e.seed.Lines < 120 || e.seed.FRs < 60 || e.seed.Items != e.seed.Lines || e.seed.Logs < 3*(60+e.seed.FRs) {
		t.Fatalf("seeded %s", e.seed)
	}
	c := newClient(5*time.Second, 16)
	defer c.CloseIdleConnections()
	sum, size, err := checkSame(ctx, c, e.ours, e.base)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Orders != pageOrders || size == 0 {
		t.Fatalf("page: %s, %d bytes", sum, size)
	}
	t.Logf("page: %s, %d bytes", sum, size)

	lo := loadOptions{MaxOutstanding: 100, P99Bound: 5 * time.Second}
	rep := dbReport{Kind: "sqlite", Seed: e.seed, Page: sum, PageBytes: size}
	for _, tg := range []target{e.ours, e.base} {
		open := openLoop(ctx, c, tg, 20, 250*time.Millisecond, lo)
		closed := closedLoop(ctx, c, tg, 2, 100*time.Millisecond, lo)
		for _, r := range []stepResult{open, closed} {
			if r.OK == 0 || r.Failed+r.Dropped > 0 || r.P50 == failed {
				t.Fatalf("%s: %s", tg.name, describe(r))
			}
		}
		sr := serverReport{Closed: closed, Steps: []stepResult{open}, Saturation: 20}
		if tg.name == "ours" {
			rep.Ours = sr
		} else {
			rep.Base = sr
		}
	}
	var out strings.Builder
	writeReport(&out, options{Rates: []float64{20}, Clients: 2, Step: 250 * time.Millisecond, Closed: 100 * time.Millisecond, P99Bound: lo.P99Bound},
		[]dbReport{rep}, time.Second)
	if !strings.Contains(out.String(), "| p99 @ 20 req/s |") {
		t.Fatalf("report:\n%s", out.String())
	}
}

func TestParseOptions(t *testing.T) {
	o, err := parseOptions([]string{"-db", "sqlite", "-rates", "50, 10,10", "-quick"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Rates) != 2 || o.Rates[0] != 10 || o.Rates[1] != 50 || o.Orders != 500 || o.Step != 2*time.Second {
		t.Fatalf("%+v", o)
	}
	if _, err := parseOptions([]string{"-db", "mysql"}, io.Discard); err == nil {
		t.Fatal("want an error for -db mysql")
	}
	if o, err := parseOptions(nil, io.Discard); err != nil || o.Processes != 1 || o.DB != "both" {
		t.Fatalf("defaults: %+v, %v", o, err)
	}
	if o, err := parseOptions([]string{"-processes", "3"}, io.Discard); err != nil || o.Processes != 3 || o.DB != "postgres" {
		t.Fatalf("-processes 3: %+v, %v", o, err)
	}
	for _, args := range [][]string{
		{"-processes", "2", "-db", "sqlite"},
		{"-processes", "2", "-db", "both"},
		{"-processes", "0"},
		{"-processes", "2", "-cpuprofile", "x"},
	} {
		if _, err := parseOptions(args, io.Discard); err == nil {
			t.Errorf("%q: want an error", args)
		}
	}
	if o, err := parseOptions([]string{"-processes", "1", "-db", "sqlite"}, io.Discard); err != nil || o.DB != "sqlite" {
		t.Fatalf("-processes 1 -db sqlite: %+v, %v", o, err)
	}
	for in, want := range map[float64]float64{0.5: 0, 1.2: 1, 37.4: 37, 123: 120, 1478: 1500} {
		if got := niceRate(in); got != want {
			t.Errorf("niceRate(%g) = %g, want %g", in, got, want)
		}
	}
}

// multiProcessArgs are a short multi-process run: two server processes on
// PostgreSQL, one fixed rate, one search rate.
func multiProcessArgs(t *testing.T) []string {
	if !slices.Contains(testdb.Kinds(t), testdb.Postgres) { // fails instead with REQUIRE_POSTGRES=1
		t.Skip("TEST_DATABASE_URL is not set")
	}
	if testing.Short() {
		t.Skip("starts server processes and runs load")
	}
	return []string{"-db", "postgres", "-processes", "2", "-pg-url", os.Getenv("TEST_DATABASE_URL"), "-quick",
		"-orders", "200", "-rates", "20", "-min-samples", "40", "-step", "1s", "-closed", "1s", "-warmup", "200ms",
		"-search", "0.8", "-refine", "0"}
}

// TestMultiProcess runs the command with two server processes on one
// PostgreSQL database and checks, from the report, that each passed the
// correctness check and answered about half of the requests (as its own
// /metrics counts them), and that none is left running.
func TestMultiProcess(t *testing.T) {
	args := multiProcessArgs(t)
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	var out, logs bytes.Buffer
	err := run(context.Background(), args, &out, &logs)
	report := out.String()
	if err != nil {
		t.Fatalf("run: %v\nlog:\n%s\nreport:\n%s", err, logs.String(), report)
	}
	t.Logf("log:\n%s", logs.String())
	for _, want := range []string{
		"Ours is served by **2 server processes**",
		"Correctness check passed for each of the 2 server processes",
		"Ours was served by 2 server processes.",
		"| CPU per request, closed loop (ours: its 2 server processes + the load generator; baseline: this process) |",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("the report does not say %q", want)
		}
	}
	if n := strings.Count(logs.String(), "correctness check passed for server process"); n != 2 {
		t.Errorf("%d server processes passed the correctness check, want 2", n)
	}
	m := regexp.MustCompile(`process (\d+) \(pid (\d+)\): (\d+)`).FindAllStringSubmatch(report, -1)
	if len(m) != 2 {
		t.Fatalf("want 2 processes' operation counts in the report, got %q\nreport:\n%s", m, report)
	}
	var ops [2]int
	var pids [2]int
	for i, sm := range m {
		pids[i], _ = strconv.Atoi(sm[2])
		ops[i], _ = strconv.Atoi(sm[3])
	}
	// Round-robin: each should have answered half (±1 per run); allow for
	// a few requests that failed before reaching GraphQL.
	if total := ops[0] + ops[1]; ops[0] < 50 || ops[1] < 50 || ops[0]*10 < total*4 || ops[1]*10 < total*4 {
		t.Errorf("operations answered by the two processes: %d and %d\nreport:\n%s", ops[0], ops[1], report)
	}
	if pids[0] == pids[1] || pids[0] == os.Getpid() {
		t.Errorf("pids %v (this process %d)", pids, os.Getpid())
	}
	for _, pid := range pids {
		if p, err := os.FindProcess(pid); err == nil {
			if err := p.Signal(syscall.Signal(0)); err == nil {
				t.Errorf("server process %d is still running", pid)
			}
		}
	}
	assertNoChildren(t)
	if t.Failed() {
		t.Logf("report:\n%s", report)
	}
}

// TestMultiProcessInterrupted interrupts a multi-process run during the
// load and checks that its server processes are stopped and waited for.
func TestMultiProcessInterrupted(t *testing.T) {
	args := multiProcessArgs(t)
	if runtime.GOOS != "linux" {
		t.Skip("finds the server processes in /proc")
	}
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, io.Discard, &logs) }()
	deadline := time.Now().Add(30 * time.Second)
	for len(serverChildren(t)) < 2 {
		if time.Now().After(deadline) {
			t.Fatal("no two server processes after 30s")
		}
		select {
		case err := <-done:
			t.Fatalf("run ended before its server processes started: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	time.Sleep(time.Second) // into the load
	cancel()
	select {
	case err := <-done:
		t.Logf("log:\n%s", logs.String())
		if !errors.Is(err, context.Canceled) {
			t.Errorf("run: %v, want context.Canceled", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not end within 30s of its context")
	}
	assertNoChildren(t)
}

// serverChildren are this process's children started as server processes,
// running or not yet waited for, from /proc.
func serverChildren(t *testing.T) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(stat, ')')
		f := strings.Fields(string(stat[i+1:])) // state, ppid, …
		if i < 0 || len(f) < 2 || f[1] != strconv.Itoa(os.Getpid()) {
			continue
		}
		if cmdline, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline"); bytes.Contains(cmdline, []byte(serveChildArg)) ||
			f[0] == "Z" {
			pids = append(pids, pid)
		}
	}
	return pids
}

func assertNoChildren(t *testing.T) {
	t.Helper()
	if runtime.GOOS != "linux" {
		return
	}
	if pids := serverChildren(t); len(pids) > 0 {
		t.Errorf("server processes left running or unwaited: %v", pids)
	}
}

// TestTurns: steps run one at a time, the parties alternating while both
// have steps left; a party that is done leaves the rotation.
func TestTurns(t *testing.T) {
	tn := newTurns(2)
	var (
		mu      sync.Mutex
		order   []int
		running atomic.Int32
	)
	steps := []int{3, 5}
	var wg sync.WaitGroup
	for i, n := range steps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer tn.finish(i)
			for range n {
				tn.run(i, func() {
					if running.Add(1) != 1 {
						t.Error("two steps ran at once")
					}
					time.Sleep(time.Millisecond)
					mu.Lock()
					order = append(order, i)
					mu.Unlock()
					running.Add(-1)
				})
			}
		}()
	}
	wg.Wait()
	if want := []int{0, 1, 0, 1, 0, 1, 1, 1}; !slices.Equal(order, want) {
		t.Fatalf("steps ran in the order %v, want %v", order, want)
	}
}
