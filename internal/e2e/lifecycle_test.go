package e2e

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/frsvc/fulfillment/ent"
	"github.com/frsvc/fulfillment/ent/fulfillmentlog"
	"github.com/frsvc/fulfillment/ent/fulfillmentrequest"
	"github.com/frsvc/fulfillment/ent/fulfillmentrequestitem"
	"github.com/frsvc/fulfillment/internal/app"
	"github.com/frsvc/fulfillment/internal/tenant"
	"github.com/frsvc/fulfillment/internal/testdb"
)

// kitLifecycle is the account of the operator story: two warehouses that
// reserve stock, a dropshipper that does not, one LOWEST_COST default group.
//
//	     A (cost, qty)   B           C
//	WH1  5.00 × 10       10.00 × 5   —
//	WH2  6.00 × 10       11.00 × 10  3.00 × 4
//	DS   20.00 × 100     20.00 × 100 20.00 × 100   (commitStock off)
type kitLifecycle struct {
	wh1, wh2, ds string
	group        string
}

func kitSetupLifecycle(k *frKit) kitLifecycle {
	k.T.Helper()
	var s kitLifecycle
	s.wh1 = k.source("WH1", nil)
	s.wh2 = k.source("WH2", nil)
	s.ds = k.source("DS", map[string]any{"commitStock": false})
	k.stock(s.wh1, "A", 10, "5")
	k.stock(s.wh1, "B", 5, "10")
	k.stock(s.wh2, "A", 10, "6")
	k.stock(s.wh2, "B", 10, "11")
	k.stock(s.wh2, "C", 4, "3")
	for _, sku := range []string{"A", "B", "C"} {
		k.stock(s.ds, sku, 100, "20")
	}
	s.group = k.group("Default", []string{"LOWEST_COST"}, map[string]any{"isDefault": true}, s.wh1, s.wh2, s.ds)
	return s
}

// kitExpectStock fails unless committed holds want for the keys given.
func kitExpectStock(t testing.TB, st kitLedger, want map[string]int) {
	t.Helper()
	for key, n := range want {
		if st.Committed[key] != n {
			t.Errorf("committed %s = %d, want %d (all: %v)", key, st.Committed[key], n, st.Committed)
		}
		if st.Available[key] != st.Quantity[key]-n {
			t.Errorf("available %s = %d, want %d", key, st.Available[key], st.Quantity[key]-n)
		}
	}
}

// kitExpectLine fails unless an order line's ledger is want
// [quantity, unallocated, allocated, shipped, killed].
func kitExpectLine(t testing.TB, st kitLedger, orderNumber, sku string, want [5]int) {
	t.Helper()
	if got := st.Lines[orderNumber][sku]; got != want {
		t.Errorf("order %s line %s ledger = %v, want %v", orderNumber, sku, got, want)
	}
}

