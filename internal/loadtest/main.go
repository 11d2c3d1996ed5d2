// Command loadtest is the service's load benchmark (make bench-load). For
// each database it seeds a fresh data set, serves the real HTTP handler and a
// hand-written raw-SQL baseline of the same page on loopback ports in this
// process, checks that both answer the same, then drives both with an open
// model (constant arrival rates, latency from the scheduled send time) and a
// closed loop, and prints a markdown table: throughput at saturation, p50 and
// p99 at fixed rates, and ours/baseline ratios against the goals.
//
//	go run ./internal/loadtest [-db sqlite|postgres|both] [-orders 2000] [-step 5s] [-quick] [-processes N] …
//
// With -processes N (N > 1, PostgreSQL only: -db defaults to postgres then,
// and sqlite or both is refused), "ours" is served not in this process but by
// N server processes, this binary re-executed, each with its own handler and
// connection pool on the one freshly seeded database; the load generator
// sends its requests to them in turn (round-robin). Each of them must pass
// the correctness check on its own; the report says how many served, how
// many GraphQL operations each answered (from its /metrics), and counts
// their CPU time (from /proc/<pid>/stat) in the CPU per request. The
// baseline stays in this process. This shows stateless replicas on one
// PostgreSQL serving the same page; on a machine with few cores expect no
// speed-up, since the processes, the load generator and PostgreSQL share
// them. The server processes stop when this process ends, however it ends
// (SIGTERM on the way out, and the end of their stdin if it dies).
//
// The whole run takes about a quarter of an hour on two cores (each fixed
// rate runs for at least -min-samples requests); -quick cuts it to about one.
package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/frsvc/fulfillment/internal/db"
	"github.com/frsvc/fulfillment/internal/gctune"
)

