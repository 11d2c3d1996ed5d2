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
		if r.URL.Query().Get("hold") != "" {
			<-p.release
		}
		p.running.Add(-1)
		w.WriteHeader(http.StatusNoContent)
	}))
	return p
}

func (p *executingProbe) serve(ctx context.Context, id string, hold bool) *httptest.ResponseRecorder {
	target := "/query?id=" + id
	if hold {
		target += "&hold=1"
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
