package sender_test

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/frsvc/fulfillment/internal/app"
	"github.com/frsvc/fulfillment/internal/e2e"
	"github.com/frsvc/fulfillment/internal/frstatus"
	"github.com/frsvc/fulfillment/internal/sender"
	"github.com/frsvc/fulfillment/internal/tenant"
	"github.com/frsvc/fulfillment/internal/testdb"
)

// hangingSource is an HTTP source whose deliveries hang until the test lets
// go (or the runner cuts them): arrived gets a value per delivery.
type hangingSource struct {
	rcv     *receiver
	arrived chan int
	release chan struct{}
}

func newHangingSource(t *testing.T) *hangingSource {
	t.Helper()
	h := &hangingSource{arrived: make(chan int, 64), release: make(chan struct{})}
	h.rcv = newReceiver(t, secret, nil)
	h.rcv.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.arrived <- 1
		select {
		case <-h.release:
			w.WriteHeader(http.StatusOK)
		case <-r.Context().Done():
		}
	})
	// Registered after the server's own cleanup, so it runs first.
	t.Cleanup(h.letGo)
	return h
}

func (h *hangingSource) letGo() {
	select {
	case <-h.release:
	default:
		close(h.release)
	}
}

// waitArrival waits for a delivery to reach the source.
func (h *hangingSource) waitArrival(t *testing.T) {
	t.Helper()
	select {
	case <-h.arrived:
	case <-time.After(time.Minute):
		t.Fatal("no delivery reached the hanging source")
	}
}

// noticing is a source that answers at once and records, at each delivery,
// whether the hanging request's first attempt was still unfinished then
// (not yet recorded).
func noticing(t *testing.T, w *world, hanging *int) (*receiver, chan bool) {
	seen := make(chan bool, 64)
	return newReceiver(t, secret, func(delivery) reply {
		fr := w.get(*hanging)
		seen <- fr.Attempts == 0 && fr.Status == frstatus.Processing
		return reply{status: http.StatusOK}
	}), seen
}

// waitSeen waits for a delivery to the noticing source and fails unless the
// hanging request was still being sent then: otherwise the fast one waited
// for the slow one.
func waitSeen(t *testing.T, seen chan bool, what string) {
	t.Helper()
	select {
	case inFlight := <-seen:
		if !inFlight {
			t.Errorf("%s was delivered only after the hanging delivery had ended: it waited for it", what)
		}
	case <-time.After(time.Minute):
		t.Fatalf("%s was not delivered while the other source hangs", what)
	}
}

// TestSlowSourceDoesNotHoldUpAnother: in one run, a source whose deliveries
// hang (three requests queued first) does not hold up another source of the
// same account: that one's request is delivered while the first delivery
// still hangs, even with batches of two, where one batch could hold only
// the hanging source's requests.
func TestSlowSourceDoesNotHoldUpAnother(t *testing.T) {
	testdb.Each(t, func(t *testing.T, a *app.App) {
		w := newWorld(t, e2e.New(t, a))
		hang := newHangingSource(t)
		var first int
		fast, seen := noticing(t, w, &first)
		slowSrc := w.httpSource("HANG", hang.rcv, map[string]any{"timeoutSeconds": 60})
		fastSrc := w.httpSource("FAST", fast, nil)
		first = w.queued(slowSrc)
		w.queued(slowSrc)
		w.queued(slowSrc)
		id := w.queued(fastSrc)
		r := w.runner(nil, "one")
		r.BatchSize = 2
		r.Lease = 2 * time.Second
		done := make(chan sender.Result, 1)
		go func() {
			res, err := r.RunOnce(w.ctx)
			if err != nil {
				t.Errorf("RunOnce: %v", err)
			}
			done <- res
		}()
		hang.waitArrival(t)
		waitSeen(t, seen, "the fast source's request")
		hang.letGo()
		res := <-done
		if res.Claimed != 4 || res.Processed != 4 {
			t.Errorf("result %+v, want all 4 claimed and delivered", res)
		}
		if fr := w.get(id); fr.Status != frstatus.Processed {
			t.Errorf("the fast source's request is %s", fr.Status)
		}
	})
}

// TestLoopAccountsIndependent runs the send loop as the server does, with
// one account whose source hangs: another account's request, queued while
// the first one's delivery hangs, is delivered meanwhile.
func TestLoopAccountsIndependent(t *testing.T) {
	testdb.Each(t, func(t *testing.T, a *app.App) {
		env := e2e.New(t, a)
		wa, wb := newWorld(t, env), newWorld(t, env.WithT(t))
		hang := newHangingSource(t)
		var hanging int
		fast, seen := noticing(t, wa, &hanging)
		hanging = wa.queued(wa.httpSource("HANG", hang.rcv, map[string]any{"timeoutSeconds": 60}))
		fastSrc := wb.httpSource("FAST", fast, nil)

		r := newRunner(a.Store, nil, "loop")
		r.Lease = 2 * time.Second
		ctx, cancel := context.WithCancel(context.Background())
		loopDone := make(chan struct{})
		go func() { r.Loop(ctx, 20*time.Millisecond, tenant.WithSystem); close(loopDone) }()
		hang.waitArrival(t)
		id := wb.queued(fastSrc)
		waitSeen(t, seen, "the other account's request")
		hang.letGo()
		cancel()
		<-loopDone
		if fr := wb.get(id); fr.Status != frstatus.Processed {
			t.Errorf("the other account's request is %s", fr.Status)
		}
	})
}

