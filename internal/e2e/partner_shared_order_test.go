package e2e

import (
	"testing"

	"github.com/frsvc/fulfillment/internal/app"
	"github.com/frsvc/fulfillment/internal/testdb"
)

// TestPartnerShipsItsShareOfASharedOrder: order P-2 is shared by sources A
// and B. When partner A ships all of its request, the order must count
// every line, B's included — it is partly shipped and still open, not
// closed (a partner's narrowed view of the lines must not decide it).
func TestPartnerShipsItsShareOfASharedOrder(t *testing.T) {
	testdb.Each(t, func(t *testing.T, a *app.App) {
		w := newPartnerWorld(t, a)
		res := w.ship(w.keyA, w.a2.ID, "TA-SHARED", map[string]int{w.a2.Items["SKU-A"]: 1})
		if len(res.Errors) > 0 {
			t.Fatalf("ship as partner A: %+v", res.Errors)
		}
		var out struct {
			Node struct {
				Status           string
				ShipmentStatus   string
				AllocationStatus string
			}
		}
		w.Query(`query($id: ID!) { node(id: $id) { ... on Order { status shipmentStatus allocationStatus } } }`,
			map[string]any{"id": w.o2.ID}, &out)
		if out.Node.Status != "OPEN" || out.Node.ShipmentStatus != "PARTIALLY_SHIPPED" || out.Node.AllocationStatus != "ALLOCATED" {
			t.Fatalf("shared order after partner A shipped its share = %+v, want OPEN / PARTIALLY_SHIPPED / ALLOCATED", out.Node)
		}
	})
}
