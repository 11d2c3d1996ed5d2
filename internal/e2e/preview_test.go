package e2e

import (
	"fmt"
	"slices"
	"testing"

	"github.com/frsvc/fulfillment/internal/app"
	"github.com/frsvc/fulfillment/internal/testdb"
)

const kitPreviewQuery = `query($id: ID!, $group: ID) { fulfillmentPreview(orderID: $id, routingGroupID: $group) {
  canRoute
  plan { totalCost optimal requests { source { code } totalCost items { sku quantity } } }
  roadblocks { code message sku }
  groups { routingGroup { name } candidatesConsidered roadblocks { code } plan { totalCost } } } }`

type kitPreview struct {
	CanRoute bool
	Plan     *struct {
		TotalCost string
		Optimal   bool
		Requests  []struct {
			Source    struct{ Code string }
			TotalCost string
			Items     []struct {
				Sku      string
				Quantity int
			}
		}
	}
	Roadblocks []struct {
		Code, Message string
		Sku           *string
	}
	Groups []struct {
		RoutingGroup         struct{ Name string }
		CandidatesConsidered int
		Roadblocks           []struct{ Code string }
	}
}

// TestPreviewWritesNothing: fulfillmentPreview on a routable order and on
// each roadblock answers the plan or the roadblock and leaves every table
// exactly as it was (row counts and content: requests, items, logs,
// committed stock, ledgers, orders, idempotency records, everything).
func TestPreviewWritesNothing(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, a *app.App) {
		s := a.Store
		k := newKit(t, a)
		s1 := k.source("S1", map[string]any{"shipsTo": []string{"US"}})
		s2 := k.source("S2", map[string]any{"shipsTo": []string{"US"}, "dropshipFee": "1"})
		k.stock(s1, "A", 5, "1")
		k.stock(s1, "B", 5, "1")
		k.stock(s2, "B", 5, "2")
		k.stock(s2, "C", 2, "1")
		k.group("Default", []string{"LOWEST_COST"}, map[string]any{"isDefault": true}, s1, s2)
		single := k.group("Single", []string{"SINGLE_REQUEST_REQUIRED", "LOWEST_COST"}, map[string]any{"shipToCountries": []string{"CA"}}, s1, s2)

		routable := k.order("P-OK", "PAID", kitLine{"A", 2}, kitLine{"B", 1})
		held := k.order("P-HOLD", "PAID", kitLine{"A", 1})
		k.Query(`mutation($id: ID!) { holdOrder(id: $id, reason: "address check") { id } }`, map[string]any{"id": held.ID}, nil)
		unpaid := k.order("P-PENDING", "PENDING", kitLine{"A", 1})
		done := k.order("P-DONE", "PAID", kitLine{"A", 1})
		k.generate(done.ID)
		unknown := k.order("P-SKU", "PAID", kitLine{"A", 1}, kitLine{"NOPE", 1})
		short := k.order("P-STOCK", "PAID", kitLine{"A", 50})
		abroad := k.orderTo("P-FR", "PAID", "FR", kitLine{"A", 1})
		split := k.order("P-SPLIT", "PAID", kitLine{"A", 1}, kitLine{"C", 1})
		k.checkLedger()

		cases := []struct {
			name, orderID, group, code string
		}{
			{"routable", routable.ID, "", ""},
			{"ORDER_ON_HOLD", held.ID, "", "ORDER_ON_HOLD"},
			{"ORDER_NOT_PAID", unpaid.ID, "", "ORDER_NOT_PAID"},
			{"NOTHING_TO_ROUTE", done.ID, "", "NOTHING_TO_ROUTE"},
			{"SKU_NOT_MANAGED", unknown.ID, "", "SKU_NOT_MANAGED"},
			{"OUT_OF_STOCK", short.ID, "", "OUT_OF_STOCK"},
			{"NO_ELIGIBLE_SOURCE", abroad.ID, "", "NO_ELIGIBLE_SOURCE"},
			{"SINGLE_SOURCE_UNAVAILABLE", split.ID, single, "SINGLE_SOURCE_UNAVAILABLE"},
			// The same order routes without the rule: two requests.
			{"split by the default group", split.ID, "", ""},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				k := k.with(t)
				fp, rows := FingerprintRows(t, s)
				vars := map[string]any{"id": c.orderID}
				if c.group != "" {
					vars["group"] = c.group
				}
				var out struct{ FulfillmentPreview kitPreview }
				k.Query(kitPreviewQuery, vars, &out)
				p := out.FulfillmentPreview
				var codes []string
				for _, rb := range p.Roadblocks {
					codes = append(codes, rb.Code)
				}
				if c.code == "" {
					if !p.CanRoute || p.Plan == nil || len(p.Plan.Requests) == 0 || len(codes) > 0 {
						t.Fatalf("preview = %+v", p)
					}
				} else if p.CanRoute || p.Plan != nil || !slices.Contains(codes, c.code) {
					t.Fatalf("preview = %+v, want roadblock %s", p, c.code)
				}
				after, rowsAfter := FingerprintRows(t, s)
				if fmt.Sprint(rowsAfter) != fmt.Sprint(rows) {
					t.Fatalf("rows %v → %v", rows, rowsAfter)
				}
				if after != fp {
					t.Fatal("fulfillmentPreview changed the database")
				}
				t.Logf("roadblocks %v", codes)
			})
		}

		// What the previews promised is what generate does (and the counts
		// the previews kept are the ones generate changes).
		frsBefore := kitTableCount(t, s, "fulfillment_requests")
		fpBefore, _ := FingerprintRows(t, s)
		g := k.generate(routable.ID)
		if fp, _ := FingerprintRows(t, s); fp == fpBefore {
			t.Fatal("the fingerprint did not see a generation: it cannot prove that a preview wrote nothing")
		}
		if len(g.FulfillmentRequests) != 1 || g.FulfillmentRequests[0].Source.Code != "S1" {
			t.Fatalf("generate = %+v", g)
		}
		if n := kitTableCount(t, s, "fulfillment_requests"); n != frsBefore+1 {
			t.Fatalf("requests %d → %d", frsBefore, n)
		}
		k.checkLedger()
	})
}
