package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/frsvc/fulfillment/ent/inventoryitem"
	"github.com/frsvc/fulfillment/internal/app"
	"github.com/frsvc/fulfillment/internal/money"
	"github.com/frsvc/fulfillment/internal/tenant"
	"github.com/frsvc/fulfillment/internal/testdb"
)

// Numbers that wrap: money and quantities are bounded where they enter
// (money.MaxUnitCost, money.MaxQuantity), every cost sum is checked, and a
// quantity may not fall below what open requests hold.

const hnInventoryRead = `{ inventoryItems(first: 100) { totalCount edges { node { sku quantity committed available unitCost } } } }`

// hnRefused runs a request that must be refused with VALIDATION on field
// and must change nothing.
func hnRefused(t *testing.T, k *frKit, a *app.App, what, field, query string, vars map[string]any) Error {
	t.Helper()
	before, _ := FingerprintRows(t, a.Store)
	res := k.try(query, vars)
	e := k.Err(res, "VALIDATION")
	if e.Field() != field {
		t.Errorf("%s: field %q, want %q (%s)", what, e.Field(), field, e.Message)
	}
	if after, _ := FingerprintRows(t, a.Store); after != before {
		t.Errorf("%s: refused, yet something was written", what)
	}
	return e
}

// TestHardeningEntryBounds: every price, cost and fee above
// money.MaxUnitCost and every quantity above money.MaxQuantity is refused
// where it enters, with VALIDATION and the field, and the maxima themselves
// are accepted. The report's inputs are among them: a unit cost of
// 999999999999.9999 and a line of 2,147,483,647 units.
func TestHardeningEntryBounds(t *testing.T) {
	testdb.Each(t, func(t *testing.T, a *app.App) {
		k := newKit(t, a)
		maxCost, maxQty := money.MaxUnitCost.String(), money.MaxQuantity
		over := (money.MaxUnitCost + 1).String()
		src := k.source("S1", nil)
		k.stock(src, "A", maxQty, maxCost)
		k.group("G", []string{"LOWEST_COST"}, nil, src)

		inv := func(qty int, cost string) map[string]any {
			return map[string]any{"sourceID": src, "items": []any{
				map[string]any{"sku": "A", "quantity": 1, "unitCost": "1"},
				map[string]any{"sku": "B", "quantity": qty, "unitCost": cost}}}
		}
		hnRefused(t, k, a, "unit cost of the report", "items[1].unitCost", upsertInventoryMutation, inv(1, "999999999999.9999"))
		hnRefused(t, k, a, "unit cost over the maximum", "items[1].unitCost", upsertInventoryMutation, inv(1, over))
		hnRefused(t, k, a, "quantity over the maximum", "items[1].quantity", upsertInventoryMutation, inv(maxQty+1, "1"))
		hnRefused(t, k, a, "quantity of the report", "items[1].quantity", upsertInventoryMutation, inv(2147483647, "1"))

		createSource := `mutation($in: CreateSourceInput!) { createSource(input: $in) { id } }`
		for _, f := range []string{"dropshipFee", "shippingBaseCost", "shippingPerUnitCost"} {
			hnRefused(t, k, a, "createSource "+f, "input."+f, createSource,
				map[string]any{"in": map[string]any{"name": "X", "code": "X-" + f, f: over}})
			hnRefused(t, k, a, "updateSource "+f, "input."+f, `mutation($id: ID!, $in: UpdateSourceInput!) { updateSource(id: $id, input: $in) { id } }`,
				map[string]any{"id": src, "in": map[string]any{f: over}})
		}
		k.source("S2", map[string]any{"dropshipFee": maxCost, "shippingBaseCost": maxCost, "shippingPerUnitCost": maxCost})

		importOrder := `mutation($in: ImportOrderInput!) { importOrder(input: $in) { id } }`
		line := func(qty int, price string) map[string]any {
			in := kitOrderInput("BIG", "PAID", "US", kitLine{"A", 1}, kitLine{"A", 1})
			in["lines"].([]any)[1] = map[string]any{"sku": "A", "quantity": qty, "unitPrice": price}
			return map[string]any{"in": in}
		}
		hnRefused(t, k, a, "order line of the report", "input.lines[1].quantity", importOrder, line(2147483647, "1"))
		hnRefused(t, k, a, "order line over the maximum", "input.lines[1].quantity", importOrder, line(maxQty+1, "1"))
		hnRefused(t, k, a, "unit price over the maximum", "input.lines[1].unitPrice", importOrder, line(1, over))
		var imported struct{ ImportOrder struct{ ID string } }
		k.Query(importOrder, line(maxQty, maxCost), &imported)

		// Quantities of the operations on requests.
		o := k.getOrder(imported.ImportOrder.ID)
		hnRefused(t, k, a, "createFulfillmentRequest quantity", "input.items[0].quantity",
			`mutation($in: CreateFulfillmentRequestInput!) { createFulfillmentRequest(input: $in) { id } }`,
			map[string]any{"in": map[string]any{"orderID": o.ID, "sourceID": src, "allowOvercommit": true,
				"items": []any{map[string]any{"orderLineID": o.Lines[1].ID, "quantity": maxQty + 1}}}})
		fr := k.mustCreate(o.ID, src, false, o.Lines[1].ID, maxQty)
		k.must("markProcessed", fr.ID, nil)
		hnRefused(t, k, a, "createShipment quantity", "input.items[0].quantity", spShipMutation, map[string]any{"input": map[string]any{
			"fulfillmentRequestID": fr.ID, "trackingNumber": "T-1",
			"items": []any{map[string]any{"fulfillmentRequestItemID": fr.Items[0].ID, "quantity": maxQty + 1}}}})
		hnRefused(t, k, a, "cancel quantity", "items[0].quantity", spCancelMutation, map[string]any{"id": fr.ID, "reason": "r",
			"items": []any{map[string]any{"fulfillmentRequestItemID": fr.Items[0].ID, "quantity": maxQty + 1, "mode": "KILL"}}})

		// At the maxima the cost snapshot is exact: 10^6 × 100,000.00.
		var got struct {
			Node struct{ ItemCost, TotalCost string }
		}
		k.Query(`query($id: ID!) { node(id: $id) { ... on FulfillmentRequest { itemCost totalCost } } }`, map[string]any{"id": fr.ID}, &got)
		if got.Node.ItemCost != "100000000000.00" || got.Node.TotalCost != "100000000000.00" {
			t.Errorf("request at the maxima costs %+v", got.Node)
		}
	})
}

