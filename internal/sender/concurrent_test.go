package sender_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/frsvc/fulfillment/ent/fulfillmentlog"
	"github.com/frsvc/fulfillment/ent/fulfillmentrequest"
	"github.com/frsvc/fulfillment/internal/db"
	"github.com/frsvc/fulfillment/internal/frstatus"
	"github.com/frsvc/fulfillment/internal/sender"
	"github.com/frsvc/fulfillment/internal/tenant"
	"github.com/frsvc/fulfillment/internal/testdb"
)

// TestConcurrentRunners lets three runners, as three server replicas
// would, drain 1,000 due requests from one PostgreSQL at the same time:
// FOR UPDATE SKIP LOCKED must hand each request to exactly one of them.
func TestConcurrentRunners(t *testing.T) {
	store := testdb.Open(t, testdb.Postgres) // skips without TEST_DATABASE_URL
	drainConcurrently(t, store, 1000, 3)
}

// TestConcurrentRunnersSQLite is the same on SQLite, smaller: there the
// guarded update under the single writer makes the claim exclusive.
func TestConcurrentRunnersSQLite(t *testing.T) {
	drainConcurrently(t, testdb.Open(t, testdb.SQLite), 150, 3)
}

func drainConcurrently(t *testing.T, store *db.Store, n, runners int) {
	rcv := newCounter(t)
	b := newBulk(t, store, 8, rcv.srv.URL)
	b.seed(t, n)
	sys := tenant.WithSystem(context.Background())

	var wg sync.WaitGroup
	results := make([]sender.Result, runners)
	for i := range runners {
		r := newRunner(store, nil, fmt.Sprintf("replica-%d", i))
		r.BatchSize = 25 // many small claims, so that the runners interleave
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				res, err := r.RunOnce(sys)
				if err != nil {
					t.Errorf("%s: %v", r.Holder, err)
					return
				}
				results[i] = add(results[i], res)
				if res.Claimed == 0 {
					return
				}
			}
		}()
	}
	wg.Wait()

	var total sender.Result
	for i, res := range results {
		t.Logf("replica-%d: %+v", i, res)
		total = add(total, res)
	}
	if total.Claimed != n || total.Processed+total.Acknowledged != n || total.Failed+total.Retried != 0 {
		t.Errorf("the runners together: %+v, want %d claimed and delivered", total, n)
	}
	keys := rcv.snapshot()
	if len(keys) != n {
		t.Errorf("%d keys delivered, want %d", len(keys), n)
	}
	for k, c := range keys {
		if c != 1 {
			t.Errorf("%s delivered %d times", k, c)
		}
	}
	frs, err := store.Client.FulfillmentRequest.Query().Where(fulfillmentrequest.LeaseHolderIsNil()).All(b.ctx)
	testdb.Must(t, err)
	byStatus := map[frstatus.Status]int{}
	for _, fr := range frs {
		byStatus[fr.Status]++
		if fr.Attempts != 1 || keys[sender.IdempotencyKey(fr.ID)] != 1 {
			t.Errorf("request %d: attempts %d, delivered %d times", fr.ID, fr.Attempts, keys[sender.IdempotencyKey(fr.ID)])
		}
	}
	if byStatus[frstatus.Processed] != n/2 || byStatus[frstatus.Acknowledged] != n/2 || len(frs) != n {
		t.Errorf("statuses %v of %d requests without a lease, want %d each of PROCESSED and ACKNOWLEDGED", byStatus, len(frs), n/2)
	}
	logs, err := store.Client.FulfillmentLog.Query().Where(fulfillmentlog.Stage("send")).Count(b.ctx)
	testdb.Must(t, err)
	if logs != n {
		t.Errorf("%d send logs, want %d", logs, n)
	}
}

func add(a, b sender.Result) sender.Result {
	return sender.Result{Claimed: a.Claimed + b.Claimed, Processed: a.Processed + b.Processed,
		Acknowledged: a.Acknowledged + b.Acknowledged, Failed: a.Failed + b.Failed, Retried: a.Retried + b.Retried}
}