// TestOperatorStory walks the operator's whole story through GraphQL:
// import, preview, generate, mark processed, mark acknowledged, regenerate
// (with and without excludeSource), process, void, generate again (the
// sequence is never reused), the send run, the source's acknowledgement,
// requests made by hand (partial, above unallocated, overcommitted, default
// items, a source that reserves nothing), and renumbering out of
// NUMBER_TOO_LONG and DUPLICATE_NUMBER. After every step the statuses, the
// committed stock and the line ledger are checked.
func TestOperatorStory(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, ap *app.App) {
		s := ap.Store
		k := newKit(t, ap)
		su := kitSetupLifecycle(k)

		// Import.
		o1 := k.order("O1", "PAID", kitLine{"A", 2}, kitLine{"B", 1})
		st := k.checkLedger()
		kitExpectLine(t, st, "O1", "A", [5]int{2, 2, 0, 0, 0})
		kitExpectStock(t, st, map[string]int{"WH1/A": 0, "WH1/B": 0})

		// Preview: WH1 alone is cheapest (2×5 + 10 = 20), and nothing is written.
		before, _ := FingerprintRows(t, s)
		var pv struct {
			FulfillmentPreview struct {
				CanRoute bool
				Plan     struct {
					TotalCost string
					Requests  []struct{ Source struct{ Code string } }
				}
			}
		}
		k.Query(`query($id: ID!) { fulfillmentPreview(orderID: $id) { canRoute plan { totalCost requests { source { code } } } } }`,
			map[string]any{"id": o1.ID}, &pv)
		if p := pv.FulfillmentPreview; !p.CanRoute || p.Plan.TotalCost != "20.00" || len(p.Plan.Requests) != 1 || p.Plan.Requests[0].Source.Code != "WH1" {
			t.Fatalf("preview = %+v", p)
		}
		if after, _ := FingerprintRows(t, s); after != before {
			t.Fatal("fulfillmentPreview wrote to the database")
		}

		// Generate: one request at WH1, stock reserved, the order allocated.
		g := k.generate(o1.ID)
		if len(g.FulfillmentRequests) != 1 || g.Order.AllocationStatus != "ALLOCATED" {
			t.Fatalf("generate = %+v", g)
		}
		fr1 := g.FulfillmentRequests[0]
		if fr1.Number != "O1-1" || fr1.Status != "UNPROCESSED" || fr1.Origin != "GENERATED" || fr1.Source.Code != "WH1" || fr1.Version != 1 {
			t.Fatalf("generated %+v", fr1)
		}
		k.expectFRs(o1.ID, map[string]string{"O1-1": "UNPROCESSED"})
		st = k.checkLedger()
		kitExpectStock(t, st, map[string]int{"WH1/A": 2, "WH1/B": 1, "WH2/A": 0})
		kitExpectLine(t, st, "O1", "A", [5]int{2, 0, 2, 0, 0})
		kitExpectLine(t, st, "O1", "B", [5]int{1, 0, 1, 0, 0})

		// Mark processed, then acknowledged, by hand.
		if fr := k.must("markProcessed", fr1.ID, nil); fr.Status != "PROCESSED" || fr.Version != 2 {
			t.Fatalf("after markProcessed: %+v", fr)
		}
		k.checkLedger()
		if fr := k.must("markAcknowledged", fr1.ID, nil); fr.Status != "ACKNOWLEDGED" || fr.Version != 3 ||
			fr.ConfirmationNumber == nil || *fr.ConfirmationNumber != "CONF-1" {
			t.Fatalf("after markAcknowledged: %+v", fr)
		}
		st = k.checkLedger()
		kitExpectStock(t, st, map[string]int{"WH1/A": 2, "WH1/B": 1})

		// Regenerate without excludeSource: the acknowledged request is voided
		// (its source had it: a cancellation notice is queued) and a new one,
		// with the next sequence, goes to WH1 again.
		g = k.regenerate(fr1.ID, "customer changed the address", false)
		if len(g.FulfillmentRequests) != 1 {
			t.Fatalf("regenerate = %+v", g)
		}
		fr2 := g.FulfillmentRequests[0]
		if fr2.Number != "O1-2" || fr2.Origin != "REGENERATED" || fr2.SupersedesID == nil || *fr2.SupersedesID != fr1.ID ||
			fr2.Source.Code != "WH1" || fr2.Status != "UNPROCESSED" {
			t.Fatalf("regenerated %+v", fr2)
		}
		old := k.fr(fr1.ID)
		if old.Status != "VOIDED" || old.VoidReason == nil || *old.VoidReason != "customer changed the address" ||
			!old.CancellationNoticePending || old.ShipmentStatus != "CANCELED" {
			t.Fatalf("superseded request %+v", old)
		}
		k.expectFRs(o1.ID, map[string]string{"O1-1": "VOIDED", "O1-2": "UNPROCESSED"})
		st = k.checkLedger()
		kitExpectStock(t, st, map[string]int{"WH1/A": 2, "WH1/B": 1, "WH2/A": 0})
		kitExpectLine(t, st, "O1", "A", [5]int{2, 0, 2, 0, 0})

		// Regenerate with excludeSource: WH1 is left out, WH2 is next cheapest.
		g = k.regenerate(fr2.ID, "WH1 is closing", true)
		if len(g.FulfillmentRequests) != 1 {
			t.Fatalf("regenerate = %+v", g)
		}
		fr3 := g.FulfillmentRequests[0]
		if fr3.Number != "O1-3" || fr3.Source.Code != "WH2" || *fr3.SupersedesID != fr2.ID || fr3.Origin != "REGENERATED" {
			t.Fatalf("regenerated %+v", fr3)
		}
		if old := k.fr(fr2.ID); old.Status != "VOIDED" || old.CancellationNoticePending {
			t.Fatalf("voided before reaching its source: %+v", old)
		}
		k.expectFRs(o1.ID, map[string]string{"O1-1": "VOIDED", "O1-2": "VOIDED", "O1-3": "UNPROCESSED"})
		st = k.checkLedger()
		kitExpectStock(t, st, map[string]int{"WH1/A": 0, "WH1/B": 0, "WH2/A": 2, "WH2/B": 1})

		// Process, then void: the reservation is released, the lines are
		// unallocated again.
		if fr := k.must("process", fr3.ID, nil); fr.Status != "PROCESSING" || fr.Version != 2 {
			t.Fatalf("after process: %+v", fr)
		}
		k.checkLedger()
		if fr := k.must("void", fr3.ID, nil); fr.Status != "VOIDED" || fr.CancellationNoticePending {
			t.Fatalf("after void: %+v", fr)
		}
		k.expectFRs(o1.ID, map[string]string{"O1-1": "VOIDED", "O1-2": "VOIDED", "O1-3": "VOIDED"})
		st = k.checkLedger()
		kitExpectStock(t, st, map[string]int{"WH1/A": 0, "WH2/A": 0, "WH2/B": 0})
		kitExpectLine(t, st, "O1", "A", [5]int{2, 2, 0, 0, 0})
		if o := k.getOrder(o1.ID); o.AllocationStatus != "UNALLOCATED" || o.Status != "OPEN" {
			t.Fatalf("order after void: %+v", o)
		}

		// Generate again: {seq} is never reused.
		g = k.generate(o1.ID)
		fr4 := g.FulfillmentRequests[0]
		if fr4.Number != "O1-4" || fr4.Source.Code != "WH1" || fr4.Origin != "GENERATED" {
			t.Fatalf("generated again %+v", fr4)
		}
		st = k.checkLedger()
		kitExpectStock(t, st, map[string]int{"WH1/A": 2, "WH1/B": 1})

		// Generating a fully allocated order is refused with NOTHING_TO_ROUTE.
		res := k.try(kitGenerateMutation, map[string]any{"id": o1.ID})
		if e := k.Err(res, "ROUTING_FAILED"); kitJoin(kitRoadblocks(e)) != "NOTHING_TO_ROUTE" {
			t.Fatalf("roadblocks = %v", kitRoadblocks(e))
		}

		// Process and let the send run deliver it (MANUAL: PROCESSED), then
		// the source acknowledges.
		k.must("process", fr4.ID, nil)
		k.sendRun()
		if fr := k.fr(fr4.ID); fr.Status != "PROCESSED" {
			t.Fatalf("after the send run: %+v", fr)
		}
		if fr := k.must("acknowledge", fr4.ID, nil); fr.Status != "ACKNOWLEDGED" || *fr.ConfirmationNumber != "SRC-1" {
			t.Fatalf("after acknowledge: %+v", fr)
		}
		k.expectFRs(o1.ID, map[string]string{"O1-1": "VOIDED", "O1-2": "VOIDED", "O1-3": "VOIDED", "O1-4": "ACKNOWLEDGED"})
		st = k.checkLedger()
		kitExpectStock(t, st, map[string]int{"WH1/A": 2, "WH1/B": 1})

		// By hand. Above the unallocated quantity: VALIDATION, nothing written.
		o2 := k.order("O2", "PAID", kitLine{"A", 3}, kitLine{"B", 2}, kitLine{"C", 1})
		fpBefore, _ := FingerprintRows(t, s)
		res = k.frCreate(o2.ID, su.wh2, false, o2.line(t, "A"), 4)
		if e := k.Err(res, "VALIDATION"); e.Field() != "input.items[0].quantity" {
			t.Fatalf("field = %q", e.Field())
		}
		if fp, _ := FingerprintRows(t, s); fp != fpBefore {
			t.Fatal("a refused createFulfillmentRequest wrote to the database")
		}
		// Part of one line at WH2.
		h1 := k.mustCreate(o2.ID, su.wh2, false, o2.line(t, "A"), 2)
		if h1.Number != "O2-1" || h1.Origin != "CREATED" || h1.Status != "UNPROCESSED" || len(h1.Items) != 1 || h1.Items[0].Quantity != 2 {
			t.Fatalf("created %+v", h1)
		}
		st = k.checkLedger()
		kitExpectStock(t, st, map[string]int{"WH2/A": 2})
		kitExpectLine(t, st, "O2", "A", [5]int{3, 1, 2, 0, 0})

		// WH1 does not carry C: refused unless overcommit is allowed, which
		// reserves on a zero-quantity item and logs a warning.
		res = k.frCreate(o2.ID, su.wh1, false, o2.line(t, "C"), 1)
		if e := k.Err(res, "VALIDATION"); e.Field() != "input.items[0].quantity" {
			t.Fatalf("field = %q", e.Field())
		}
		// WH2 has 4 of C but the line has only 1: above unallocated wins even
		// with overcommit.
		res = k.frCreate(o2.ID, su.wh2, true, o2.line(t, "C"), 2)
		k.Err(res, "VALIDATION")
		// WH1 has never carried C: overcommit alone is refused, the item
		// must say what C costs there.
		if e := k.Err(k.frCreate(o2.ID, su.wh1, true, o2.line(t, "C"), 1), "VALIDATION"); e.Field() != "input.items[0].unitCost" {
			t.Fatalf("field = %q", e.Field())
		}
		var made struct{ CreateFulfillmentRequest kitFR }
		k.Query(`mutation($in: CreateFulfillmentRequestInput!) { createFulfillmentRequest(input: $in) { ...FR } } `+kitFRFields,
			map[string]any{"in": map[string]any{"orderID": o2.ID, "sourceID": su.wh1, "allowOvercommit": true,
				"items": []any{map[string]any{"orderLineID": o2.line(t, "C"), "quantity": 1, "unitCost": "2"}}}}, &made)
		h2 := made.CreateFulfillmentRequest
		if h2.Number != "O2-2" || h2.Source.Code != "WH1" {
			t.Fatalf("overcommitted %+v", h2)
		}
		st = k.checkLedger("WH1/C")
		kitExpectStock(t, st, map[string]int{"WH1/C": 1})
		if st.Quantity["WH1/C"] != 0 || st.Available["WH1/C"] != -1 {
			t.Fatalf("WH1/C = quantity %d available %d", st.Quantity["WH1/C"], st.Available["WH1/C"])
		}
		warn := k.logs(map[string]any{"fulfillmentRequestID": h2.ID, "stage": "stock"})
		if len(warn) != 1 || warn[0].Level != "WARN" || warn[0].Data["overcommit"] != true {
			t.Fatalf("overcommit log = %+v", warn)
		}

		// Default items at the dropshipper: every unallocated line, nothing reserved.
		h3 := k.mustCreate(o2.ID, su.ds, false)
		if h3.Number != "O2-3" || len(h3.Items) != 2 {
			t.Fatalf("default items %+v", h3)
		}
		got := map[string]int{}
		for _, it := range h3.Items {
			got[it.Sku] = it.Quantity
		}
		if got["A"] != 1 || got["B"] != 2 {
			t.Fatalf("default items = %v, want A:1 B:2", got)
		}
		st = k.checkLedger("WH1/C")
		kitExpectStock(t, st, map[string]int{"DS/A": 0, "DS/B": 0, "WH2/A": 2, "WH1/C": 1})
		if o := k.getOrder(o2.ID); o.AllocationStatus != "ALLOCATED" {
			t.Fatalf("order O2 = %+v", o)
		}
		// Nothing left: a request by hand with default items is refused.
		k.Err(k.frCreate(o2.ID, su.wh2, false), "VALIDATION")

		// Voiding the overcommitted request releases its reservation.
		k.must("void", h2.ID, nil)
		st = k.checkLedger()
		kitExpectStock(t, st, map[string]int{"WH1/C": 0})
		kitExpectLine(t, st, "O2", "C", [5]int{1, 1, 0, 0, 0})
		k.expectFRs(o2.ID, map[string]string{"O2-1": "UNPROCESSED", "O2-2": "VOIDED", "O2-3": "UNPROCESSED"})

		// Process is all or nothing: one request that cannot move refuses
		// the batch, and the other one stays as it was.
		batch := `mutation($ids: [ID!]!) { processFulfillmentRequests(ids: $ids) { id status } }`
		kitTransitionErr(t, k.try(batch, map[string]any{"ids": []string{h1.ID, h2.ID}}), "VOIDED", "PROCESSING")
		if fr := k.fr(h1.ID); fr.Status != "UNPROCESSED" || fr.Version != 1 {
			t.Fatalf("after a refused batch: %+v", fr)
		}
		if e := k.Err(k.try(batch, map[string]any{"ids": []string{h1.ID, h1.ID}}), "VALIDATION"); e.Field() != "ids[1]" {
			t.Fatalf("field = %q", e.Field())
		}
		var processed struct{ ProcessFulfillmentRequests []kitFR }
		k.Query(batch, map[string]any{"ids": []string{h1.ID, h3.ID}}, &processed)
		if len(processed.ProcessFulfillmentRequests) != 2 || processed.ProcessFulfillmentRequests[1].Status != "PROCESSING" {
			t.Fatalf("processed %+v", processed)
		}
		k.expectFRs(o2.ID, map[string]string{"O2-1": "PROCESSING", "O2-2": "VOIDED", "O2-3": "PROCESSING"})
		k.checkLedger()

		// NUMBER_TOO_LONG: a source whose numbers may have 6 characters.
		long := k.source("LONG", map[string]any{"strategy": map[string]any{"maxNumberLength": 6}})
		k.stock(long, "A", 10, "1")
		o3 := k.order("LONGORDER", "PAID", kitLine{"A", 1})
		tl := k.mustCreate(o3.ID, long, false)
		if tl.Status != "NUMBER_TOO_LONG" || tl.Number != "LONGORDER-1" {
			t.Fatalf("created %+v", tl)
		}
		st = k.checkLedger()
		kitExpectStock(t, st, map[string]int{"LONG/A": 1})
		res = k.op("renumber", tl.ID, map[string]any{"number": "SEVENCH"})
		if e := k.Err(res, "VALIDATION"); e.Field() != "number" {
			t.Fatalf("field = %q", e.Field())
		}
		if fr := k.fr(tl.ID); fr.Status != "NUMBER_TOO_LONG" || fr.Version != 1 || fr.Number != "LONGORDER-1" {
			t.Fatalf("after a refused renumber: %+v", fr)
		}
		if fr := k.must("renumber", tl.ID, map[string]any{"number": "L-1"}); fr.Status != "UNPROCESSED" || fr.Number != "L-1" || fr.Version != 2 {
			t.Fatalf("after renumber: %+v", fr)
		}
		k.checkLedger()

		// The same with autoProcess: the renumbered request goes to PROCESSING.
		longAP := k.source("LONGAP", map[string]any{"strategy": map[string]any{"maxNumberLength": 6, "autoProcess": true}})
		k.stock(longAP, "A", 10, "1")
		o4 := k.order("AUTOPROC", "PAID", kitLine{"A", 1})
		tl2 := k.mustCreate(o4.ID, longAP, false)
		if tl2.Status != "NUMBER_TOO_LONG" {
			t.Fatalf("created %+v (autoProcess must wait for a valid number)", tl2)
		}
		if fr := k.must("renumber", tl2.ID, map[string]any{"number": "AP-1"}); fr.Status != "PROCESSING" || fr.Number != "AP-1" {
			t.Fatalf("after renumber: %+v", fr)
		}
		// L-1 is taken now.
		o5 := k.order("AUTOPROC2", "PAID", kitLine{"A", 1})
		tl3 := k.mustCreate(o5.ID, longAP, false)
		if e := k.Err(k.op("renumber", tl3.ID, map[string]any{"number": "L-1"}), "VALIDATION"); e.Field() != "number" {
			t.Fatalf("field = %q", e.Field())
		}
		k.checkLedger()

		// DUPLICATE_NUMBER: a template without {seq} gives two requests for
		// one order the same number.
		dup := k.source("DUP", map[string]any{"strategy": map[string]any{"numberTemplate": "{order}"}})
		k.stock(dup, "A", 10, "1")
		k.stock(dup, "B", 10, "1")
		o6 := k.order("D1", "PAID", kitLine{"A", 1}, kitLine{"B", 1})
		d1 := k.mustCreate(o6.ID, dup, false, o6.line(t, "A"), 1)
		d2 := k.mustCreate(o6.ID, dup, false, o6.line(t, "B"), 1)
		if d1.Number != "D1" || d1.Status != "UNPROCESSED" || d2.Number != "D1" || d2.Status != "DUPLICATE_NUMBER" {
			t.Fatalf("created %+v and %+v", d1, d2)
		}
		st = k.checkLedger()
		kitExpectStock(t, st, map[string]int{"DUP/A": 1, "DUP/B": 1})
		k.Err(k.op("renumber", d2.ID, map[string]any{"number": "D1"}), "VALIDATION")
		if fr := k.must("renumber", d2.ID, map[string]any{"number": "D1-B"}); fr.Status != "UNPROCESSED" || fr.Number != "D1-B" {
			t.Fatalf("after renumber: %+v", fr)
		}
		k.expectFRs(o6.ID, map[string]string{"D1": "UNPROCESSED", "D1-B": "UNPROCESSED"})
		k.checkLedger()

		// DUPLICATE_NUMBER from one generation making two requests, with the
		// account's autoProcess on: the first is processed at once, the
		// duplicate waits, and its renumbering processes it.
		k.Query(`mutation { updateAccountStrategy(input: {numberTemplate: "{order}", autoProcess: true}) { id } }`, nil, nil)
		o7 := k.order("G2", "PAID", kitLine{"A", 1}, kitLine{"C", 3})
		g = k.generate(o7.ID)
		if len(g.FulfillmentRequests) != 2 {
			t.Fatalf("generate = %+v", g)
		}
		var first, second kitFR
		for _, fr := range g.FulfillmentRequests {
			switch fr.Status {
			case "PROCESSING":
				first = fr
			case "DUPLICATE_NUMBER":
				second = fr
			}
		}
		if first.Number != "G2" || second.Number != "G2" {
			t.Fatalf("generated %+v", g.FulfillmentRequests)
		}
		st = k.checkLedger()
		kitExpectStock(t, st, map[string]int{"WH1/A": 3, "WH2/C": 3})
		if fr := k.must("renumber", second.ID, map[string]any{"number": "G2-2"}); fr.Status != "PROCESSING" || fr.Number != "G2-2" {
			t.Fatalf("after renumber: %+v", fr)
		}
		k.expectFRs(o7.ID, map[string]string{"G2": "PROCESSING", "G2-2": "PROCESSING"})
		k.checkLedger()
	})
}