func main() {
	if isChild() {
		os.Exit(childMain())
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

// options are the command's flags.
type options struct {
	DB             string
	Orders         int
	PGURL          string
	Rates          []float64 // fixed rates for p50/p99
	Search         []float64 // saturation search: fractions of the closed-loop throughput
	Step           time.Duration
	Closed         time.Duration
	Warmup         time.Duration
	Clients        int
	MaxOutstanding int
	Timeout        time.Duration
	P99Bound       time.Duration
	CPUProfile     string
	Refine         int
	MinSamples     int // fixed rates run at least this many requests
	GCPercent      int // the collector's pace in force (gctune)
	Processes      int // server processes serving "ours"; 1: this process serves it
}

func parseOptions(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := options{}
	fs.StringVar(&o.DB, "db", "both", "database: sqlite, postgres or both (postgres when -processes is above 1)")
	fs.IntVar(&o.Orders, "orders", 2000, "orders to seed")
	fs.StringVar(&o.PGURL, "pg-url", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable",
		"PostgreSQL server to create the throwaway database on")
	rates := fs.String("rates", "10,25,50,100", "fixed arrival rates (req/s) at which p50 and p99 are compared")
	search := fs.String("search", "0.7,0.9,1.1", "saturation search: arrival rates as fractions of the closed-loop throughput")
	fs.IntVar(&o.Refine, "refine", 4, "saturation search: extra rates tried to narrow the saturation point down (to within 5%)")
	fs.DurationVar(&o.Step, "step", 5*time.Second, "how long each arrival rate is offered")
	fs.IntVar(&o.MinSamples, "min-samples", 1000, "fixed rates run at least this many requests (longer than -step at low rates), so that p99 is not the largest of a few dozen, nor one stall of the machine's")
	fs.DurationVar(&o.Closed, "closed", 5*time.Second, "how long the closed-loop run lasts")
	fs.DurationVar(&o.Warmup, "warmup", time.Second, "closed-loop warm-up before measuring each server")
	fs.IntVar(&o.Clients, "clients", 16, "closed-loop concurrent clients")
	fs.IntVar(&o.MaxOutstanding, "max-outstanding", 2000, "open loop: requests in flight before further ones are dropped (counted as failed)")
	fs.DurationVar(&o.Timeout, "timeout", 10*time.Second, "per-request client timeout (bounds each step's drain)")
	fs.DurationVar(&o.P99Bound, "p99", time.Second, "a rate counts as sustained only with p99 below this")
	fs.StringVar(&o.CPUProfile, "cpuprofile", "", "write a CPU profile of the whole process during our closed-loop run to FILE.<db>.pprof")
	fs.IntVar(&o.Processes, "processes", 1, "serve \"ours\" from `N` server processes (this binary re-executed) on the one PostgreSQL database, "+
		"requests spread over them round-robin, instead of from this process; above 1 it needs -db postgres, the default then")
	quick := fs.Bool("quick", false, "short run: -orders 500 -step 2s -closed 2s -warmup 300ms -search 0.8,1.1 -refine 1 -min-samples 100")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if *quick {
		if !set["orders"] {
			o.Orders = 500
		}
		if !set["step"] {
			o.Step = 2 * time.Second
		}
		if !set["closed"] {
			o.Closed = 2 * time.Second
		}
		if !set["warmup"] {
			o.Warmup = 300 * time.Millisecond
		}
		if !set["search"] {
			*search = "0.8,1.1"
		}
		if !set["refine"] {
			o.Refine = 1
		}
		if !set["min-samples"] {
			o.MinSamples = 100
		}
	}
	switch o.DB {
	case "sqlite", "postgres", "both":
	default:
		return o, fmt.Errorf("-db: %q is not sqlite, postgres or both", o.DB)
	}
	switch {
	case o.Processes < 1:
		return o, errors.New("-processes must be positive")
	case o.Processes == 1:
	case !set["db"]:
		o.DB = "postgres"
	case o.DB != "postgres":
		return o, fmt.Errorf("-processes %d: several server processes run on PostgreSQL only; use -db postgres (-db %s is allowed with -processes 1 only)", o.Processes, o.DB)
	}
	if o.Processes > 1 && o.CPUProfile != "" {
		return o, errors.New("-cpuprofile profiles this process only: it needs -processes 1")
	}
	if o.Orders < 1 {
		return o, errors.New("-orders must be positive")
	}
	var err error
	if o.Rates, err = parseFloats(*rates); err != nil {
		return o, fmt.Errorf("-rates: %w", err)
	}
	if o.Search, err = parseFloats(*search); err != nil {
		return o, fmt.Errorf("-search: %w", err)
	}
	if o.Step <= 0 || o.Closed <= 0 || o.Clients < 1 || o.MaxOutstanding < 1 || o.Timeout <= 0 {
		return o, errors.New("-step, -closed, -timeout, -clients and -max-outstanding must be positive")
	}
	return o, nil
}

func parseFloats(s string) ([]float64, error) {
	var out []float64
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		v, err := strconv.ParseFloat(f, 64)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("%q is not a positive number", f)
		}
		out = append(out, v)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseOptions(args, stderr)
	if err != nil {
		return err
	}
	// Server processes' stderr is logged from goroutines of its own.
	var logMu sync.Mutex
	logf := func(format string, a ...any) {
		logMu.Lock()
		defer logMu.Unlock()
		fmt.Fprintf(stderr, format+"\n", a...)
	}
	// The service logs a few things through the default logger (such as a
	// key lookup cut short by a client that gave up): formatted, then
	// dropped, like its access log here.
	defer slog.SetDefault(slog.Default())
	slog.SetDefault(slog.New(slog.NewJSONHandler(io.Discard, nil)))
	kinds := []string{o.DB}
	if o.DB == "both" {
		kinds = []string{"sqlite", "postgres"}
	}
	started := time.Now()
	// The collector's pace as the server sets it (server.go): one process
	// holds both servers and the load generator, so all three share it.
	// (Server processes of -processes apply it to themselves, from the
	// same environment.)
	gcPercent, _ := gctune.Apply(os.Getenv)
	o.GCPercent = gcPercent
	logf("load test: %s, %d orders, steps of %s, closed loop %s × %d clients, GOMAXPROCS %d, GOGC %d, ours in %s",
		strings.Join(kinds, " and "), o.Orders, o.Step, o.Closed, o.Clients, runtime.GOMAXPROCS(0), gcPercent, processesString(o.Processes))
	var reports []dbReport
	var errs []error
	for _, kind := range kinds {
		if ctx.Err() != nil {
			break
		}
		r, err := runDatabase(ctx, kind, o, logf)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", kind, err))
			logf("%s: %v", kind, err)
			continue
		}
		reports = append(reports, r)
	}
	writeReport(stdout, o, reports, time.Since(started))
	if ctx.Err() != nil {
		errs = append(errs, ctx.Err())
	}
	return errors.Join(errs...)
}

