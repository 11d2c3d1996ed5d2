package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
)

// maxPrepared bounds the statements kept prepared: only queries run under
// WithPrepared are, and those are a fixed few.
const maxPrepared = 32

// statementMode is how the preparing driver runs an ent query: as ent does,
// prepared, or detached.
type statementMode int

const (
	plainStatement statementMode = iota
	preparedStatement
	detachedStatement
)

type statementModeKey struct{}

// WithDetached marks ctx so that an ent query run under it outside a
// transaction takes its pooled connection under ctx (the wait for a
// connection ends with ctx), then runs the statement without ctx's
// cancellation and deadline. For a short point read on SQLite, where a
// cancelable context makes the driver start a goroutine to watch it for
// every statement: the statement cannot wait on a network, the wait for a
// connection can.
func WithDetached(ctx context.Context) context.Context {
	return context.WithValue(ctx, statementModeKey{}, detachedStatement)
}

// WithPrepared marks ctx so that an ent query run under it outside a
// transaction uses a statement prepared once (per pooled connection, by
// database/sql) instead of being parsed anew: for a fixed query sent on
// every request, such as the API key lookup. On SQLite that saves parsing
// the statement; on PostgreSQL, lib/pq's round trip for the unnamed
// statement and the server's parse. The statement is counted like any other
// (the counting driver sits above this one).
func WithPrepared(ctx context.Context) context.Context {
	return context.WithValue(ctx, statementModeKey{}, preparedStatement)
}

func modeOf(ctx context.Context) statementMode {
	m, _ := ctx.Value(statementModeKey{}).(statementMode)
	return m
}

// preparingDriver is the ent driver with a statement cache for the queries
// run under WithPrepared, and a connection of their own for those run under
// WithDetached.
type preparingDriver struct {
	*entsql.Driver
	pool *sql.DB

	mu     sync.Mutex
	stmts  map[string]*sql.Stmt
	closed bool
}

func newPreparingDriver(d *entsql.Driver, pool *sql.DB) *preparingDriver {
	return &preparingDriver{Driver: d, pool: pool, stmts: map[string]*sql.Stmt{}}
}

// Query runs query as ent's driver does, through a prepared statement or
// detached when ctx asks for it.
func (d *preparingDriver) Query(ctx context.Context, query string, args, v any) error {
	mode := modeOf(ctx)
	if mode == plainStatement {
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
	if mode == detachedStatement {
		conn, err := d.pool.Conn(ctx)
		if err != nil {
			return err
		}
		rows, err := conn.QueryContext(context.WithoutCancel(ctx), query, argv...)
		if err != nil {
			return errors.Join(err, conn.Close())
		}
		*vr = entsql.Rows{ColumnScanner: &connRows{Rows: rows, conn: conn}}
		return nil
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
// use (outside the lock: a slow prepare holds up no other query); nil when
// maxPrepared statements are already kept.
func (d *preparingDriver) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	d.mu.Lock()
	s, ok := d.stmts[query]
	full := len(d.stmts) >= maxPrepared
	d.mu.Unlock()
	if ok {
		return s, nil
	}
	if full {
		return nil, nil
	}
	s, err := d.pool.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if kept, ok := d.stmts[query]; ok { // prepared meanwhile by another query
		_ = s.Close()
		return kept, nil
	}
	if len(d.stmts) >= maxPrepared || d.closed {
		_ = s.Close()
		return nil, nil
	}
	d.stmts[query] = s
	return s, nil
}

// connRows are rows read on a connection taken from the pool for them,
// which Close gives back.
type connRows struct {
	*sql.Rows
	conn *sql.Conn
}

func (r *connRows) Close() error {
	return errors.Join(r.Rows.Close(), r.conn.Close())
}

// Close closes the prepared statements, then the pool.
func (d *preparingDriver) Close() error {
	d.mu.Lock()
	d.closed = true
	for q, s := range d.stmts {
		_ = s.Close()
		delete(d.stmts, q)
	}
	d.mu.Unlock()
	return d.Driver.Close()
}

var _ dialect.Driver = (*preparingDriver)(nil)
