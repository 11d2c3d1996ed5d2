package db_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/lib/pq"

	"github.com/frsvc/fulfillment/ent"
	"github.com/frsvc/fulfillment/ent/account"
	"github.com/frsvc/fulfillment/internal/app"
	"github.com/frsvc/fulfillment/internal/apperr"
	"github.com/frsvc/fulfillment/internal/db"
	"github.com/frsvc/fulfillment/internal/tenant"
	"github.com/frsvc/fulfillment/internal/testdb"
)

// accounts counts the accounts named name.
func accounts(t *testing.T, ctx context.Context, c *ent.Client, name string) int {
	t.Helper()
	n, err := c.Account.Query().Where(account.Name(name)).Count(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestInTxRetriesDeadlock: a transaction the database aborts with a
// deadlock (40P01) or a serialization failure (40001) is run again, and
// what an aborted attempt wrote is gone: the account the function creates
// on each attempt exists once.
func TestInTxRetriesDeadlock(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, a *app.App) {
		ctx := tenant.WithSystem(context.Background())
		codes := []string{"40P01", "40001"}
		calls := 0
		err := db.InTx(ctx, a.Store.Client, func(tx *ent.Tx) error {
			calls++
			if _, err := tx.Account.Create().SetName("retried").Save(ctx); err != nil {
				return err
			}
			if calls <= len(codes) {
				return &pq.Error{Code: pq.ErrorCode(codes[calls-1]), Message: "aborted"}
			}
			return nil
		})
		if err != nil || calls != 3 {
			t.Fatalf("InTx = %v after %d calls, want success on the 3rd", err, calls)
		}
		if n := accounts(t, ctx, a.Store.Client, "retried"); n != 1 {
			t.Fatalf("%d accounts written, want 1 (the committed attempt's)", n)
		}
	})
}

// TestInTxConflictAfterBound: a transaction that keeps meeting deadlocks is
// tried MaxTxAttempts times and then answered CONFLICT, with a message
// saying to try again and the database's error kept for the log; nothing is
// written. Any other error is returned at once, unchanged.
func TestInTxConflictAfterBound(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, a *app.App) {
		ctx := tenant.WithSystem(context.Background())
		calls := 0
		err := db.InTx(ctx, a.Store.Client, func(tx *ent.Tx) error {
			calls++
			if _, err := tx.Account.Create().SetName("never").Save(ctx); err != nil {
				return err
			}
			return &pq.Error{Code: "40P01", Message: "deadlock detected"}
		})
		if calls != db.MaxTxAttempts || db.MaxTxAttempts < 2 {
			t.Fatalf("called %d times, want %d (> 1)", calls, db.MaxTxAttempts)
		}
		var ae *apperr.Error
		if !errors.As(err, &ae) || ae.Code != apperr.Conflict || !strings.Contains(ae.Message, "try again") {
			t.Fatalf("InTx = %v, want CONFLICT saying to try again", err)
		}
		var pe *pq.Error
		if !errors.As(err, &pe) || pe.Code != "40P01" {
			t.Fatalf("the cause is lost: %v", err)
		}
		if n := accounts(t, ctx, a.Store.Client, "never"); n != 0 {
			t.Fatalf("%d accounts written by aborted attempts", n)
		}

		calls = 0
		plain := errors.New("not a concurrency failure")
		err = db.InTx(ctx, a.Store.Client, func(*ent.Tx) error { calls++; return plain })
		if err != plain || calls != 1 {
			t.Fatalf("InTx = %v after %d calls, want the error itself after 1", err, calls)
		}
		calls = 0
		err = db.InTx(ctx, a.Store.Client, func(*ent.Tx) error { calls++; return &pq.Error{Code: "23505"} })
		if apperr.CodeOf(err) == apperr.Conflict || calls != 1 {
			t.Fatalf("a unique violation was retried (%d calls) or turned into %v", calls, err)
		}
	})
}

// TestInTxRealDeadlock: two transactions that lock two rows in opposite
// orders deadlock on PostgreSQL; the one the server aborts is run again and
// both succeed. (SQLite has a single writer and cannot deadlock.)
func TestInTxRealDeadlock(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, a *app.App) {
		if !a.Store.Postgres() {
			t.Skip("row locks are PostgreSQL's")
		}
		ctx := tenant.WithSystem(context.Background())
		c := a.Store.Client
		first, err := c.Account.Create().SetName("first").Save(ctx)
		if err != nil {
			t.Fatal(err)
		}
		second, err := c.Account.Create().SetName("second").Save(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// On its first attempt each transaction locks its first row, waits
		// until the other has locked its own, then wants the other's.
		held := []chan struct{}{make(chan struct{}), make(chan struct{})}
		var mu sync.Mutex
		calls := 0
		run := func(me int, ids [2]int) error {
			attempt := 0
			return db.InTx(ctx, c, func(tx *ent.Tx) error {
				attempt++
				mu.Lock()
				calls++
				mu.Unlock()
				if err := tx.Account.UpdateOneID(ids[0]).SetName("locked").Exec(ctx); err != nil {
					return err
				}
				if attempt == 1 {
					close(held[me])
					<-held[1-me]
				}
				return tx.Account.UpdateOneID(ids[1]).SetName("locked").Exec(ctx)
			})
		}
		errs := make([]error, 2)
		var wg sync.WaitGroup
		for i, ids := range [][2]int{{first.ID, second.ID}, {second.ID, first.ID}} {
			wg.Add(1)
			go func() { defer wg.Done(); errs[i] = run(i, ids) }()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("transaction %d: %v", i, err)
			}
		}
		if calls != 3 {
			t.Errorf("%d attempts in all, want 3 (one deadlock, one retry)", calls)
		}
	})
}