// hnLegacy writes what the entry bounds now refuse straight into the
// database, as a database from before them may hold: stock of GOLD at
// source FR with the report's unit cost and quantity, and an order with a
// line of 2,147,483,647 units.
func hnLegacy(t *testing.T, k *frKit, a *app.App) (orderID, srcID string) {
	t.Helper()
	srcID = k.source("FR", nil)
	k.stock(srcID, "GOLD", 1, "1")
	k.group("G", []string{"LOWEST_COST"}, map[string]any{"allowLineSplit": true}, srcID)
	o := k.order("LEGACY", "PAID", kitLine{"GOLD", 1})
	ctx := tenant.WithAccount(context.Background(), k.Principal(k.AdminKey).AccountID)
	testdb.Must(t, a.Store.Client.InventoryItem.Update().Where(inventoryitem.Sku("GOLD")).
		SetQuantity(2147483647).SetUnitCost(money.MustParse("999999999999.9999")).Exec(ctx))
	_, err := a.Store.DB.Exec(`UPDATE order_lines SET quantity = 2147483647, unallocated_quantity = 2147483647 WHERE sku = 'GOLD'`)
	testdb.Must(t, err)
	return o.ID, srcID
}

// TestHardeningCostOverflow: costs past int64 answer VALIDATION naming
// what overflowed, never a wrong number, in preview, generate and
// createFulfillmentRequest, and write nothing. The report's FR cost
// 401635880221009.5105, the wrapped value of about 2.1 × 10^21.
func TestHardeningCostOverflow(t *testing.T) {
	testdb.Each(t, func(t *testing.T, a *app.App) {
		k := newKit(t, a)
		orderID, srcID := hnLegacy(t, k, a)
		named := func(e Error) {
			t.Helper()
			if !strings.Contains(e.Message, "GOLD") || !strings.Contains(e.Message, "FR") {
				t.Errorf("the refusal does not name the SKU and the source: %q", e.Message)
			}
		}
		named(hnRefused(t, k, a, "preview", "orderID",
			`query($id: ID!) { fulfillmentPreview(orderID: $id) { canRoute plan { totalCost requests { itemCost } } } }`, map[string]any{"id": orderID}))
		named(hnRefused(t, k, a, "generate", "orderID", kitGenerateMutation, map[string]any{"id": orderID}))
		named(hnRefused(t, k, a, "createFulfillmentRequest", "input.items",
			`mutation($in: CreateFulfillmentRequestInput!) { createFulfillmentRequest(input: $in) { id itemCost } }`,
			map[string]any{"in": map[string]any{"orderID": orderID, "sourceID": srcID, "allowOvercommit": true}}))
	})
}

