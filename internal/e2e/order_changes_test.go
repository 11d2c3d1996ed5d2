package e2e

// order_changes_test.go covers changing an order after import: a re-import
// with other content, updateOrderPayment, cancelOrder and updateOrder.

import (
	"fmt"
	"strings"
	"testing"

	"github.com/frsvc/fulfillment/internal/app"
	"github.com/frsvc/fulfillment/internal/testdb"
)

// TestReimportWithOtherContent: a re-import whose content differs from the
// stored order is a CONFLICT saying what differs, and changes nothing; an
// identical one (also with orderedAt given again) returns the stored order.
func TestReimportWithOtherContent(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, a *app.App) {
		e := New(t, a)
		in := orderInput("R-1")
		in["referenceNumber"] = "REF-1"
		in["orderedAt"] = "2024-03-01T10:00:00.123456Z"
		first := e.importOrder(e.AdminKey, in)

		if again := e.importOrder(e.AdminKey, in); again.ID != first.ID {
			t.Fatalf("identical re-import id = %s, want %s", again.ID, first.ID)
		}
		cases := []struct {
			name string
			edit func(map[string]any)
			want string
		}{
			{"lines", func(m map[string]any) {
				m["lines"] = []any{map[string]any{"sku": "OTHER", "quantity": 9, "unitPrice": "1"}}
			}, "lines (stored 2, imported 1)"},
			{"quantity", func(m map[string]any) {
				m["lines"] = []any{
					map[string]any{"sku": "SKU-A", "title": "Widget", "quantity": 3, "unitPrice": "9.99"},
					map[string]any{"sku": "SKU-B", "quantity": 1, "unitPrice": "120.50"},
				}
			}, "lines[0].quantity (stored 2, imported 3)"},
			{"payment", func(m map[string]any) { m["paymentStatus"] = "PENDING" }, "paymentStatus (stored PAID, imported PENDING)"},
			{"reference", func(m map[string]any) { delete(m, "referenceNumber") }, "referenceNumber"},
			{"address", func(m map[string]any) {
				m["shipTo"] = map[string]any{"name": "Ada", "line1": "2 Main St", "city": "Springfield", "postalCode": "12345", "country": "US"}
			}, `shipTo.line1 (stored "1 Main St", imported "2 Main St")`},
			{"orderedAt", func(m map[string]any) { m["orderedAt"] = "2024-03-02T10:00:00Z" }, "orderedAt"},
		}
		for _, c := range cases {
			other := map[string]any{}
			for k, v := range in {
				other[k] = v
			}
			c.edit(other)
			res := e.Do(Request{Key: e.AdminKey, Query: importOrderMutation, Variables: map[string]any{"input": other}})
			err := e.Err(res, "CONFLICT")
			if !strings.Contains(err.Message, c.want) {
				t.Errorf("%s: message %q does not say %q", c.name, err.Message, c.want)
			}
		}
		// Nothing changed: one order, one import log, the old lines.
		e.assertCounts(t, e.AdminKey, counts{Orders: 1, FulfillmentLogs: 1})
		if again := e.importOrder(e.AdminKey, in); again.ID != first.ID || len(again.Lines) != 2 || again.Lines[0].Quantity != 2 {
			t.Fatalf("order after refused re-imports = %+v", again)
		}
	})
}

const ocOrderFields = `id orderNumber status cancelReason canceledAt paymentStatus allocationStatus referenceNumber shipToCountry shipTo { line1 country }
  lines { id position sku quantity unallocatedQuantity allocatedQuantity killedQuantity }`

// ocOrder is an order as these tests read it.
type ocOrder struct {
	ID, OrderNumber, Status, PaymentStatus, AllocationStatus string
	ReferenceNumber, CancelReason, CanceledAt                *string
	ShipToCountry                                            string
	ShipTo                                                   struct{ Line1, Country string }
	Lines                                                    []struct {
		ID                                                               string
		Position                                                         int
		Sku                                                              string
		Quantity, UnallocatedQuantity, AllocatedQuantity, KilledQuantity int
	}
}