// TestNumberTooLongAndDuplicate: a number that is both too long and already
// taken must still make a request (parked for renumbering), not fail the
// creation on the unique index.
func TestNumberTooLongAndDuplicate(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, ap *app.App) {
		k := newKit(t, ap)
		src := k.source("TL", map[string]any{"strategy": map[string]any{"numberTemplate": "{order}", "maxNumberLength": 4}})
		other := k.source("TL2", map[string]any{"strategy": map[string]any{"numberTemplate": "{order}", "maxNumberLength": 4}})
		for _, id := range []string{src, other} {
			k.stock(id, "A", 10, "1")
			k.stock(id, "B", 10, "1")
		}
		// By hand: two requests on one order.
		o := k.order("TOOLONG", "PAID", kitLine{"A", 1}, kitLine{"B", 1})
		a := k.mustCreate(o.ID, src, false, o.line(t, "A"), 1)
		if a.Status != "NUMBER_TOO_LONG" {
			t.Fatalf("first %+v", a)
		}
		res := k.frCreate(o.ID, src, false, o.line(t, "B"), 1)
		if len(res.Errors) > 0 {
			t.Fatalf("second request on the same too-long number: %+v", res.Errors)
		}
		var out struct{ CreateFulfillmentRequest kitFR }
		res.Decode(t, &out)
		b := out.CreateFulfillmentRequest
		if b.Number != "TOOLONG" || b.Status != "DUPLICATE_NUMBER" {
			t.Fatalf("second %+v, want DUPLICATE_NUMBER (a clash wins: only that status may share a number)", b)
		}
		k.checkLedger()
		if fr := k.must("renumber", b.ID, map[string]any{"number": "TL-B"}); fr.Status != "UNPROCESSED" {
			t.Fatalf("after renumber %+v", fr)
		}
		if fr := k.must("renumber", a.ID, map[string]any{"number": "TL-A"}); fr.Status != "UNPROCESSED" {
			t.Fatalf("after renumber %+v", fr)
		}

		// By generation: one order split over the two sources (C only at
		// TL, D only at TL2).
		k.group("G", []string{"LOWEST_COST"}, nil, src, other)
		k.stock(src, "C", 5, "1")
		k.stock(other, "D", 5, "1")
		o2 := k.order("GENLONG", "PAID", kitLine{"C", 1}, kitLine{"D", 1})
		res = k.try(kitGenerateMutation, map[string]any{"id": o2.ID})
		if len(res.Errors) > 0 {
			t.Fatalf("generate: %+v", res.Errors)
		}
		k.expectFRs(o2.ID, map[string]string{"GENLONG": "DUPLICATE_NUMBER"}) // both, same number
		list := k.orderFRs(o2.ID)
		if len(list) != 2 || list[0].Status != "NUMBER_TOO_LONG" || list[1].Status != "DUPLICATE_NUMBER" {
			t.Fatalf("generated %+v", list)
		}
		k.checkLedger()
		// Regenerating the duplicate voids it (it gives its number up) and
		// makes a new request, a duplicate again since the template has no {seq}.
		g := k.regenerate(list[1].ID, "try again", false)
		if len(g.FulfillmentRequests) != 1 || g.FulfillmentRequests[0].Status != "DUPLICATE_NUMBER" ||
			g.FulfillmentRequests[0].Origin != "REGENERATED" || g.FulfillmentRequests[0].Source.Code != "TL2" {
			t.Fatalf("regenerated %+v", g.FulfillmentRequests)
		}
		if old := k.fr(list[1].ID); old.Status != "VOIDED" {
			t.Fatalf("superseded duplicate %+v", old)
		}
		k.checkLedger()
	})
}

