package sender_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/frsvc/fulfillment/internal/app"
	"github.com/frsvc/fulfillment/internal/e2e"
	"github.com/frsvc/fulfillment/internal/frstatus"
	"github.com/frsvc/fulfillment/internal/sender"
	"github.com/frsvc/fulfillment/internal/tenant"
	"github.com/frsvc/fulfillment/internal/testdb"
)

// TestLeaseRenewedWhileBatchInFlight has two live runners, as two server
// replicas would, drain a batch that takes far longer than the lease: a
// source that answers each delivery after 300 ms, 12 requests on it
// delivered one at a time, and a lease of 1 s. The runner that holds the
// batch must renew its lease while it works, so that the other one never
// takes a request over and nothing is cut short at the end of a lease:
// without a crash, every request reaches the source exactly once.
func TestLeaseRenewedWhileBatchInFlight(t *testing.T) {
	for _, kind := range testdb.Kinds(t) {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			store := testdb.Open(t, kind)
			var (
				mu   sync.Mutex
				keys = map[string]int{}
			)
			slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				keys[r.Header.Get("Idempotency-Key")]++
				mu.Unlock()
				time.Sleep(300 * time.Millisecond)
				w.WriteHeader(http.StatusOK)
			}))
			t.Cleanup(slow.Close)
			const n = 12
			b := newBulk(t, store, 1, slow.URL)
			b.seed(t, n)
			sys := tenant.WithSystem(context.Background())

			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var wg sync.WaitGroup
			for i := range 2 {
				r := newRunner(store, nil, fmt.Sprintf("replica-%d", i))
				r.Lease = time.Second
				wg.Add(1)
				go func() {
					defer wg.Done()
					for ctx.Err() == nil {
						res, err := r.RunOnce(sys)
						if err != nil {
							t.Errorf("%s: %v", r.Holder, err)
							return
						}
						if res.Claimed == 0 {
							time.Sleep(20 * time.Millisecond)
						}
					}
				}()
			}
			b.waitDrained(t, 2*time.Minute)
			cancel()
			wg.Wait()

			mu.Lock()
			defer mu.Unlock()
			if len(keys) != n {
				t.Errorf("%d keys delivered, want %d", len(keys), n)
			}
			for k, c := range keys {
				if c != 1 {
					t.Errorf("%s delivered %d times", k, c)
				}
			}
			frs, err := store.Client.FulfillmentRequest.Query().All(b.ctx)
			testdb.Must(t, err)
			for _, fr := range frs {
				if fr.Status != frstatus.Processed || fr.Attempts != 1 || fr.LeaseHolder != nil {
					t.Errorf("request %d: %s, attempts %d, lease %v, delivered %d times",
						fr.ID, fr.Status, fr.Attempts, fr.LeaseHolder, keys[sender.IdempotencyKey(fr.ID)])
				}
			}
		})
	}
}

// TestLeaseTakenOverMidBatch: while the first request of a batch is being
// delivered, another replica (whose clock runs ahead, say) takes the second
// request over. The runner's next renewal finds that request no longer held
// under its lease, and the runner does not deliver it, although its own
// view of the lease has not run out.
func TestLeaseTakenOverMidBatch(t *testing.T) {
	testdb.Each(t, func(t *testing.T, a *app.App) {
		w := newWorld(t, e2e.New(t, a))
		var first, second int
		var once sync.Once
		rcv := newReceiver(t, secret, func(d delivery) reply {
			once.Do(func() {
				testdb.Must(t, w.store.Client.FulfillmentRequest.UpdateOneID(second).
					SetLeaseHolder("other-replica").SetLeaseExpiresAt(time.Now().Add(time.Hour)).Exec(w.ctx))
				// Two renewals of the first request's lease: the second
				// one began after the first had ended.
				seen := map[time.Time]bool{*w.get(first).LeaseExpiresAt: true}
				deadline := time.Now().Add(time.Minute)
				for len(seen) < 3 && time.Now().Before(deadline) {
					time.Sleep(10 * time.Millisecond)
					if e := w.get(first).LeaseExpiresAt; e != nil {
						seen[*e] = true
					}
				}
				if len(seen) < 3 {
					t.Errorf("the lease was not renewed during the delivery")
				}
			})
			return reply{status: http.StatusOK}
		})
		src := w.httpSource("TAKEN", rcv, nil)
		first, second = w.queued(src), w.queued(src)
		r := w.runner(nil, "mine")
		r.Lease = 3 * time.Second
		if res := w.run(r); res != (sender.Result{Claimed: 2, Processed: 1}) {
			t.Errorf("result %+v, want 2 claimed, 1 delivered", res)
		}
		for _, d := range rcv.deliveries() {
			if d.Doc.ID == second {
				t.Errorf("the request taken over was delivered (key %s)", d.Key)
			}
		}
		fr := w.get(second)
		if fr.Status != frstatus.Processing || fr.Attempts != 0 || fr.LeaseHolder == nil || *fr.LeaseHolder != "other-replica" {
			t.Errorf("the request taken over: %s, attempts %d, lease %v", fr.Status, fr.Attempts, fr.LeaseHolder)
		}
		if fr := w.get(first); fr.Status != frstatus.Processed || fr.Attempts != 1 {
			t.Errorf("the first request: %s, attempts %d", fr.Status, fr.Attempts)
		}
	})
}
