package sender_test

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/frsvc/fulfillment/internal/app"
	"github.com/frsvc/fulfillment/internal/e2e"
	"github.com/frsvc/fulfillment/internal/frstatus"
	"github.com/frsvc/fulfillment/internal/fulfillment"
	"github.com/frsvc/fulfillment/internal/testdb"
)

// TestLeaseRunsOutMidBatch has a source so slow that the lease of a batch
// runs out before the runner reaches its second request. By then another
// runner may have taken the request, or an operator voided it (a request
// whose lease ran out is no longer "being sent"): the first runner must not
// deliver it any more.
func TestLeaseRunsOutMidBatch(t *testing.T) {
	testdb.Each(t, func(t *testing.T, a *app.App) {
		s := a.Store
		env := e2e.New(t, a)
		w := newWorld(t, env)
		clock := newClock()
		rcv := newReceiver(t, secret, func(d delivery) reply {
			// The source takes a second: past the runner's lease.
			clock.Advance(time.Second)
			return reply{status: http.StatusOK}
		})
		src := w.httpSource("SLOWSRC", rcv, nil)
		first, second := w.queued(src), w.queued(src)
		r := w.runner(clock, "slow")
		r.Lease = 200 * time.Millisecond
		// An operator on the runner's clock voids the second request once
		// the first one is out (its lease has run out by then).
		// By hand on purpose: an operator on the runner's fake clock.
		ops := &fulfillment.Service{Store: s, Now: clock.Now}
		var voided atomic.Bool
		r.AfterDeliver = func(id int) bool {
			if id == first && !voided.Swap(true) {
				if _, err := ops.Void(w.ctx, second, "customer canceled"); err != nil {
					t.Errorf("void: %v", err)
				}
			}
			return true
		}
		res := w.run(r)
		if res.Processed != 1 {
			t.Errorf("result %+v", res)
		}
		if fr := w.get(first); fr.Status != frstatus.Processed {
			t.Errorf("first: %s", fr.Status)
		}
		fr := w.get(second)
		if fr.Status != frstatus.Voided || fr.CancellationNoticePending {
			t.Errorf("second: %s, notice pending %v", fr.Status, fr.CancellationNoticePending)
		}
		for _, d := range rcv.deliveries() {
			if d.Doc.ID == second {
				t.Errorf("the voided request was delivered after the runner's lease on it had run out (key %s)", d.Key)
			}
		}
		// Nothing is left to send, and the trail has no delivery of it.
		clock.Advance(time.Hour)
		if res := w.run(r); res.Claimed != 0 {
			t.Errorf("claimed again: %+v", res)
		}
		if logs := w.logs(second, "send"); len(logs) != 0 {
			t.Errorf("send logs of the voided request: %d", len(logs))
		}
	})
}

// TestRedirectIsNotDelivery answers the POST with a redirect to a page that
// answers 200 to a GET. Following it would turn the POST into a GET without
// the document and count that as delivered: a redirect must fail the
// request with a reason that says where the URL points.
func TestRedirectIsNotDelivery(t *testing.T) {
	testdb.Each(t, func(t *testing.T, a *app.App) {
		env := e2e.New(t, a)
		w := newWorld(t, env)
		var gets atomic.Int32
		rcv := newReceiver(t, secret, nil)
		rcv.srv.Config.Handler = http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet {
				gets.Add(1)
				rw.WriteHeader(http.StatusOK)
				return
			}
			http.Redirect(rw, r, "/moved", http.StatusFound)
		})
		id := w.queued(w.httpSource("MOVED", rcv, nil))
		res := w.run(w.runner(newClock(), "t"))
		fr := w.get(id)
		if res.Processed != 0 || fr.Status == frstatus.Processed || fr.Status == frstatus.Acknowledged {
			t.Errorf("a redirect counted as delivered: %+v, %s", res, fr.Status)
		}
		if gets.Load() != 0 {
			t.Errorf("the runner followed the redirect with %d GETs", gets.Load())
		}
		if fr.Status != frstatus.Failed || fr.FailureReason == nil || !strings.Contains(*fr.FailureReason, "HTTP 302") ||
			!strings.Contains(*fr.FailureReason, "/moved") {
			t.Errorf("%s, reason %v", fr.Status, fr.FailureReason)
		}
		logs := w.logs(id, "send")
		if len(logs) != 1 {
			t.Fatalf("%d send logs", len(logs))
		}
		checkLog(t, logs[0], "HTTP", "rejected", 1, 302)
	})
}