// TestGenerateFailureRollsBack: a failure in the middle of a generation (the
// second request's item cannot be written) leaves no request, no item, no
// log entry, no ledger move and no reservation; once the failure is gone the
// same generation succeeds.
func TestGenerateFailureRollsBack(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, ap *app.App) {
		k := newKit(t, ap)
		s := k.Store // the server's own store: the hook below must reach it
		// A only at S1, B only at S2: two requests, one item each.
		s1 := k.source("S1", nil)
		s2 := k.source("S2", nil)
		k.stock(s1, "A", 5, "1")
		k.stock(s2, "B", 5, "1")
		k.group("G", []string{"LOWEST_COST"}, nil, s1, s2)
		o := k.order("F1", "PAID", kitLine{"A", 2}, kitLine{"B", 3})

		var armed atomic.Bool
		var creates atomic.Int32
		injected := errors.New("injected failure")
		s.Client.FulfillmentRequestItem.Use(func(next ent.Mutator) ent.Mutator {
			return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
				if armed.Load() && m.Op().Is(ent.OpCreate) && creates.Add(1) == 2 {
					return nil, injected
				}
				return next.Mutate(ctx, m)
			})
		})

		ctx := tenant.WithAccount(context.Background(), k.Principal(k.AdminKey).AccountID)
		oid := kitAtoi(t, o.ID)
		snapshot := func() string {
			t.Helper()
			frs, err := s.Client.FulfillmentRequest.Query().Where(fulfillmentrequest.OrderID(oid)).Count(ctx)
			testdb.Must(t, err)
			items, err := s.Client.FulfillmentRequestItem.Query().Count(ctx)
			testdb.Must(t, err)
			logs, err := s.Client.FulfillmentLog.Query().Where(fulfillmentlog.OrderID(oid)).Count(ctx)
			testdb.Must(t, err)
			allLogs, err := s.Client.FulfillmentLog.Query().Count(ctx)
			testdb.Must(t, err)
			st := k.checkLedger()
			return fmt.Sprintf("frs=%d items=%d orderLogs=%d logs=%d lines=%v committed=%v", frs, items, logs, allLogs, st.Lines["F1"], st.Committed)
		}
		before := snapshot()
		fpBefore, _ := FingerprintRows(t, s)

		armed.Store(true)
		res := k.try(kitGenerateMutation, map[string]any{"id": o.ID})
		k.Err(res, "INTERNAL")
		if creates.Load() < 2 {
			t.Fatalf("the hook saw %d item creates: the failure was not mid-generation", creates.Load())
		}
		if after := snapshot(); after != before {
			t.Fatalf("after a failed generation:\n%s\nwant\n%s", after, before)
		}
		if fp, _ := FingerprintRows(t, s); fp != fpBefore {
			t.Fatal("a failed generation left something behind")
		}

		armed.Store(false)
		g := k.generate(o.ID)
		if len(g.FulfillmentRequests) != 2 {
			t.Fatalf("generate after the failure: %+v", g)
		}
		// The failed attempt consumed no sequence number.
		k.expectFRs(o.ID, map[string]string{"F1-1": "UNPROCESSED", "F1-2": "UNPROCESSED"})
		st := k.checkLedger()
		kitExpectStock(t, st, map[string]int{"S1/A": 2, "S2/B": 3})
		n, err := s.Client.FulfillmentRequestItem.Query().Where(fulfillmentrequestitem.Sku("B")).Count(ctx)
		testdb.Must(t, err)
		if n != 1 {
			t.Fatalf("%d items of B", n)
		}
	})
}

