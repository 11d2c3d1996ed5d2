// Package db opens the store named by a database URL (embedded SQLite by
// default, PostgreSQL through lib/pq), creates or migrates the schema, and
// runs units of work in one transaction.
package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	_ "github.com/lib/pq" // PostgreSQL driver "postgres"
	"modernc.org/sqlite"  // pure-Go SQLite driver "sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/frsvc/fulfillment/ent"
	_ "github.com/frsvc/fulfillment/ent/runtime" // schema hooks and interceptors
	"github.com/frsvc/fulfillment/internal/apperr"
)

// DefaultSQLiteFile is the embedded database used when no URL is given.
const DefaultSQLiteFile = "fulfillment.db"

// Store is an opened database: the ent client, the raw pool (for health
// checks and the few statements ent cannot express) and the dialect.
type Store struct {
	Client  *ent.Client
	DB      *sql.DB
	Dialect string

	prep       *preparingDriver
	prepared   *ent.Client // Prepared
	detached   *ent.Client // Detached
	statements atomic.Int64
}

// Statements returns how many SQL statements the store has sent since it
// was opened (every Exec and Query, inside transactions too).
func (s *Store) Statements() int64 { return s.statements.Load() }

// Config tunes Open.
type Config struct {
	// OnStatement, when set, is called once for every SQL statement the
	// store sends, inside transactions too (the statement metric). It runs
	// on the caller's goroutine and must not block.
	OnStatement func()
}

// Postgres reports whether the store is PostgreSQL.
func (s *Store) Postgres() bool { return s.Dialect == dialect.Postgres }

// Close closes the client and the pool.
func (s *Store) Close() error { return s.Client.Close() }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.DB.PingContext(ctx) }

// Open opens the database named by rawURL: "" is the embedded SQLite file
// fulfillment.db, postgres:// or postgresql:// is PostgreSQL, file:… or a path
// ending in .db is that SQLite file.
func Open(rawURL string, cfg Config) (*Store, error) {
	driverName, dsn, dial, err := parse(rawURL)
	if err != nil {
		return nil, err
	}
	pool, err := sql.Open(driverName, dsn)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	if dial == dialect.SQLite {
		// One writer at a time is SQLite's rule; _txlock=immediate makes
		// writers queue on busy_timeout instead of failing on upgrade.
		pool.SetMaxOpenConns(4)
	} else {
		pool.SetMaxOpenConns(32)
		pool.SetMaxIdleConns(16)
		pool.SetConnMaxIdleTime(5 * time.Minute)
	}
	s := &Store{DB: pool, Dialect: dial}
	s.prep = newPreparingDriver(entsql.OpenDB(dial, pool), pool, func() {
		s.statements.Add(1)
		if cfg.OnStatement != nil {
			cfg.OnStatement()
		}
	})
	// The driver handed to ent is this one, never a wrapper around it: ent's
	// Client.BeginTx (read transactions) type-asserts the driver for BeginTx.
	s.Client = ent.NewClient(ent.Driver(s.prep))
	s.prepared = ent.NewClient(ent.Driver(modeDriver{s.prep, preparedStatement}))
	s.detached = ent.NewClient(ent.Driver(modeDriver{s.prep, detachedStatement}))
	return s, nil
}

func parse(rawURL string) (driverName, dsn, dial string, err error) {
	switch {
	case rawURL == "":
		return "sqlite", sqliteDSN("file:" + DefaultSQLiteFile), dialect.SQLite, nil
	case strings.HasPrefix(rawURL, "postgres://"), strings.HasPrefix(rawURL, "postgresql://"):
		return "postgres", rawURL, dialect.Postgres, nil
	case strings.HasPrefix(rawURL, "file:"):
		return "sqlite", sqliteDSN(rawURL), dialect.SQLite, nil
	case strings.HasSuffix(rawURL, ".db"):
		return "sqlite", sqliteDSN("file:" + rawURL), dialect.SQLite, nil
	}
	return "", "", "", errors.New("database URL must be empty, postgres://…, file:… or a path ending in .db")
}

// SQLiteFile is the path of the SQLite file rawURL names (see Open): ""
// for PostgreSQL, an in-memory database or a URL Open refuses.
func SQLiteFile(rawURL string) string {
	_, dsn, dial, err := parse(rawURL)
	if err != nil || dial != dialect.SQLite {
		return ""
	}
	base, query, _ := strings.Cut(strings.TrimPrefix(dsn, "file:"), "?")
	if q, _ := url.ParseQuery(query); q.Get("mode") == "memory" || base == "" || strings.HasPrefix(base, ":memory:") {
		return ""
	}
	// file://host/path and file:///path are URLs; file:path is a path.
	if strings.HasPrefix(base, "//") {
		u, err := url.Parse("file:" + base)
		if err != nil {
			return ""
		}
		return u.Path
	}
	if p, err := url.PathUnescape(base); err == nil {
		return p
	}
	return base
}

