// Package orders holds the order use cases: import (idempotent on channel and
// order number), hold and release.
package orders

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/frsvc/fulfillment/ent"
	"github.com/frsvc/fulfillment/ent/order"
	"github.com/frsvc/fulfillment/internal/address"
	"github.com/frsvc/fulfillment/internal/apperr"
	"github.com/frsvc/fulfillment/internal/db"
	"github.com/frsvc/fulfillment/internal/money"
	"github.com/frsvc/fulfillment/internal/trail"
	"github.com/frsvc/fulfillment/internal/wording"
)

// MaxLines bounds the lines of one order.
const MaxLines = 500

// LineInput is one line of ImportOrderInput.
type LineInput struct {
	Sku       string
	Title     *string
	Quantity  int
	UnitPrice money.Amount
}

// ImportOrderInput is importOrder's input (bound to the GraphQL input).
type ImportOrderInput struct {
	Channel         string
	OrderNumber     string
	ReferenceNumber *string
	PaymentStatus   order.PaymentStatus
	OrderedAt       *time.Time
	ShipTo          address.Address
	Lines           []*LineInput
}

// Service runs the order use cases.
type Service struct {
	Client *ent.Client
	Now    func() time.Time
	// AfterImport, when set, runs after a new order is committed (the
	// generate-on-import automation). What it does is its own business: an
	// import never fails because of it.
	AfterImport func(ctx context.Context, o *ent.Order)
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Import creates the order, or returns the existing one with the same
// channel and order number untouched.
func (s *Service) Import(ctx context.Context, in ImportOrderInput) (*ent.Order, error) {
	o, created, err := s.importOrder(ctx, in)
	if err != nil || !created || s.AfterImport == nil {
		return o, err
	}
	s.AfterImport(ctx, o)
	// Read again: the automation may have allocated the order.
	return s.Client.Order.Get(ctx, o.ID)
}

// importOrder is Import, also telling whether the order is new.
func (s *Service) importOrder(ctx context.Context, in ImportOrderInput) (o *ent.Order, created bool, err error) {
	in, err = normalize(in)
	if err != nil {
		return nil, false, err
	}
	if existing, err := s.find(ctx, in.Channel, in.OrderNumber); err != nil || existing != nil {
		return existing, false, err
	}
	err = db.InTx(ctx, s.Client, func(tx *ent.Tx) error {
		c := tx.Order.Create().SetChannel(in.Channel).SetOrderNumber(in.OrderNumber).
			SetPaymentStatus(in.PaymentStatus).SetShipTo(in.ShipTo).SetShipToCountry(in.ShipTo.Country).
			SetOrderedAt(s.now())
		if in.ReferenceNumber != nil {
			c.SetReferenceNumber(*in.ReferenceNumber)
		}
		if in.OrderedAt != nil {
			c.SetOrderedAt(*in.OrderedAt)
		}
		var err error
		if o, err = c.Save(ctx); err != nil {
			return err
		}
		lines := make([]*ent.OrderLineCreate, len(in.Lines))
		for i, l := range in.Lines {
			lines[i] = tx.OrderLine.Create().SetOrderID(o.ID).SetPosition(i + 1).SetSku(l.Sku).
				SetQuantity(l.Quantity).SetUnitPrice(l.UnitPrice).SetUnallocatedQuantity(l.Quantity)
			if l.Title != nil {
				lines[i].SetTitle(*l.Title)
			}
		}
		if err := tx.OrderLine.CreateBulk(lines...).Exec(ctx); err != nil {
			return err
		}
		return trail.New().Write(ctx, tx.FulfillmentLog, trail.Entry{
			OrderID: o.ID, Stage: "import",
			Message: fmt.Sprintf("Order %s imported from %s with %s.", o.OrderNumber, o.Channel, wording.Count(len(in.Lines), "line")),
			Data:    map[string]any{"channel": o.Channel, "orderNumber": o.OrderNumber, "lines": len(in.Lines), "paymentStatus": string(o.PaymentStatus)},
		})
	})
	if err != nil {
		if ent.IsConstraintError(err) {
			// A concurrent import of the same order won; answer with its order.
			existing, ferr := s.find(ctx, in.Channel, in.OrderNumber)
			if ferr == nil && existing != nil {
				return existing, false, nil
			}
		}
		return nil, false, err
	}
	return o.Unwrap(), true, nil
}

func (s *Service) find(ctx context.Context, channel, number string) (*ent.Order, error) {
	o, err := s.Client.Order.Query().Where(order.Channel(channel), order.OrderNumber(number)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	return o, err
}

func normalize(in ImportOrderInput) (ImportOrderInput, error) {
	in.Channel = strings.TrimSpace(in.Channel)
	in.OrderNumber = strings.TrimSpace(in.OrderNumber)
	if in.Channel == "" {
		return in, apperr.Invalid("input.channel", "a channel is required")
	}
	if in.OrderNumber == "" {
		return in, apperr.Invalid("input.orderNumber", "an order number is required")
	}
	if len(in.OrderNumber) > 100 {
		return in, apperr.Invalid("input.orderNumber", "at most 100 characters")
	}
	if err := order.PaymentStatusValidator(in.PaymentStatus); err != nil {
		return in, apperr.Invalid("input.paymentStatus", "unknown payment status %q", in.PaymentStatus)
	}
	a := &in.ShipTo
	a.Country = strings.ToUpper(strings.TrimSpace(a.Country))
	for _, f := range []struct{ name, v string }{{"line1", a.Line1}, {"city", a.City}, {"postalCode", a.PostalCode}} {
		if strings.TrimSpace(f.v) == "" {
			return in, apperr.Invalid("input.shipTo."+f.name, "is required")
		}
	}
	if !address.ValidCountry(a.Country) {
		return in, apperr.Invalid("input.shipTo.country", "%q is not an ISO 3166-1 alpha-2 country code", a.Country)
	}
	if len(in.Lines) == 0 {
		return in, apperr.Invalid("input.lines", "an order needs at least one line")
	}
	if len(in.Lines) > MaxLines {
		return in, apperr.Invalid("input.lines", "at most %d lines", MaxLines)
	}
	for i, l := range in.Lines {
		f := fmt.Sprintf("input.lines[%d]", i)
		l.Sku = strings.TrimSpace(l.Sku)
		if l.Sku == "" {
			return in, apperr.Invalid(f+".sku", "a SKU must not be empty")
		}
		if l.Quantity <= 0 {
			return in, apperr.Invalid(f+".quantity", "must be greater than 0")
		}
		if l.Quantity > money.MaxQuantity {
			return in, apperr.Invalid(f+".quantity", "must be at most %d", money.MaxQuantity)
		}
		if l.UnitPrice < 0 {
			return in, apperr.Invalid(f+".unitPrice", "must not be negative")
		}
		if l.UnitPrice > money.MaxUnitCost {
			return in, apperr.Invalid(f+".unitPrice", "must be at most %s", money.MaxUnitCost)
		}
	}
	return in, nil
}

// Hold puts an open order on hold; holding a held order updates the reason.
func (s *Service) Hold(ctx context.Context, id int, reason string) (*ent.Order, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return nil, apperr.Invalid("reason", "a reason is required")
	}
	return s.setStatus(ctx, id, order.StatusON_HOLD, &reason, order.StatusOPEN, order.StatusON_HOLD)
}

// Release makes a held order routable again.
func (s *Service) Release(ctx context.Context, id int) (*ent.Order, error) {
	return s.setStatus(ctx, id, order.StatusOPEN, nil, order.StatusON_HOLD)
}

func (s *Service) setStatus(ctx context.Context, id int, to order.Status, reason *string, from ...order.Status) (*ent.Order, error) {
	var out *ent.Order
	err := db.InTx(ctx, s.Client, func(tx *ent.Tx) error {
		o, err := tx.Order.Get(ctx, id)
		if ent.IsNotFound(err) {
			return apperr.Missing("order", id)
		}
		if err != nil {
			return err
		}
		allowed := false
		for _, f := range from {
			allowed = allowed || o.Status == f
		}
		if !allowed {
			e := apperr.Transition(string(o.Status), string(to))
			if to == order.StatusOPEN {
				// Releasing an order that is not held: say so, not "from OPEN to OPEN".
				e.Message = fmt.Sprintf("order %s is not on hold (it is %s): only a held order can be released", o.OrderNumber, o.Status)
			}
			return e
		}
		// Guarded on the status read, so a concurrent change makes this a
		// conflict instead of a lost update.
		upd := tx.Order.Update().Where(order.ID(id), order.StatusEQ(o.Status)).SetStatus(to)
		if reason != nil {
			upd.SetHoldReason(*reason)
		} else {
			upd.ClearHoldReason()
		}
		n, err := upd.Save(ctx)
		if err != nil {
			return err
		}
		if n == 0 {
			return apperr.Clash("order %d changed meanwhile; reload and try again", id)
		}
		msg := fmt.Sprintf("Order moved from %s to %s.", o.Status, to)
		data := map[string]any{"from": string(o.Status), "to": string(to)}
		if reason != nil {
			msg = fmt.Sprintf("Order put on hold: %s", *reason)
			data["reason"] = *reason
		}
		if err := trail.New().Write(ctx, tx.FulfillmentLog, trail.Entry{OrderID: id, Stage: "order-status", Message: msg, Data: data}); err != nil {
			return err
		}
		out, err = tx.Order.Get(ctx, id)
		return err
	})
	return db.Unwrap(out, err)
}