// TestGenerateOnImport: with the account's generateOnImport on, a paid order
// has its requests as soon as it is imported, a pending one has none, and a
// roadblock does not fail the import but leaves a WARN routing entry.
func TestGenerateOnImport(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, ap *app.App) {
		k := newKit(t, ap)
		src := k.source("WH", nil)
		k.stock(src, "A", 10, "1")
		k.group("G", []string{"LOWEST_COST"}, nil, src)

		// Off by default.
		off := k.order("OFF", "PAID", kitLine{"A", 1})
		if len(k.orderFRs(off.ID)) != 0 {
			t.Fatal("generated on import while the setting is off")
		}
		var acc struct {
			UpdateAccountSettings struct {
				ID string
			}
		}
		k.Query(`mutation { updateAccountSettings(input: {generateOnImport: true}) { id } }`, nil, &acc)

		paid := k.order("PAID1", "PAID", kitLine{"A", 2})
		if paid.AllocationStatus != "ALLOCATED" || paid.Lines[0].UnallocatedQuantity != 0 {
			t.Fatalf("imported paid order = %+v", paid)
		}
		k.expectFRs(paid.ID, map[string]string{"PAID1-1": "UNPROCESSED"})

		deferred := k.order("DEF1", "DEFERRED", kitLine{"A", 1})
		k.expectFRs(deferred.ID, map[string]string{"DEF1-1": "UNPROCESSED"})

		pending := k.order("PEND1", "PENDING", kitLine{"A", 1})
		if pending.AllocationStatus != "UNALLOCATED" || len(k.orderFRs(pending.ID)) != 0 {
			t.Fatalf("pending order got requests: %+v", pending)
		}
		if n := k.logCount(map[string]any{"orderID": pending.ID, "stage": "routing"}); n != 0 {
			t.Fatalf("a pending order was routed (%d routing entries)", n)
		}

		// Roadblock: an unknown SKU. The import stands.
		res := k.try(`mutation($in: ImportOrderInput!) { importOrder(input: $in) { `+kitOrderFields+` } }`,
			map[string]any{"in": kitOrderInput("RB1", "PAID", "US", kitLine{"NOPE", 1})})
		if len(res.Errors) > 0 {
			t.Fatalf("import with a roadblock failed: %+v", res.Errors)
		}
		var out struct{ ImportOrder kitOrder }
		res.Decode(t, &out)
		rb := out.ImportOrder
		if rb.Status != "OPEN" || rb.AllocationStatus != "UNALLOCATED" || len(k.orderFRs(rb.ID)) != 0 {
			t.Fatalf("order with a roadblock = %+v", rb)
		}
		warns := k.logs(map[string]any{"orderID": rb.ID, "stage": "routing", "level": "WARN"})
		if len(warns) != 1 {
			t.Fatalf("routing WARN entries = %+v", warns)
		}
		list, _ := warns[0].Data["roadblocks"].([]any)
		if len(list) == 0 || list[0].(map[string]any)["code"] != "SKU_NOT_MANAGED" {
			t.Fatalf("roadblocks logged = %v", warns[0].Data)
		}
		// A repeated import is not a new order: nothing generated again.
		again := k.order("PAID1", "PAID", kitLine{"A", 2})
		if again.ID != paid.ID || len(k.orderFRs(paid.ID)) != 1 {
			t.Fatal("a repeated import generated again")
		}
		st := k.checkLedger()
		kitExpectStock(t, st, map[string]int{"WH/A": 3})
	})
}

