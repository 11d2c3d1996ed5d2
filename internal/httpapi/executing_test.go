package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/frsvc/fulfillment/internal/admission"
)

// executingProbe is a handler behind executing(n) that records how many
// requests run at once and in which order they started, holding those
// marked hold until released.
type executingProbe struct {
	running, peak atomic.Int32
	release       chan struct{}
	mu            sync.Mutex
	order         []string
	h             http.Handler
}

func newExecutingProbe(n int) *executingProbe {
	p := &executingProbe{release: make(chan struct{})}
	p.h = executing(n, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := p.running.Add(1)
		for {
			old := p.peak.Load()
			if now <= old || p.peak.CompareAndSwap(old, now) {
				break
			}
		}
		p.mu.Lock()
		p.order = append(p.order, r.URL.Query().Get("id"))
		p.mu.Unlock()
		if r.URL.Query().Get("yield") != "" {
			admission.Release(r.Context())
			admission.Release(r.Context()) // a second call does nothing
		}
		if r.URL.Query().Get("hold") != "" {
			<-p.release
		}
		p.running.Add(-1)
		w.WriteHeader(http.StatusNoContent)
	}))
	return p
}

func (p *executingProbe) serve(ctx context.Context, id string, hold bool) *httptest.ResponseRecorder {
	return p.serveQuery(ctx, id, hold, false)
}

// serveQuery is serve with a request that gives its slot back (yield)
// before it holds.
func (p *executingProbe) serveQuery(ctx context.Context, id string, hold, yield bool) *httptest.ResponseRecorder {
	target := "/query?id=" + id
	if hold {
		target += "&hold=1"
	}
	if yield {
		target += "&yield=1"
	}
	rec := httptest.NewRecorder()
	p.h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, target, nil).WithContext(ctx))
	return rec
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestExecuting: at most n requests run at once, the others wait; one
// whose context ends while it waits is answered 503 RATE_LIMITED with
// Retry-After and never reaches the handler; the waiting ones run in
// arrival order as slots free.
func TestExecuting(t *testing.T) {
	t.Run("limit", func(t *testing.T) {
		const n = 2
		p := newExecutingProbe(n)
		var wg sync.WaitGroup
		for _, id := range []string{"a", "b", "c", "d"} {
			wg.Add(1)
			go func() { defer wg.Done(); p.serve(context.Background(), id, true) }()
		}
		waitFor(t, "two requests running", func() bool { return p.running.Load() == n })
		time.Sleep(50 * time.Millisecond) // the other two are waiting, not running
		if got := p.running.Load(); got != n {
			t.Fatalf("%d running, want %d", got, n)
		}

		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		rec := p.serve(ctx, "late", false)
		cancel()
		if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
			t.Fatalf("waited past its deadline: HTTP %d, Retry-After %q", rec.Code, rec.Header().Get("Retry-After"))
		}
		var body struct {
			Errors []struct{ Extensions map[string]any }
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || len(body.Errors) != 1 || body.Errors[0].Extensions["code"] != "RATE_LIMITED" {
			t.Fatalf("503 body %s (%v)", rec.Body, err)
		}

		close(p.release)
		wg.Wait()
		if got := p.peak.Load(); got != n {
			t.Errorf("peak %d running at once, want %d", got, n)
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		if len(p.order) != 4 {
			t.Errorf("ran %v, want a, b, c, d (late never)", p.order)
		}
	})
	t.Run("order", func(t *testing.T) {
		p := newExecutingProbe(1)
		done := make(chan struct{})
		go func() { defer close(done); p.serve(context.Background(), "first", true) }()
		waitFor(t, "the first request running", func() bool { return p.running.Load() == 1 })
		var wg sync.WaitGroup
		for _, id := range []string{"c", "d", "e"} {
			wg.Add(1)
			go func() { defer wg.Done(); p.serve(context.Background(), id, false) }()
			time.Sleep(20 * time.Millisecond) // arrive in this order
		}
		close(p.release)
		<-done
		wg.Wait()
		p.mu.Lock()
		defer p.mu.Unlock()
		if len(p.order) != 4 || p.order[1] != "c" || p.order[2] != "d" || p.order[3] != "e" {
			t.Errorf("ran in order %v, want first, c, d, e", p.order)
		}
	})
}

// TestExecutingRelease: a request that gives its slot back early
// (admission.Release, as runSendFulfillmentRequests does before it waits for
// its run) lets the next request execute while it still waits, and the slot
// is given back once only: the request then ends normally, and the slot
// count stays right.
func TestExecutingRelease(t *testing.T) {
	p := newExecutingProbe(1)
	yielded := make(chan *httptest.ResponseRecorder, 1)
	go func() { yielded <- p.serveQuery(context.Background(), "waiting", true, true) }()
	waitFor(t, "the yielding request running", func() bool { return p.running.Load() == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if rec := p.serve(ctx, "next", false); rec.Code != http.StatusNoContent {
		t.Fatalf("the next request waited for a slot given back: HTTP %d", rec.Code)
	}
	close(p.release)
	select {
	case rec := <-yielded:
		if rec.Code != http.StatusNoContent {
			t.Errorf("the yielding request: HTTP %d", rec.Code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the yielding request did not end: its slot was given back twice")
	}
	// One slot still, neither lost nor doubled: a held request takes it,
	// the next waits (and is answered 503 at its deadline), and once the
	// held one ends another runs.
	p.release = make(chan struct{})
	held := make(chan struct{})
	go func() { defer close(held); p.serve(context.Background(), "held", true) }()
	waitFor(t, "the held request running", func() bool { return p.running.Load() == 1 })
	short, cancelShort := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancelShort()
	if rec := p.serve(short, "refused", false); rec.Code != http.StatusServiceUnavailable {
		t.Errorf("a second request ran beside the held one: HTTP %d", rec.Code)
	}
	close(p.release)
	<-held
	if rec := p.serve(ctx, "after", false); rec.Code != http.StatusNoContent {
		t.Errorf("after the held request: HTTP %d", rec.Code)
	}
}
