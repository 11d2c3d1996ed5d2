package fulfillment

import (
	"context"
	"fmt"

	"github.com/frsvc/fulfillment/ent"
	"github.com/frsvc/fulfillment/ent/fulfillmentrequest"
	"github.com/frsvc/fulfillment/ent/inventoryitem"
	"github.com/frsvc/fulfillment/ent/order"
	"github.com/frsvc/fulfillment/ent/orderline"
	"github.com/frsvc/fulfillment/internal/apperr"
	"github.com/frsvc/fulfillment/internal/db"
	"github.com/frsvc/fulfillment/internal/money"
	"github.com/frsvc/fulfillment/internal/trail"
)

// PlannedItemInput is one line's quantity for a request made by hand.
type PlannedItemInput struct {
	OrderLineID int
	Quantity    int
}

// CreateInput is createFulfillmentRequest's input (bound to the GraphQL input).
type CreateInput struct {
	OrderID         int
	SourceID        int
	Items           []*PlannedItemInput
	AllowOvercommit *bool
}

// Create makes a request by hand on the chosen source, bypassing routing.
// Items default to every line's unallocated quantity. Quantities above what
// is unallocated are refused; stock the source lacks is refused unless
// AllowOvercommit, which is then logged as a warning.
func (s *Service) Create(ctx context.Context, in CreateInput) (*ent.FulfillmentRequest, error) {
	overcommit := in.AllowOvercommit != nil && *in.AllowOvercommit
	for i, it := range in.Items {
		if err := checkQuantity(fmt.Sprintf("input.items[%d].quantity", i), it.Quantity); err != nil {
			return nil, err
		}
		for _, prev := range in.Items[:i] {
			if prev.OrderLineID == it.OrderLineID {
				return nil, apperr.Invalid(fmt.Sprintf("input.items[%d].orderLineID", i), "line %d is listed twice", it.OrderLineID)
			}
		}
	}
	w := trail.New()
	var out *ent.FulfillmentRequest
	err := db.InTx(ctx, s.Store.Client, func(tx *ent.Tx) error {
		o, err := s.lockOrder(ctx, tx, in.OrderID)
		if err != nil {
			return err
		}
		if o.Status != order.StatusOPEN {
			return apperr.Invalid("input.orderID", "order %s is %s: release it first", o.OrderNumber, o.Status)
		}
		src, err := tx.Source.Get(ctx, in.SourceID)
		if ent.IsNotFound(err) {
			return apperr.Invalid("input.sourceID", "source %d not found", in.SourceID)
		}
		if err != nil {
			return err
		}
		lines, err := tx.OrderLine.Query().Where(orderline.OrderID(o.ID)).Order(ent.Asc(orderline.FieldPosition)).All(ctx)
		if err != nil {
			return err
		}
		items, err := pickItems(lines, in.Items)
		if err != nil {
			return err
		}
		skus := make([]string, len(items))
		for i, it := range items {
			skus[i] = it.line.Sku
		}
		if err := s.Store.LockInventory(ctx, tx, inventoryitem.SourceID(src.ID), inventoryitem.SkuIn(skus...)); err != nil {
			return err
		}
		if err := s.priceItems(ctx, tx, src, items, overcommit); err != nil {
			return err
		}
		c, err := costOf(src, items)
		if err != nil {
			return err
		}
		acc, err := tx.Account.Get(ctx, o.AccountID)
		if err != nil {
			return err
		}
		seq := o.FrSequence + 1
		out, err = s.createFR(ctx, tx, w, newFR{
			order: o, source: src, account: acc, origin: fulfillmentrequest.OriginCREATED, sequence: seq,
			items: items, costs: c, overcommit: overcommit, taken: map[string]bool{},
		})
		if err != nil {
			return err
		}
		if err := tx.Order.UpdateOneID(o.ID).SetFrSequence(seq).Exec(ctx); err != nil {
			return err
		}
		return refreshOrder(ctx, tx, o.ID)
	})
	return db.Unwrap(out, translateNumberClash(err))
}

