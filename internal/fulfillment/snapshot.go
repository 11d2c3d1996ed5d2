package fulfillment

import (
	"context"
	"slices"

	"github.com/frsvc/fulfillment/ent"
	"github.com/frsvc/fulfillment/ent/inventoryitem"
	"github.com/frsvc/fulfillment/ent/order"
	"github.com/frsvc/fulfillment/ent/orderline"
	"github.com/frsvc/fulfillment/internal/apperr"
	"github.com/frsvc/fulfillment/internal/routing"
)

// snapshot is everything routing needs about one order, read in a fixed
// number of queries, with the entities kept so that the answer can point at
// them without reading them again.
type snapshot struct {
	order     *ent.Order
	lines     map[int]*ent.OrderLine
	groups    map[int]*ent.RoutingGroup
	sources   map[int]*ent.Source
	inventory map[stockKey]*ent.InventoryItem
	input     routing.Snapshot
}

type stockKey struct {
	source int
	sku    string
}

// loadSnapshot reads the order, its lines, the account's routing groups with
// their members, its sources and the inventory of the order's SKUs: five
// queries whatever the size of the account.
func loadSnapshot(ctx context.Context, c *ent.Client, orderID int) (*snapshot, error) {
	o, err := c.Order.Query().Where(order.ID(orderID)).
		WithLines(func(q *ent.OrderLineQuery) { q.Order(ent.Asc(orderline.FieldPosition)) }).
		Only(ctx)
	if ent.IsNotFound(err) {
		return nil, apperr.Missing("order", orderID)
	}
	if err != nil {
		return nil, err
	}
	groups, err := c.RoutingGroup.Query().WithMembers().All(ctx)
	if err != nil {
		return nil, err
	}
	sources, err := c.Source.Query().All(ctx)
	if err != nil {
		return nil, err
	}
	var skus []string
	for _, l := range o.Edges.Lines {
		if !slices.Contains(skus, l.Sku) {
			skus = append(skus, l.Sku)
		}
	}
	stock, err := c.InventoryItem.Query().Where(inventoryitem.SkuIn(skus...)).All(ctx)
	if err != nil {
		return nil, err
	}
	return buildSnapshot(o, groups, sources, stock), nil
}

func buildSnapshot(o *ent.Order, groups []*ent.RoutingGroup, sources []*ent.Source, stock []*ent.InventoryItem) *snapshot {
	s := &snapshot{
		order:     o,
		lines:     make(map[int]*ent.OrderLine, len(o.Edges.Lines)),
		groups:    make(map[int]*ent.RoutingGroup, len(groups)),
		sources:   make(map[int]*ent.Source, len(sources)),
		inventory: make(map[stockKey]*ent.InventoryItem, len(stock)),
	}
	in := &s.input
	in.Order = routing.Order{
		Status:        string(o.Status),
		PaymentStatus: string(o.PaymentStatus),
		Country:       o.ShipTo.Country,
	}
	for _, l := range o.Edges.Lines {
		s.lines[l.ID] = l
		in.Order.Lines = append(in.Order.Lines, routing.Line{ID: l.ID, SKU: l.Sku, Unallocated: l.UnallocatedQuantity})
	}
	for _, g := range groups {
		s.groups[g.ID] = g
		rg := routing.Group{
			ID: g.ID, Name: g.Name, Position: g.Position, IsDefault: g.IsDefault,
			ShipToCountries: g.ShipToCountries, AllowLineSplit: g.AllowLineSplit,
		}
		for _, r := range g.Rules {
			rg.Rules = append(rg.Rules, routing.Rule(r))
		}
		for _, m := range g.Edges.Members {
			rg.Members = append(rg.Members, routing.Member{SourceID: m.SourceID, Priority: m.Priority, Eligible: m.Eligible})
		}
		in.Groups = append(in.Groups, rg)
	}
	for _, src := range sources {
		s.sources[src.ID] = src
		in.Sources = append(in.Sources, routing.Source{
			ID: src.ID, Code: src.Code, Name: src.Name, Enabled: src.Enabled, ShipsTo: src.ShipsTo,
			DropshipFee: src.DropshipFee, ShippingBaseCost: src.ShippingBaseCost, ShippingPerUnitCost: src.ShippingPerUnitCost,
		})
	}
	for _, it := range stock {
		s.inventory[stockKey{it.SourceID, it.Sku}] = it
		in.Inventory = append(in.Inventory, routing.Stock{
			SourceID: it.SourceID, SKU: it.Sku, Available: max(it.Quantity-it.Committed, 0), UnitCost: it.UnitCost,
		})
	}
	return s
}

// unwrap rebinds the snapshot's entities to the plain client once the read
// transaction is over, so that GraphQL can still load their edges.
func (s *snapshot) unwrap() {
	s.order = s.order.Unwrap()
	for id, l := range s.lines {
		s.lines[id] = l.Unwrap()
	}
	for id, g := range s.groups {
		s.groups[id] = g.Unwrap()
	}
	for id, src := range s.sources {
		s.sources[id] = src.Unwrap()
	}
}

// checkGroup refuses an explicit routing group the account does not have.
func (s *snapshot) checkGroup(id *int) error {
	if id != nil {
		if _, ok := s.groups[*id]; !ok {
			return apperr.Invalid("routingGroupID", "routing group %d not found", *id)
		}
	}
	return nil
}