// TestFulfillmentLogs: the log filters (order, request, stage, level,
// correlation id, time), Order.logs and FulfillmentRequest.logs paging newest
// first, and one correlation id tying a generation's entries together.
func TestFulfillmentLogs(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, ap *app.App) {
		k := newKit(t, ap)
		s1 := k.source("S1", nil)
		s2 := k.source("S2", map[string]any{"commitStock": false})
		k.stock(s1, "A", 5, "1")
		k.stock(s2, "B", 5, "1")
		k.group("G", []string{"LOWEST_COST"}, nil, s1, s2)
		o := k.order("L1", "PAID", kitLine{"A", 1}, kitLine{"B", 1})
		other := k.order("L2", "PAID", kitLine{"NOPE", 1})

		g := k.generate(o.ID)
		if len(g.FulfillmentRequests) != 2 || g.CorrelationID == "" {
			t.Fatalf("generate = %+v", g)
		}
		var frA, frB kitFR
		for _, fr := range g.FulfillmentRequests {
			if fr.Source.Code == "S1" {
				frA = fr
			} else {
				frB = fr
			}
		}
		// The generation's entries: one routing entry for the order, and per
		// request attach + strategy (+ stock where stock is reserved).
		gen := k.logs(map[string]any{"correlationID": g.CorrelationID})
		stages := map[string]int{}
		for _, l := range gen {
			stages[l.Stage]++
			if l.OrderID == nil || *l.OrderID != o.ID || l.CorrelationID != g.CorrelationID || l.Actor == "" {
				t.Errorf("generation entry %+v", l)
			}
			if l.Stage != "routing" && (l.FulfillmentRequestID == nil || (*l.FulfillmentRequestID != frA.ID && *l.FulfillmentRequestID != frB.ID)) {
				t.Errorf("entry %s does not name its request: %+v", l.Stage, l)
			}
		}
		if fmt.Sprint(stages) != "map[attach:2 routing:1 stock:1 strategy:2]" {
			t.Fatalf("generation stages = %v", stages)
		}

		// More history: process one, void the other, a refused generation of
		// the other order.
		k.must("process", frA.ID, nil)
		k.must("void", frB.ID, nil)
		k.Err(k.try(kitGenerateMutation, map[string]any{"id": other.ID}), "ROUTING_FAILED")

		// By order: import 1 + generation 6 + process 1 + void 1 (S2 reserves
		// nothing, so no stock entry), newest first.
		all := k.logs(map[string]any{"orderID": o.ID})
		if len(all) != 9 {
			t.Fatalf("order entries = %d: %+v", len(all), all)
		}
		for _, l := range all {
			if l.OrderID == nil || *l.OrderID != o.ID {
				t.Errorf("order filter returned %+v", l)
			}
		}
		if all[0].Stage != "transition" || all[0].FulfillmentRequestID == nil || *all[0].FulfillmentRequestID != frB.ID ||
			all[0].Data["to"] != "VOIDED" || all[0].Data["from"] != "UNPROCESSED" || all[0].Data["reason"] != "operator says so" {
			t.Fatalf("newest entry of the order = %+v", all[0])
		}
		if all[len(all)-1].Stage != "import" {
			t.Fatalf("oldest entry of the order = %+v", all[len(all)-1])
		}

		// By request.
		byA := k.logs(map[string]any{"fulfillmentRequestID": frA.ID})
		var stagesA []string
		for _, l := range byA {
			if l.FulfillmentRequestID == nil || *l.FulfillmentRequestID != frA.ID {
				t.Errorf("request filter returned %+v", l)
			}
			stagesA = append(stagesA, l.Stage)
		}
		if kitJoin(stagesA) != "transition,stock,strategy,attach" && kitJoin(stagesA) != "transition,stock,attach,strategy" &&
			kitJoin(stagesA) != "transition,strategy,stock,attach" {
			t.Fatalf("entries of %s newest first = %v", frA.Number, stagesA)
		}
		// By stage and level, and combined with the order.
		if tr := k.logs(map[string]any{"stage": "transition"}); len(tr) != 2 {
			t.Fatalf("transition entries = %+v", tr)
		}
		warn := k.logs(map[string]any{"level": "WARN"})
		if len(warn) != 1 || warn[0].Stage != "routing" || warn[0].OrderID == nil || *warn[0].OrderID != other.ID {
			t.Fatalf("WARN entries = %+v", warn)
		}
		if n := k.logCount(map[string]any{"orderID": o.ID, "level": "WARN"}); n != 0 {
			t.Fatalf("order %s has %d WARN entries", o.OrderNumber, n)
		}
		if n := k.logCount(map[string]any{"orderID": other.ID, "level": "WARN", "stage": "routing"}); n != 1 {
			t.Fatalf("order %s has %d WARN routing entries", other.OrderNumber, n)
		}
		// By time: createdAtGTE and createdAtLT of one entry's time split the
		// order's entries in two.
		pivot := all[len(all)/2].CreatedAt
		pt, err := time.Parse(time.RFC3339Nano, pivot)
		testdb.Must(t, err)
		newer := k.logs(map[string]any{"orderID": o.ID, "createdAtGTE": pivot})
		older := k.logs(map[string]any{"orderID": o.ID, "createdAtLT": pivot})
		if len(newer)+len(older) != len(all) || len(newer) == 0 || len(older) == 0 {
			t.Fatalf("split at %s: %d newer + %d older, want %d in all", pivot, len(newer), len(older), len(all))
		}
		for _, l := range newer {
			if ct, _ := time.Parse(time.RFC3339Nano, l.CreatedAt); ct.Before(pt) {
				t.Errorf("createdAtGTE %s returned %s", pivot, l.CreatedAt)
			}
		}
		for _, l := range older {
			if ct, _ := time.Parse(time.RFC3339Nano, l.CreatedAt); !ct.Before(pt) {
				t.Errorf("createdAtLT %s returned %s", pivot, l.CreatedAt)
			}
		}

		// Order.logs and FulfillmentRequest.logs page newest first, by default.
		if got := kitPageLogs(k, `query($id: ID!, $after: Cursor) { node(id: $id) { ... on Order {
		    logs(first: 2, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { node { `+kitLogFields+` } } } } } }`, o.ID); !kitSameLogs(got, all) {
			t.Fatalf("Order.logs pages = %v, want %v", kitLogIDs(got), kitLogIDs(all))
		}
		if got := kitPageLogs(k, `query($id: ID!, $after: Cursor) { node(id: $id) { ... on FulfillmentRequest {
		    logs(first: 3, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { node { `+kitLogFields+` } } } } } }`, frA.ID); !kitSameLogs(got, byA) {
			t.Fatalf("FulfillmentRequest.logs pages = %v, want %v", kitLogIDs(got), kitLogIDs(byA))
		}
		for i := 1; i < len(all); i++ {
			a, _ := time.Parse(time.RFC3339Nano, all[i-1].CreatedAt)
			b, _ := time.Parse(time.RFC3339Nano, all[i].CreatedAt)
			if a.Before(b) || (a.Equal(b) && kitAtoi(t, all[i-1].ID) < kitAtoi(t, all[i].ID)) {
				t.Fatalf("not newest first at %d: %+v then %+v", i, all[i-1], all[i])
			}
		}
	})
}