const (
	ocPayment = `mutation($id: ID!, $p: PaymentStatus!) { updateOrderPayment(id: $id, paymentStatus: $p) { ` + ocOrderFields + ` } }`
	ocCancel  = `mutation($id: ID!, $r: String!) { cancelOrder(id: $id, reason: $r) { ` + ocOrderFields + ` } }`
	ocUpdate  = `mutation($id: ID!, $in: UpdateOrderInput!) { updateOrder(id: $id, input: $in) { ` + ocOrderFields + ` } }`
)

func (k *frKit) ocRead(id string) ocOrder {
	k.T.Helper()
	var out struct{ Node ocOrder }
	k.Query(`query($id: ID!) { node(id: $id) { ... on Order { `+ocOrderFields+` } } }`, map[string]any{"id": id}, &out)
	return out.Node
}

func (k *frKit) ocMust(query string, vars map[string]any) ocOrder {
	k.T.Helper()
	res := k.try(query, vars)
	if len(res.Errors) > 0 {
		k.T.Fatalf("%s: %+v", query[:40], res.Errors)
	}
	var out map[string]ocOrder
	res.Decode(k.T, &out)
	for _, o := range out {
		return o
	}
	return ocOrder{}
}

// ocOrderLogs lists the order's entries of a stage, newest first.
func (k *frKit) ocOrderLogs(orderID, stage string) []kitLog {
	k.T.Helper()
	return k.logs(map[string]any{"orderID": orderID, "stage": stage})
}

// TestUpdateOrderPayment: an order imported PENDING is marked PAID, logged
// with before and after; setting the same status again logs nothing; a
// re-import of the old content is now a CONFLICT; another account's order
// is NOT_FOUND.
func TestUpdateOrderPayment(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, a *app.App) {
		k := newKit(t, a)
		o := k.order("P-1", "PENDING", kitLine{"SKU-1", 1})
		got := k.ocMust(ocPayment, map[string]any{"id": o.ID, "p": "PAID"})
		if got.PaymentStatus != "PAID" || got.ID != o.ID {
			t.Fatalf("after updateOrderPayment: %+v", got)
		}
		logs := k.ocOrderLogs(o.ID, "order-update")
		if len(logs) != 1 {
			t.Fatalf("order-update logs = %+v", logs)
		}
		if b, _ := logs[0].Data["before"].(map[string]any); b["paymentStatus"] != "PENDING" {
			t.Errorf("log before = %v", logs[0].Data)
		}
		if af, _ := logs[0].Data["after"].(map[string]any); af["paymentStatus"] != "PAID" {
			t.Errorf("log after = %v", logs[0].Data)
		}
		k.ocMust(ocPayment, map[string]any{"id": o.ID, "p": "PAID"})
		if n := len(k.ocOrderLogs(o.ID, "order-update")); n != 1 {
			t.Errorf("setting the same status logged again: %d entries", n)
		}
		if k.ocRead(o.ID).PaymentStatus != "PAID" {
			t.Error("payment status not stored")
		}
		// The stored order is PAID now: the old import differs from it.
		res := k.try(`mutation($in: ImportOrderInput!) { importOrder(input: $in) { id } }`,
			map[string]any{"in": kitOrderInput("P-1", "PENDING", "US", kitLine{"SKU-1", 1})})
		if e := k.Err(res, "CONFLICT"); !strings.Contains(e.Message, "paymentStatus") {
			t.Errorf("re-import message = %q", e.Message)
		}
		other := k.NewAccount("Other account")
		k.Err(k.Do(Request{Key: other, Query: ocPayment, Variables: map[string]any{"id": o.ID, "p": "DEFERRED"}}), "NOT_FOUND")
		if k.ocRead(o.ID).PaymentStatus != "PAID" {
			t.Error("another account changed the payment status")
		}
	})
}

