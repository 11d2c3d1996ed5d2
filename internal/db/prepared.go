package db

import (
	"context"
	"database/sql"
	"fmt"
	"sync"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
)

// maxPrepared bounds the statements kept prepared: only queries run under
// WithPrepared are, and those are a fixed few.
const maxPrepared = 32

type preparedKey struct{}

// WithPrepared marks ctx so that an ent query run under it outside a
// transaction uses a statement prepared once (per pooled connection, by
// database/sql) instead of being parsed anew: for a fixed query sent on
// every request, such as the API key lookup. On SQLite that saves parsing
// the statement; on PostgreSQL, lib/pq's round trip for the unnamed
// statement and the server's parse. The statement is counted like any other
// (the counting driver sits above this one).
func WithPrepared(ctx context.Context) context.Context {
	return context.WithValue(ctx, preparedKey{}, true)
}

func prepared(ctx context.Context) bool {
	v, _ := ctx.Value(preparedKey{}).(bool)
	return v
}

// preparingDriver is the ent driver with a statement cache for the queries
// run under WithPrepared.
type preparingDriver struct {
	*entsql.Driver
	pool *sql.DB

	mu    sync.Mutex
	stmts map[string]*sql.Stmt
}

func newPreparingDriver(d *entsql.Driver, pool *sql.DB) *preparingDriver {
	return &preparingDriver{Driver: d, pool: pool, stmts: map[string]*sql.Stmt{}}
}

// Query runs query as ent's driver does, through a prepared statement when
// ctx asks for one.
func (d *preparingDriver) Query(ctx context.Context, query string, args, v any) error {
	if !prepared(ctx) {
		return d.Driver.Query(ctx, query, args, v)
	}
	vr, ok := v.(*entsql.Rows)
	if !ok {
		return fmt.Errorf("db: invalid type %T, expect *sql.Rows", v)
	}
	argv, ok := args.([]any)
	if !ok {
		return fmt.Errorf("db: invalid type %T, expect []any for args", args)
	}
	stmt, err := d.stmt(ctx, query)
	if err != nil {
		return err
	}
	if stmt == nil { // the cache is full: run it unprepared
		return d.Driver.Query(ctx, query, args, v)
	}
	rows, err := stmt.QueryContext(ctx, argv...)
	if err != nil {
		return err
	}
	*vr = entsql.Rows{ColumnScanner: rows}
	return nil
}

// stmt returns the prepared statement for query, preparing it on first
// use; nil when maxPrepared statements are already kept.
func (d *preparingDriver) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if s, ok := d.stmts[query]; ok {
		return s, nil
	}
	if len(d.stmts) >= maxPrepared {
		return nil, nil
	}
	s, err := d.pool.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	d.stmts[query] = s
	return s, nil
}

// Close closes the prepared statements, then the pool.
func (d *preparingDriver) Close() error {
	d.mu.Lock()
	for q, s := range d.stmts {
		_ = s.Close()
		delete(d.stmts, q)
	}
	d.mu.Unlock()
	return d.Driver.Close()
}

var _ dialect.Driver = (*preparingDriver)(nil)
