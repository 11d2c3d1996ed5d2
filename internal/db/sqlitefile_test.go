package db_test

import (
	"testing"

	"github.com/frsvc/fulfillment/internal/db"
)

// TestSQLiteFile: the path of an SQLite URL's file, where the drop root
// goes beside it by default; none for PostgreSQL or memory.
func TestSQLiteFile(t *testing.T) {
	for in, want := range map[string]string{
		"":                                     db.DefaultSQLiteFile,
		"data/x.db":                            "data/x.db",
		"/var/lib/frs/x.db":                    "/var/lib/frs/x.db",
		"file:/tmp/a%23b/test.db":              "/tmp/a#b/test.db",
		"file:rel.db?_pragma=busy_timeout(10)": "rel.db",
		"file:///srv/x.db":                     "/srv/x.db",
		"file::memory:":                        "",
		"file:x.db?mode=memory":                "",
		"postgres://u@h/db":                    "",
		"postgresql://u@h/db":                  "",
		"mysql://nope":                         "",
	} {
		if got := db.SQLiteFile(in); got != want {
			t.Errorf("SQLiteFile(%q) = %q, want %q", in, got, want)
		}
	}
}