// TestHardeningCommittedInRange: on SQLite, stock of 2^63−1 and two
// overcommitted requests stored committed as a REAL, and from then on every
// inventoryItems read of the account answered INTERNAL. Now the quantity is
// refused at entry (above money.MaxQuantity), and a reservation that would take
// committed past money.MaxCommitted is refused too (VALIDATION), so
// committed stays an integer within GraphQL's Int and the read keeps working.
func TestHardeningCommittedInRange(t *testing.T) {
	testdb.Each(t, func(t *testing.T, a *app.App) {
		k := newKit(t, a)
		src := k.source("S1", map[string]any{"commitStock": true})
		hnRefused(t, k, a, "quantity 1,000,001", "items[0].quantity", upsertInventoryMutation, map[string]any{"sourceID": src,
			"items": []any{map[string]any{"sku": "A", "quantity": money.MaxQuantity + 1, "unitCost": "1"}}})
		k.stock(src, "A", money.MaxQuantity, "1")

		// Overcommitted requests at the largest order line, until the next
		// would pass MaxCommitted.
		ctx := tenant.WithAccount(context.Background(), k.Principal(k.AdminKey).AccountID)
		testdb.Must(t, a.Store.Client.InventoryItem.Update().Where(inventoryitem.Sku("A")).
			SetCommitted(money.MaxCommitted-money.MaxQuantity).Exec(ctx))
		o1 := k.order("O1", "PAID", kitLine{"A", money.MaxQuantity})
		k.mustCreate(o1.ID, src, true)
		o2 := k.order("O2", "PAID", kitLine{"A", 1})
		e := hnRefused(t, k, a, "overcommit past MaxCommitted", "input.items",
			`mutation($in: CreateFulfillmentRequestInput!) { createFulfillmentRequest(input: $in) { id } }`,
			map[string]any{"in": map[string]any{"orderID": o2.ID, "sourceID": src, "allowOvercommit": true}})
		if !strings.Contains(e.Message, fmt.Sprint(money.MaxCommitted)) && !strings.Contains(e.Message, "1,000,000,000") {
			t.Errorf("the refusal does not say the limit: %q", e.Message)
		}

		var inv struct {
			InventoryItems struct {
				TotalCount int
				Edges      []struct {
					Node struct {
						Sku                            string
						Quantity, Committed, Available int
					}
				}
			}
		}
		k.Query(hnInventoryRead, nil, &inv)
		if len(inv.InventoryItems.Edges) != 1 || inv.InventoryItems.Edges[0].Node.Committed != money.MaxCommitted ||
			inv.InventoryItems.Edges[0].Node.Available != money.MaxQuantity-money.MaxCommitted {
			t.Fatalf("inventory after the overcommits: %+v", inv)
		}
	})
}

