package sender_test

import (
	"context"
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

// TestCrashAfterDelivery loses the outcome of a delivery, as a process that
// died between sending and recording would, and checks that another runner
// takes the request over once the lease expires, delivers it again under
// the same key, and that the request ends in exactly one final state. The
// runners work as the server's loop does: with the system context, across
// accounts.
func TestCrashAfterDelivery(t *testing.T) {
	testdb.Each(t, func(t *testing.T, a *app.App) {
		s := a.Store
		env := e2e.New(t, a)
		sys := tenant.WithSystem(context.Background())

		t.Run("outcome dropped", func(t *testing.T) {
			w := newWorld(t, env)
			rcv := newReceiver(t, secret, nil)
			id := w.queued(w.httpSource("CRASH", rcv, nil))
			clock := newClock()
			crashed := newRunner(s, clock, "first")
			crashed.Lease = 200 * time.Millisecond
			var calls atomic.Int32
			crashed.AfterDeliver = func(int) bool { return calls.Add(1) > 1 }
			res, err := crashed.RunOnce(sys)
			if err != nil || res != (sender.Result{Claimed: 1}) {
				t.Fatalf("crashed run %+v, %v", res, err)
			}
			fr := w.get(id)
			if fr.Status != frstatus.Processing || fr.Attempts != 0 || fr.LeaseHolder == nil || fr.LeaseExpiresAt == nil {
				t.Fatalf("after the crash: %s attempts %d lease %v", fr.Status, fr.Attempts, fr.LeaseHolder)
			}
			if got := fr.LeaseExpiresAt.Sub(clock.Now()); got != 200*time.Millisecond {
				t.Errorf("lease runs %s, want 200ms", got)
			}
			if len(w.logs(id, "send")) != 0 {
				t.Errorf("the lost outcome was logged")
			}

			second := newRunner(s, clock, "second")
			second.Lease = 200 * time.Millisecond
			// The lease still holds.
			if res, err := second.RunOnce(sys); err != nil || res.Claimed != 0 {
				t.Fatalf("claimed under a live lease: %+v, %v", res, err)
			}
			clock.Advance(201 * time.Millisecond)
			if res, err := second.RunOnce(sys); err != nil || res != (sender.Result{Claimed: 1, Processed: 1}) {
				t.Fatalf("take-over run %+v, %v", res, err)
			}
			fr = w.get(id)
			if fr.Status != frstatus.Processed || fr.Attempts != 1 || fr.LeaseHolder != nil {
				t.Errorf("after the take-over: %s attempts %d lease %v", fr.Status, fr.Attempts, fr.LeaseHolder)
			}
			// Neither runner finds anything more.
			clock.Advance(time.Hour)
			for _, r := range []*sender.Runner{crashed, second} {
				if res, err := r.RunOnce(sys); err != nil || res.Claimed != 0 {
					t.Errorf("%s claimed again: %+v, %v", r.Holder, res, err)
				}
			}
			checkOnce(t, w, id, rcv, "delivered")
		})

		t.Run("late outcome after a take-over", func(t *testing.T) {
			w := newWorld(t, env)
			rcv := newReceiver(t, secret, func(d delivery) reply {
				if d.Attempt == 2 {
					return reply{status: 200, body: `{"acknowledged": true, "confirmationNumber": "LATE-2"}`}
				}
				return reply{status: 200}
			})
			id := w.queued(w.httpSource("SLOWREC", rcv, nil))
			clock := newClock()
			slow := newRunner(s, clock, "slow")
			slow.Lease = 200 * time.Millisecond
			delivered, resume := make(chan struct{}), make(chan struct{})
			slow.AfterDeliver = func(int) bool {
				close(delivered)
				<-resume
				return true
			}
			done := make(chan sender.Result)
			go func() {
				res, err := slow.RunOnce(sys)
				if err != nil {
					t.Errorf("slow run: %v", err)
				}
				done <- res
			}()
			<-delivered
			// The slow runner stalls past its lease; another one takes over.
			clock.Advance(time.Second)
			fast := newRunner(s, clock, "fast")
			if res, err := fast.RunOnce(sys); err != nil || res != (sender.Result{Claimed: 1, Acknowledged: 1}) {
				t.Errorf("take-over run %+v, %v", res, err)
			}
			close(resume)
			if res := <-done; res != (sender.Result{Claimed: 1}) {
				t.Errorf("the late runner counted its outcome: %+v", res)
			}
			fr := w.get(id)
			if fr.Status != frstatus.Acknowledged || fr.Attempts != 1 || fr.ConfirmationNumber == nil || *fr.ConfirmationNumber != "LATE-2" {
				t.Errorf("%s attempts %d confirmation %v", fr.Status, fr.Attempts, fr.ConfirmationNumber)
			}
			checkOnce(t, w, id, rcv, "acknowledged")
		})
	})
}

// checkOnce checks a request delivered twice under one key but recorded
// once: one send log, one transition out of PROCESSING.
func checkOnce(t *testing.T, w *world, id int, rcv *receiver, outcome string) {
	t.Helper()
	got := rcv.deliveries()
	if len(got) != 2 || got[0].Key != got[1].Key || got[0].Key != sender.IdempotencyKey(id) {
		t.Errorf("deliveries under keys %q, want exactly 2 under %q", keysOf(got), sender.IdempotencyKey(id))
	}
	rcv.checkSigned(t)
	logs := w.logs(id, "send")
	if len(logs) != 1 {
		t.Fatalf("%d send logs, want 1", len(logs))
	}
	checkLog(t, logs[0], "HTTP", outcome, 1, 200)
	out := 0
	for _, l := range w.logs(id, "transition") {
		if l.Data["from"] == "PROCESSING" {
			out++
		}
	}
	if out != 1 {
		t.Errorf("%d transitions out of PROCESSING, want 1", out)
	}
}
