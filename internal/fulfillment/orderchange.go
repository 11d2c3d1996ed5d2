package fulfillment

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/frsvc/fulfillment/ent"
	"github.com/frsvc/fulfillment/ent/fulfillmentrequest"
	"github.com/frsvc/fulfillment/ent/fulfillmentrequestitem"
	"github.com/frsvc/fulfillment/ent/order"
	"github.com/frsvc/fulfillment/ent/orderline"
	"github.com/frsvc/fulfillment/internal/address"
	"github.com/frsvc/fulfillment/internal/apperr"
	"github.com/frsvc/fulfillment/internal/db"
	"github.com/frsvc/fulfillment/internal/frstatus"
	"github.com/frsvc/fulfillment/internal/money"
	"github.com/frsvc/fulfillment/internal/orders"
	"github.com/frsvc/fulfillment/internal/trail"
)

// CancelOrder cancels an order that is OPEN or ON_HOLD: every request of it
// not yet ended is voided as voidFulfillmentRequest does (a request the
// source already has gets a cancellation notice queued, reserved stock is
// released), every unit left is killed, and the order becomes CANCELED with
// the reason and time in cancelReason and canceledAt. An
// order of which anything has shipped cannot be canceled (CONFLICT naming
// the requests that shipped): shipped units cannot be taken back, and an
// order half canceled would claim otherwise; void the open requests one by
// one and change the lines with updateOrder instead. A request being sent
// right now makes it a CONFLICT too, and nothing changes.
func (s *Service) CancelOrder(ctx context.Context, id int, reason string) (*ent.Order, error) {
	reason = strings.TrimSpace(reason)
	if err := needReason(reason); err != nil {
		return nil, err
	}
	w := trail.New()
	var out *ent.Order
	err := db.InTx(ctx, s.Store.Client, func(tx *ent.Tx) error {
		o, err := s.lockOrder(ctx, tx, id)
		if err != nil {
			return err
		}
		if o.Status != order.StatusOPEN && o.Status != order.StatusON_HOLD {
			return apperr.Transition(string(o.Status), string(order.StatusCANCELED))
		}
		if shipped, err := shippedFRs(ctx, tx, id); err != nil {
			return err
		} else if len(shipped) > 0 {
			return apperr.Clash("order %s has shipped units (%s): shipped quantities cannot be canceled; void the open requests and change the lines with updateOrder instead",
				o.OrderNumber, strings.Join(shipped, ", "))
		}
		// Every stock row the voids may release, locked up front in the
		// global order.
		if err := s.Store.LockInventory(ctx, tx, stockOfOrder(id)); err != nil {
			return err
		}
		frs, err := tx.FulfillmentRequest.Query().
			Where(fulfillmentrequest.OrderID(id), fulfillmentrequest.StatusNotIn(frstatus.Canceled, frstatus.Voided)).
			Order(ent.Asc(fulfillmentrequest.FieldID)).All(ctx)
		if err != nil {
			return err
		}
		voided, notices := []string{}, []string{}
		for _, fr := range frs {
			if fr.Status == frstatus.Processed || fr.Status == frstatus.Acknowledged {
				notices = append(notices, fr.Number)
			}
			if _, err := s.void(ctx, tx, w, fr, "order canceled: "+reason); err != nil {
				return err
			}
			voided = append(voided, fr.Number)
		}
		lines, err := tx.OrderLine.Query().Where(orderline.OrderID(id)).Order(ent.Asc(orderline.FieldPosition)).All(ctx)
		if err != nil {
			return err
		}
		killed := map[string]int{}
		for _, l := range lines {
			if l.UnallocatedQuantity == 0 {
				continue
			}
			if err := moveLine(ctx, tx, l.ID, ledger{unallocated: -l.UnallocatedQuantity, killed: l.UnallocatedQuantity}); err != nil {
				return err
			}
			killed[l.Sku] += l.UnallocatedQuantity
		}
		n, err := tx.Order.Update().Where(order.ID(id), order.StatusEQ(o.Status)).
			SetStatus(order.StatusCANCELED).ClearHoldReason().SetCancelReason(reason).SetCanceledAt(s.now()).Save(ctx)
		if err != nil {
			return err
		}
		if n == 0 {
			return apperr.Clash("order %d changed meanwhile; reload and try again", id)
		}
		if err := refreshOrder(ctx, tx, id); err != nil {
			return err
		}
		before := map[string]any{"status": string(o.Status)}
		if o.HoldReason != nil {
			before["holdReason"] = *o.HoldReason
		}
		msg := fmt.Sprintf("Order canceled: %s", reason)
		if len(voided) > 0 {
			msg += fmt.Sprintf(" (voided %s)", strings.Join(voided, ", "))
		}
		if err := w.Write(ctx, tx.FulfillmentLog, trail.Entry{OrderID: id, Stage: "order-cancel", Message: msg,
			Data: map[string]any{
				"reason": reason, "before": before, "after": map[string]any{"status": string(order.StatusCANCELED)},
				"voided": voided, "cancellationNotices": notices, "killed": killed,
			}}); err != nil {
			return err
		}
		out, err = tx.Order.Get(ctx, id)
		return err
	})
	return db.Unwrap(out, err)
}