// kitPageLogs walks a logs connection of one node page by page.
func kitPageLogs(k *frKit, query, id string) []kitLog {
	k.T.Helper()
	var out []kitLog
	var after any
	for page := 0; page < 50; page++ {
		var res struct {
			Node struct {
				Logs struct {
					TotalCount int
					PageInfo   struct {
						HasNextPage bool
						EndCursor   string
					}
					Edges []struct{ Node kitLog }
				}
			}
		}
		k.Query(query, map[string]any{"id": id, "after": after}, &res)
		for _, e := range res.Node.Logs.Edges {
			out = append(out, e.Node)
		}
		if !res.Node.Logs.PageInfo.HasNextPage {
			if len(out) != res.Node.Logs.TotalCount {
				k.T.Fatalf("paged %d entries, totalCount %d", len(out), res.Node.Logs.TotalCount)
			}
			return out
		}
		after = res.Node.Logs.PageInfo.EndCursor
	}
	k.T.Fatal("too many pages")
	return nil
}

func kitLogIDs(list []kitLog) []string {
	out := make([]string, len(list))
	for i, l := range list {
		out[i] = l.ID + ":" + l.Stage
	}
	return out
}

func kitSameLogs(a, b []kitLog) bool { return fmt.Sprint(kitLogIDs(a)) == fmt.Sprint(kitLogIDs(b)) }