// env is one seeded database with both servers running over it.
type env struct {
	kind  string
	seed  seeded
	stmts *stmtCounter // counts the service's SQL statements (in this process)
	ours  target
	base  target
	// procs are the server processes serving ours in multi-process mode
	// (none when this process serves it).
	procs  []*serverProcess
	closeF []func()
}

func (e *env) close() {
	for i := len(e.closeF) - 1; i >= 0; i-- {
		e.closeF[i]()
	}
}

// setup creates and seeds a fresh database of the kind and starts both
// servers on loopback ports.
func setup(ctx context.Context, kind string, orders int, pgURL string, logf func(string, ...any)) (*env, error) {
	return setupProcesses(ctx, kind, orders, pgURL, 1, logf)
}

// setupProcesses is setup with ours served by processes server processes
// (PostgreSQL only) when that is above 1.
func setupProcesses(ctx context.Context, kind string, orders int, pgURL string, processes int, logf func(string, ...any)) (_ *env, err error) {
	if processes > 1 && kind != "postgres" {
		return nil, fmt.Errorf("%d server processes: PostgreSQL only", processes)
	}
	e := &env{kind: kind}
	defer func() {
		if err != nil {
			e.close()
		}
	}()
	var rawURL string
	switch kind {
	case "sqlite":
		dir, err := os.MkdirTemp("", "loadtest-")
		if err != nil {
			return nil, err
		}
		e.closeF = append(e.closeF, func() { _ = os.RemoveAll(dir) })
		rawURL = "file:" + filepath.Join(dir, "loadtest.db")
	case "postgres":
		u, drop, err := createPostgres(ctx, pgURL)
		if err != nil {
			return nil, err
		}
		e.closeF = append(e.closeF, drop)
		rawURL = u
	default:
		return nil, fmt.Errorf("unknown database %q", kind)
	}

	// Ours: built as server.go builds it (internal/app), the store's
	// statement count feeding the metrics. (In multi-process mode this store only seeds;
	// each server process opens its own the same way.)
	ours, err := ourApp(ctx, rawURL)
	if err != nil {
		return nil, err
	}
	store := ours.Store
	e.stmts = &stmtCounter{s: store}
	e.closeF = append(e.closeF, func() { _ = ours.Close() })
	if e.seed, err = seed(ctx, store, orders); err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	logf("%s: seeded %s", kind, e.seed)
	if kind == "postgres" {
		// Planner statistics for the bulk load, as autovacuum's autoanalyze
		// gathers them within a minute of it: the steady state a server
		// runs in. (SQLite keeps none unless asked; its plans come from the
		// indexes alone.)
		if _, err := store.DB.ExecContext(ctx, "ANALYZE"); err != nil {
			return nil, fmt.Errorf("analyze: %w", err)
		}
	}

	// The baseline gets its own pool, opened by the same rules (DSN,
	// pragmas, pool size) as the service's.
	baseStore, err := db.Open(rawURL, db.Config{})
	if err != nil {
		return nil, err
	}
	e.closeF = append(e.closeF, func() { _ = baseStore.Close() })

	body, _ := json.Marshal(map[string]string{"query": pageQuery})
	e.ours = target{name: "ours", method: http.MethodPost, body: body, key: e.seed.Key}
	if processes > 1 {
		checkConnections(ctx, store, processes, logf)
		if e.procs, err = startProcesses(ctx, processes, rawURL, &e.closeF, logf); err != nil {
			return nil, err
		}
		rr := &roundRobin{}
		for _, p := range e.procs {
			rr.urls = append(rr.urls, p.url+"/query")
		}
		e.ours.url, e.ours.rr, e.ours.serverCPU = rr.urls[0], rr, serversCPU(e.procs)
		pids := make([]string, len(e.procs))
		for i, p := range e.procs {
			pids[i] = strconv.Itoa(p.pid())
		}
		logf("%s: ours served by %d server processes (pids %s)", kind, len(e.procs), strings.Join(pids, ", "))
	} else {
		oursURL, err := serve(ours.Handler, &e.closeF)
		if err != nil {
			return nil, err
		}
		e.ours.url = oursURL + "/query"
	}
	baseURL, err := serve(&baseline{db: baseStore.DB, postgres: baseStore.Postgres(), accountID: e.seed.AccountID}, &e.closeF)
	if err != nil {
		return nil, err
	}
	e.base = target{name: "baseline", url: baseURL + "/orders", method: http.MethodGet}
	return e, nil
}

