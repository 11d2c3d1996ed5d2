package sender_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/frsvc/fulfillment/internal/app"
	"github.com/frsvc/fulfillment/internal/e2e"
	"github.com/frsvc/fulfillment/internal/frstatus"
	"github.com/frsvc/fulfillment/internal/sender"
	"github.com/frsvc/fulfillment/internal/testdb"
)

// TestSendFile drops JSON and CSV files into directories that do not exist
// yet and reads them back as a source's import job would.
func TestSendFile(t *testing.T) {
	testdb.Each(t, func(t *testing.T, a *app.App) {
		env := e2e.New(t, a)
		w := newWorld(t, env)
		jsonDir, csvDir := w.dropDir("json/in"), w.dropDir("csv")
		jsonSrc := w.source("FJ", map[string]any{"kind": "FILE", "directory": "json/in", "format": "JSON"})
		csvSrc := w.source("FC", map[string]any{"kind": "FILE", "directory": "csv", "format": "CSV"})

		// A number with characters a file name must not carry.
		var ord struct{ ImportOrder struct{ ID string } }
		w.q(`mutation { importOrder(input: {channel: "web", orderNumber: "A/1 b", paymentStatus: PAID,
			shipTo: {line1: "1 Main St", city: "Springfield", postalCode: "12345", country: "US"},
			lines: [{sku: "SKU-A", title: "Widget, large", quantity: 2, unitPrice: "9.99"}, {sku: "SKU-B", title: "Gadget \"deluxe\"", quantity: 1, unitPrice: "20"}]}) { id } }`, nil, &ord)
		var cr struct{ CreateFulfillmentRequest struct{ ID string } }
		w.q(`mutation($o: ID!, $s: ID!) { createFulfillmentRequest(input: {orderID: $o, sourceID: $s}) { id } }`,
			map[string]any{"o": ord.ImportOrder.ID, "s": jsonSrc}, &cr)
		odd := atoi(t, cr.CreateFulfillmentRequest.ID)
		w.q(`mutation($ids: [ID!]!) { processFulfillmentRequests(ids: $ids) { id } }`, map[string]any{"ids": []int{odd}}, nil)
		j, c := w.queued(jsonSrc), w.queued(csvSrc)

		r := w.runner(newClock(), "t")
		if res := w.run(r); res != (sender.Result{Claimed: 3, Processed: 3}) {
			t.Errorf("result %+v", res)
		}
		for _, id := range []int{odd, j, c} {
			fr := w.get(id)
			if fr.Status != frstatus.Processed || fr.Attempts != 1 {
				t.Errorf("request %d: %s attempts %d", id, fr.Status, fr.Attempts)
			}
			logs := w.logs(id, "send")
			if len(logs) != 1 {
				t.Fatalf("%d send logs", len(logs))
			}
			checkLog(t, logs[0], "FILE", "delivered", 1, 0)
		}
		oddFR, jFR, cFR := w.get(odd), w.get(j), w.get(c)
		if oddFR.Number != "A/1 b-1" {
			t.Fatalf("number %q", oddFR.Number)
		}

		if got, want := names(t, jsonDir), []string{"A_1_b-1.json", jFR.Number + ".json"}; !slices.Equal(got, want) {
			t.Errorf("JSON drop directory holds %q, want %q", got, want)
		}
		for _, id := range []int{odd, j} {
			name := strings.NewReplacer("/", "_", " ", "_").Replace(w.get(id).Number) + ".json"
			var doc sender.Document
			b := read(t, filepath.Join(jsonDir, name))
			if err := json.Unmarshal(b, &doc); err != nil {
				t.Fatalf("%s is not a complete JSON document: %v\n%s", name, err, b)
			}
			checkDocument(t, doc, w, id, "fulfillment_request")
		}

		if got, want := names(t, csvDir), []string{cFR.Number + ".csv"}; !slices.Equal(got, want) {
			t.Errorf("CSV drop directory holds %q, want %q", got, want)
		}
		rows := readCSV(t, filepath.Join(csvDir, cFR.Number+".csv"))
		if len(rows) != 2 {
			t.Fatalf("CSV rows %v, want one per item", rows)
		}
		for _, row := range rows {
			if row["type"] != "fulfillment_request" || row["number"] != cFR.Number || row["order_number"] != cFR.Edges.Order.OrderNumber ||
				row["ship_country"] != "US" || row["ship_name"] != "Ada Lovelace" || row["total_cost"] != cFR.TotalCost.String() {
				t.Errorf("CSV row %v", row)
			}
			want := map[string]string{"SKU-A": "2", "SKU-B": "1"}[row["sku"]]
			if want == "" || row["quantity"] != want || row["item_id"] == "" || row["unit_cost"] == "" {
				t.Errorf("CSV item row %v", row)
			}
		}
		if rows[1]["title"] != `Gadget "deluxe"` || rows[0]["title"] != "Widget, large" {
			t.Errorf("titles with a comma and quotes did not survive: %q, %q", rows[0]["title"], rows[1]["title"])
		}

		// A void after delivery drops a cancellation next to it.
		w.q(`mutation($id: ID!) { voidFulfillmentRequest(id: $id, reason: "out of stock") { id } }`, map[string]any{"id": c}, nil)
		if res := w.run(r); res.Claimed != 1 {
			t.Errorf("cancellation run %+v", res)
		}
		if got, want := names(t, csvDir), []string{cFR.Number + ".cancel.csv", cFR.Number + ".csv"}; !slices.Equal(got, want) {
			t.Errorf("CSV drop directory holds %q, want %q", got, want)
		}
		rows = readCSV(t, filepath.Join(csvDir, cFR.Number+".cancel.csv"))
		if len(rows) != 2 || rows[0]["type"] != "cancellation" || rows[0]["reason"] != "out of stock" {
			t.Errorf("cancellation rows %v", rows)
		}
		if fr := w.get(c); fr.CancellationNoticePending || fr.Status != frstatus.Voided {
			t.Errorf("after the notice: %s pending %v", fr.Status, fr.CancellationNoticePending)
		}
	})
}

