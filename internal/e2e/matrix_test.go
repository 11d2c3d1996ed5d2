package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/frsvc/fulfillment/internal/app"
	"github.com/frsvc/fulfillment/internal/testdb"
)

// matrixStatuses are the statuses a request can be brought into through the
// API, in the order the matrix visits them.
var matrixStatuses = []string{"UNPROCESSED", "PROCESSING", "PROCESSED", "ACKNOWLEDGED", "FAILED",
	"CANCELED", "VOIDED", "NUMBER_TOO_LONG", "DUPLICATE_NUMBER"}

// matrixOps are the operator operations tried from every status.
var matrixOps = []string{"process", "markProcessed", "markAcknowledged", "acknowledge", "renumber", "void"}

// matrixAllowed is DOMAIN.md's transition table for those operations,
// written out by hand (op → from → to). Renumbering an UNPROCESSED or
// FAILED request only changes its number (Service.Renumber's documented
// choice); everything else not listed is INVALID_TRANSITION.
var matrixAllowed = map[string]map[string]string{
	"process":          {"UNPROCESSED": "PROCESSING", "FAILED": "PROCESSING"},
	"markProcessed":    {"UNPROCESSED": "PROCESSED", "PROCESSING": "PROCESSED", "FAILED": "PROCESSED"},
	"markAcknowledged": {"UNPROCESSED": "ACKNOWLEDGED", "PROCESSING": "ACKNOWLEDGED", "FAILED": "ACKNOWLEDGED", "PROCESSED": "ACKNOWLEDGED"},
	"acknowledge":      {"PROCESSED": "ACKNOWLEDGED"},
	"renumber":         {"NUMBER_TOO_LONG": "UNPROCESSED", "DUPLICATE_NUMBER": "UNPROCESSED", "UNPROCESSED": "UNPROCESSED", "FAILED": "FAILED"},
	"void": {"UNPROCESSED": "VOIDED", "PROCESSING": "VOIDED", "PROCESSED": "VOIDED", "ACKNOWLEDGED": "VOIDED",
		"FAILED": "VOIDED", "NUMBER_TOO_LONG": "VOIDED", "DUPLICATE_NUMBER": "VOIDED"},
}

// matrixTarget is the status each operation asks for (what a refusal names
// in extensions.to); renumber asks to keep the status it refuses to leave.
var matrixTarget = map[string]string{"process": "PROCESSING", "markProcessed": "PROCESSED",
	"markAcknowledged": "ACKNOWLEDGED", "acknowledge": "ACKNOWLEDGED", "void": "VOIDED"}

