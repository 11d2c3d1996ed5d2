package db

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"entgo.io/ent/dialect"

	"github.com/frsvc/fulfillment/ent/account"
	"github.com/frsvc/fulfillment/internal/sqlcount"
	"github.com/frsvc/fulfillment/internal/tenant"
)

// TestWithPrepared: a query under WithPrepared answers as the unprepared
// one does, is counted by the counting driver above, keeps one prepared
// statement however often it runs, is not prepared inside a transaction,
// and past maxPrepared statements runs unprepared.
func TestWithPrepared(t *testing.T) {
	var counter *sqlcount.Driver
	s, err := Open("file:"+filepath.Join(t.TempDir(), "p.db"), Config{WrapDriver: func(d dialect.Driver) dialect.Driver {
		counter = sqlcount.Wrap(d)
		return counter
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := tenant.WithSystem(context.Background())
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := s.Client.Account.Create().SetName(fmt.Sprintf("acct-%d", i)).Save(ctx); err != nil {
			t.Fatal(err)
		}
	}
	pd := s.prep
	names := func(ctx context.Context) []string {
		t.Helper()
		got, err := s.Client.Account.Query().Where(account.NameNEQ("acct-1")).Order(account.ByID()).Select(account.FieldName).Strings(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	want := names(ctx)
	counter.Reset()
	for range 5 {
		if got := names(WithPrepared(ctx)); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("prepared query = %v, want %v", got, want)
		}
	}
	if n := counter.Count(); n != 5 {
		t.Errorf("counted %d statements, want 5", n)
	}
	if n := len(pd.stmts); n != 1 {
		t.Errorf("%d statements prepared, want 1", n)
	}

	tx, err := s.Client.Tx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Account.Query().Where(account.NameEQ("acct-2")).Only(WithPrepared(ctx)); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if n := len(pd.stmts); n != 1 {
		t.Errorf("a query in a transaction was prepared: %d statements", n)
	}

	for i := range maxPrepared + 5 {
		got, err := s.Client.Account.Query().Where(account.NameNEQ("x")).Limit(100 + i).Count(WithPrepared(ctx))
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
