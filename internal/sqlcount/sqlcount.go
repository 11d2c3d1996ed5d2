// Package sqlcount wraps an ent driver to count the SQL statements it sends.
// Tests use it to guard against N+1 queries; the server can export the count
// as a metric.
package sqlcount

import (
	"context"
	"sync/atomic"

	"entgo.io/ent/dialect"
)

// Driver counts every Exec and Query, inside transactions too.
type Driver struct {
	dialect.Driver
	n *atomic.Int64
	// OnStatement, when set, is called for every statement.
	OnStatement func()
}

// Wrap returns a counting driver around d.
func Wrap(d dialect.Driver) *Driver { return &Driver{Driver: d, n: new(atomic.Int64)} }

// Count returns the statements sent so far.
func (d *Driver) Count() int64 { return d.n.Load() }

// Reset sets the count to zero.
func (d *Driver) Reset() { d.n.Store(0) }

func (d *Driver) inc() {
	d.n.Add(1)
	if d.OnStatement != nil {
		d.OnStatement()
	}
}

// Exec counts and forwards.
func (d *Driver) Exec(ctx context.Context, query string, args, v any) error {
	d.inc()
	return d.Driver.Exec(ctx, query, args, v)
}

// Query counts and forwards.
func (d *Driver) Query(ctx context.Context, query string, args, v any) error {
	d.inc()
	return d.Driver.Query(ctx, query, args, v)
}

// Tx starts a transaction whose statements are counted too.
func (d *Driver) Tx(ctx context.Context) (dialect.Tx, error) {
	tx, err := d.Driver.Tx(ctx)
	if err != nil {
		return nil, err
	}
	return &countingTx{Tx: tx, d: d}, nil
}

type countingTx struct {
	dialect.Tx
	d *Driver
}

func (t *countingTx) Exec(ctx context.Context, query string, args, v any) error {
	t.d.inc()
	return t.Tx.Exec(ctx, query, args, v)
}

func (t *countingTx) Query(ctx context.Context, query string, args, v any) error {
	t.d.inc()
	return t.Tx.Query(ctx, query, args, v)
}