// shippedFRs names the requests of an order that shipped anything.
func shippedFRs(ctx context.Context, tx *ent.Tx, orderID int) ([]string, error) {
	return tx.FulfillmentRequest.Query().
		Where(fulfillmentrequest.OrderID(orderID),
			fulfillmentrequest.HasItemsWith(fulfillmentrequestitem.ShippedQuantityGT(0))).
		Order(ent.Asc(fulfillmentrequest.FieldID)).
		Select(fulfillmentrequest.FieldNumber).Strings(ctx)
}

// UpdateOrderInput is updateOrder's input: only what is given changes.
type UpdateOrderInput struct {
	ReferenceNumber *string
	ShipTo          *address.Address
	Lines           []*OrderLineChangeInput
}

// OrderLineChangeInput is one change of an order's lines: with OrderLineID,
// the line's new quantity (0 removes it); without it, a new line.
type OrderLineChangeInput struct {
	OrderLineID *int
	Sku         *string
	Title       *string
	Quantity    int
	UnitPrice   *money.Amount
}

// UpdateOrder changes an OPEN or ON_HOLD order's reference number, shipping
// address and lines, as long as no source holds what changes: the reference
// and address only while no request of the order is live (not CANCELED or
// VOIDED), since a live request carries them to its source; a line's
// quantity only down to what is unallocated (more can always be added); a
// line removed only while none of it is allocated or shipped. Otherwise the
// answer is CONFLICT naming the requests that hold it, and nothing changes.
// A removed line that requests once referred to stays, its units killed;
// one that never had a request is deleted. The change is logged with before
// and after.
func (s *Service) UpdateOrder(ctx context.Context, id int, in UpdateOrderInput) (*ent.Order, error) {
	in, err := checkUpdate(in)
	if err != nil {
		return nil, err
	}
	w := trail.New()
	var out *ent.Order
	err = db.InTx(ctx, s.Store.Client, func(tx *ent.Tx) error {
		o, err := s.lockOrder(ctx, tx, id)
		if err != nil {
			return err
		}
		if o.Status != order.StatusOPEN && o.Status != order.StatusON_HOLD {
			return apperr.Clash("order %s is %s: it can no longer change", o.OrderNumber, o.Status)
		}
		lines, err := tx.OrderLine.Query().Where(orderline.OrderID(id)).Order(ent.Asc(orderline.FieldPosition)).
			WithFulfillmentRequestItems(func(q *ent.FulfillmentRequestItemQuery) { q.WithFulfillmentRequest() }).All(ctx)
		if err != nil {
			return err
		}
		before, after := map[string]any{}, map[string]any{}
		var changed []string
		ou := tx.Order.UpdateOneID(id)
		header := false
		if in.ReferenceNumber != nil && *in.ReferenceNumber != o.ReferenceNumber {
			before["referenceNumber"], after["referenceNumber"] = o.ReferenceNumber, *in.ReferenceNumber
			changed = append(changed, "referenceNumber")
			ou.SetReferenceNumber(*in.ReferenceNumber)
			header = true
		}
		if in.ShipTo != nil && *in.ShipTo != o.ShipTo {
			before["shipTo"], after["shipTo"] = o.ShipTo, *in.ShipTo
			changed = append(changed, "shipTo")
			ou.SetShipTo(*in.ShipTo).SetShipToCountry(in.ShipTo.Country)
			header = true
		}
		if header {
			if live := liveFRs(lines, func(*ent.OrderLine, *ent.FulfillmentRequestItem) bool { return true }); len(live) > 0 {
				return apperr.Clash("the %s of order %s cannot change while fulfillment requests carry it to their sources: %s; void them first",
					strings.Join(changed, " and "), o.OrderNumber, strings.Join(live, ", "))
			}
			if err := ou.Exec(ctx); err != nil {
				return err
			}
		}
		byID := map[int]*ent.OrderLine{}
		next := 0
		for _, l := range lines {
			byID[l.ID] = l
			next = max(next, l.Position)
		}
		var linesBefore, linesAfter []map[string]any
		removed := 0
		for i, c := range in.Lines {
			f := fmt.Sprintf("input.lines[%d]", i)
			if c.OrderLineID == nil {
				next++
				nl := tx.OrderLine.Create().SetOrderID(id).SetPosition(next).SetSku(*c.Sku).
					SetQuantity(c.Quantity).SetUnitPrice(*c.UnitPrice).SetUnallocatedQuantity(c.Quantity)
				if c.Title != nil {
					nl.SetTitle(*c.Title)
				}
				created, err := nl.Save(ctx)
				if err != nil {
					return err
				}
				linesAfter = append(linesAfter, lineLog(created.ID, created.Sku, created.Quantity))
				continue
			}
			l, ok := byID[*c.OrderLineID]
			if !ok {
				return apperr.Invalid(f+".orderLineID", "order %s has no line %d", o.OrderNumber, *c.OrderLineID)
			}
			if c.Quantity == l.Quantity {
				continue
			}
			holders := func() string {
				return strings.Join(liveFRs([]*ent.OrderLine{l}, func(_ *ent.OrderLine, it *ent.FulfillmentRequestItem) bool {
					return it.Quantity-it.CanceledQuantity > 0
				}), ", ")
			}
			linesBefore = append(linesBefore, lineLog(l.ID, l.Sku, l.Quantity))
			if c.Quantity == 0 {
				if l.AllocatedQuantity > 0 || l.ShippedQuantity > 0 {
					return apperr.Clash("line %d (%s) of order %s cannot be removed: %d of it allocated and %d shipped, held by %s",
						l.Position, l.Sku, o.OrderNumber, l.AllocatedQuantity, l.ShippedQuantity, holders())
				}
				removed++
				if len(l.Edges.FulfillmentRequestItems) == 0 {
					if err := tx.OrderLine.DeleteOneID(l.ID).Exec(ctx); err != nil {
						return err
					}
				} else if err := moveLine(ctx, tx, l.ID, ledger{unallocated: -l.UnallocatedQuantity, killed: l.UnallocatedQuantity}); err != nil {
					return err
				}
				linesAfter = append(linesAfter, map[string]any{"id": strconv.Itoa(l.ID), "sku": l.Sku, "removed": true})
				continue
			}
			delta := c.Quantity - l.Quantity
			if -delta > l.UnallocatedQuantity {
				who := holders()
				if who == "" {
					who = "no live request (the rest was killed)"
				}
				return apperr.Clash("line %d (%s) of order %s cannot go from %d to %d: only %d unallocated; the rest is held by %s",
					l.Position, l.Sku, o.OrderNumber, l.Quantity, c.Quantity, l.UnallocatedQuantity, who)
			}
			n, err := tx.OrderLine.Update().Where(orderline.ID(l.ID), orderline.UnallocatedQuantityGTE(-delta)).
				AddQuantity(delta).AddUnallocatedQuantity(delta).Save(ctx)
			if err != nil {
				return err
			}
			if n == 0 {
				return apperr.Clash("order line %d changed meanwhile; reload and try again", l.ID)
			}
			linesAfter = append(linesAfter, lineLog(l.ID, l.Sku, c.Quantity))
		}
		if len(in.Lines) > 0 {
			all, err := tx.OrderLine.Query().Where(orderline.OrderID(id)).All(ctx)
			if err != nil {
				return err
			}
			live := 0
			for _, l := range all {
				live += l.Quantity - l.KilledQuantity
			}
			if len(all) > orders.MaxLines {
				return apperr.Invalid("input.lines", "an order has at most %d lines", orders.MaxLines)
			}
			if live == 0 {
				return apperr.Invalid("input.lines", "an order needs at least one line; cancel it with cancelOrder instead")
			}
		}
		if len(linesBefore) > 0 || len(linesAfter) > 0 {
			changed = append(changed, "lines")
			before["lines"], after["lines"] = linesBefore, linesAfter
			if err := refreshOrder(ctx, tx, id); err != nil {
				return err
			}
		}
		if len(changed) > 0 {
			if err := w.Write(ctx, tx.FulfillmentLog, trail.Entry{OrderID: id, Stage: "order-update",
				Message: fmt.Sprintf("Order updated: %s.", strings.Join(changed, ", ")),
				Data:    map[string]any{"changed": changed, "before": before, "after": after}}); err != nil {
				return err
			}
		}
		out, err = tx.Order.Get(ctx, id)
		return err
	})
	return db.Unwrap(out, err)
}

