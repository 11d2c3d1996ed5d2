package fulfillment

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/frsvc/fulfillment/ent"
	"github.com/frsvc/fulfillment/ent/fulfillmentrequest"
	"github.com/frsvc/fulfillment/ent/fulfillmentrequestitem"
	"github.com/frsvc/fulfillment/ent/shipment"
	"github.com/frsvc/fulfillment/internal/apperr"
	"github.com/frsvc/fulfillment/internal/db"
	"github.com/frsvc/fulfillment/internal/frstatus"
	"github.com/frsvc/fulfillment/internal/trail"
	"github.com/frsvc/fulfillment/internal/wording"
)

// CancelMode says where a canceled quantity goes.
type CancelMode string

// The modes.
const (
	// Fill returns the quantity to its line as unallocated, to be routed again.
	Fill CancelMode = "FILL"
	// Kill cancels the quantity on its line for good.
	Kill CancelMode = "KILL"
)

// CancelItemInput is one item of cancelFulfillmentRequest.
type CancelItemInput struct {
	FulfillmentRequestItemID int
	Quantity                 int
	Mode                     CancelMode
}

// ShipmentItemInput is one item of createShipment.
type ShipmentItemInput struct {
	FulfillmentRequestItemID int
	Quantity                 int
}

// CreateShipmentInput is createShipment's input.
type CreateShipmentInput struct {
	FulfillmentRequestID int
	TrackingNumber       string
	Carrier              *string
	Method               *string
	ShippedAt            *time.Time
	Items                []*ShipmentItemInput
}