// TestRegenerateRefusedKeepsRequest: a regeneration that cannot route
// (excludeSource with no other source) is refused as a whole: the request is
// not voided, nothing is released, only the WARN routing entry is written.
func TestRegenerateRefusedKeepsRequest(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, ap *app.App) {
		k := newKit(t, ap)
		s1 := k.source("S1", nil)
		k.stock(s1, "A", 5, "1")
		k.group("G", []string{"LOWEST_COST"}, nil, s1)
		o := k.order("R1", "PAID", kitLine{"A", 2})
		fr := k.generate(o.ID).FulfillmentRequests[0]
		logsBefore := k.logCount(map[string]any{"orderID": o.ID})

		res := k.try(kitRegenerateMutation, map[string]any{"id": fr.ID, "reason": "try elsewhere", "ex": true})
		e := k.Err(res, "ROUTING_FAILED")
		if len(kitRoadblocks(e)) == 0 {
			t.Fatalf("no roadblocks in %+v", e)
		}
		after := k.fr(fr.ID)
		if after.Status != "UNPROCESSED" || after.Version != 1 {
			t.Fatalf("request after a refused regeneration: %+v", after)
		}
		k.expectFRs(o.ID, map[string]string{"R1-1": "UNPROCESSED"})
		st := k.checkLedger()
		kitExpectStock(t, st, map[string]int{"S1/A": 2})
		if n := k.logCount(map[string]any{"orderID": o.ID}); n != logsBefore+1 {
			t.Fatalf("log entries %d → %d, want one more (the refusal)", logsBefore, n)
		}
		if n := k.logCount(map[string]any{"fulfillmentRequestID": fr.ID, "stage": "transition"}); n != 0 {
			t.Fatalf("%d transition entries left by a rolled-back void", n)
		}
		// Regenerate of a voided request: INVALID_TRANSITION.
		k.must("void", fr.ID, nil)
		kitTransitionErr(t, k.try(kitRegenerateMutation, map[string]any{"id": fr.ID, "reason": "again", "ex": false}), "VOIDED", "VOIDED")
	})
}