// TestSourceConcurrency: deliveries to one source in flight at once are
// bounded by SourceConcurrency over every run of the process, not per run:
// two runs at once, each with a batch of three requests of the source, have
// two deliveries in flight at most, and do use both.
func TestSourceConcurrency(t *testing.T) {
	testdb.Each(t, func(t *testing.T, a *app.App) {
		w := newWorld(t, e2e.New(t, a))
		var inFlight, peak atomic.Int32
		gate := make(chan struct{})
		rcv := newReceiver(t, secret, nil)
		rcv.srv.Config.Handler = http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			n := inFlight.Add(1)
			for {
				old := peak.Load()
				if n <= old || peak.CompareAndSwap(old, n) {
					break
				}
			}
			<-gate
			inFlight.Add(-1)
			rw.WriteHeader(http.StatusOK)
		})
		src := w.httpSource("PAR", rcv, nil)
		for range 6 {
			w.queued(src)
		}
		r := w.runner(nil, "par")
		r.SourceConcurrency = 2
		r.BatchSize = 3
		results := make(chan sender.Result, 2)
		for range 2 {
			go func() {
				res, err := r.RunOnce(w.ctx)
				if err != nil {
					t.Errorf("RunOnce: %v", err)
				}
				results <- res
			}()
		}
		testdb.WaitFor(t, time.Minute, time.Millisecond, func() bool { return inFlight.Load() >= 2 },
			func() string { return fmt.Sprintf("%d deliveries in flight, want 2", inFlight.Load()) })
		time.Sleep(100 * time.Millisecond) // a third one would arrive meanwhile
		close(gate)
		var total sender.Result
		for range 2 {
			res := <-results
			total.Claimed += res.Claimed
			total.Processed += res.Processed
		}
		if total.Claimed != 6 || total.Processed != 6 {
			t.Errorf("the two runs: %+v, want 6 claimed and delivered", total)
		}
		if got := peak.Load(); got != 2 {
			t.Errorf("%d deliveries to the source in flight at once, want 2", got)
		}
	})
}

// TestRunDeadline: a run starts no delivery after its deadline. The first
// delivery takes (on the runner's clock) longer than the run may; the two
// requests not started are released for the next run, not attempted, their
// place in the queue kept, and the next run sends them.
func TestRunDeadline(t *testing.T) {
	testdb.Each(t, func(t *testing.T, a *app.App) {
		w := newWorld(t, e2e.New(t, a))
		clock := newClock()
		var n atomic.Int32
		rcv := newReceiver(t, secret, func(delivery) reply {
			if n.Add(1) == 1 {
				clock.Advance(2 * time.Minute)
			}
			return reply{status: http.StatusOK}
		})
		src := w.httpSource("LATE", rcv, nil)
		ids := []int{w.queued(src), w.queued(src), w.queued(src)}
		before := w.get(ids[1]).NextAttemptAt
		r := w.runner(clock, "late")
		r.RunTimeout = time.Minute
		r.Lease = time.Hour // the lease holds: only the deadline stops the run
		if res := w.run(r); res != (sender.Result{Claimed: 3, Processed: 1}) {
			t.Errorf("first run %+v, want 3 claimed, 1 delivered", res)
		}
		if fr := w.get(ids[0]); fr.Status != frstatus.Processed {
			t.Errorf("the first request is %s", fr.Status)
		}
		for _, id := range ids[1:] {
			fr := w.get(id)
			if fr.Status != frstatus.Processing || fr.Attempts != 0 || fr.LeaseHolder != nil || fr.LeaseExpiresAt != nil {
				t.Errorf("request %d after the deadline: %s, attempts %d, lease %v", id, fr.Status, fr.Attempts, fr.LeaseHolder)
			}
			if len(w.logs(id, "send")) != 0 {
				t.Errorf("request %d: a send attempt was logged", id)
			}
		}
		if after := w.get(ids[1]).NextAttemptAt; after == nil || before == nil || !after.Equal(*before) {
			t.Errorf("next attempt moved from %v to %v", before, after)
		}
		if res := w.run(r); res != (sender.Result{Claimed: 2, Processed: 2}) {
			t.Errorf("next run %+v, want the 2 left claimed and delivered", res)
		}
		if n := len(rcv.deliveries()); n != 3 {
			t.Errorf("%d deliveries, want 3", n)
		}
	})
}
