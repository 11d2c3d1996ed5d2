package e2e

import (
	"testing"

	"github.com/frsvc/fulfillment/internal/app"
	"github.com/frsvc/fulfillment/internal/testdb"
)

// refusal is one call that must be refused with VALIDATION on field.
type refusal struct {
	name  string
	query string
	vars  func(f fixture) map[string]any
	field string
}

// fixture is what the refusals may refer to.
type fixture struct {
	sourceID, otherAccountSourceID string
}

// TestValidationRefusals sends bad inputs of every set-up and import
// mutation: each answers VALIDATION naming the field at fault, and nothing at
// all is written (counts through the API before and after are equal).
func TestValidationRefusals(t *testing.T) {
	t.Parallel()
	good := func(sku string) map[string]any { return map[string]any{"sku": sku, "quantity": 1, "unitPrice": "5.00"} }
	withLines := func(bad map[string]any) func(fixture) map[string]any {
		return func(fixture) map[string]any {
			return map[string]any{"input": orderInput("V-1", good("G-1"), bad, good("G-2"))}
		}
	}
	withShipTo := func(key, value string) func(fixture) map[string]any {
		return func(fixture) map[string]any {
			in := orderInput("V-2")
			in["shipTo"].(map[string]any)[key] = value
			return map[string]any{"input": in}
		}
	}
	source := func(mod func(map[string]any)) func(fixture) map[string]any {
		return func(fixture) map[string]any {
			in := map[string]any{"name": "New", "code": "NEW"}
			mod(in)
			return map[string]any{"input": in}
		}
	}
	inventory := func(its ...any) func(f fixture) map[string]any {
		return func(f fixture) map[string]any { return map[string]any{"sourceID": f.sourceID, "items": its} }
	}
	inv := func(sku string, qty int, cost string) map[string]any {
		return map[string]any{"sku": sku, "quantity": qty, "unitCost": cost}
	}
	group := func(mod func(f fixture, in map[string]any)) func(f fixture) map[string]any {
		return func(f fixture) map[string]any {
			in := groupInput("G", f.sourceID)
			mod(f, in)
			return map[string]any{"input": in}
		}
	}
	member := func(sourceID string, priority int) []any {
		return []any{map[string]any{"sourceID": sourceID, "priority": priority}}
	}

	cases := []refusal{
		// importOrder: one bad line among good ones.
		{"line quantity 0", importOrderMutation, withLines(map[string]any{"sku": "B", "quantity": 0, "unitPrice": "1"}), "input.lines[1].quantity"},
		{"line quantity negative", importOrderMutation, withLines(map[string]any{"sku": "B", "quantity": -2, "unitPrice": "1"}), "input.lines[1].quantity"},
		{"line empty sku", importOrderMutation, withLines(map[string]any{"sku": "  ", "quantity": 1, "unitPrice": "1"}), "input.lines[1].sku"},
		{"line price 5 decimals", importOrderMutation, withLines(map[string]any{"sku": "B", "quantity": 1, "unitPrice": "1.23456"}), "input.lines[1].unitPrice"},
		{"line price not a number", importOrderMutation, withLines(map[string]any{"sku": "B", "quantity": 1, "unitPrice": "abc"}), "input.lines[1].unitPrice"},
		{"line price negative", importOrderMutation, withLines(map[string]any{"sku": "B", "quantity": 1, "unitPrice": "-1.00"}), "input.lines[1].unitPrice"},
		{"ship-to country ZZ", importOrderMutation, withShipTo("country", "ZZ"), "input.shipTo.country"},
		{"ship-to country too long", importOrderMutation, withShipTo("country", "USA"), "input.shipTo.country"},
		{"ship-to city blank", importOrderMutation, withShipTo("city", " "), "input.shipTo.city"},
		{"no lines", importOrderMutation, func(fixture) map[string]any {
			in := orderInput("V-3")
			in["lines"] = []any{}
			return map[string]any{"input": in}
		}, "input.lines"},
		{"blank order number", importOrderMutation, func(fixture) map[string]any {
			return map[string]any{"input": orderInput("  ")}
		}, "input.orderNumber"},

		// createSource.
		{"source negative fee", createSourceMutation, source(func(in map[string]any) { in["dropshipFee"] = "-0.01" }), "input.dropshipFee"},
		{"source negative per-unit cost", createSourceMutation, source(func(in map[string]any) { in["shippingPerUnitCost"] = "-3" }), "input.shippingPerUnitCost"},
		{"source bad country", createSourceMutation, source(func(in map[string]any) { in["shipsTo"] = []string{"US", "ZZ"} }), "input.shipsTo[1]"},
		{"source duplicate code", createSourceMutation, source(func(in map[string]any) { in["code"] = "MAIN" }), "input.code"},
		{"source duplicate code, spaced", createSourceMutation, source(func(in map[string]any) { in["code"] = " MAIN " }), "input.code"},
		{"source blank code", createSourceMutation, source(func(in map[string]any) { in["code"] = " " }), "input.code"},
		{"source HTTP connector without URL", createSourceMutation, source(func(in map[string]any) {
			in["connector"] = map[string]any{"kind": "HTTP", "secret": "0123456789abcdef"}
		}), "input.connector.url"},

		// upsertInventory.
		{"inventory 1001 items", upsertInventoryMutation, inventory(items(1001)...), "items"},
		{"inventory no items", upsertInventoryMutation, inventory(), "items"},
		{"inventory negative quantity among good", upsertInventoryMutation, inventory(inv("A", 1, "1"), inv("B", -1, "1"), inv("C", 1, "1")), "items[1].quantity"},
		{"inventory empty sku among good", upsertInventoryMutation, inventory(inv("A", 1, "1"), inv("", 1, "1")), "items[1].sku"},
		{"inventory negative cost", upsertInventoryMutation, inventory(inv("A", 1, "1"), inv("B", 1, "-1")), "items[1].unitCost"},
		{"inventory cost 5 decimals", upsertInventoryMutation, inventory(inv("A", 1, "1"), inv("B", 1, "0.00001")), "items[1].unitCost"},
		{"inventory duplicate sku", upsertInventoryMutation, inventory(inv("A", 1, "1"), inv("A", 2, "1")), "items[1].sku"},
		{"inventory duplicate sku after trim", upsertInventoryMutation, inventory(inv("A", 1, "1"), inv("B", 1, "1"), inv(" A ", 2, "1")), "items[2].sku"},

		// createRoutingGroup.
		{"group priority 0", createGroupMutation, group(func(f fixture, in map[string]any) { in["members"] = member(f.sourceID, 0) }), "input.members[0].priority"},
		{"group priority 1000", createGroupMutation, group(func(f fixture, in map[string]any) { in["members"] = member(f.sourceID, 1000) }), "input.members[0].priority"},
		{"group member of another account", createGroupMutation, group(func(f fixture, in map[string]any) {
			in["members"] = member(f.otherAccountSourceID, 1)
		}), "input.members[0].sourceID"},
		{"group member unknown", createGroupMutation, group(func(f fixture, in map[string]any) { in["members"] = member("999999", 1) }), "input.members[0].sourceID"},
		{"group member twice", createGroupMutation, group(func(f fixture, in map[string]any) {
			in["members"] = append(member(f.sourceID, 1), member(f.sourceID, 2)...)
		}), "input.members[1].sourceID"},
		{"group bad country", createGroupMutation, group(func(f fixture, in map[string]any) { in["shipToCountries"] = []string{"ZZ"} }), "input.shipToCountries[0]"},
		{"group blank name", createGroupMutation, group(func(f fixture, in map[string]any) { in["name"] = "" }), "input.name"},
	}

	testdb.Each(t, func(t *testing.T, a *app.App) {

		e := New(t, a)
		f := fixture{sourceID: e.createSource(e.AdminKey, "MAIN").ID}
		other := e.NewAccount("Other")
		f.otherAccountSourceID = e.createSource(other, "THEIRS").ID
		before := e.counts(e.AdminKey)
		if before != (counts{Sources: 1}) {
			t.Fatalf("fixture counts = %+v", before)
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				e := e.WithT(t)
				res := e.Do(Request{Key: e.AdminKey, Query: c.query, Variables: c.vars(f)})
				er := e.Err(res, "VALIDATION")
				if er.Field() != c.field {
					t.Errorf("field = %q, want %q (message %q)", er.Field(), c.field, er.Message)
				}
				if er.Message == "" {
					t.Error("no message")
				}
				if string(res.Data) != "null" && len(res.Data) != 0 {
					t.Errorf("data = %s, want null", res.Data)
				}
				e.assertCounts(t, e.AdminKey, before)
			})
		}
		// The other account's source is untouched and still its own.
		e.assertCounts(t, other, counts{Sources: 1})
	})
}