// processTarget is ours as served by one server process alone.
func (e *env) processTarget(p *serverProcess) target {
	t := e.ours
	t.name = fmt.Sprintf("ours in %s", p)
	t.url, t.rr, t.serverCPU = p.url+"/query", nil, nil
	return t
}

func processesString(n int) string {
	if n == 1 {
		return "this process"
	}
	return fmt.Sprintf("%d server processes", n)
}

// serve starts h on a loopback port.
func serve(h http.Handler, closers *[]func()) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	srv := newServer(h)
	go func() { _ = srv.Serve(ln) }()
	*closers = append(*closers, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return "http://" + ln.Addr().String(), nil
}

// createPostgres creates a throwaway database on the server and returns its
// URL and a function that drops it.
func createPostgres(ctx context.Context, base string) (string, func(), error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", nil, fmt.Errorf("-pg-url: %w", err)
	}
	admin, err := sql.Open("postgres", base)
	if err != nil {
		return "", nil, err
	}
	defer admin.Close()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "loadtest_" + hex.EncodeToString(b)
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		return "", nil, fmt.Errorf("create database on %s: %w", u.Redacted(), err)
	}
	drop := func() {
		a, err := sql.Open("postgres", base)
		if err != nil {
			return
		}
		defer a.Close()
		dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := a.ExecContext(dctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			fmt.Fprintf(os.Stderr, "loadtest: drop database %s: %v\n", name, err)
		}
	}
	u.Path = "/" + name
	return u.String(), drop, nil
}

// serverReport is one server's runs.
type serverReport struct {
	Closed     stepResult
	Steps      []stepResult
	Saturation float64 // highest sustained rate, 0 when none was
	SatBounded bool    // a higher rate was tried and failed
}

// dbReport is one database's runs.
type dbReport struct {
	Kind      string
	Seed      seeded
	Page      pageSummary
	PageBytes int
	// Statements is how many SQL statements the service sent for one page
	// (the baseline sends baselineStatements).
	Statements int64
	Ours       serverReport
	Base       serverReport
	// Processes are the server processes that served ours in
	// multi-process mode (none when this process served it).
	Processes []processReport
}

// processReport is what one server process did, from its /metrics.
type processReport struct {
	PID int
	// Operations is how many GraphQL operations it answered in the whole
	// run (correctness check, warm-up and load).
	Operations int64
	// Statements is how many SQL statements it sent for its correctness
	// check's page.
	Statements int64
}

