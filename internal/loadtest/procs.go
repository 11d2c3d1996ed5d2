package main

// Multi-process mode (-processes N): "ours" is served by N server processes
// instead of a handler in this process. Each is this binary re-executed
// with serveChildArg; it opens the database named by childDBEnv exactly as
// setup opens "ours", prints its address as one line on stdout and serves
// until its stdin is closed (this process ended, however it ended) or it is
// sent SIGTERM.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/frsvc/fulfillment/internal/app"
	"github.com/frsvc/fulfillment/internal/db"
	"github.com/frsvc/fulfillment/internal/gctune"
)

const (
	// serveChildArg, as the only argument, makes the binary a server
	// process of multi-process mode. It is not a flag of the flag set, so
	// -h does not list it: it is for startProcesses alone.
	serveChildArg = "-serve-child"
	// childDBEnv names the database a server process opens (in the
	// environment rather than in argv, where ps would show it).
	childDBEnv = "LOADTEST_CHILD_DATABASE_URL"
	// childStopWait is how long a server process is given to shut down
	// after SIGTERM before it is killed.
	childStopWait = 10 * time.Second
)

// isChild reports whether this process was started as a server process.
func isChild() bool { return len(os.Args) == 2 && os.Args[1] == serveChildArg }

// childMain is main for a server process: its exit code.
func childMain() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := serveChild(ctx, os.Getenv(childDBEnv), os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "loadtest server process:", err)
		return 1
	}
	return 0
}

// ourApp builds the service as server.go does (internal/app), with the
// settings the benchmark serves it with: no rate limit, a complexity bound
// the page fits in, no default account, no background send run, the access
// log formatted, then discarded.
func ourApp(ctx context.Context, rawURL string) (*app.App, error) {
	cfg := app.Defaults()
	cfg.DatabaseURL, cfg.Bootstrap, cfg.SendInterval = rawURL, false, 0
	cfg.Complexity, cfg.RateLimit = 100000, 0
	cfg.Logger = slog.New(slog.NewJSONHandler(io.Discard, nil))
	return app.New(ctx, cfg)
}

// stmtCounter counts a store's SQL statements from a mark on.
type stmtCounter struct {
	s    *db.Store
	mark int64
}

func (c *stmtCounter) Reset()       { c.mark = c.s.Statements() }
func (c *stmtCounter) Count() int64 { return c.s.Statements() - c.mark }

// newServer is the HTTP server both servers and the server processes run.
func newServer(h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 120 * time.Second}
}

// serveChild serves "ours" on the database at rawURL on a loopback port,
// announcing its URL as one line on stdout, until ctx ends or stdin reaches
// its end; then it shuts down gracefully.
func serveChild(ctx context.Context, rawURL string, stdin io.Reader, stdout io.Writer) error {
	if rawURL == "" {
		return errors.New(childDBEnv + " is not set")
	}
	// The collector's pace and the default logger as in the parent (run).
	gctune.Apply(os.Getenv)
	slog.SetDefault(slog.New(slog.NewJSONHandler(io.Discard, nil)))
	ours, err := ourApp(ctx, rawURL)
	if err != nil {
		return err
	}
	defer ours.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := newServer(ours.Handler)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	if _, err := fmt.Fprintf(stdout, "http://%s\n", ln.Addr()); err != nil {
		_ = srv.Close()
		return err
	}
	eof := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, stdin)
		close(eof)
	}()
	select {
	case <-ctx.Done():
	case <-eof:
	case err := <-served:
		return err
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

// serverProcess is one running server process.
type serverProcess struct {
	index   int // from 1
	cmd     *exec.Cmd
	stdin   io.Closer
	url     string
	done    chan struct{} // closed when the process has been waited for
	waitErr error
}

func (p *serverProcess) pid() int { return p.cmd.Process.Pid }

func (p *serverProcess) String() string {
	return fmt.Sprintf("server process %d (pid %d)", p.index, p.pid())
}

// exited reports whether the process has ended.
func (p *serverProcess) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// startProcesses starts n server processes on the database at rawURL and
// waits until each answers /healthz and /readyz. A function that stops them
// (closing stdin, SIGTERM, waiting, killing after childStopWait) is added to
// closers before the first one starts, so that no error path leaves one
// running.
func startProcesses(ctx context.Context, n int, rawURL string, closers *[]func(), logf func(string, ...any)) ([]*serverProcess, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find this binary to re-execute: %w", err)
	}
	var procs []*serverProcess
	*closers = append(*closers, func() { stopProcesses(procs, logf) })
	type announced struct {
		line string
		err  error
	}
	lines := make([]chan announced, n)
	for i := range n {
		cmd := exec.Command(exe, serveChildArg)
		cmd.Env = append(os.Environ(), childDBEnv+"="+rawURL)
		cmd.Stderr = &lineLogger{prefix: fmt.Sprintf("server process %d: ", i+1), logf: logf}
		setProcAttr(cmd)
		stdin, err := cmd.StdinPipe()
		if err != nil {
			return procs, err
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			return procs, err
		}
		if err := cmd.Start(); err != nil {
			return procs, fmt.Errorf("start server process %d: %w", i+1, err)
		}
		p := &serverProcess{index: i + 1, cmd: cmd, stdin: stdin, done: make(chan struct{})}
		procs = append(procs, p)
		go func() {
			p.waitErr = cmd.Wait()
			close(p.done)
		}()
		lines[i] = make(chan announced, 1)
		go func() {
			line, err := bufio.NewReader(stdout).ReadString('\n')
			lines[i] <- announced{strings.TrimSpace(line), err}
		}()
	}
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	for i, p := range procs {
		var a announced
		select {
		case a = <-lines[i]:
		case <-ctx.Done():
			return procs, ctx.Err()
		case <-deadline.C:
			return procs, fmt.Errorf("%s did not announce its address within 30s", p)
		}
		if a.err != nil || !strings.HasPrefix(a.line, "http://127.0.0.1:") {
			exit := "still running"
			select {
			case <-p.done: // its exit status, when it is exiting
				exit = fmt.Sprint("exit: ", p.waitErr)
			case <-time.After(time.Second):
			}
			return procs, fmt.Errorf("%s did not announce its address (read %q, %v; %s)", p, a.line, a.err, exit)
		}
		p.url = a.line
	}
	hc := &http.Client{Timeout: time.Second}
	defer hc.CloseIdleConnections()
	for _, p := range procs {
		if err := waitHealthy(ctx, hc, p); err != nil {
			return procs, err
		}
	}
	return procs, nil
}

