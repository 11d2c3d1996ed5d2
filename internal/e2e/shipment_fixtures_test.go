package e2e

import (
	"testing"

	"github.com/frsvc/fulfillment/internal/app"
)

// The shipment and partner tests share this small operator's kit. Its
// names start with sp so that they stay clear of the other tests' helpers
// in this package.

// spKit is one account set up through the API with its ADMIN key.
type spKit struct {
	*Env
}

func spNew(t *testing.T, a *app.App) *spKit {
	t.Helper()
	// Without the per-key rate limit: these tests send many requests with
	// one key on purpose.
	e := NewWith(t, a, func(c *app.Config) { c.RateLimit = 0 })
	return &spKit{Env: e}
}

func (k *spKit) with(t *testing.T) *spKit { return &spKit{Env: k.WithT(t)} }

// source creates a MANUAL source with stock: sku → quantity (unit cost 1.00).
func (k *spKit) source(code string, stock map[string]int) string {
	k.T.Helper()
	id := k.addSource(code, nil)
	var items []any
	for sku, q := range stock {
		items = append(items, map[string]any{"sku": sku, "quantity": q, "unitCost": "1.00"})
	}
	k.Query(`mutation($s: ID!, $items: [InventoryInput!]!) { upsertInventory(sourceID: $s, items: $items) { id } }`,
		map[string]any{"s": id, "items": items}, nil)
	return id
}

// spOrder is an imported order with its line ids by SKU.
type spOrder struct {
	ID    string
	Lines map[string]string
}

// order imports a paid order with lines sku → quantity, in the given order.
func (k *spKit) order(number string, skus []string, qty ...int) spOrder {
	k.T.Helper()
	lines := make([]any, len(skus))
	for i, sku := range skus {
		lines[i] = map[string]any{"sku": sku, "title": "Item " + sku, "quantity": qty[i], "unitPrice": "10.00"}
	}
	var out struct {
		ImportOrder struct {
			ID    string
			Lines []struct{ ID, Sku string }
		}
	}
	input := importInput("web", number, "PAID", "US", lines)
	input["referenceNumber"] = "REF-" + number
	input["shipTo"].(map[string]any)["name"] = "Ada"
	k.Query(`mutation($input: ImportOrderInput!) { importOrder(input: $input) { id lines { id sku } } }`, map[string]any{"input": input}, &out)
	o := spOrder{ID: out.ImportOrder.ID, Lines: map[string]string{}}
	for _, l := range out.ImportOrder.Lines {
		o.Lines[l.Sku] = l.ID
	}
	return o
}

// spFR is a request with its item ids by SKU.
type spFR struct {
	ID    string
	Items map[string]string
}

// create makes a request by hand on the source: the given lines (sku →
// quantity), or every unallocated line when none are given.
func (k *spKit) create(o spOrder, sourceID string, items map[string]int) spFR {
	k.T.Helper()
	input := map[string]any{"orderID": o.ID, "sourceID": sourceID}
	if items != nil {
		var list []any
		for sku, q := range items {
			list = append(list, map[string]any{"orderLineID": o.Lines[sku], "quantity": q})
		}
		input["items"] = list
	}
	var out struct {
		CreateFulfillmentRequest struct {
			ID    string
			Items []struct{ ID, Sku string }
		}
	}
	k.Query(`mutation($input: CreateFulfillmentRequestInput!) { createFulfillmentRequest(input: $input) { id items { id sku } } }`,
		map[string]any{"input": input}, &out)
	fr := spFR{ID: out.CreateFulfillmentRequest.ID, Items: map[string]string{}}
	for _, it := range out.CreateFulfillmentRequest.Items {
		fr.Items[it.Sku] = it.ID
	}
	return fr
}

// markProcessed moves an UNPROCESSED request to PROCESSED by hand.
func (k *spKit) markProcessed(id string) {
	k.T.Helper()
	k.Query(`mutation($id: ID!) { markFulfillmentRequestProcessed(id: $id) { id } }`, map[string]any{"id": id}, nil)
}

const spShipMutation = `mutation($input: CreateShipmentInput!) { createShipment(input: $input) {
  id trackingNumber carrier shippedAt fulfillmentRequest { id status shipmentStatus shippedAt }
  items { quantity fulfillmentRequestItem { id sku } } } }`

// ship posts createShipment with key: item id → quantity.
func (k *spKit) ship(key, frID, tracking string, items map[string]int) *Result {
	k.T.Helper()
	var list []any
	for id, q := range items {
		list = append(list, map[string]any{"fulfillmentRequestItemID": id, "quantity": q})
	}
	return k.Try(key, spShipMutation, map[string]any{"input": map[string]any{
		"fulfillmentRequestID": frID, "trackingNumber": tracking, "carrier": "UPS", "items": list,
	}})
}