// names lists a directory, failing on any temporary file left behind.
func names(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("the drop directory: %v", err)
	}
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".tmp-") {
			t.Errorf("temporary file %s left behind", e.Name())
			continue
		}
		out = append(out, e.Name())
	}
	slices.Sort(out)
	return out
}

func read(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// readCSV parses a CSV drop into rows keyed by the header.
func readCSV(t *testing.T, path string) []map[string]string {
	t.Helper()
	recs, err := csv.NewReader(bytes.NewReader(read(t, path))).ReadAll()
	if err != nil {
		t.Fatalf("%s is not valid CSV: %v", path, err)
	}
	if len(recs) < 1 {
		t.Fatalf("%s is empty", path)
	}
	var rows []map[string]string
	for i, rec := range recs[1:] {
		if len(rec) != len(recs[0]) {
			t.Fatalf("row %d has %d fields, the header %d", i, len(rec), len(recs[0]))
		}
		row := map[string]string{}
		for k, h := range recs[0] {
			row[h] = rec[k]
		}
		rows = append(rows, row)
	}
	return rows
}

// TestSendFileNoOverwrite: a drop never replaces a file still in the
// directory. The same request delivered again with the same content (its
// outcome was lost) counts as delivered and leaves the one file; a
// different file of that name stays as it is and the delivery is retried,
// then fails, saying why. Before, the rename replaced whatever was there.
func TestSendFileNoOverwrite(t *testing.T) {
	testdb.Each(t, func(t *testing.T, a *app.App) {
		env := e2e.New(t, a)

		t.Run("redelivery of the same document", func(t *testing.T) {
			w := newWorld(t, env)
			id := w.queued(w.source("REDO", map[string]any{"kind": "FILE", "directory": "redo"}))
			clock := newClock()
			crashed := w.runner(clock, "first")
			crashed.Lease = 200 * time.Millisecond
			crashed.AfterDeliver = func(int) bool { return false }
			if res := w.run(crashed); res != (sender.Result{Claimed: 1}) {
				t.Fatalf("crashed run %+v", res)
			}
			name := w.get(id).Number + ".json"
			first := read(t, filepath.Join(w.dropDir("redo"), name))
			clock.Advance(time.Second)
			if res := w.run(w.runner(clock, "second")); res != (sender.Result{Claimed: 1, Processed: 1}) {
				t.Fatalf("redelivery run %+v", res)
			}
			if got := names(t, w.dropDir("redo")); !slices.Equal(got, []string{name}) {
				t.Errorf("drop directory holds %q", got)
			}
			if again := read(t, filepath.Join(w.dropDir("redo"), name)); !bytes.Equal(again, first) {
				t.Errorf("the redelivered file differs")
			}
		})

		t.Run("a different file of the same name", func(t *testing.T) {
			w := newWorld(t, env)
			id := w.queued(w.source("TAKEN", map[string]any{"kind": "FILE", "directory": "taken", "maxAttempts": 2}))
			path := filepath.Join(w.dropDir("taken"), w.get(id).Number+".json")
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			theirs := []byte("not picked up yet\n")
			if err := os.WriteFile(path, theirs, 0o644); err != nil {
				t.Fatal(err)
			}
			clock := newClock()
			r := w.runner(clock, "t")
			if res := w.run(r); res != (sender.Result{Claimed: 1, Retried: 1}) {
				t.Errorf("first run %+v", res)
			}
			clock.Advance(time.Minute)
			if res := w.run(r); res != (sender.Result{Claimed: 1, Failed: 1}) {
				t.Errorf("second run %+v", res)
			}
			if got := read(t, path); !bytes.Equal(got, theirs) {
				t.Errorf("the file there was replaced by %q", got)
			}
			fr := w.get(id)
			if fr.Status != frstatus.Failed || fr.FailureReason == nil || !strings.Contains(*fr.FailureReason, "not overwritten") {
				t.Errorf("request %s, reason %v", fr.Status, fr.FailureReason)
			}
		})
	})
}

// TestSendFileConfined: a drop stays inside its account's folder under the
// drop root: a symbolic link out of it (in the source's directory, or as the
// account folder itself) and a directory stored before directories were
// checked (absolute, or with ..) are refused at write time, and nothing is
// written outside.
func TestSendFileConfined(t *testing.T) {
	testdb.Each(t, func(t *testing.T, a *app.App) {
		env := e2e.New(t, a)
		refused := func(t *testing.T, w *world, srcID int, outside string) {
			t.Helper()
			id := w.queued(srcID)
			if res := w.run(w.runner(newClock(), "t")); res != (sender.Result{Claimed: 1, Failed: 1}) {
				t.Errorf("run %+v", res)
			}
			if fr := w.get(id); fr.Status != frstatus.Failed || fr.FailureReason == nil {
				t.Errorf("request %s, reason %v", fr.Status, fr.FailureReason)
			} else {
				t.Logf("reason: %s", *fr.FailureReason)
			}
			filepath.WalkDir(outside, func(p string, d os.DirEntry, err error) error {
				if err == nil && !d.IsDir() {
					t.Errorf("%s was written outside the account's folder", p)
				}
				return nil
			})
		}

		t.Run("symbolic link in the directory", func(t *testing.T) {
			w := newWorld(t, env)
			outside := t.TempDir()
			if err := os.MkdirAll(w.dropDir(""), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(outside, w.dropDir("out")); err != nil {
				t.Fatal(err)
			}
			refused(t, w, w.source("LINK", map[string]any{"kind": "FILE", "directory": "out/in", "maxAttempts": 1}), outside)
		})
		t.Run("symbolic link as the account folder", func(t *testing.T) {
			w := newWorld(t, env)
			outside := t.TempDir()
			if err := os.MkdirAll(w.root, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(outside, w.dropDir("")); err != nil {
				t.Fatal(err)
			}
			refused(t, w, w.source("ALINK", map[string]any{"kind": "FILE", "directory": "in", "maxAttempts": 1}), outside)
		})
		for name, dir := range map[string]func(outside string) string{
			"stored absolute": func(outside string) string { return outside },
			"stored with ..":  func(string) string { return "../../escaped" },
		} {
			t.Run(name, func(t *testing.T) {
				w := newWorld(t, env)
				outside := t.TempDir()
				src := w.source("OLD", map[string]any{"kind": "FILE", "directory": "ok", "maxAttempts": 1})
				if err := w.store.Client.Source.UpdateOneID(src).SetConnectorDirectory(dir(outside)).Exec(w.ctx); err != nil {
					t.Fatal(err)
				}
				refused(t, w, src, outside)
				if _, err := os.Stat(filepath.Join(filepath.Dir(w.root), "escaped")); err == nil {
					t.Errorf("a directory was made outside the account's folder")
				}
			})
		}
	})
}
