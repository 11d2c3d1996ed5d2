package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// failed is the latency a request that did not succeed is given, so that
// percentiles count failures as worse than any answer.
const failed = time.Duration(math.MaxInt64)

// target is one server under load and the request it is sent.
type target struct {
	name   string
	url    string
	method string
	body   []byte
	key    string
	// rr, in multi-process mode, spreads the requests round-robin over
	// the server processes' URLs instead of url.
	rr *roundRobin
	// serverCPU, in multi-process mode, is the CPU time the server
	// processes have used (they are not this process).
	serverCPU func() (time.Duration, bool)
}

// roundRobin hands out its URLs in turn.
type roundRobin struct {
	urls []string
	next atomic.Uint64
}

func (r *roundRobin) url() string {
	return r.urls[(r.next.Add(1)-1)%uint64(len(r.urls))]
}

// do sends one request and reports whether it succeeded: HTTP 200 and no
// GraphQL errors in the body.
func (t target) do(ctx context.Context, c *http.Client) ([]byte, error) {
	var body io.Reader
	if t.body != nil {
		body = bytes.NewReader(t.body)
	}
	u := t.url
	if t.rr != nil {
		u = t.rr.url()
	}
	req, err := http.NewRequestWithContext(ctx, t.method, u, body)
	if err != nil {
		return nil, err
	}
	if t.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if t.key != "" {
		req.Header.Set("Authorization", "Bearer "+t.key)
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return b, fmt.Errorf("HTTP %d: %.200s", resp.StatusCode, b)
	}
	if bytes.Contains(b, []byte(`"errors"`)) {
		return b, fmt.Errorf("GraphQL errors: %.300s", b)
	}
	return b, nil
}

// newClient returns the load client: keep-alive connections without a
// per-host cap, so that the open model is never throttled by the client.
func newClient(timeout time.Duration, maxConns int) *http.Client {
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			MaxIdleConns:        maxConns,
			MaxIdleConnsPerHost: maxConns,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
			ForceAttemptHTTP2:   false,
		},
	}
}

// stepResult is one load run.
type stepResult struct {
	Rate     float64 // offered req/s (open loop); 0 for a closed loop
	Clients  int     // closed-loop clients
	Duration time.Duration
	Sent     int // scheduled requests (open loop) or sent (closed loop)
	OK       int
	Failed   int // errors, non-200 answers and timeouts
	Dropped  int // not sent: too many outstanding
	Achieved float64
	P50, P90 time.Duration
	P99, Max time.Duration
	FirstErr string
	Pass     bool // open loop: achieved ≥ 95% of offered and p99 under the bound
	// CPUPerOK is this process's CPU time (server, load generator and, for
	// SQLite, the database engine; not a PostgreSQL server's) per
	// successful request: far less sensitive to a busy machine than rates.
	// In multi-process mode it adds the server processes' CPU time
	// (ServerCPUPerOK), and is 0 where that cannot be read.
	CPUPerOK time.Duration
	// ServerCPUPerOK is, in multi-process mode, the server processes' CPU
	// time alone per successful request.
	ServerCPUPerOK time.Duration
}

func (r *stepResult) finish(lat []time.Duration, elapsed time.Duration, p99Bound time.Duration) {
	slices.Sort(lat)
	r.P50, r.P90, r.P99 = pct(lat, 0.50), pct(lat, 0.90), pct(lat, 0.99)
	if len(lat) > 0 {
		r.Max = lat[len(lat)-1]
	}
	if elapsed < r.Duration {
		elapsed = r.Duration
	}
	r.Achieved = float64(r.OK) / elapsed.Seconds()
	if r.Rate > 0 {
		r.Pass = r.Achieved >= 0.95*r.Rate && r.P99 < p99Bound
	}
}

// pct is the nearest-rank percentile of sorted latencies.
func pct(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return failed
	}
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// loadOptions bound every run.
type loadOptions struct {
	MaxOutstanding int           // open loop: requests in flight before new ones are dropped
	P99Bound       time.Duration // a step passes only with p99 below this
	// Turn, when set, runs each measurement step of a server in that
	// server's turn (see turns).
	Turn func(step func())
}

// step runs one measurement step, in its turn when the servers take turns.
func (o loadOptions) step(f func()) {
	if o.Turn == nil {
		f()
		return
	}
	o.Turn(f)
}

// turns lets the servers' measurements take turns, one step each (a closed
// loop, an arrival rate), rather than one server's whole series and then
// the other's: the machine's speed drifts over minutes on a shared host,
// by more than the difference being measured at times (BENCHMARKS.md,
// loadtest), and a drift would otherwise fall on whichever server was
// measured second. One step runs at a time; a party that has finished
// its steps drops out of the rotation.
type turns struct {
	mu   sync.Mutex
	cond *sync.Cond
	next int
	done []bool
}

func newTurns(parties int) *turns {
	t := &turns{done: make([]bool, parties)}
	t.cond = sync.NewCond(&t.mu)
	return t
}