// Cancel is a source's cancellation of a request it received. Every
// quantity not yet shipped is canceled: the items given say, per item and
// quantity, FILL (back to the line, routable again) or KILL (canceled on the
// line); whatever they leave out is FILL. Reserved stock is released.
func (s *Service) Cancel(ctx context.Context, id int, reason string, items []*CancelItemInput) (*ent.FulfillmentRequest, error) {
	if err := needReason(reason); err != nil {
		return nil, err
	}
	for i, it := range items {
		if err := checkQuantity(fmt.Sprintf("items[%d].quantity", i), it.Quantity); err != nil {
			return nil, err
		}
		if it.Mode != Fill && it.Mode != Kill {
			return nil, apperr.Invalid(fmt.Sprintf("items[%d].mode", i), "must be FILL or KILL")
		}
	}
	var out *ent.FulfillmentRequest
	err := db.InTx(ctx, s.Store.Client, func(tx *ent.Tx) error {
		fr, err := s.lockFR(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := frstatus.Check(frstatus.Cancel, fr.Status, frstatus.Canceled); err != nil {
			return transitionError(err)
		}
		frItems, err := tx.FulfillmentRequestItem.Query().Where(fulfillmentrequestitem.FulfillmentRequestID(fr.ID)).All(ctx)
		if err != nil {
			return err
		}
		kill := map[int]int{}
		for i, it := range items {
			fi := findItem(frItems, it.FulfillmentRequestItemID)
			if fi == nil {
				return apperr.Invalid(fmt.Sprintf("items[%d].fulfillmentRequestItemID", i), "item %d is not an item of this request", it.FulfillmentRequestItemID)
			}
			if it.Mode == Kill {
				kill[fi.ID] += it.Quantity
			}
			listed := 0
			for _, other := range items[:i+1] {
				if other.FulfillmentRequestItemID == fi.ID {
					listed += other.Quantity
				}
			}
			if left := fi.Quantity - fi.ShippedQuantity - fi.CanceledQuantity; listed > left {
				return apperr.Invalid(fmt.Sprintf("items[%d].quantity", i), "only %d of %s %s left to cancel", left, fi.Sku, wording.IsAre(left))
			}
		}
		released := map[string]int{}
		detail := []map[string]any{}
		shipped := 0
		for _, fi := range frItems {
			shipped += fi.ShippedQuantity
			left := fi.Quantity - fi.ShippedQuantity - fi.CanceledQuantity
			if left <= 0 {
				continue
			}
			k := kill[fi.ID]
			f := left - k
			if err := moveLine(ctx, tx, fi.OrderLineID, ledger{allocated: -left, unallocated: f, killed: k}); err != nil {
				return err
			}
			if err := tx.FulfillmentRequestItem.UpdateOneID(fi.ID).AddCanceledQuantity(left).Exec(ctx); err != nil {
				return err
			}
			released[fi.Sku] += left
			detail = append(detail, map[string]any{"itemID": fi.ID, "sku": fi.Sku, "fill": f, "kill": k})
		}
		w := trail.New()
		out, err = s.transition(ctx, tx, w, fr, change{event: frstatus.Cancel, to: frstatus.Canceled, reason: reason,
			data: map[string]any{"items": detail},
			set: func(u *ent.FulfillmentRequestUpdate) {
				u.SetCancelReason(reason)
				if shipped == 0 {
					u.SetShipmentStatus(frstatus.ShipmentCanceled)
				}
			}})
		if err != nil {
			return err
		}
		if err := s.releaseAll(ctx, tx, fr, released); err != nil {
			return err
		}
		return refreshOrder(ctx, tx, fr.OrderID)
	})
	return db.Unwrap(out, err)
}

func findItem(items []*ent.FulfillmentRequestItem, id int) *ent.FulfillmentRequestItem {
	for _, it := range items {
		if it.ID == id {
			return it
		}
	}
	return nil
}

// Ship records a shipment of a delivered request: quantities per item, never
// above what is left to ship. It moves the line ledger from allocated to
// shipped, releases the shipped quantity's reservation, and sets the
// request's shipment status (PARTIALLY_SHIPPED, then SHIPPED).
func (s *Service) Ship(ctx context.Context, in CreateShipmentInput) (*ent.Shipment, error) {
	tracking := strings.TrimSpace(in.TrackingNumber)
	if tracking == "" {
		return nil, apperr.Invalid("input.trackingNumber", "a tracking number is required")
	}
	if len(tracking) > 100 {
		return nil, apperr.Invalid("input.trackingNumber", "at most 100 characters")
	}
	if len(in.Items) == 0 {
		return nil, apperr.Invalid("input.items", "a shipment needs at least one item")
	}
	for i, it := range in.Items {
		if err := checkQuantity(fmt.Sprintf("input.items[%d].quantity", i), it.Quantity); err != nil {
			return nil, err
		}
	}
	var out *ent.Shipment
	err := db.InTx(ctx, s.Store.Client, func(tx *ent.Tx) error {
		fr, err := s.lockFR(ctx, tx, in.FulfillmentRequestID)
		if err != nil {
			return err
		}
		if fr.Status != frstatus.Processed && fr.Status != frstatus.Acknowledged {
			e := apperr.Transition(string(fr.Status), "SHIPPED")
			e.Message = fmt.Sprintf("shipments are accepted only on PROCESSED or ACKNOWLEDGED requests; %s is %s", fr.Number, fr.Status)
			return e
		}
		// Tracking numbers are unique per source: whether another source
		// used a number is none of this one's business.
		if taken, err := tx.Shipment.Query().Where(shipment.SourceID(fr.SourceID), shipment.TrackingNumber(tracking)).Exist(ctx); err != nil {
			return err
		} else if taken {
			return apperr.Invalid("input.trackingNumber", "tracking number %q is already used", tracking)
		}
		frItems, err := tx.FulfillmentRequestItem.Query().Where(fulfillmentrequestitem.FulfillmentRequestID(fr.ID)).All(ctx)
		if err != nil {
			return err
		}
		ship := map[int]int{}
		for i, it := range in.Items {
			fi := findItem(frItems, it.FulfillmentRequestItemID)
			if fi == nil {
				return apperr.Invalid(fmt.Sprintf("input.items[%d].fulfillmentRequestItemID", i), "item %d is not an item of this request", it.FulfillmentRequestItemID)
			}
			ship[fi.ID] += it.Quantity
			if left := fi.Quantity - fi.ShippedQuantity - fi.CanceledQuantity; ship[fi.ID] > left {
				return apperr.Invalid(fmt.Sprintf("input.items[%d].quantity", i), "only %d of %s %s left to ship", left, fi.Sku, wording.IsAre(left))
			}
		}
		shippedAt := s.now()
		if in.ShippedAt != nil {
			shippedAt = *in.ShippedAt
		}
		c := tx.Shipment.Create().SetFulfillmentRequestID(fr.ID).SetSourceID(fr.SourceID).SetTrackingNumber(tracking).SetShippedAt(shippedAt)
		if in.Carrier != nil {
			c.SetCarrier(strings.TrimSpace(*in.Carrier))
		}
		if in.Method != nil {
			c.SetMethod(strings.TrimSpace(*in.Method))
		}
		sh, err := c.Save(ctx)
		if err != nil {
			return err
		}
		released := map[string]int{}
		complete, units := true, 0
		var builders []*ent.ShipmentItemCreate
		for _, fi := range frItems {
			q := ship[fi.ID]
			if fi.ShippedQuantity+fi.CanceledQuantity+q < fi.Quantity {
				complete = false
			}
			if q == 0 {
				continue
			}
			units += q
			builders = append(builders, tx.ShipmentItem.Create().SetShipmentID(sh.ID).SetFulfillmentRequestItemID(fi.ID).SetQuantity(q))
			n, err := tx.FulfillmentRequestItem.Update().Where(fulfillmentrequestitem.ID(fi.ID),
				fulfillmentrequestitem.ShippedQuantity(fi.ShippedQuantity)).AddShippedQuantity(q).Save(ctx)
			if err != nil {
				return err
			}
			if n == 0 {
				return apperr.Clash("item %d changed meanwhile; reload and try again", fi.ID)
			}
			if err := moveLine(ctx, tx, fi.OrderLineID, ledger{allocated: -q, shipped: q}); err != nil {
				return err
			}
			released[fi.Sku] += q
		}
		if err := tx.ShipmentItem.CreateBulk(builders...).Exec(ctx); err != nil {
			return err
		}
		status := frstatus.PartiallyShipped
		u := tx.FulfillmentRequest.Update().Where(fulfillmentrequest.ID(fr.ID), fulfillmentrequest.Version(fr.Version)).AddVersion(1)
		if complete {
			status = frstatus.Shipped
			u.SetShippedAt(shippedAt)
		}
		if n, err := u.SetShipmentStatus(status).Save(ctx); err != nil {
			return err
		} else if n == 0 {
			return apperr.Clash("fulfillment request %s changed meanwhile; reload and try again", fr.Number)
		}
		if err := s.releaseAll(ctx, tx, fr, released); err != nil {
			return err
		}
		if err := trail.New().Write(ctx, tx.FulfillmentLog, trail.Entry{OrderID: fr.OrderID, FRID: fr.ID, Stage: "shipment",
			Message: fmt.Sprintf("Shipment %s of %d units for %s; the request is now %s.", tracking, units, fr.Number, status),
			Data:    map[string]any{"trackingNumber": tracking, "units": units, "shipmentStatus": string(status), "items": ship}}); err != nil {
			return err
		}
		if err := refreshOrder(ctx, tx, fr.OrderID); err != nil {
			return err
		}
		out, err = tx.Shipment.Get(ctx, sh.ID)
		return err
	})
	if err != nil && ent.IsConstraintError(err) {
		return nil, &apperr.Error{Code: apperr.Validation, Field: "input.trackingNumber", Message: "the tracking number is already used", Err: err}
	}
	return db.Unwrap(out, err)
}

// MarshalGQL writes the enum value.
func (m CancelMode) MarshalGQL(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(string(m))) }

// UnmarshalGQL reads the enum value.
func (m *CancelMode) UnmarshalGQL(v any) error {
	s, ok := v.(string)
	if !ok || (CancelMode(s) != Fill && CancelMode(s) != Kill) {
		return fmt.Errorf("CancelMode must be FILL or KILL")
	}
	*m = CancelMode(s)
	return nil
}