const spCancelMutation = `mutation($id: ID!, $reason: String!, $items: [CancelItemInput!]) {
  cancelFulfillmentRequest(id: $id, reason: $reason, items: $items) { id status shipmentStatus cancelReason } }`

// spView is a request as an operator reads it.
type spView struct {
	ID, Number, Status, ShipmentStatus string
	ShippedAt                          *string
	Items                              []struct {
		ID, Sku, OrderLineID                        string
		Quantity, ShippedQuantity, CanceledQuantity int
	}
	Shipments []struct{ TrackingNumber string }
}

const spViewFields = `id number status shipmentStatus shippedAt
  items { id sku orderLineID quantity shippedQuantity canceledQuantity } shipments { trackingNumber }`

func (k *spKit) fr(id string) spView {
	k.T.Helper()
	var out struct{ Node spView }
	k.Query(`query($id: ID!) { node(id: $id) { ... on FulfillmentRequest { `+spViewFields+` } } }`, map[string]any{"id": id}, &out)
	return out.Node
}

// spOrderView is an order with its ledger and requests.
type spOrderView struct {
	Status, AllocationStatus, ShipmentStatus string
	Lines                                    []struct {
		ID, Sku                                                                           string
		Quantity, UnallocatedQuantity, AllocatedQuantity, ShippedQuantity, KilledQuantity int
	}
	FulfillmentRequests struct {
		Edges []struct{ Node spView }
	}
}

// ledger reads an order and checks DOMAIN.md's invariant on every line:
// quantity = unallocated + allocated + shipped + killed, each ≥ 0, and
// allocated is exactly what the order's live requests still have open.
func (k *spKit) ledger(orderID string) spOrderView {
	k.T.Helper()
	var out struct{ Node spOrderView }
	k.Query(`query($id: ID!) { node(id: $id) { ... on Order { status allocationStatus shipmentStatus
		lines { id sku quantity unallocatedQuantity allocatedQuantity shippedQuantity killedQuantity }
		fulfillmentRequests(first: 100) { edges { node { `+spViewFields+` } } } } } }`, map[string]any{"id": orderID}, &out)
	o := out.Node
	open := map[string]int{}
	for _, e := range o.FulfillmentRequests.Edges {
		fr := e.Node
		for _, it := range fr.Items {
			left := it.Quantity - it.ShippedQuantity - it.CanceledQuantity
			if left < 0 {
				k.T.Errorf("request %s item %s: shipped %d + canceled %d > %d", fr.Number, it.Sku, it.ShippedQuantity, it.CanceledQuantity, it.Quantity)
			}
			if fr.Status != "CANCELED" && fr.Status != "VOIDED" {
				open[it.OrderLineID] += left
			}
		}
	}
	for _, l := range o.Lines {
		if l.UnallocatedQuantity < 0 || l.AllocatedQuantity < 0 || l.ShippedQuantity < 0 || l.KilledQuantity < 0 ||
			l.Quantity != l.UnallocatedQuantity+l.AllocatedQuantity+l.ShippedQuantity+l.KilledQuantity {
			k.T.Errorf("line %s breaks the ledger: %+v", l.Sku, l)
		}
		if l.AllocatedQuantity != open[l.ID] {
			k.T.Errorf("line %s: allocated %d, but its live requests hold %d", l.Sku, l.AllocatedQuantity, open[l.ID])
		}
	}
	return o
}

// line returns [quantity, unallocated, allocated, shipped, killed] of a line.
func (o spOrderView) line(sku string) [5]int {
	for _, l := range o.Lines {
		if l.Sku == sku {
			return [5]int{l.Quantity, l.UnallocatedQuantity, l.AllocatedQuantity, l.ShippedQuantity, l.KilledQuantity}
		}
	}
	return [5]int{-1, -1, -1, -1, -1}
}

// committed reads a source's committed quantity per SKU.
func (k *spKit) committed(sourceID string) map[string]int {
	k.T.Helper()
	var out struct {
		Node struct {
			InventoryItems struct {
				Edges []struct {
					Node struct {
						Sku                            string
						Quantity, Committed, Available int
					}
				}
			}
		}
	}
	k.Query(`query($id: ID!) { node(id: $id) { ... on Source { inventoryItems(first: 100) { edges { node { sku quantity committed available } } } } } }`,
		map[string]any{"id": sourceID}, &out)
	m := map[string]int{}
	for _, e := range out.Node.InventoryItems.Edges {
		n := e.Node
		if n.Available != n.Quantity-n.Committed || n.Committed < 0 {
			k.T.Errorf("inventory %s: %+v", n.Sku, n)
		}
		m[n.Sku] = n.Committed
	}
	return m
}