// run runs step as party i's turn: it waits for the turn, then hands it on.
func (t *turns) run(i int, step func()) {
	t.mu.Lock()
	for t.next != i {
		t.cond.Wait()
	}
	t.mu.Unlock()
	defer func() {
		t.mu.Lock()
		t.handOn(i)
		t.mu.Unlock()
	}()
	step()
}

// finish takes party i out of the rotation.
func (t *turns) finish(i int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.done[i] = true
	if t.next == i {
		t.handOn(i)
	}
}

// handOn gives the turn to the next party after i that has steps left.
func (t *turns) handOn(i int) {
	for k := 1; k <= len(t.done); k++ {
		if j := (i + k) % len(t.done); !t.done[j] {
			t.next = j
			break
		}
	}
	t.cond.Broadcast()
}

// openLoop offers rate req/s for d on a fixed schedule: request i is due at
// start + i/rate and is sent then in its own goroutine, whether or not the
// earlier ones have been answered. Its latency runs from when it was due, so
// time spent queued (in the client, the network or the server) is counted.
// The run ends when every request sent has been answered or has timed out.
func openLoop(ctx context.Context, c *http.Client, t target, rate float64, d time.Duration, o loadOptions) stepResult {
	n := max(1, int(math.Round(rate*d.Seconds())))
	res := stepResult{Rate: rate, Duration: d, Sent: n}
	lat := make([]time.Duration, n)
	var (
		wg          sync.WaitGroup
		outstanding atomic.Int64
		nFailed     atomic.Int64
		lastDone    atomic.Int64
		errOnce     sync.Once
	)
	start := time.Now().Add(5 * time.Millisecond)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
schedule:
	for i := range n {
		due := start.Add(time.Duration(float64(i) * float64(time.Second) / rate))
		if wait := time.Until(due); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-ctx.Done():
				for j := i; j < n; j++ {
					lat[j] = failed
				}
				res.Dropped += n - i
				break schedule
			}
		}
		if outstanding.Load() >= int64(o.MaxOutstanding) {
			lat[i] = failed
			res.Dropped++
			continue
		}
		outstanding.Add(1)
		wg.Add(1)
		go func(i int, due time.Time) {
			defer wg.Done()
			defer outstanding.Add(-1)
			_, err := t.do(ctx, c)
			now := time.Now()
			for {
				last := lastDone.Load()
				if now.UnixNano() <= last || lastDone.CompareAndSwap(last, now.UnixNano()) {
					break
				}
			}
			if err != nil {
				lat[i] = failed
				nFailed.Add(1)
				errOnce.Do(func() { res.FirstErr = shortErr(err) })
				return
			}
			lat[i] = now.Sub(due)
		}(i, due)
	}
	wg.Wait()
	res.Failed = int(nFailed.Load())
	res.OK = n - res.Failed - res.Dropped
	elapsed := time.Duration(0)
	if l := lastDone.Load(); l > 0 {
		elapsed = time.Unix(0, l).Sub(start)
	}
	res.finish(lat, elapsed, o.P99Bound)
	return res
}

// closedLoop runs clients that each send a request as soon as their last one
// is answered, for d: the most the server will do with that concurrency.
func closedLoop(ctx context.Context, c *http.Client, t target, clients int, d time.Duration, o loadOptions) stepResult {
	res := stepResult{Clients: clients, Duration: d}
	var (
		mu  sync.Mutex
		lat []time.Duration
		wg  sync.WaitGroup
	)
	cpu0 := processCPU()
	var srv0 time.Duration
	srvOK := true
	if t.serverCPU != nil {
		srv0, srvOK = t.serverCPU()
	}
	start := time.Now()
	deadline := start.Add(d)
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			var sent, bad int
			var firstErr error
			for time.Now().Before(deadline) && ctx.Err() == nil {
				t0 := time.Now()
				_, err := t.do(ctx, c)
				sent++
				if err != nil {
					bad++
					mine = append(mine, failed)
					if firstErr == nil {
						firstErr = err
					}
					continue
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			defer mu.Unlock()
			lat = append(lat, mine...)
			res.Sent += sent
			res.Failed += bad
			if firstErr != nil && res.FirstErr == "" {
				res.FirstErr = shortErr(firstErr)
			}
		}()
	}
	wg.Wait()
	res.OK = res.Sent - res.Failed
	cpu := processCPU() - cpu0
	if t.serverCPU != nil {
		srv1, ok := t.serverCPU()
		if srvOK = srvOK && ok; srvOK && res.OK > 0 {
			res.ServerCPUPerOK = (srv1 - srv0) / time.Duration(res.OK)
			cpu += srv1 - srv0
		}
	}
	if srvOK && cpu > 0 && res.OK > 0 {
		res.CPUPerOK = cpu / time.Duration(res.OK)
	}
	res.finish(lat, time.Since(start), o.P99Bound)
	return res
}

func shortErr(err error) string {
	var s string
	if errors.Is(err, context.DeadlineExceeded) {
		s = "timeout"
	} else {
		s = err.Error()
	}
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return s
}
