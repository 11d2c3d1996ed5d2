package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/frsvc/fulfillment/ent"
	"github.com/frsvc/fulfillment/ent/account"
	"github.com/frsvc/fulfillment/internal/tenant"
)

// counter reads the store's own statement count from a mark on.
type counter struct {
	s    *Store
	mark int64
}

func (c *counter) Reset()       { c.mark = c.s.Statements() }
func (c *counter) Count() int64 { return c.s.Statements() - c.mark }

// openAccounts opens a fresh SQLite store with three accounts, and a
// counter of its statements.
func openAccounts(t *testing.T) (*Store, *counter, context.Context) {
	t.Helper()
	s, err := Open("file:"+filepath.Join(t.TempDir(), "p.db"), Config{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := tenant.WithSystem(context.Background())
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := s.Client.Account.Create().SetName(fmt.Sprintf("acct-%d", i)).Save(ctx); err != nil {
			t.Fatal(err)
		}
	}
	return s, &counter{s: s}, ctx
}

// TestPrepared: a query of Store.Prepared answers as the unprepared one
// does, is counted by the counting driver above, keeps one prepared
// statement however often it runs, is not prepared inside a transaction,
// and past maxPrepared statements runs unprepared.
func TestPrepared(t *testing.T) {
	s, counter, ctx := openAccounts(t)
	defer s.Close()
	pd := s.prep
	names := func(client *ent.Client) []string {
		t.Helper()
		got, err := client.Account.Query().Where(account.NameNEQ("acct-1")).Order(account.ByID()).Select(account.FieldName).Strings(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	want := names(s.Client)
	if n := len(pd.stmts); n != 0 {
		t.Errorf("a query of the store's client was prepared: %d statements", n)
	}
	counter.Reset()
	for range 5 {
		if got := names(s.Prepared()); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("prepared query = %v, want %v", got, want)
		}
	}
	if n := counter.Count(); n != 5 {
		t.Errorf("counted %d statements, want 5", n)
	}
	if n := len(pd.stmts); n != 1 {
		t.Errorf("%d statements prepared, want 1", n)
	}

	tx, err := s.Prepared().Tx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Account.Query().Where(account.NameEQ("acct-2")).Only(ctx); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if n := len(pd.stmts); n != 1 {
		t.Errorf("a query in a transaction was prepared: %d statements", n)
	}

	for i := range maxPrepared + 5 {
		got, err := s.Prepared().Account.Query().Where(account.NameNEQ("x")).Limit(100 + i).Count(ctx)
		if err != nil || got != 3 {
			t.Fatalf("query %d: %d, %v", i, got, err)
		}
	}
	if n := len(pd.stmts); n != maxPrepared {
		t.Errorf("%d statements prepared, want the cap %d", n, maxPrepared)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if n := len(pd.stmts); n != 0 {
		t.Errorf("%d statements left open after Close", n)
	}
}

// TestDetached: a query of Store.Detached answers as the plain one does, is
// counted, gives its connection back when its rows are closed, and its wait
// for a connection ends with its context (all of SQLite's four connections
// held: it returns at its deadline, not when one frees).
func TestDetached(t *testing.T) {
	s, counter, ctx := openAccounts(t)
	defer s.Close()
	names := func(ctx context.Context, client *ent.Client) ([]string, error) {
		return client.Account.Query().Where(account.NameNEQ("acct-1")).Order(account.ByID()).Select(account.FieldName).Strings(ctx)
	}
	want, err := names(ctx, s.Client)
	if err != nil {
		t.Fatal(err)
	}
	counter.Reset()
	got, err := names(ctx, s.Detached())
	if err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("detached query = %v, %v; want %v", got, err, want)
	}
	if n := counter.Count(); n != 1 {
		t.Errorf("counted %d statements, want 1", n)
	}
	if inUse := s.DB.Stats().InUse; inUse != 0 {
		t.Errorf("%d connections still in use after the rows were read", inUse)
	}

	var held []*sql.Conn
	for range 4 {
		c, err := s.DB.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	// Given back after 2 s, so that a wait that ignored the deadline ends.
	release := time.AfterFunc(2*time.Second, func() {
		for _, c := range held {
			_ = c.Close()
		}
	})
	defer func() {
		if release.Stop() {
			for _, c := range held {
				_ = c.Close()
			}
		}
	}()
	deadline, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := names(deadline, s.Detached()); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("with every connection held: %v, want context.DeadlineExceeded", err)
	}
	if waited := time.Since(start); waited > time.Second {
		t.Errorf("returned after %s, long past its deadline", waited)
	}
}

// TestCountsEveryStatement: the store's driver counts statements outside
// and inside transactions, read transactions (ent's BeginTx) included, and
// calls OnStatement for each; a read transaction works at all (the server
// once wrapped this driver in one without BeginTx, and every preview failed).
func TestCountsEveryStatement(t *testing.T) {
	var heard atomic.Int64
	s, err := Open("file:"+filepath.Join(t.TempDir(), "c.db"), Config{OnStatement: func() { heard.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := tenant.WithSystem(context.Background())
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	c := &counter{s: s}
	c.Reset()
	heard.Store(0)
	start := s.Statements()
	if _, err := s.Client.Account.Create().SetName("a").Save(ctx); err != nil {
		t.Fatal(err)
	}
	if got := c.Count(); got != 1 {
		t.Errorf("plain insert: %d statements, want 1", got)
	}
	c.Reset()
	if err := InTx(ctx, s.Client, func(tx *ent.Tx) error {
		_, err := tx.Account.Query().Count(ctx)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if got := c.Count(); got != 1 {
		t.Errorf("write transaction: %d statements, want 1", got)
	}
	c.Reset()
	if err := s.InReadTx(ctx, func(tx *ent.Tx) error {
		n, err := tx.Account.Query().Count(ctx)
		if err == nil && n != 1 {
			err = fmt.Errorf("%d accounts, want 1", n)
		}
		return err
	}); err != nil {
		t.Fatalf("read transaction: %v", err)
	}
	if got := c.Count(); got != 1 {
		t.Errorf("read transaction: %d statements, want 1", got)
	}
	if got, want := heard.Load(), s.Statements()-start; got != want || want != 3 {
		t.Errorf("OnStatement heard %d, the store counted %d, want 3", got, want)
	}
}
