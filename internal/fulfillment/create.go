package fulfillment

import (
	"context"
	"fmt"
	"strings"

	"github.com/frsvc/fulfillment/ent"
	"github.com/frsvc/fulfillment/ent/fulfillmentlog"
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
	// UnitCost overrides the source's inventory cost; it is required for a
	// SKU the source has never carried.
	UnitCost *money.Amount
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
		if err := checkUnitCost(fmt.Sprintf("input.items[%d].unitCost", i), it.UnitCost); err != nil {
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
		warnings := shipToWarnings(src, o)
		priced, err := s.priceItems(ctx, tx, src, items, overcommit)
		if err != nil {
			return err
		}
		warnings = append(warnings, priced...)
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
			items: items, costs: c, overcommit: overcommit, taken: map[string]bool{}, warnings: warnings,
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
				out = append(out, newItem{line: l, quantity: l.UnallocatedQuantity, field: "input.items"})
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
		out = append(out, newItem{line: l, quantity: it.Quantity, given: it.UnitCost, field: fmt.Sprintf("input.items[%d]", i)})
	}
	return out, nil
}

// priceItems takes unit costs from the source's inventory, or from the
// items that give one, and checks stock. A SKU the source has never carried
// (no inventory row) needs a given unit cost; it is then priced at that cost
// and warned about, as the returned warnings.
func (s *Service) priceItems(ctx context.Context, tx *ent.Tx, src *ent.Source, items []newItem, overcommit bool) ([]warning, error) {
	skus := make([]string, len(items))
	for i, it := range items {
		skus[i] = it.line.Sku
	}
	stock, err := tx.InventoryItem.Query().Where(inventoryitem.SourceID(src.ID), inventoryitem.SkuIn(skus...)).All(ctx)
	if err != nil {
		return nil, err
	}
	bySku := map[string]*ent.InventoryItem{}
	for _, st := range stock {
		bySku[st.Sku] = st
	}
	var warnings []warning
	need := map[string]int{}
	for i := range items {
		it := &items[i]
		need[it.line.Sku] += it.quantity
		st := bySku[it.line.Sku]
		switch {
		case st == nil && it.given == nil && it.field == "input.items":
			return nil, apperr.Invalid(it.field, "source %s has never carried SKU %s: list the items, with a unitCost for %s",
				src.Code, it.line.Sku, it.line.Sku)
		case st == nil && it.given == nil && src.CommitStock && !overcommit:
			// The stock is what is refused first, as for a SKU carried
			// but short; the message says what else it takes.
			return nil, apperr.Invalid(it.field+".quantity", "source %s has never carried SKU %s: give the item's unitCost, and set allowOvercommit to reserve stock it does not have",
				src.Code, it.line.Sku)
		case st == nil && it.given == nil:
			return nil, apperr.Invalid(it.field+".unitCost", "source %s has never carried SKU %s: give the item's unitCost", src.Code, it.line.Sku)
		case it.given != nil:
			it.unitCost = *it.given
		default:
			it.unitCost = st.UnitCost
		}
		if st == nil && need[it.line.Sku] == it.quantity {
			msg := fmt.Sprintf("Source %s has never carried SKU %s: priced at %s a unit as given.", src.Code, it.line.Sku, it.unitCost)
			if src.CommitStock && overcommit {
				msg = fmt.Sprintf("Source %s has never carried SKU %s: priced at %s a unit as given, and reserved on a new inventory row with nothing on hand.",
					src.Code, it.line.Sku, it.unitCost)
			}
			warnings = append(warnings, warning{msg, map[string]any{"sourceID": src.ID, "sku": it.line.Sku, "unitCost": it.unitCost.String()}})
		}
		if !src.CommitStock || overcommit {
			continue
		}
		available := 0
		if st != nil {
			available = st.Quantity - st.Committed
		}
		if need[it.line.Sku] > available {
			return nil, apperr.Invalid(fmt.Sprintf("input.items[%d].quantity", i),
				"source %s has %d of %s available, %d needed; set allowOvercommit to reserve anyway", src.Code, max(available, 0), it.line.Sku, need[it.line.Sku])
		}
	}
	return warnings, nil
}

// warning is one WARN log entry of a request made by hand.
type warning struct {
	message string
	data    map[string]any
}

// shipToWarnings warns of a source chosen by hand that does not ship to the
// order's country (routing would never have chosen it).
func shipToWarnings(src *ent.Source, o *ent.Order) []warning {
	country := strings.TrimSpace(o.ShipTo.Country)
	if len(src.ShipsTo) == 0 {
		return nil
	}
	for _, c := range src.ShipsTo {
		if strings.EqualFold(strings.TrimSpace(c), country) {
			return nil
		}
	}
	return []warning{{fmt.Sprintf("Source %s does not ship to %s (it ships to %s); the request was made by hand anyway.",
		src.Code, country, strings.Join(src.ShipsTo, ", ")), map[string]any{"sourceID": src.ID, "country": country}}}
}

// checkUnitCost bounds a unit cost given by hand as the inventory's are.
func checkUnitCost(field string, v *money.Amount) error {
	switch {
	case v == nil:
		return nil
	case *v < 0:
		return apperr.Invalid(field, "must not be negative")
	case *v > money.MaxUnitCost:
		return apperr.Invalid(field, "must be at most %s", money.MaxUnitCost)
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

// Warnings are what the operation that made fr warned about: the WARN
// entries of fr's log written under the correlation id of its creation (its
// first "attach" entry), oldest first. Only operator keys read them, as the
// schema declares (FulfillmentRequest.warnings is @readableBy ADMIN and
// READ_ONLY): they are the operator's log.
func (s *Service) Warnings(ctx context.Context, fr *ent.FulfillmentRequest) ([]string, error) {
	entries, err := s.Store.Client.FulfillmentLog.Query().
		Where(fulfillmentlog.FulfillmentRequestID(fr.ID),
			fulfillmentlog.Or(fulfillmentlog.LevelEQ(fulfillmentlog.LevelWARN), fulfillmentlog.Stage("attach"))).
		Order(ent.Asc(fulfillmentlog.FieldID)).
		All(ctx)
	if err != nil {
		return nil, err
	}
	out := []string{}
	correlation := ""
	for _, e := range entries {
		if correlation == "" && e.Stage == "attach" {
			correlation = e.CorrelationID
		}
	}
	for _, e := range entries {
		if e.Level == fulfillmentlog.LevelWARN && e.CorrelationID == correlation {
			out = append(out, e.Message)
		}
	}
	return out, nil
}