// TestUpsertInventoryAtomic checks that a refused batch leaves earlier stock
// as it was: the good items of a refused batch are not written either.
func TestUpsertInventoryAtomic(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, a *app.App) {
		e := New(t, a)
		src := e.createSource(e.AdminKey, "WH")
		e.Query(upsertInventoryMutation, map[string]any{"sourceID": src.ID, "items": []any{
			map[string]any{"sku": "A", "quantity": 5, "unitCost": "2.00"},
		}}, nil)
		res := e.Do(Request{Key: e.AdminKey, Query: upsertInventoryMutation, Variables: map[string]any{"sourceID": src.ID, "items": []any{
			map[string]any{"sku": "A", "quantity": 50, "unitCost": "3.00"},
			map[string]any{"sku": "B", "quantity": 1, "unitCost": "1.00"},
			map[string]any{"sku": "C", "quantity": -1, "unitCost": "1.00"},
		}}})
		if f := e.Err(res, "VALIDATION").Field(); f != "items[2].quantity" {
			t.Fatalf("field = %q", f)
		}
		var out struct {
			InventoryItems struct {
				TotalCount int
				Edges      []struct{ Node inventoryOut }
			}
		}
		e.Query(`{ inventoryItems { totalCount edges { node { sku quantity unitCost } } } }`, nil, &out)
		if out.InventoryItems.TotalCount != 1 {
			t.Fatalf("inventory = %+v", out.InventoryItems)
		}
		if n := out.InventoryItems.Edges[0].Node; n.Sku != "A" || n.Quantity != 5 || n.UnitCost != "2.00" {
			t.Fatalf("A after refused batch = %+v", n)
		}
		// Exactly 1000 is allowed.
		var big struct{ UpsertInventory []inventoryOut }
		e.Query(upsertInventoryMutation, map[string]any{"sourceID": src.ID, "items": items(1000)}, &big)
		if len(big.UpsertInventory) != 1000 || big.UpsertInventory[999].Sku != "SKU-0999" || big.UpsertInventory[999].Quantity != 999 {
			t.Fatalf("1000 items: got %d", len(big.UpsertInventory))
		}
		if n := e.TotalCount(e.AdminKey, "inventoryItems"); n != 1001 {
			t.Fatalf("inventoryItems totalCount = %d, want 1001", n)
		}
	})
}
