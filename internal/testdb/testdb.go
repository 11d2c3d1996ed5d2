// Package testdb gives each test a fresh database, and the app built over it
// by internal/app's constructor, the one the server uses: an SQLite file in
// the test's temporary directory always, and a PostgreSQL database created on
// the server named by TEST_DATABASE_URL when that is set, dropped afterwards.
// Set REQUIRE_POSTGRES=1 (CI does) to fail instead of skipping PostgreSQL.
package testdb

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/frsvc/fulfillment/internal/app"
	"github.com/frsvc/fulfillment/internal/auth"
	"github.com/frsvc/fulfillment/internal/db"
)

// Kinds are the database kinds a test can run on.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// Each runs fn once on SQLite and, when configured, once on PostgreSQL, as
// subtests named after the kind, each with a fresh database and the app
// built over it by app.New (see App).
func Each(t *testing.T, fn func(t *testing.T, a *app.App)) {
	t.Helper()
	for _, kind := range Kinds(t) {
		t.Run(kind, func(t *testing.T) { fn(t, App(t, kind)) })
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

// Config is the configuration tests build the app with: the server's
// defaults (app.Defaults), with a discarded log, no default account and no
// background send run (tests run it when they mean to).
func Config() app.Config {
	c := app.Defaults()
	c.Bootstrap = false
	c.SendInterval = 0
	c.Logger = slog.New(slog.NewJSONHandler(io.Discard, nil))
	return c
}

// App builds the app over a fresh database of the kind, through app.New
// with Config() adjusted by configure; closed, and the database removed,
// when the test ends.
func App(t testing.TB, kind string, configure ...func(*app.Config)) *app.App {
	t.Helper()
	return On(t, URL(t, kind), configure...)
}

// On builds another app over the database at rawURL (a second server
// process on the same store, or the same store with other settings).
func On(t testing.TB, rawURL string, configure ...func(*app.Config)) *app.App {
	t.Helper()
	cfg := Config()
	cfg.DatabaseURL = rawURL
	for _, c := range configure {
		c(&cfg)
	}
	if cfg.FileDropRoot == "" && db.SQLiteFile(cfg.DatabaseURL) == "" {
		// The default, drops in the working directory, would be the
		// package's source folder: the database's own folder instead, so
		// that every app on one database shares it, as on SQLite.
		cfg.FileDropRoot = dropRoot(t, cfg.DatabaseURL)
	}
	a, err := app.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("build the app over %s: %v", rawURL, err)
	}
	t.Cleanup(func() { _ = a.Close() })
	return a
}

// Open returns the store of a fresh app of the kind (for tests of the
// data layer and the use cases below the HTTP surface).
func Open(t testing.TB, kind string) *db.Store {
	t.Helper()
	return App(t, kind).Store
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

// dropRoots are the drop roots of the PostgreSQL databases made here, by URL.
var dropRoots sync.Map

// dropRoot is the drop root of the apps over a database that has no
// SQLite file to put it beside.
func dropRoot(t testing.TB, rawURL string) string {
	if dir, ok := dropRoots.Load(rawURL); ok {
		return dir.(string)
	}
	return filepath.Join(t.TempDir(), "drops")
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
	dropRoots.Store(u.String(), filepath.Join(t.TempDir(), "drops"))
	return u.String()
}

// Account creates an account named name on s and returns a context that
// carries the principal of its ADMIN key, as authentication leaves a
// request made with that key (for tests below the HTTP surface).
func Account(t testing.TB, s *db.Store, name string) context.Context {
	t.Helper()
	_, secret, err := auth.CreateAccount(context.Background(), s.Client, name, "")
	Must(t, err)
	p, err := (&auth.Authenticator{Client: s.Client}).Authenticate(context.Background(), secret)
	Must(t, err)
	return auth.WithPrincipal(context.Background(), p)
}

// Must fails the test on err.
func Must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(fmt.Sprint(err))
	}
}

// Counter counts the SQL statements a store sends from a mark on (the
// store's own count, the one behind the statement metric).
type Counter struct {
	s    *db.Store
	mark int64
}

// NewCounter returns a counter of s's statements from now on.
func NewCounter(s *db.Store) *Counter { return &Counter{s: s, mark: s.Statements()} }

// Reset sets the mark to now.
func (c *Counter) Reset() { c.mark = c.s.Statements() }

// Count returns the statements sent since the mark.
func (c *Counter) Count() int64 { return c.s.Statements() - c.mark }