// pickItems resolves the requested lines, or every line with unallocated
// quantity when none are given.
func pickItems(lines []*ent.OrderLine, want []*PlannedItemInput) ([]newItem, error) {
	var out []newItem
	if len(want) == 0 {
		for _, l := range lines {
			if l.UnallocatedQuantity > 0 {
				out = append(out, newItem{line: l, quantity: l.UnallocatedQuantity})
			}
		}
		if len(out) == 0 {
			return nil, apperr.Invalid("input.items", "the order has nothing unallocated")
		}
		return out, nil
	}
	byID := make(map[int]*ent.OrderLine, len(lines))
	for _, l := range lines {
		byID[l.ID] = l
	}
	for i, it := range want {
		l, ok := byID[it.OrderLineID]
		if !ok {
			return nil, apperr.Invalid(fmt.Sprintf("input.items[%d].orderLineID", i), "line %d is not a line of this order", it.OrderLineID)
		}
		if it.Quantity > l.UnallocatedQuantity {
			return nil, apperr.Invalid(fmt.Sprintf("input.items[%d].quantity", i), "line %s has only %d unallocated", l.Sku, l.UnallocatedQuantity)
		}
		out = append(out, newItem{line: l, quantity: it.Quantity})
	}
	return out, nil
}

// priceItems takes unit costs from the source's inventory and checks stock.
func (s *Service) priceItems(ctx context.Context, tx *ent.Tx, src *ent.Source, items []newItem, overcommit bool) error {
	skus := make([]string, len(items))
	for i, it := range items {
		skus[i] = it.line.Sku
	}
	stock, err := tx.InventoryItem.Query().Where(inventoryitem.SourceID(src.ID), inventoryitem.SkuIn(skus...)).All(ctx)
	if err != nil {
		return err
	}
	bySku := map[string]*ent.InventoryItem{}
	for _, st := range stock {
		bySku[st.Sku] = st
	}
	need := map[string]int{}
	for i := range items {
		it := &items[i]
		need[it.line.Sku] += it.quantity
		st := bySku[it.line.Sku]
		if st != nil {
			it.unitCost = st.UnitCost
		}
		if !src.CommitStock || overcommit {
			continue
		}
		available := 0
		if st != nil {
			available = st.Quantity - st.Committed
		}
		if need[it.line.Sku] > available {
			return apperr.Invalid(fmt.Sprintf("input.items[%d].quantity", i),
				"source %s has %d of %s available, %d needed; set allowOvercommit to reserve anyway", src.Code, max(available, 0), it.line.Sku, need[it.line.Sku])
		}
	}
	return nil
}

// costOf is the cost formula of DOMAIN.md for one source, every sum checked:
// a cost that does not fit answers VALIDATION naming it (possible only with
// data from before the entry bounds, see money.MaxUnitCost), never a wrapped
// number in the request's cost snapshot.
func costOf(src *ent.Source, items []newItem) (costs, error) {
	var c costs
	units := 0
	for _, it := range items {
		line, ok := money.MulChecked(it.unitCost, it.quantity)
		if ok {
			c.item, ok = money.Add(c.item, line)
		}
		if !ok {
			return c, apperr.Invalid("input.items", "the item cost at source %s does not fit: line %d (SKU %s) is %d units at %s, more than can be added up exactly",
				src.Code, it.line.Position, it.line.Sku, it.quantity, it.unitCost)
		}
		units += it.quantity
	}
	c.fee = src.DropshipFee
	perUnit, ok := money.MulChecked(src.ShippingPerUnitCost, units)
	if ok {
		c.shipping, ok = money.Add(src.ShippingBaseCost, perUnit)
	}
	if ok {
		c.total, ok = money.Sum(c.item, c.fee, c.shipping)
	}
	if !ok {
		return c, apperr.Invalid("input.items", "the cost of the request at source %s does not fit: %d units at %s shipping a unit, more than can be added up exactly",
			src.Code, units, src.ShippingPerUnitCost)
	}
	return c, nil
}

// checkQuantity bounds a quantity given to an operation: positive and at
// most money.MaxQuantity, so that no sum of quantities can wrap.
func checkQuantity(field string, q int) error {
	if q <= 0 {
		return apperr.Invalid(field, "must be greater than 0")
	}
	if q > money.MaxQuantity {
		return apperr.Invalid(field, "must be at most %d", money.MaxQuantity)
	}
	return nil
}