// sqliteDSN adds the pragmas the service relies on unless the URL sets them.
func sqliteDSN(u string) string {
	base, query, _ := strings.Cut(u, "?")
	q, _ := url.ParseQuery(query)
	if q.Get("_time_format") == "" {
		q.Set("_time_format", "sqlite")
	}
	if q.Get("_txlock") == "" {
		q.Set("_txlock", "immediate")
	}
	pragmas := strings.Join(q["_pragma"], ",")
	for _, p := range []string{"foreign_keys(1)", "busy_timeout(10000)", "journal_mode(WAL)", "synchronous(NORMAL)"} {
		name, _, _ := strings.Cut(p, "(")
		if !strings.Contains(pragmas, name) {
			q.Add("_pragma", p)
		}
	}
	return base + "?" + q.Encode()
}

// migrateMu serializes Migrate within a process: ent's migration writes to
// the package-level table descriptions of ent/migrate (column and index
// links), so two migrations at once, as parallel tests each on its own
// database run them, race on those and can crash on a concurrent map write.
var migrateMu sync.Mutex

// Migrate creates or upgrades the schema.
func (s *Store) Migrate(ctx context.Context) error {
	migrateMu.Lock()
	defer migrateMu.Unlock()
	if err := s.Client.Schema.Create(ctx, migrateOptions()...); err != nil {
		return fmt.Errorf("migrate schema: %w", err)
	}
	// Only a request the send run has still to send has a next attempt:
	// rows written before that was kept clear it here (idempotent, and a
	// no-op once they are).
	if _, err := s.DB.ExecContext(ctx, `UPDATE fulfillment_requests SET next_attempt_at = NULL
		WHERE next_attempt_at IS NOT NULL AND status <> 'PROCESSING'
		AND NOT (status = 'VOIDED' AND cancellation_notice_pending = `+s.boolTrue()+`)`); err != nil {
		return fmt.Errorf("migrate: clear stale next attempts: %w", err)
	}
	return nil
}

// boolTrue is the dialect's literal for true.
func (s *Store) boolTrue() string {
	if s.Postgres() {
		return "TRUE"
	}
	return "1"
}

// MaxTxAttempts is how many times InTx runs a unit of work the database
// aborted for a deadlock or a serialization failure before giving up.
const MaxTxAttempts = 3

// InTx runs fn in one transaction: committed when fn returns nil, rolled
// back otherwise (and on panic). Nothing in fn may call out over the network.
//
// A transaction the database aborts because of concurrent transactions (a
// deadlock or a serialization failure on PostgreSQL, a busy database on
// SQLite) is run again, up to MaxTxAttempts times in all with a short
// jittered pause between, and then answered CONFLICT. fn may therefore run
// more than once: it must leave nothing behind outside the transaction but
// what the last run sets (assign results, never append to what an earlier
// run left).
func InTx(ctx context.Context, client *ent.Client, fn func(tx *ent.Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := runTx(ctx, client, fn)
		if err == nil || !Retryable(err) {
			return err
		}
		if attempt >= MaxTxAttempts || ctx.Err() != nil {
			// Nothing was written: the answer is not one to remember.
			apperr.NoteTransient(ctx)
			return &apperr.Error{Code: apperr.Conflict, Err: err,
				Message: "the change collided with concurrent changes and was not made; try again"}
		}
		// 5–10 ms, then 10–20 ms: enough for the transaction that won to
		// commit, short against a request's deadline.
		base := time.Duration(5<<(attempt-1)) * time.Millisecond
		pause := time.NewTimer(base + rand.N(base))
		select {
		case <-ctx.Done():
			pause.Stop()
		case <-pause.C:
		}
	}
}

func runTx(ctx context.Context, client *ent.Client, fn func(tx *ent.Tx) error) (err error) {
	tx, err := client.Tx(ctx)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	defer func() {
		if p := recover(); p != nil {
			_ = tx.Rollback()
			panic(p)
		}
	}()
	if err := fn(tx); err != nil {
		if rerr := tx.Rollback(); rerr != nil {
			return errors.Join(err, rerr)
		}
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// Retryable reports whether err is the database aborting a transaction
// because of concurrent ones, so that running it again may succeed:
// SQLSTATE 40001 (serialization failure) or 40P01 (deadlock detected) on
// PostgreSQL, SQLITE_BUSY or SQLITE_LOCKED on SQLite.
func Retryable(err error) bool {
	var pg interface{ SQLState() string }
	if errors.As(err, &pg) {
		switch pg.SQLState() {
		case "40001", "40P01":
			return true
		}
		return false
	}
	var lite *sqlite.Error
	if errors.As(err, &lite) {
		switch lite.Code() & 0xff { // the primary code of an extended one
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return true
		}
	}
	return false
}

// Unwrap returns an entity read or written in a committed transaction bound
// to the plain client again, so that its edges can still be loaded.
func Unwrap[T interface{ Unwrap() T }](v T, err error) (T, error) {
	if err != nil {
		var zero T
		return zero, err
	}
	return v.Unwrap(), nil
}

// InReadTx runs fn in a read-only transaction that sees one consistent
// snapshot: REPEATABLE READ on PostgreSQL, a deferred transaction on SQLite
// (WAL readers see the database as of their first read and take no write lock).
func (s *Store) InReadTx(ctx context.Context, fn func(tx *ent.Tx) error) error {
	opts := &sql.TxOptions{ReadOnly: true}
	if s.Postgres() {
		opts.Isolation = sql.LevelRepeatableRead
	}
	tx, err := s.Client.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("begin read transaction: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}