func runDatabase(ctx context.Context, kind string, o options, logf func(string, ...any)) (dbReport, error) {
	e, err := setupProcesses(ctx, kind, o.Orders, o.PGURL, o.Processes, logf)
	if err != nil {
		return dbReport{}, err
	}
	defer e.close()
	c := newClient(o.Timeout, o.MaxOutstanding)
	defer c.CloseIdleConnections()
	rep := dbReport{Kind: kind, Seed: e.seed}
	if len(e.procs) == 0 {
		e.stmts.Reset()
		if rep.Page, rep.PageBytes, err = checkSame(ctx, c, e.ours, e.base); err != nil {
			return rep, fmt.Errorf("correctness check: %w", err)
		}
		rep.Statements = e.stmts.Count()
		logf("%s: correctness check passed: both pages hold %s (%d bytes); the service sent %d SQL statements",
			kind, rep.Page, rep.PageBytes, rep.Statements)
	} else if err := checkProcesses(ctx, c, e, &rep, logf); err != nil {
		return rep, err
	}
	// The two servers take turns, step by step (see turns). Each step
	// starts after a collection, so that neither pays for the garbage of
	// the other's last step; the first error stops both.
	targets := []target{e.ours, e.base}
	results := make([]serverReport, len(targets))
	errs := make([]error, len(targets))
	tn := newTurns(len(targets))
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer tn.finish(i)
			lo := loadOptions{MaxOutstanding: o.MaxOutstanding, P99Bound: o.P99Bound,
				Turn: func(step func()) {
					tn.run(i, func() {
						runtime.GC()
						step()
					})
				}}
			if results[i], errs[i] = loadServer(lctx, c, t, kind, o, lo, logf); errs[i] != nil {
				cancel()
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		if ctx.Err() != nil {
			return rep, ctx.Err()
		}
		return rep, err
	}
	rep.Ours, rep.Base = results[0], results[1]
	c.CloseIdleConnections()
	for i, p := range e.procs {
		pm, err := scrapeMetrics(ctx, c, p.url)
		if err != nil {
			return rep, fmt.Errorf("%s: %w", p, err)
		}
		rep.Processes[i].Operations = pm.Operations
	}
	return rep, nil
}

// checkProcesses runs the correctness check against each server process on
// its own, counting the statements each sent from its /metrics.
func checkProcesses(ctx context.Context, c *http.Client, e *env, rep *dbReport, logf func(string, ...any)) error {
	for i, p := range e.procs {
		before, err := scrapeMetrics(ctx, c, p.url)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		page, size, err := checkSame(ctx, c, e.processTarget(p), e.base)
		if err != nil {
			return fmt.Errorf("correctness check: %w", err)
		}
		after, err := scrapeMetrics(ctx, c, p.url)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		pr := processReport{PID: p.pid(), Statements: after.Statements - before.Statements}
		rep.Processes = append(rep.Processes, pr)
		if i == 0 {
			rep.Page, rep.PageBytes, rep.Statements = page, size, pr.Statements
		}
		logf("%s: correctness check passed for %s: both pages hold %s (%d bytes); it sent %d SQL statements",
			e.kind, p, page, size, pr.Statements)
	}
	return nil
}

