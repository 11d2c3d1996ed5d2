package e2e

import (
	"slices"
	"strings"
	"testing"

	"github.com/frsvc/fulfillment/internal/app"
	"github.com/frsvc/fulfillment/internal/testdb"
)

// Tracking numbers are unique per source: a SOURCE key learned from
// createShipment's "already used" whether another source's tracking number
// existed.

// trWorld is an account with two sources, PA and PB, each with a SOURCE key
// and two processed requests of its own.
type trWorld struct {
	*spKit
	keyA, keyB string
	a1, a2     spFR
	b1         spFR
	srcA, srcB string
}

func trNew(t *testing.T, k *spKit) *trWorld {
	t.Helper()
	w := &trWorld{spKit: k}
	w.srcA = k.source("PA", map[string]int{"SKU-A": 10})
	w.srcB = k.source("PB", map[string]int{"SKU-B": 10})
	w.keyA, w.keyB = k.SourceKey("partner", w.srcA).Secret, k.SourceKey("partner", w.srcB).Secret
	o1 := k.order("TR-1", []string{"SKU-A", "SKU-B"}, 2, 2)
	w.a1 = k.create(o1, w.srcA, map[string]int{"SKU-A": 2})
	w.b1 = k.create(o1, w.srcB, map[string]int{"SKU-B": 2})
	o2 := k.order("TR-2", []string{"SKU-A"}, 2)
	w.a2 = k.create(o2, w.srcA, nil)
	for _, fr := range []spFR{w.a1, w.a2, w.b1} {
		k.markProcessed(fr.ID)
	}
	return w
}

// checkPerSource: B ships T-1; A may ship T-1 too (its answer does not
// depend on B's numbers); A reusing its own T-1 still answers VALIDATION
// "already used", changing nothing.
func (w *trWorld) checkPerSource(t *testing.T) {
	t.Helper()
	if res := w.ship(w.keyB, w.b1.ID, "T-1", map[string]int{w.b1.Items["SKU-B"]: 1}); len(res.Errors) > 0 {
		t.Fatalf("B's first shipment: %+v", res.Errors)
	}
	if res := w.ship(w.keyA, w.a1.ID, "T-1", map[string]int{w.a1.Items["SKU-A"]: 1}); len(res.Errors) > 0 {
		t.Fatalf("A using the number B used: %+v", res.Errors)
	}
	Unchanged(t, w.Store, "A reusing its own tracking number", func() {
		res := w.ship(w.keyA, w.a2.ID, "T-1", map[string]int{w.a2.Items["SKU-A"]: 1})
		e := ErrorOf(t, res, "VALIDATION")
		if e.Field() != "input.trackingNumber" || !strings.Contains(e.Message, "already used") {
			t.Errorf("reuse: %+v", e)
		}
	})
	// B reusing its own number on its request: refused the same way.
	Unchanged(t, w.Store, "B reusing its own tracking number", func() {
		ErrorOf(t, w.ship(w.keyB, w.b1.ID, "T-1", map[string]int{w.b1.Items["SKU-B"]: 1}), "VALIDATION")
	})
}

// TestHardeningTrackingPerSource: two sources can use the same tracking
// number; one source reusing its own still answers the existing error.
func TestHardeningTrackingPerSource(t *testing.T) {
	testdb.Each(t, func(t *testing.T, a *app.App) {
		trNew(t, spNew(t, a)).checkPerSource(t)
	})
}

// trIndexes lists the indexes of the shipments table.
func trIndexes(t *testing.T, a *app.App) []string {
	t.Helper()
	q := `SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'shipments' AND name NOT LIKE 'sqlite_%'`
	if a.Store.Postgres() {
		q = `SELECT indexname FROM pg_indexes WHERE tablename = 'shipments' AND indexname <> 'shipments_pkey'`
	}
	rows, err := a.Store.DB.Query(q)
	testdb.Must(t, err)
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		testdb.Must(t, rows.Scan(&n))
		names = append(names, n)
	}
	testdb.Must(t, rows.Err())
	slices.Sort(names)
	return names
}

// TestHardeningTrackingMigration: a database made before tracking numbers
// were per source (no shipments.source_id, the account-wide unique index
// shipment_account_id_tracking_number, a shipment already there) migrates
// on start: the old index is dropped, the column is added and filled in
// from each shipment's request, the per-source index is created, and the
// rules hold on the migrated data. A second start changes nothing.
func TestHardeningTrackingMigration(t *testing.T) {
	testdb.Each(t, func(t *testing.T, a *app.App) {
		k := spNew(t, a)
		w := trNew(t, k)
		if res := w.ship(w.keyA, w.a1.ID, "OLD-1", map[string]int{w.a1.Items["SKU-A"]: 1}); len(res.Errors) > 0 {
			t.Fatalf("ship before the migration: %+v", res.Errors)
		}
		// The schema as it was.
		for _, stmt := range []string{
			`DROP INDEX shipment_account_id_source_id_tracking_number`,
			`ALTER TABLE shipments DROP COLUMN source_id`,
			`CREATE UNIQUE INDEX shipment_account_id_tracking_number ON shipments (account_id, tracking_number)`,
		} {
			if _, err := a.Store.DB.Exec(stmt); err != nil {
				t.Fatalf("%s: %v", stmt, err)
			}
		}
		old := trIndexes(t, a)
		if !slices.Contains(old, "shipment_account_id_tracking_number") {
			t.Fatalf("the old schema's indexes: %v", old)
		}

		a2 := testdb.On(t, a.Config.DatabaseURL)
		got := trIndexes(t, a2)
		if slices.Contains(got, "shipment_account_id_tracking_number") || !slices.Contains(got, "shipment_account_id_source_id_tracking_number") {
			t.Fatalf("indexes after the migration: %v", got)
		}
		var src string
		testdb.Must(t, a2.Store.DB.QueryRow(`SELECT CAST(source_id AS VARCHAR(20)) FROM shipments WHERE tracking_number = 'OLD-1'`).Scan(&src))
		if src != w.srcA {
			t.Fatalf("the old shipment's source_id is %s, want %s", src, w.srcA)
		}

		w2 := &trWorld{spKit: &spKit{Env: Serve(t, a2, k.AdminKey)},
			keyA: w.keyA, keyB: w.keyB, a1: w.a1, a2: w.a2, b1: w.b1, srcA: w.srcA, srcB: w.srcB}
		// B may use the number A used before the migration; A may not.
		if res := w2.ship(w2.keyB, w2.b1.ID, "OLD-1", map[string]int{w2.b1.Items["SKU-B"]: 1}); len(res.Errors) > 0 {
			t.Fatalf("B using A's pre-migration number: %+v", res.Errors)
		}
		ErrorOf(t, w2.ship(w2.keyA, w2.a2.ID, "OLD-1", map[string]int{w2.a2.Items["SKU-A"]: 1}), "VALIDATION")
		w2.checkPerSource(t)

		before, _ := FingerprintRows(t, a2.Store)
		a3 := testdb.On(t, a.Config.DatabaseURL)
		if after, _ := FingerprintRows(t, a3.Store); after != before || !slices.Equal(trIndexes(t, a3), got) {
			t.Fatal("a second start changed the database")
		}
	})
}