// TestCancelOrder: canceling voids the open requests (the one the source has
// gets a cancellation notice, the one not sent does not), releases the
// reserved stock, kills what is left and logs before and after. An order of
// which anything shipped is refused with CONFLICT naming the request, and
// nothing changes; a held order can be canceled; another account's order is
// NOT_FOUND; a canceled order cannot be canceled or updated again.
func TestCancelOrder(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, a *app.App) {
		k := newKit(t, a)
		srcA := k.source("CA", nil)
		srcB := k.source("CB", nil)
		k.stock(srcA, "SKU-1", 10, "1")
		k.stock(srcB, "SKU-2", 10, "1")

		o := k.order("C-1", "PAID", kitLine{"SKU-1", 2}, kitLine{"SKU-2", 3})
		unsent := k.mustCreate(o.ID, srcA, false, o.line(t, "SKU-1"), 2)
		sent := k.mustCreate(o.ID, srcB, false, o.line(t, "SKU-2"), 2)
		k.must("process", sent.ID, nil)
		k.sendRun()
		if st := k.fr(sent.ID).Status; st != "PROCESSED" {
			t.Fatalf("sent request is %s", st)
		}
		before := k.checkLedger()
		if before.Committed["CA/SKU-1"] != 2 || before.Committed["CB/SKU-2"] != 2 {
			t.Fatalf("committed before = %v", before.Committed)
		}

		k.Err(k.try(ocCancel, map[string]any{"id": o.ID, "r": "  "}), "VALIDATION")
		other := k.NewAccount("Other account")
		k.Err(k.Do(Request{Key: other, Query: ocCancel, Variables: map[string]any{"id": o.ID, "r": "x"}}), "NOT_FOUND")

		got := k.ocMust(ocCancel, map[string]any{"id": o.ID, "r": "customer changed their mind"})
		if got.Status != "CANCELED" || got.AllocationStatus != "CANCELED" || got.CanceledAt == nil ||
			got.CancelReason == nil || *got.CancelReason != "customer changed their mind" {
			t.Fatalf("canceled order = %+v", got)
		}
		for _, l := range got.Lines {
			if l.KilledQuantity != l.Quantity || l.UnallocatedQuantity != 0 || l.AllocatedQuantity != 0 {
				t.Errorf("line %s after cancel: %+v", l.Sku, l)
			}
		}
		if fr := k.fr(unsent.ID); fr.Status != "VOIDED" || fr.CancellationNoticePending {
			t.Errorf("unsent request after cancel: %s notice=%v", fr.Status, fr.CancellationNoticePending)
		}
		if fr := k.fr(sent.ID); fr.Status != "VOIDED" || !fr.CancellationNoticePending {
			t.Errorf("sent request after cancel: %s notice=%v", fr.Status, fr.CancellationNoticePending)
		}
		after := k.checkLedger()
		if after.Committed["CA/SKU-1"] != 0 || after.Committed["CB/SKU-2"] != 0 {
			t.Errorf("committed after = %v", after.Committed)
		}
		logs := k.ocOrderLogs(o.ID, "order-cancel")
		if len(logs) != 1 {
			t.Fatalf("order-cancel logs = %+v", logs)
		}
		d := logs[0].Data
		if b, _ := d["before"].(map[string]any); b["status"] != "OPEN" {
			t.Errorf("log before = %v", d)
		}
		if af, _ := d["after"].(map[string]any); af["status"] != "CANCELED" {
			t.Errorf("log after = %v", d)
		}
		if n, _ := d["cancellationNotices"].([]any); len(n) != 1 || n[0] != sent.Number {
			t.Errorf("log cancellationNotices = %v", d)
		}
		// The notice goes out with the next send run.
		k.sendRun()
		if fr := k.fr(sent.ID); fr.CancellationNoticePending {
			t.Errorf("the cancellation notice was not sent")
		}
		k.Err(k.try(ocCancel, map[string]any{"id": o.ID, "r": "again"}), "INVALID_TRANSITION")
		k.Err(k.try(ocUpdate, map[string]any{"id": o.ID, "in": map[string]any{"referenceNumber": "X"}}), "CONFLICT")

		// Shipped units cannot be canceled: refused, nothing changes.
		o2 := k.order("C-2", "PAID", kitLine{"SKU-1", 2})
		fr2 := k.mustCreate(o2.ID, srcA, false, o2.line(t, "SKU-1"), 2)
		k.must("process", fr2.ID, nil)
		k.sendRun()
		k.Query(`mutation($f: ID!, $i: ID!) { createShipment(input: {fulfillmentRequestID: $f, trackingNumber: "T-1",
  items: [{fulfillmentRequestItemID: $i, quantity: 1}]}) { id } }`, map[string]any{"f": fr2.ID, "i": k.fr(fr2.ID).Items[0].ID}, nil)
		e := k.Err(k.try(ocCancel, map[string]any{"id": o2.ID, "r": "too late"}), "CONFLICT")
		if !strings.Contains(e.Message, fr2.Number) {
			t.Errorf("message %q does not name %s", e.Message, fr2.Number)
		}
		if o := k.ocRead(o2.ID); o.Status != "OPEN" || k.fr(fr2.ID).Status != "PROCESSED" {
			t.Errorf("a refused cancel changed the order (%s) or its request", o.Status)
		}

		// A held order can be canceled.
		o3 := k.order("C-3", "PAID", kitLine{"SKU-1", 1})
		k.Query(`mutation($id: ID!) { holdOrder(id: $id, reason: "check") { id } }`, map[string]any{"id": o3.ID}, nil)
		if got := k.ocMust(ocCancel, map[string]any{"id": o3.ID, "r": "fraud"}); got.Status != "CANCELED" {
			t.Errorf("held order after cancel: %s", got.Status)
		}
		k.checkLedger()
	})
}