// loadServer warms a server up, measures its closed-loop throughput, then
// offers it the fixed rates and the saturation search's rates in ascending
// order, each step in its turn (lo.Turn). Search rates above the first rate that is not sustained are
// skipped; fixed rates always run, since they are compared at equal load.
// Up to -refine more rates then narrow the saturation point down.
func loadServer(ctx context.Context, c *http.Client, t target, kind string, o options, lo loadOptions, logf func(string, ...any)) (serverReport, error) {
	var sr serverReport
	var err error
	lo.step(func() {
		if o.Warmup > 0 {
			closedLoop(ctx, c, t, min(o.Clients, 4), o.Warmup, lo)
		}
		if o.CPUProfile != "" && t.name == "ours" {
			var f *os.File
			if f, err = os.Create(o.CPUProfile + "." + kind + ".pprof"); err != nil {
				return
			}
			defer f.Close()
			if err = pprof.StartCPUProfile(f); err != nil {
				return
			}
			sr.Closed = closedLoop(ctx, c, t, o.Clients, o.Closed, lo)
			pprof.StopCPUProfile()
		} else {
			sr.Closed = closedLoop(ctx, c, t, o.Clients, o.Closed, lo)
		}
		c.CloseIdleConnections()
	})
	if err != nil {
		return sr, err
	}
	logf("%s %s: closed loop, %d clients: %s", kind, t.name, o.Clients, describe(sr.Closed))
	if ctx.Err() != nil {
		return sr, ctx.Err()
	}

	type step struct {
		rate  float64
		fixed bool
	}
	var steps []step
	for _, r := range o.Rates {
		steps = append(steps, step{r, true})
	}
	for _, f := range o.Search {
		r := niceRate(f * sr.Closed.Achieved)
		if r <= 0 || slices.ContainsFunc(steps, func(s step) bool { return math.Abs(s.rate-r) <= 0.05*r }) {
			continue
		}
		steps = append(steps, step{r, false})
	}
	slices.SortFunc(steps, func(a, b step) int { return int(math.Copysign(1, a.rate-b.rate)) })
	failedAt := math.Inf(1)
	tried := func(r float64) bool {
		return slices.ContainsFunc(sr.Steps, func(s stepResult) bool { return math.Abs(s.Rate-r) <= 0.02*r })
	}
	offer := func(rate float64, d time.Duration) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var res stepResult
		lo.step(func() {
			res = openLoop(ctx, c, t, rate, d, lo)
			c.CloseIdleConnections()
		})
		sr.Steps = append(sr.Steps, res)
		logf("%s %s: %s", kind, t.name, describe(res))
		if res.Pass {
			sr.Saturation = max(sr.Saturation, rate)
		} else {
			failedAt = min(failedAt, rate)
		}
		return nil
	}
	for _, s := range steps {
		if !s.fixed && s.rate > failedAt {
			continue
		}
		d := o.Step
		if s.fixed {
			d = max(d, time.Duration(float64(o.MinSamples)/s.rate*float64(time.Second)))
		}
		if err := offer(s.rate, d); err != nil {
			return sr, err
		}
	}
	// Narrow the saturation point down: above the highest sustained rate
	// when nothing above it failed, below the lowest rate tried when
	// nothing was sustained, else between the two.
	for range o.Refine {
		sat, fail := sr.Saturation, math.Inf(1)
		lowest := math.Inf(1)
		for _, s := range sr.Steps {
			lowest = min(lowest, s.Rate)
			if !s.Pass && s.Rate > sat {
				fail = min(fail, s.Rate)
			}
		}
		var next float64
		switch {
		case sat == 0:
			next = niceRate(lowest / 2)
		case math.IsInf(fail, 1):
			next = niceRate(sat * 1.25)
		case fail/sat > 1.05:
			next = niceRate(math.Sqrt(sat * fail))
		}
		if next <= 0 || tried(next) {
			break
		}
		if err := offer(next, o.Step); err != nil {
			return sr, err
		}
	}
	for _, s := range sr.Steps {
		if !s.Pass && s.Rate > sr.Saturation {
			sr.SatBounded = true
		}
	}
	return sr, nil
}

// niceRate rounds a rate to two significant digits and to whole req/s
// (0 below 1 req/s).
func niceRate(r float64) float64 {
	if r < 1 {
		return 0
	}
	if r < 100 {
		return math.Round(r)
	}
	mag := math.Pow(10, math.Floor(math.Log10(r))-1)
	return math.Round(r/mag) * mag
}

func describe(r stepResult) string {
	what := fmt.Sprintf("open loop %g req/s for %s", r.Rate, r.Duration)
	if r.Rate == 0 {
		what = r.Duration.String()
	}
	s := fmt.Sprintf("%s: %d ok of %d, %d failed, %d dropped, achieved %.1f req/s, p50 %s p90 %s p99 %s max %s",
		what, r.OK, r.Sent, r.Failed, r.Dropped, r.Achieved, ms(r.P50), ms(r.P90), ms(r.P99), ms(r.Max))
	if r.Rate > 0 {
		if r.Pass {
			s += " — sustained"
		} else {
			s += " — NOT sustained"
		}
	}
	if r.FirstErr != "" {
		s += "; first error: " + r.FirstErr
	}
	return s
}
