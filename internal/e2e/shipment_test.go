package e2e

import (
	"strconv"
	"sync"
	"testing"

	"github.com/frsvc/fulfillment/internal/app"
	"github.com/frsvc/fulfillment/internal/testdb"
)

// TestShipments follows requests through shipments and source
// cancellations via the API: partial and full shipments, refusals that
// change nothing, FILL and KILL, with the order-line ledger and the
// committed stock checked after every step.
func TestShipments(t *testing.T) {
	testdb.Each(t, func(t *testing.T, a *app.App) {
		s := a.Store
		k := spNew(t, a)
		src := k.source("SHIP", map[string]int{"SKU-A": 10, "SKU-B": 5})
		k.Query(`mutation($s: ID!) { createRoutingGroup(input: {name: "Default", isDefault: true, rules: [LOWEST_COST],
			members: [{sourceID: $s, priority: 1}]}) { id } }`, map[string]any{"s": src}, nil)
		wantCommitted := func(t *testing.T, a, b int) {
			t.Helper()
			if c := k.with(t).committed(src); c["SKU-A"] != a || c["SKU-B"] != b {
				t.Errorf("committed %v, want SKU-A %d, SKU-B %d", c, a, b)
			}
		}
		o1 := k.order("S-1", []string{"SKU-A", "SKU-B"}, 3, 2)
		fr1 := k.create(o1, src, nil)
		wantCommitted(t, 3, 2)
		k.ledger(o1.ID)

		t.Run("refused before the source has it", func(t *testing.T) {
			k := k.with(t)
			all := map[string]int{fr1.Items["SKU-A"]: 1}
			Unchanged(t, s, "a shipment on an UNPROCESSED request", func() {
				e := ErrorOf(t, k.ship(k.AdminKey, fr1.ID, "T-0", all), "INVALID_TRANSITION")
				if e.Extensions["from"] != "UNPROCESSED" || e.Extensions["to"] != "SHIPPED" {
					t.Errorf("extensions %v", e.Extensions)
				}
			})
			k.Query(`mutation($ids: [ID!]!) { processFulfillmentRequests(ids: $ids) { id } }`, map[string]any{"ids": []string{fr1.ID}}, nil)
			Unchanged(t, s, "a shipment on a PROCESSING request", func() {
				e := ErrorOf(t, k.ship(k.AdminKey, fr1.ID, "T-0", all), "INVALID_TRANSITION")
				if e.Extensions["from"] != "PROCESSING" {
					t.Errorf("extensions %v", e.Extensions)
				}
			})
			var run struct {
				RunSendFulfillmentRequests struct{ Claimed, Processed int }
			}
			k.Query(`mutation { runSendFulfillmentRequests { claimed processed } }`, nil, &run)
			if run.RunSendFulfillmentRequests.Processed != 1 {
				t.Fatalf("send run %+v", run)
			}
			if st := k.fr(fr1.ID).Status; st != "PROCESSED" {
				t.Fatalf("status %s", st)
			}
			k.ledger(o1.ID)
		})

		t.Run("partial", func(t *testing.T) {
			k := k.with(t)
			res := k.ship(k.AdminKey, fr1.ID, "T-1", map[string]int{fr1.Items["SKU-A"]: 1})
			if len(res.Errors) > 0 {
				t.Fatalf("errors %+v", res.Errors)
			}
			var out struct {
				CreateShipment struct {
					TrackingNumber, Carrier, ShippedAt string
					FulfillmentRequest                 struct {
						Status, ShipmentStatus string
						ShippedAt              *string
					}
					Items []struct {
						Quantity               int
						FulfillmentRequestItem struct{ ID, Sku string }
					}
				}
			}
			res.Decode(t, &out)
			sh := out.CreateShipment
			if sh.TrackingNumber != "T-1" || sh.Carrier != "UPS" || sh.ShippedAt == "" || len(sh.Items) != 1 ||
				sh.Items[0].Quantity != 1 || sh.Items[0].FulfillmentRequestItem.Sku != "SKU-A" {
				t.Errorf("shipment %+v", sh)
			}
			if f := sh.FulfillmentRequest; f.Status != "PROCESSED" || f.ShipmentStatus != "PARTIALLY_SHIPPED" || f.ShippedAt != nil {
				t.Errorf("request after a partial shipment %+v", f)
			}
			o := k.ledger(o1.ID)
			if o.ShipmentStatus != "PARTIALLY_SHIPPED" || o.Status != "OPEN" || o.line("SKU-A") != [5]int{3, 0, 2, 1, 0} {
				t.Errorf("order %s/%s, line A %v", o.Status, o.ShipmentStatus, o.line("SKU-A"))
			}
			wantCommitted(t, 2, 2)
		})

		t.Run("refusals change nothing", func(t *testing.T) {
			k := k.with(t)
			a, b := fr1.Items["SKU-A"], fr1.Items["SKU-B"]
			for _, c := range []struct {
				name, tracking, field string
				items                 []any
			}{
				{"too many", "T-X", "input.items[0].quantity", []any{map[string]any{"fulfillmentRequestItemID": a, "quantity": 3}}},
				{"too many in two entries", "T-X", "input.items[1].quantity", []any{
					map[string]any{"fulfillmentRequestItemID": b, "quantity": 2},
					map[string]any{"fulfillmentRequestItemID": b, "quantity": 1}}},
				{"zero", "T-X", "input.items[0].quantity", []any{map[string]any{"fulfillmentRequestItemID": a, "quantity": 0}}},
				{"no items", "T-X", "input.items", []any{}},
				{"blank tracking number", "  ", "input.trackingNumber", []any{map[string]any{"fulfillmentRequestItemID": a, "quantity": 1}}},
				{"duplicate tracking number", "T-1", "input.trackingNumber", []any{map[string]any{"fulfillmentRequestItemID": a, "quantity": 1}}},
				{"duplicate tracking number, other spacing", " T-1 ", "input.trackingNumber", []any{map[string]any{"fulfillmentRequestItemID": a, "quantity": 1}}},
				{"another request's item", "T-X", "input.items[0].fulfillmentRequestItemID", []any{map[string]any{"fulfillmentRequestItemID": o1.Lines["SKU-A"], "quantity": 1}}},
			} {
				Unchanged(t, s, c.name, func() {
					res := k.Try(k.AdminKey, spShipMutation, map[string]any{"input": map[string]any{
						"fulfillmentRequestID": fr1.ID, "trackingNumber": c.tracking, "items": c.items}})
					if e := ErrorOf(t, res, "VALIDATION"); e.Field() != c.field {
						t.Errorf("%s: field %q, want %q (%s)", c.name, e.Field(), c.field, e.Message)
					}
				})
			}
			k.ledger(o1.ID)
			wantCommitted(t, 2, 2)
		})

		t.Run("full", func(t *testing.T) {
			k := k.with(t)
			k.Query(`mutation($id: ID!) { acknowledgeFulfillmentRequest(id: $id, confirmationNumber: "CN-1") { id } }`, map[string]any{"id": fr1.ID}, nil)
			res := k.ship(k.AdminKey, fr1.ID, "T-2", map[string]int{fr1.Items["SKU-A"]: 2, fr1.Items["SKU-B"]: 2})
			if len(res.Errors) > 0 {
				t.Fatalf("errors %+v", res.Errors)
			}
			fr := k.fr(fr1.ID)
			if fr.Status != "ACKNOWLEDGED" || fr.ShipmentStatus != "SHIPPED" || fr.ShippedAt == nil || len(fr.Shipments) != 2 {
				t.Errorf("request after the last shipment: %+v", fr)
			}
			o := k.ledger(o1.ID)
			if o.Status != "CLOSED" || o.ShipmentStatus != "SHIPPED" || o.line("SKU-A") != [5]int{3, 0, 0, 3, 0} || o.line("SKU-B") != [5]int{2, 0, 0, 2, 0} {
				t.Errorf("order %s/%s, lines %v %v", o.Status, o.ShipmentStatus, o.line("SKU-A"), o.line("SKU-B"))
			}
			wantCommitted(t, 0, 0)
			Unchanged(t, s, "a shipment of a shipped request", func() {
				ErrorOf(t, k.ship(k.AdminKey, fr1.ID, "T-X", map[string]int{fr1.Items["SKU-A"]: 1}), "VALIDATION")
			})
		})

		o2 := k.order("S-2", []string{"SKU-A", "SKU-B"}, 2, 2)
		fr2 := k.create(o2, src, nil)
		k.markProcessed(fr2.ID)
		wantCommitted(t, 2, 2)

		t.Run("duplicate tracking number across requests", func(t *testing.T) {
			k := k.with(t)
			for _, tn := range []string{"T-1", "T-2"} {
				Unchanged(t, s, "tracking number "+tn+" again", func() {
					if e := ErrorOf(t, k.ship(k.AdminKey, fr2.ID, tn, map[string]int{fr2.Items["SKU-B"]: 1}), "VALIDATION"); e.Field() != "input.trackingNumber" {
						t.Errorf("field %q", e.Field())
					}
				})
			}
		})

		t.Run("cancel with FILL and KILL", func(t *testing.T) {
			k := k.with(t)
			if res := k.ship(k.AdminKey, fr2.ID, "T-3", map[string]int{fr2.Items["SKU-B"]: 1}); len(res.Errors) > 0 {
				t.Fatalf("errors %+v", res.Errors)
			}
			wantCommitted(t, 2, 1)
			for _, c := range []struct {
				name  string
				items []any
				field string
			}{
				{"more than is left", []any{map[string]any{"fulfillmentRequestItemID": fr2.Items["SKU-B"], "quantity": 2, "mode": "KILL"}}, "items[0].quantity"},
				{"zero", []any{map[string]any{"fulfillmentRequestItemID": fr2.Items["SKU-A"], "quantity": 0, "mode": "FILL"}}, "items[0].quantity"},
				{"another request's item", []any{map[string]any{"fulfillmentRequestItemID": fr1.Items["SKU-A"], "quantity": 1, "mode": "FILL"}}, "items[0].fulfillmentRequestItemID"},
			} {
				Unchanged(t, s, "cancel: "+c.name, func() {
					res := k.Try(k.AdminKey, spCancelMutation, map[string]any{"id": fr2.ID, "reason": "stock out", "items": c.items})
					if e := ErrorOf(t, res, "VALIDATION"); e.Field() != c.field {
						t.Errorf("%s: field %q, want %q", c.name, e.Field(), c.field)
					}
				})
			}
			Unchanged(t, s, "cancel without a reason", func() {
				ErrorOf(t, k.Try(k.AdminKey, spCancelMutation, map[string]any{"id": fr2.ID, "reason": " "}), "VALIDATION")
			})
			// One A is killed; the other A and the unshipped B go back (FILL,
			// given or by default).
			var out struct {
				CancelFulfillmentRequest struct{ Status, ShipmentStatus, CancelReason string }
			}
			k.Query(spCancelMutation, map[string]any{"id": fr2.ID, "reason": "stock out", "items": []any{
				map[string]any{"fulfillmentRequestItemID": fr2.Items["SKU-A"], "quantity": 1, "mode": "KILL"},
				map[string]any{"fulfillmentRequestItemID": fr2.Items["SKU-A"], "quantity": 1, "mode": "FILL"},
			}}, &out)
			if c := out.CancelFulfillmentRequest; c.Status != "CANCELED" || c.ShipmentStatus != "PARTIALLY_SHIPPED" || c.CancelReason != "stock out" {
				t.Errorf("after the cancel: %+v", c)
			}
			o := k.ledger(o2.ID)
			if o.line("SKU-A") != [5]int{2, 1, 0, 0, 1} || o.line("SKU-B") != [5]int{2, 1, 0, 1, 0} || o.Status != "OPEN" {
				t.Errorf("order %s, lines A %v B %v", o.Status, o.line("SKU-A"), o.line("SKU-B"))
			}
			wantCommitted(t, 0, 0)
			fr := k.fr(fr2.ID)
			for _, it := range fr.Items {
				if it.ShippedQuantity+it.CanceledQuantity != it.Quantity {
					t.Errorf("item %s: shipped %d + canceled %d ≠ %d", it.Sku, it.ShippedQuantity, it.CanceledQuantity, it.Quantity)
				}
			}
			Unchanged(t, s, "a shipment on a CANCELED request", func() {
				e := ErrorOf(t, k.ship(k.AdminKey, fr2.ID, "T-X", map[string]int{fr2.Items["SKU-A"]: 1}), "INVALID_TRANSITION")
				if e.Extensions["from"] != "CANCELED" {
					t.Errorf("extensions %v", e.Extensions)
				}
			})
			Unchanged(t, s, "a second cancel", func() {
				ErrorOf(t, k.Try(k.AdminKey, spCancelMutation, map[string]any{"id": fr2.ID, "reason": "again"}), "INVALID_TRANSITION")
			})

			// What was filled is routable again.
			var gen struct {
				GenerateFulfillmentRequests struct {
					FulfillmentRequests []spView
				}
			}
			k.Query(`mutation($id: ID!) { generateFulfillmentRequests(orderID: $id) { fulfillmentRequests { `+spViewFields+` } } }`,
				map[string]any{"id": o2.ID}, &gen)
			frs := gen.GenerateFulfillmentRequests.FulfillmentRequests
			if len(frs) != 1 || len(frs[0].Items) != 2 {
				t.Fatalf("generated %+v", frs)
			}
			for _, it := range frs[0].Items {
				if it.Quantity != 1 {
					t.Errorf("generated item %s ×%d, want ×1", it.Sku, it.Quantity)
				}
			}
			o = k.ledger(o2.ID)
			if o.line("SKU-A") != [5]int{2, 0, 1, 0, 1} || o.line("SKU-B") != [5]int{2, 0, 1, 1, 0} {
				t.Errorf("lines A %v B %v", o.line("SKU-A"), o.line("SKU-B"))
			}
			wantCommitted(t, 1, 1)

			// A voided request takes no shipment either.
			gid := frs[0].ID
			k.Query(`mutation($id: ID!) { voidFulfillmentRequest(id: $id, reason: "wrong source") { id } }`, map[string]any{"id": gid}, nil)
			Unchanged(t, s, "a shipment on a VOIDED request", func() {
				e := ErrorOf(t, k.ship(k.AdminKey, gid, "T-X", map[string]int{frs[0].Items[0].ID: 1}), "INVALID_TRANSITION")
				if e.Extensions["from"] != "VOIDED" {
					t.Errorf("extensions %v", e.Extensions)
				}
			})
			o = k.ledger(o2.ID)
			if o.line("SKU-A") != [5]int{2, 1, 0, 0, 1} || o.line("SKU-B") != [5]int{2, 1, 0, 1, 0} {
				t.Errorf("after the void: lines A %v B %v", o.line("SKU-A"), o.line("SKU-B"))
			}
			wantCommitted(t, 0, 0)
		})

		t.Run("concurrent shipments", func(t *testing.T) {
			k := k.with(t)
			o4 := k.order("S-4", []string{"SKU-A"}, 2)
			o5 := k.order("S-5", []string{"SKU-A"}, 1)
			fr4, fr5 := k.create(o4, src, nil), k.create(o5, src, nil)
			k.markProcessed(fr4.ID)
			k.markProcessed(fr5.ID)
			// Six shipments of one unit each race for the two units left.
			const n = 6
			codes := make(chan string, n+2)
			var wg sync.WaitGroup
			send := func(frID, item, tracking string) {
				defer wg.Done()
				res, err := k.Send(Request{Key: k.AdminKey, Query: spShipMutation, Variables: map[string]any{"input": map[string]any{
					"fulfillmentRequestID": frID, "trackingNumber": tracking,
					"items": []any{map[string]any{"fulfillmentRequestItemID": item, "quantity": 1}}}}})
				switch {
				case err != nil:
					codes <- err.Error()
				case CheckHygiene(res) != nil:
					codes <- CheckHygiene(res).Error()
				case len(res.Errors) == 0:
					codes <- "OK"
				default:
					codes <- res.Errors[0].Code()
				}
			}
			for i := range n {
				wg.Add(1)
				go send(fr4.ID, fr4.Items["SKU-A"], "RACE-"+strconv.Itoa(i))
			}
			// And one tracking number claimed by two requests of two orders.
			wg.Add(2)
			go send(fr4.ID, fr4.Items["SKU-A"], "SAME")
			go send(fr5.ID, fr5.Items["SKU-A"], "SAME")
			wg.Wait()
			close(codes)
			got := map[string]int{}
			for c := range codes {
				got[c]++
			}
			// Two units of fr4 and one of fr5 could go: at most 3 OK, and
			// "SAME" at most once.
			if got["OK"] < 2 || got["OK"] > 3 || got["OK"]+got["VALIDATION"]+got["CONFLICT"] != n+2 {
				t.Errorf("answers %v", got)
			}
			var sh struct{ Shipments struct{ TotalCount int } }
			k.Query(`{ shipments(where: {trackingNumber: "SAME"}) { totalCount } }`, nil, &sh)
			if sh.Shipments.TotalCount != 1 {
				t.Errorf("tracking number SAME used %d times", sh.Shipments.TotalCount)
			}
			o := k.ledger(o4.ID)
			if l := o.line("SKU-A"); l[3] != 2 || o.Status != "CLOSED" {
				t.Errorf("order S-4 %s, line %v: both units shipped, no more", o.Status, l)
			}
			if f := k.fr(fr4.ID); f.ShipmentStatus != "SHIPPED" || len(f.Shipments) != 2 {
				t.Errorf("request of S-4: %s with %d shipments", f.ShipmentStatus, len(f.Shipments))
			}
			// S-5 lost the race for SAME when S-4 won it: ship it now.
			if f := k.fr(fr5.ID); f.ShipmentStatus != "SHIPPED" {
				if res := k.ship(k.AdminKey, fr5.ID, "S5-REST", map[string]int{fr5.Items["SKU-A"]: 1}); len(res.Errors) > 0 {
					t.Fatalf("errors %+v", res.Errors)
				}
			}
			k.ledger(o5.ID)
			wantCommitted(t, 0, 0)
		})

		t.Run("kill everything", func(t *testing.T) {
			k := k.with(t)
			o3 := k.order("S-3", []string{"SKU-A"}, 2)
			fr3 := k.create(o3, src, nil)
			Unchanged(t, s, "a cancel of an UNPROCESSED request", func() {
				e := ErrorOf(t, k.Try(k.AdminKey, spCancelMutation, map[string]any{"id": fr3.ID, "reason": "no"}), "INVALID_TRANSITION")
				if e.Extensions["from"] != "UNPROCESSED" || e.Extensions["to"] != "CANCELED" {
					t.Errorf("extensions %v", e.Extensions)
				}
			})
			k.Query(`mutation($id: ID!) { markFulfillmentRequestAcknowledged(id: $id) { id } }`, map[string]any{"id": fr3.ID}, nil)
			wantCommitted(t, 2, 0)
			var out struct {
				CancelFulfillmentRequest struct{ Status, ShipmentStatus string }
			}
			k.Query(spCancelMutation, map[string]any{"id": fr3.ID, "reason": "discontinued", "items": []any{
				map[string]any{"fulfillmentRequestItemID": fr3.Items["SKU-A"], "quantity": 2, "mode": "KILL"}}}, &out)
			if c := out.CancelFulfillmentRequest; c.Status != "CANCELED" || c.ShipmentStatus != "CANCELED" {
				t.Errorf("after the cancel: %+v", c)
			}
			o := k.ledger(o3.ID)
			if o.line("SKU-A") != [5]int{2, 0, 0, 0, 2} || o.Status != "CANCELED" || o.ShipmentStatus != "CANCELED" || o.AllocationStatus != "CANCELED" {
				t.Errorf("order %s/%s/%s, line %v", o.Status, o.AllocationStatus, o.ShipmentStatus, o.line("SKU-A"))
			}
			wantCommitted(t, 0, 0)
			// Nothing left to route.
			res := k.Try(k.AdminKey, `mutation($id: ID!) { generateFulfillmentRequests(orderID: $id) { fulfillmentRequests { id } } }`, map[string]any{"id": o3.ID})
			if len(res.Errors) != 1 || res.Errors[0].Code() != "ROUTING_FAILED" && res.Errors[0].Code() != "VALIDATION" {
				t.Errorf("generate on a canceled order: %+v", res.Errors)
			}
		})
	})
}