// TestUpdateOrder: lines change while what changes is unallocated (quantity
// down to the unallocated part, up freely, a line removed, a line added);
// otherwise CONFLICT naming the request holding it. The address and
// reference change only while no live request carries them. Each change is
// logged with before and after; bad input is VALIDATION with the field;
// another account's order is NOT_FOUND.
func TestUpdateOrder(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, a *app.App) {
		k := newKit(t, a)
		src := k.source("UA", nil)
		k.stock(src, "SKU-1", 10, "1")
		o := k.order("U-1", "PAID", kitLine{"SKU-1", 3}, kitLine{"SKU-2", 2})
		l1, l2 := o.line(t, "SKU-1"), o.line(t, "SKU-2")
		fr := k.mustCreate(o.ID, src, false, l1, 2)
		upd := func(in map[string]any) *Result { return k.try(ocUpdate, map[string]any{"id": o.ID, "in": in}) }
		change := func(id string, qty int) map[string]any { return map[string]any{"orderLineID": id, "quantity": qty} }
		lines := func(cs ...any) map[string]any { return map[string]any{"lines": cs} }

		// Held by the request: refused, naming it.
		for name, in := range map[string]map[string]any{
			"address":   {"shipTo": map[string]any{"line1": "9 Elm St", "city": "Springfield", "postalCode": "12345", "country": "ca"}},
			"reference": {"referenceNumber": "NEW-REF"},
			"remove":    lines(change(l1, 0)),
			"below":     lines(change(l1, 1)),
		} {
			if e := k.Err(upd(in), "CONFLICT"); !strings.Contains(e.Message, fr.Number) {
				t.Errorf("%s: message %q does not name %s", name, e.Message, fr.Number)
			}
		}
		if got := k.ocRead(o.ID); got.Lines[0].Quantity != 3 || got.ShipTo.Line1 != "1 Main St" {
			t.Fatalf("refused updates changed the order: %+v", got)
		}

		// The unallocated part can change: SKU-1 3→2 (its one unallocated
		// unit), then 2→5; SKU-2 removed; SKU-3 added.
		got := k.ocMust(ocUpdate, map[string]any{"id": o.ID, "in": lines(change(l1, 2))})
		if got.Lines[0].Quantity != 2 || got.Lines[0].UnallocatedQuantity != 0 || got.AllocationStatus != "PARTIALLY_ALLOCATED" {
			t.Fatalf("after 3→2: %+v", got)
		}
		got = k.ocMust(ocUpdate, map[string]any{"id": o.ID, "in": lines(change(l1, 5), change(l2, 0),
			map[string]any{"sku": " SKU-3 ", "title": "New", "quantity": 4, "unitPrice": "5.25"})})
		if len(got.Lines) != 2 || got.Lines[0].Quantity != 5 || got.Lines[0].UnallocatedQuantity != 3 ||
			got.Lines[1].Sku != "SKU-3" || got.Lines[1].Position != 3 || got.Lines[1].UnallocatedQuantity != 4 {
			t.Fatalf("after the line changes: %+v", got)
		}
		k.checkLedger()
		logs := k.ocOrderLogs(o.ID, "order-update")
		if len(logs) != 2 {
			t.Fatalf("order-update logs = %+v", logs)
		}
		b, _ := logs[0].Data["before"].(map[string]any)
		af, _ := logs[0].Data["after"].(map[string]any)
		bl, _ := b["lines"].([]any)
		al, _ := af["lines"].([]any)
		if len(bl) != 2 || len(al) != 3 {
			t.Fatalf("log of the line changes = %v", logs[0].Data)
		}
		if first, _ := bl[0].(map[string]any); first["id"] != l1 || first["quantity"] != float64(2) {
			t.Errorf("log before = %v", bl)
		}
		if second, _ := al[1].(map[string]any); second["id"] != l2 || second["removed"] != true {
			t.Errorf("log after = %v", al)
		}

		// Removing the held line is refused, naming the request.
		if e := k.Err(upd(lines(change(l1, 0))), "CONFLICT"); !strings.Contains(e.Message, fr.Number) {
			t.Errorf("remove message %q does not name %s", e.Message, fr.Number)
		}

		// Once the request is voided, the address and reference can change,
		// logged with before and after; the line it referred to is removed
		// by killing its units.
		k.must("void", fr.ID, nil)
		got = k.ocMust(ocUpdate, map[string]any{"id": o.ID, "in": map[string]any{"referenceNumber": "NEW-REF",
			"shipTo": map[string]any{"line1": "9 Elm St", "city": "Toronto", "postalCode": "M5V", "country": "ca"}}})
		if got.ShipTo.Line1 != "9 Elm St" || got.ShipToCountry != "CA" || got.ReferenceNumber == nil || *got.ReferenceNumber != "NEW-REF" {
			t.Fatalf("after the address change: %+v", got)
		}
		logs = k.ocOrderLogs(o.ID, "order-update")
		b, _ = logs[0].Data["before"].(map[string]any)
		af, _ = logs[0].Data["after"].(map[string]any)
		if bs, _ := b["shipTo"].(map[string]any); bs["line1"] != "1 Main St" || b["referenceNumber"] != "" {
			t.Errorf("log before = %v", b)
		}
		if as, _ := af["shipTo"].(map[string]any); as["line1"] != "9 Elm St" || af["referenceNumber"] != "NEW-REF" {
			t.Errorf("log after = %v", af)
		}
		got = k.ocMust(ocUpdate, map[string]any{"id": o.ID, "in": lines(change(l1, 0))})
		if len(got.Lines) != 2 || got.Lines[0].KilledQuantity != 5 || got.Lines[0].UnallocatedQuantity != 0 {
			t.Fatalf("after removing the line with a request: %+v", got)
		}
		k.checkLedger()

		// Bad input: VALIDATION with the field, nothing changes.
		n := len(k.ocOrderLogs(o.ID, "order-update"))
		l3 := got.Lines[1].ID
		for field, in := range map[string]map[string]any{
			"input":                      {},
			"input.lines[0].quantity":    lines(change(l3, -1)),
			"input.lines[1].quantity":    lines(change(l3, 1), change(l1, 1_000_001)),
			"input.lines[0].unitPrice":   lines(map[string]any{"sku": "X", "quantity": 1}),
			"input.lines[0].sku":         lines(map[string]any{"sku": " ", "quantity": 1, "unitPrice": "1"}),
			"input.lines[0].orderLineID": lines(change("999999", 1)),
			"input.lines[1].orderLineID": lines(change(l3, 1), change(l3, 2)),
			"input.lines":                lines(change(l3, 0)),
			"input.shipTo.country":       {"shipTo": map[string]any{"line1": "x", "city": "x", "postalCode": "1", "country": "ZZ"}},
		} {
			if e := k.Err(upd(in), "VALIDATION"); e.Field() != field {
				t.Errorf("field = %q, want %q (%s)", e.Field(), field, e.Message)
			}
		}
		if m := len(k.ocOrderLogs(o.ID, "order-update")); m != n {
			t.Errorf("refused updates logged: %d entries, want %d", m, n)
		}
		other := k.NewAccount("Other account")
		k.Err(k.Do(Request{Key: other, Query: ocUpdate, Variables: map[string]any{"id": o.ID, "in": lines(change(l3, 1))}}), "NOT_FOUND")
		if got := k.ocRead(o.ID); got.Lines[1].Quantity != 4 {
			t.Errorf("another account changed the order: %+v", got)
		}
	})
}

