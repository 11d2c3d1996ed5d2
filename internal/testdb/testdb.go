// Package testdb gives each test a fresh database: an SQLite file in the
// test's temporary directory always, and a PostgreSQL database created on the
// server named by TEST_DATABASE_URL when that is set, dropped afterwards. Set
// REQUIRE_POSTGRES=1 (CI does) to fail instead of skipping PostgreSQL.
package testdb

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"entgo.io/ent/dialect"

	"github.com/frsvc/fulfillment/internal/db"
	"github.com/frsvc/fulfillment/internal/sqlcount"
)

// Kinds are the database kinds a test can run on.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// Options tune Open.
type Options struct {
	// Counter, when set, is filled with the statement-counting driver.
	Counter **sqlcount.Driver
}

// Each runs fn once on SQLite and, when configured, once on PostgreSQL, as
// subtests named after the kind, each with a fresh migrated database.
func Each(t *testing.T, fn func(t *testing.T, s *db.Store)) {
	t.Helper()
	for _, kind := range Kinds(t) {
		t.Run(kind, func(t *testing.T) { fn(t, Open(t, kind, Options{})) })
	}
}

// Kinds returns the kinds configured for this run.
func Kinds(t testing.TB) []string {
	kinds := []string{SQLite}
	switch {
	case os.Getenv("TEST_DATABASE_URL") != "":
		kinds = append(kinds, Postgres)
	case os.Getenv("REQUIRE_POSTGRES") == "1":
		t.Fatal("REQUIRE_POSTGRES=1 but TEST_DATABASE_URL is not set")
	}
	return kinds
}

// Open returns a fresh, migrated database of the kind, closed and removed
// when the test ends.
func Open(t testing.TB, kind string, o Options) *db.Store {
	t.Helper()
	var rawURL string
	switch kind {
	case SQLite:
		rawURL = sqliteURL(t)
	case Postgres:
		rawURL = createPostgres(t)
	default:
		t.Fatalf("unknown database kind %q", kind)
	}
	cfg := db.Config{}
	if o.Counter != nil {
		cfg.WrapDriver = func(d dialect.Driver) dialect.Driver {
			c := sqlcount.Wrap(d)
			*o.Counter = c
			return c
		}
	}
	store, err := db.Open(rawURL, cfg)
	if err != nil {
		t.Fatalf("open %s: %v", kind, err)
	}
	t.Cleanup(func() { _ = store.Close() })
	if err := store.Migrate(context.Background()); err != nil {
		t.Fatalf("migrate %s: %v", kind, err)
	}
	return store
}

// URL returns a database URL of a fresh database of the kind (for tests that
// start the server process themselves).
func URL(t testing.TB, kind string) string {
	t.Helper()
	if kind == Postgres {
		return createPostgres(t)
	}
	return sqliteURL(t)
}

// sqliteURL names a file in the test's temporary directory, escaped: a
// subtest's name can hold '#', which would end a file: URL's path.
func sqliteURL(t testing.TB) string {
	return "file:" + strings.ReplaceAll(filepath.Join(t.TempDir(), "test.db"), "#", "%23")
}

func createPostgres(t testing.TB) string {
	t.Helper()
	base := os.Getenv("TEST_DATABASE_URL")
	if base == "" {
		t.Skip("TEST_DATABASE_URL is not set")
	}
	admin, err := sql.Open("postgres", base)
	if err != nil {
		t.Fatalf("open %s: %v", base, err)
	}
	defer admin.Close()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "frs_test_" + hex.EncodeToString(b)
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		a, err := sql.Open("postgres", base)
		if err != nil {
			return
		}
		defer a.Close()
		if _, err := a.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)"); err != nil {
			t.Logf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse TEST_DATABASE_URL: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

// Must fails the test on err.
func Must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(fmt.Sprint(err))
	}
}