// waitHealthy waits until the process answers /healthz, then checks that it
// reaches the database (/readyz).
func waitHealthy(ctx context.Context, hc *http.Client, p *serverProcess) error {
	get := func(path string) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url+path, nil)
		if err != nil {
			return err
		}
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: HTTP %d: %.200s", path, resp.StatusCode, b)
		}
		return nil
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := get("/healthz")
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if p.exited() {
			return fmt.Errorf("%s exited: %v", p, p.waitErr)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s is not healthy after 10s: %w", p, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := get("/readyz"); err != nil {
		return fmt.Errorf("%s is not ready: %w", p, err)
	}
	return nil
}

// stopProcesses closes each process's stdin and sends it SIGTERM, then
// waits for all of them, killing any still running after childStopWait.
func stopProcesses(procs []*serverProcess, logf func(string, ...any)) {
	for _, p := range procs {
		_ = p.stdin.Close() // the process's cue to stop even where SIGTERM is not sent
		if !p.exited() {
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	timeout := time.NewTimer(childStopWait)
	defer timeout.Stop()
	expired := false
	for _, p := range procs {
		if !expired {
			select {
			case <-p.done:
			case <-timeout.C:
				expired = true
			}
		}
		switch {
		case !p.exited():
			logf("%s did not stop within %s of SIGTERM: killed", p, childStopWait)
			_ = p.cmd.Process.Kill()
			<-p.done
		case p.waitErr != nil:
			logf("%s: %v", p, p.waitErr)
		}
	}
}

// lineLogger passes a server process's stderr on, line by line.
type lineLogger struct {
	prefix string
	logf   func(string, ...any)
	mu     sync.Mutex
	buf    []byte
}

func (l *lineLogger) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, b...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		l.logf("%s%s", l.prefix, l.buf[:i])
		l.buf = l.buf[i+1:]
	}
	return len(b), nil
}

// serversCPU returns a function that sums the processes' CPU time (user and
// system), or reports false where it cannot be read.
func serversCPU(procs []*serverProcess) func() (time.Duration, bool) {
	return func() (time.Duration, bool) {
		var sum time.Duration
		for _, p := range procs {
			d, ok := pidCPU(p.pid())
			if !ok {
				return 0, false
			}
			sum += d
		}
		return sum, true
	}
}

// procMetrics are the figures read from a server process's /metrics.
type procMetrics struct {
	Operations int64 // GraphQL operations answered (fulfillment_graphql_duration_seconds_count, all labels)
	Statements int64 // SQL statements sent (fulfillment_db_statements_total)
}

// scrapeMetrics reads a server's /metrics.
func scrapeMetrics(ctx context.Context, c *http.Client, baseURL string) (procMetrics, error) {
	var pm procMetrics
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, baseURL+"/metrics", nil)
	if err != nil {
		return pm, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return pm, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return pm, fmt.Errorf("/metrics: HTTP %d", resp.StatusCode)
	}
	sawStmts := false // fulfillment_graphql_duration_seconds_count is absent until the first operation
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		name, rest, ok := strings.Cut(line, " ")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		if i := strings.IndexByte(name, '{'); i >= 0 {
			// Label values may hold spaces: the value follows the '}'.
			j := strings.LastIndexByte(line, '}')
			if j < 0 {
				continue
			}
			name, rest = line[:i], line[j+1:]
		}
		var dst *int64
		switch name {
		case "fulfillment_graphql_duration_seconds_count":
			dst = &pm.Operations
		case "fulfillment_db_statements_total":
			dst, sawStmts = &pm.Statements, true
		default:
			continue
		}
		v, err := strconv.ParseFloat(strings.Fields(rest)[0], 64)
		if err != nil {
			return pm, fmt.Errorf("/metrics: %q: %w", line, err)
		}
		*dst += int64(math.Round(v))
	}
	if err := sc.Err(); err != nil {
		return pm, err
	}
	if !sawStmts {
		return pm, errors.New("/metrics: no fulfillment_db_statements_total")
	}
	return pm, nil
}

// checkConnections warns when the server processes together may open more
// PostgreSQL connections than the server allows.
func checkConnections(ctx context.Context, store *db.Store, n int, logf func(string, ...any)) {
	var maxConns, inUse int
	if err := store.DB.QueryRowContext(ctx, "SELECT current_setting('max_connections')::int, (SELECT count(*) FROM pg_stat_activity)").Scan(&maxConns, &inUse); err != nil {
		return
	}
	const perPool = 32 // db.Open's pool bound for PostgreSQL
	if need := n * perPool; inUse+need > maxConns {
		logf("warning: %d server processes may open up to %d connections (%d each) and %d are in use, but PostgreSQL allows %d: "+
			"under overload some requests may fail with \"too many clients\"", n, need, perPool, inUse, maxConns)
	}
}