// TestTransitionMatrix brings requests into every status reachable through
// the API (FAILED through an HTTP connector answering 400 and a send run,
// CANCELED through the source's cancellation) and tries every operator
// operation from each: the documented moves succeed, bump the version once
// and log the move; every other one answers INVALID_TRANSITION with
// extensions.from/to and changes nothing, not even the log.
func TestTransitionMatrix(t *testing.T) {
	t.Parallel()
	reject := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"error":"unknown SKU"}`, http.StatusBadRequest)
	}))
	t.Cleanup(reject.Close)

	testdb.Each(t, func(t *testing.T, a *app.App) {

		k := newKit(t, a)
		manual := k.source("MAN", nil)
		failing := k.source("HTTPF", map[string]any{"connector": map[string]any{
			"kind": "HTTP", "url": reject.URL, "secret": "0123456789abcdef0123"}})
		long := k.source("LONG", map[string]any{"strategy": map[string]any{"maxNumberLength": 3}})
		dup := k.source("DUP", map[string]any{"strategy": map[string]any{"numberTemplate": "{order}"}})
		for _, id := range []string{manual, failing, long, dup} {
			k.stock(id, "M", 1000, "1")
			k.stock(id, "N", 1000, "1")
		}

		// One request per (status, op) the matrix moves, plus one per status
		// shared by the refused operations (a refusal changes nothing, which
		// is checked, so they can share).
		type slot struct{ status, op string }
		seq := 0
		newFR := func(status string) kitFR {
			seq++
			number := fmt.Sprintf("MX-%02d", seq)
			o := k.order(number, "PAID", kitLine{"M", 1}, kitLine{"N", 1})
			switch status {
			case "FAILED":
				return k.mustCreate(o.ID, failing, false, o.line(t, "M"), 1)
			case "NUMBER_TOO_LONG":
				return k.mustCreate(o.ID, long, false, o.line(t, "M"), 1)
			case "DUPLICATE_NUMBER":
				k.mustCreate(o.ID, dup, false, o.line(t, "N"), 1) // takes the number
				return k.mustCreate(o.ID, dup, false, o.line(t, "M"), 1)
			}
			return k.mustCreate(o.ID, manual, false, o.line(t, "M"), 1)
		}
		frs := map[slot]kitFR{}
		for _, st := range matrixStatuses {
			frs[slot{st, ""}] = newFR(st)
			for _, op := range matrixOps {
				if _, ok := matrixAllowed[op][st]; ok {
					frs[slot{st, op}] = newFR(st)
				}
			}
		}
		// FAILED first: the send run would deliver every PROCESSING request.
		nFailed := 0
		for sl, fr := range frs {
			if sl.status == "FAILED" {
				k.must("process", fr.ID, nil)
				nFailed++
			}
		}
		if got := k.sendRun(); got["failed"] != nFailed || got["claimed"] != nFailed {
			t.Fatalf("send run = %v, want %d failed", got, nFailed)
		}
		for sl, fr := range frs {
			switch sl.status {
			case "PROCESSING":
				k.must("process", fr.ID, nil)
			case "PROCESSED":
				k.must("markProcessed", fr.ID, nil)
			case "ACKNOWLEDGED":
				k.must("markAcknowledged", fr.ID, nil)
			case "CANCELED":
				k.must("markProcessed", fr.ID, nil)
				k.must("cancel", fr.ID, nil)
			case "VOIDED":
				k.must("void", fr.ID, nil)
			}
			now := k.fr(fr.ID)
			if now.Status != sl.status {
				t.Fatalf("could not bring %s into %s: it is %s (%+v)", fr.Number, sl.status, now.Status, now)
			}
			if sl.status == "FAILED" && (now.FailureReason == nil || *now.FailureReason == "") {
				t.Fatalf("FAILED without a reason: %+v", now)
			}
			frs[sl] = now
		}
		k.checkLedger()

		renumbered := 0
		for _, st := range matrixStatuses {
			for _, op := range matrixOps {
				t.Run(st+"/"+op, func(t *testing.T) {
					k := k.with(t)
					to, allowed := matrixAllowed[op][st]
					fr := frs[slot{st, ""}]
					if allowed {
						fr = frs[slot{st, op}]
					}
					before := k.fr(fr.ID)
					logsBefore := k.logCount(map[string]any{"fulfillmentRequestID": fr.ID})
					stage := "transition"
					if op == "renumber" && (st == "UNPROCESSED" || st == "FAILED") {
						stage = "renumber"
					}
					movesBefore := k.logCount(map[string]any{"fulfillmentRequestID": fr.ID, "stage": stage})
					vars := map[string]any{}
					if op == "renumber" {
						renumbered++
						vars["number"] = fmt.Sprintf("Q%02d", renumbered) // valid everywhere, LONG included
					}
					res := k.op(op, fr.ID, vars)
					after := k.fr(fr.ID)
					if !allowed {
						target := matrixTarget[op]
						if op == "renumber" {
							target = st
						}
						kitTransitionErr(t, res, st, target)
						if after.Status != before.Status || after.Version != before.Version || after.Number != before.Number {
							t.Fatalf("a refused %s changed the request: %+v → %+v", op, before, after)
						}
						if n := k.logCount(map[string]any{"fulfillmentRequestID": fr.ID}); n != logsBefore {
							t.Fatalf("a refused %s wrote %d log entries", op, n-logsBefore)
						}
						return
					}
					if len(res.Errors) > 0 {
						t.Fatalf("%s from %s refused: %+v", op, st, res.Errors)
					}
					if after.Status != to || after.Version != before.Version+1 {
						t.Fatalf("%s from %s: %s v%d, want %s v%d", op, st, after.Status, after.Version, to, before.Version+1)
					}
					if op == "renumber" && after.Number != vars["number"] {
						t.Fatalf("renumbered to %q, want %q", after.Number, vars["number"])
					}
					if op == "void" {
						reached := st == "PROCESSED" || st == "ACKNOWLEDGED"
						if after.CancellationNoticePending != reached || after.VoidReason == nil || after.ShipmentStatus != "CANCELED" {
							t.Fatalf("voided from %s: %+v", st, after)
						}
						// A voided duplicate gives up the number its twin holds.
						if st == "DUPLICATE_NUMBER" && (after.Number == before.Number || !strings.HasPrefix(after.Number, before.Number)) {
							t.Fatalf("voided duplicate numbered %q (was %q)", after.Number, before.Number)
						}
					}
					if n := k.logCount(map[string]any{"fulfillmentRequestID": fr.ID, "stage": stage}); n != movesBefore+1 {
						t.Fatalf("%s from %s wrote %d %s entries, want 1", op, st, n-movesBefore, stage)
					}
					if stage == "transition" {
						last := k.logs(map[string]any{"fulfillmentRequestID": fr.ID, "stage": "transition"})[0]
						if last.Data["from"] != st || last.Data["to"] != to {
							t.Fatalf("transition entry %+v, want %s→%s", last.Data, st, to)
						}
					}
				})
			}
		}
		k.checkLedger()
	})
}