func lineLog(id int, sku string, qty int) map[string]any {
	return map[string]any{"id": strconv.Itoa(id), "sku": sku, "quantity": qty}
}

// liveFRs names, in id order, the live (not CANCELED or VOIDED) requests
// with an item on the lines for which holds is true.
func liveFRs(lines []*ent.OrderLine, holds func(*ent.OrderLine, *ent.FulfillmentRequestItem) bool) []string {
	type named struct {
		id     int
		number string
	}
	var list []named
	for _, l := range lines {
		for _, it := range l.Edges.FulfillmentRequestItems {
			fr := it.Edges.FulfillmentRequest
			if fr == nil || fr.Status.Terminal() || !holds(l, it) {
				continue
			}
			if !slices.ContainsFunc(list, func(n named) bool { return n.id == fr.ID }) {
				list = append(list, named{fr.ID, fr.Number})
			}
		}
	}
	slices.SortFunc(list, func(a, b named) int { return a.id - b.id })
	out := make([]string, len(list))
	for i, n := range list {
		out[i] = n.number
	}
	return out
}

// checkUpdate validates updateOrder's input before any read.
func checkUpdate(in UpdateOrderInput) (UpdateOrderInput, error) {
	if in.ReferenceNumber == nil && in.ShipTo == nil && len(in.Lines) == 0 {
		return in, apperr.Invalid("input", "give referenceNumber, shipTo or lines to change")
	}
	if in.ShipTo != nil {
		a, err := orders.NormalizeAddress("input.shipTo", *in.ShipTo)
		if err != nil {
			return in, err
		}
		in.ShipTo = &a
	}
	if len(in.Lines) > orders.MaxLines {
		return in, apperr.Invalid("input.lines", "at most %d lines", orders.MaxLines)
	}
	seen := map[int]bool{}
	for i, c := range in.Lines {
		f := fmt.Sprintf("input.lines[%d]", i)
		if c.Quantity < 0 {
			return in, apperr.Invalid(f+".quantity", "must not be negative")
		}
		if c.Quantity > money.MaxQuantity {
			return in, apperr.Invalid(f+".quantity", "must be at most %d", money.MaxQuantity)
		}
		if c.OrderLineID != nil {
			if seen[*c.OrderLineID] {
				return in, apperr.Invalid(f+".orderLineID", "line %d is listed twice", *c.OrderLineID)
			}
			seen[*c.OrderLineID] = true
			if c.Sku != nil || c.UnitPrice != nil || c.Title != nil {
				return in, apperr.Invalid(f, "a line's SKU, title and unit price cannot change: remove it (quantity 0) and add another")
			}
			continue
		}
		if c.Sku == nil || strings.TrimSpace(*c.Sku) == "" {
			return in, apperr.Invalid(f+".sku", "a new line needs a SKU")
		}
		sku := strings.TrimSpace(*c.Sku)
		c.Sku = &sku
		if c.Quantity == 0 {
			return in, apperr.Invalid(f+".quantity", "must be greater than 0")
		}
		if c.UnitPrice == nil {
			return in, apperr.Invalid(f+".unitPrice", "a new line needs a unit price")
		}
		if *c.UnitPrice < 0 {
			return in, apperr.Invalid(f+".unitPrice", "must not be negative")
		}
		if *c.UnitPrice > money.MaxUnitCost {
			return in, apperr.Invalid(f+".unitPrice", "must be at most %s", money.MaxUnitCost)
		}
	}
	return in, nil
}