// TestHardeningQuantityBelowCommitted: upsertInventory may not set a
// quantity below what open requests have committed (it gave available −4).
// It answers CONFLICT on the item's quantity, naming the requests that hold
// the stock (numbers in the message, ids and numbers in the extensions), and
// the whole batch is refused. A row already overcommitted (allowOvercommit)
// may still be raised, or keep its quantity with a new unit cost; once the
// requests let go, lowering works.
func TestHardeningQuantityBelowCommitted(t *testing.T) {
	testdb.Each(t, func(t *testing.T, a *app.App) {
		k := newKit(t, a)
		src := k.source("S1", map[string]any{"commitStock": true})
		k.Query(upsertInventoryMutation, map[string]any{"sourceID": src, "items": []any{
			map[string]any{"sku": "A", "quantity": 10, "unitCost": "1"}, map[string]any{"sku": "B", "quantity": 10, "unitCost": "1"}}}, nil)
		o1 := k.order("Q1", "PAID", kitLine{"A", 4})
		fr1 := k.mustCreate(o1.ID, src, false)
		o2 := k.order("Q2", "PAID", kitLine{"A", 3}, kitLine{"B", 1})
		fr2 := k.mustCreate(o2.ID, src, false)

		upsert := func(items ...any) *Result {
			return k.try(upsertInventoryMutation, map[string]any{"sourceID": src, "items": items})
		}
		item := func(sku string, qty int, cost string) any {
			return map[string]any{"sku": sku, "quantity": qty, "unitCost": cost}
		}
		before, _ := FingerprintRows(t, a.Store)
		res := upsert(item("B", 20, "2"), item("A", 5, "1"))
		e := k.Err(res, "CONFLICT")
		if e.Field() != "items[1].quantity" {
			t.Errorf("field %q", e.Field())
		}
		for _, n := range []string{fr1.Number, fr2.Number, "7"} {
			if !strings.Contains(e.Message, n) {
				t.Errorf("message %q does not name %s", e.Message, n)
			}
		}
		held, _ := e.Extensions["fulfillmentRequests"].([]any)
		var ids []string
		for _, h := range held {
			m, _ := h.(map[string]any)
			ids = append(ids, fmt.Sprint(m["id"], "=", m["number"]))
		}
		if want := []string{fr1.ID + "=" + fr1.Number, fr2.ID + "=" + fr2.Number}; fmt.Sprint(ids) != fmt.Sprint(want) {
			t.Errorf("extensions name %v, want %v", ids, want)
		}
		if after, _ := FingerprintRows(t, a.Store); after != before {
			t.Fatal("refused, yet the batch was partly written")
		}

		// Down to exactly what is committed is fine.
		if res := upsert(item("A", 7, "1")); len(res.Errors) > 0 {
			t.Fatalf("quantity equal to committed: %+v", res.Errors)
		}
		// Overcommitted: 7 on hand, 12 committed.
		o3 := k.order("Q3", "PAID", kitLine{"A", 5})
		k.mustCreate(o3.ID, src, true)
		if res := upsert(item("A", 7, "3")); len(res.Errors) > 0 {
			t.Fatalf("new unit cost, same quantity, overcommitted row: %+v", res.Errors)
		}
		if res := upsert(item("A", 9, "3")); len(res.Errors) > 0 {
			t.Fatalf("raising an overcommitted row: %+v", res.Errors)
		}
		k.Err(upsert(item("A", 8, "3")), "CONFLICT")

		// Voiding the first request gives back its 4: 8 are committed.
		k.must("void", fr1.ID, nil)
		if res := upsert(item("A", 8, "3")); len(res.Errors) > 0 {
			t.Fatalf("after the void: %+v", res.Errors)
		}
		var inv struct {
			InventoryItems struct {
				Edges []struct {
					Node struct {
						Sku                            string
						Quantity, Committed, Available int
					}
				}
			}
		}
		k.Query(hnInventoryRead, nil, &inv)
		for _, ed := range inv.InventoryItems.Edges {
			if n := ed.Node; n.Sku == "A" && (n.Quantity != 8 || n.Committed != 8 || n.Available != 0) {
				t.Errorf("A: %+v", n)
			}
		}
	})
}