// TestOrderChangesRace: cancelOrder on an order with requests at two sources
// (voided in an order that touches the stock of the second source first),
// updateOrder on an order being generated, and regenerations moving stock
// between the same sources, all at once. Every answer is a success or
// CONFLICT (never INTERNAL: the cancel locks the order's stock up front, in
// the global order), and the ledger holds.
func TestOrderChangesRace(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, a *app.App) {
		k := newKit(t, a)
		s1 := k.source("S1", nil)
		s2 := k.source("S2", nil)
		for _, src := range []string{s1, s2} {
			for _, sku := range []string{"A", "B"} {
				k.stock(src, sku, 100000, "1")
			}
		}
		k.group("G", []string{"LOWEST_COST"}, nil, s1, s2)
		answers := map[string]int{}
		for round := range 8 {
			name := func(what string) string { return fmt.Sprintf("OC-%d-%s", round, what) }
			c := k.order(name("C"), "PAID", kitLine{"A", 2}, kitLine{"B", 2})
			k.mustCreate(c.ID, s2, false, c.line(t, "A"), 1, c.line(t, "B"), 1)
			k.mustCreate(c.ID, s1, false, c.line(t, "A"), 1, c.line(t, "B"), 1)
			x := k.mustCreate(k.order(name("X"), "PAID", kitLine{"A", 1}, kitLine{"B", 1}).ID, s1, false)
			y := k.mustCreate(k.order(name("Y"), "PAID", kitLine{"B", 1}, kitLine{"A", 1}).ID, s2, false)
			u := k.order(name("U"), "PAID", kitLine{"A", 3}, kitLine{"B", 3})
			regen := func(frID string) Request {
				return Request{Query: kitRegenerateMutation, Variables: map[string]any{"id": frID, "reason": "move", "ex": true}}
			}
			res := k.concurrently(
				Request{Query: ocCancel, Variables: map[string]any{"id": c.ID, "r": "race"}},
				regen(x.ID), regen(y.ID),
				Request{Query: kitGenerateMutation, Variables: map[string]any{"id": u.ID}},
				Request{Query: ocUpdate, Variables: map[string]any{"id": u.ID, "in": map[string]any{"lines": []any{
					map[string]any{"orderLineID": u.line(t, "A"), "quantity": 1},
					map[string]any{"sku": "B", "quantity": 1, "unitPrice": "1"},
				}}}},
			)
			for i, r := range res {
				code := kitCode(t, r)
				answers[code]++
				if code != "" && code != "CONFLICT" {
					t.Errorf("round %d request %d: %+v", round, i, r.Errors)
				}
			}
			if len(res[0].Errors) == 0 {
				if got := k.ocRead(c.ID); got.Status != "CANCELED" {
					t.Errorf("round %d: canceled order is %s", round, got.Status)
				}
			}
		}
		k.checkLedger()
		t.Logf("answers: %v", answers)
	})
}
