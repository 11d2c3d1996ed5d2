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
		root := t.TempDir()
		jsonDir := filepath.Join(root, "drops", "json", "in")
		csvDir := filepath.Join(root, "drops", "csv")
		jsonSrc := w.source("FJ", map[string]any{"kind": "FILE", "directory": jsonDir, "format": "JSON"})
		csvSrc := w.source("FC", map[string]any{"kind": "FILE", "directory": csvDir, "format": "CSV"})

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
