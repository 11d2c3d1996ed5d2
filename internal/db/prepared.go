package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"

	"github.com/frsvc/fulfillment/ent"
)

// maxPrepared bounds the statements kept prepared: only queries run through
// Store.Prepared are, and those are a fixed few.
const maxPrepared = 32

// statementMode is how the preparing driver runs an ent query: as ent does,
// prepared, or detached.
type statementMode int

const (
	plainStatement statementMode = iota
	preparedStatement
	detachedStatement
)

// Prepared returns a client of the store whose queries, outside a
// transaction, use a statement prepared once (per pooled connection, by
// database/sql) instead of being parsed anew: for a fixed query sent on
// every request, such as the API key lookup. On SQLite that saves parsing
// the statement; on PostgreSQL, lib/pq's round trip for the unnamed
// statement and the server's parse. The statement is counted like any
// other. Writes and transactions of the client are the store's own.
func (s *Store) Prepared() *ent.Client { return s.prepared }

// Detached returns a client of the store whose queries, outside a
// transaction, take their pooled connection under the caller's context
// (the wait for a connection ends with it), then run the statement without
// its cancellation and deadline. For a short point read on SQLite, where a
// cancelable context makes the driver start a goroutine to watch it for
// every statement: the statement cannot wait on a network, the wait for a
// connection can. Writes and transactions of the client are the store's
// own.
func (s *Store) Detached() *ent.Client { return s.detached }

// modeDriver is the preparing driver with its queries run in one mode. It
// closes nothing: the store's client owns the driver.
type modeDriver struct {
	*preparingDriver
	mode statementMode
}

func (d modeDriver) Query(ctx context.Context, query string, args, v any) error {
	return d.query(ctx, d.mode, query, args, v)
}

func (modeDriver) Close() error { return nil }

// preparingDriver is the ent driver the store hands to ent: ent's SQL driver
// with a statement cache for the queries of Store.Prepared, a connection of
// their own for those of Store.Detached (each a modeDriver over this one),
// and a count of every statement sent (inside transactions too) for the
// statement metric.
type preparingDriver struct {
	*entsql.Driver
	pool  *sql.DB
	count func()

	mu     sync.Mutex
	stmts  map[string]*sql.Stmt
	closed bool
}

func newPreparingDriver(d *entsql.Driver, pool *sql.DB, count func()) *preparingDriver {
	return &preparingDriver{Driver: d, pool: pool, count: count, stmts: map[string]*sql.Stmt{}}
}

// Exec counts the statement and runs it as ent's driver does.
func (d *preparingDriver) Exec(ctx context.Context, query string, args, v any) error {
	d.count()
	return d.Driver.Exec(ctx, query, args, v)
}

// ExecContext counts the statement and runs it on the pool (ent's
// Client.ExecContext).
func (d *preparingDriver) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	d.count()
	return d.Driver.ExecContext(ctx, query, args...)
}

// QueryContext counts the statement and runs it on the pool (ent's
// Client.QueryContext).
func (d *preparingDriver) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	d.count()
	return d.Driver.QueryContext(ctx, query, args...)
}

// Tx starts a transaction whose statements are counted.
func (d *preparingDriver) Tx(ctx context.Context) (dialect.Tx, error) {
	return d.BeginTx(ctx, nil)
}

// BeginTx starts a transaction with options (ent's Client.BeginTx, which
// read transactions use) whose statements are counted.
func (d *preparingDriver) BeginTx(ctx context.Context, opts *sql.TxOptions) (dialect.Tx, error) {
	tx, err := d.Driver.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &countedTx{Tx: tx.(*entsql.Tx), count: d.count}, nil
}

// countedTx is a transaction of the store: ent's, with its statements counted.
type countedTx struct {
	*entsql.Tx
	count func()
}

func (t *countedTx) Exec(ctx context.Context, query string, args, v any) error {
	t.count()
	return t.Tx.Exec(ctx, query, args, v)
}

func (t *countedTx) Query(ctx context.Context, query string, args, v any) error {
	t.count()
	return t.Tx.Query(ctx, query, args, v)
}

func (t *countedTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	t.count()
	return t.Tx.ExecContext(ctx, query, args...)
}

func (t *countedTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	t.count()
	return t.Tx.QueryContext(ctx, query, args...)
}

// Query counts the statement and runs it as ent's driver does.
func (d *preparingDriver) Query(ctx context.Context, query string, args, v any) error {
	return d.query(ctx, plainStatement, query, args, v)
}

// query counts the statement and runs it in mode: as ent's driver does,
// through a prepared statement, or detached.
func (d *preparingDriver) query(ctx context.Context, mode statementMode, query string, args, v any) error {
	d.count()
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

// What ent asks of the driver the store hands it: a dialect.Driver with
// BeginTx (Client.BeginTx, read transactions), and ExecContext/QueryContext
// (Client.ExecContext); transactions with the same two.
var (
	_ dialect.Driver = (*preparingDriver)(nil)
	_ dialect.Driver = modeDriver{}
	_ interface {
		BeginTx(context.Context, *sql.TxOptions) (dialect.Tx, error)
	} = modeDriver{}
	_ interface {
		BeginTx(context.Context, *sql.TxOptions) (dialect.Tx, error)
	} = (*preparingDriver)(nil)
	_ interface {
		ExecContext(context.Context, string, ...any) (sql.Result, error)
		QueryContext(context.Context, string, ...any) (*sql.Rows, error)
	} = (*preparingDriver)(nil)
	_ interface {
		dialect.Tx
		ExecContext(context.Context, string, ...any) (sql.Result, error)
		QueryContext(context.Context, string, ...any) (*sql.Rows, error)
	} = (*countedTx)(nil)
)
