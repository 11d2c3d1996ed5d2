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
	"github.com/frsvc/fulfillment/ent/orderline"
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

// Import creates the order. A repeat of an import (same channel and order
// number, same content) returns the stored order untouched; a repeat whose
// content differs from the stored order is refused with CONFLICT naming what
// differs, never silently answered with the old order.
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
		if err == nil {
			err = s.sameContent(ctx, existing, in)
		}
		if err != nil {
			return nil, false, err
		}
		return existing, false, nil
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
				if err := s.sameContent(ctx, existing, in); err != nil {
					return nil, false, err
				}
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

// sameContent answers CONFLICT, naming what differs, unless the normalized
// import in has the stored order's content: reference number, payment
// status, shipping address, orderedAt (when given) and the lines in order
// (SKU, title, quantity, unit price). The stored order is what it is now,
// after any update an operator made.
func (s *Service) sameContent(ctx context.Context, o *ent.Order, in ImportOrderInput) error {
	lines, err := o.QueryLines().Order(ent.Asc(orderline.FieldPosition)).All(ctx)
	if err != nil {
		return err
	}
	var diff []string
	if deref(in.ReferenceNumber) != o.ReferenceNumber {
		diff = append(diff, fmt.Sprintf("referenceNumber (stored %q, imported %q)", o.ReferenceNumber, deref(in.ReferenceNumber)))
	}
	if in.PaymentStatus != o.PaymentStatus {
		diff = append(diff, fmt.Sprintf("paymentStatus (stored %s, imported %s)", o.PaymentStatus, in.PaymentStatus))
	}
	if in.OrderedAt != nil && !in.OrderedAt.Truncate(time.Microsecond).Equal(o.OrderedAt.Truncate(time.Microsecond)) {
		diff = append(diff, fmt.Sprintf("orderedAt (stored %s, imported %s)", o.OrderedAt.UTC().Format(time.RFC3339Nano), in.OrderedAt.UTC().Format(time.RFC3339Nano)))
	}
	diff = append(diff, addressDiff("shipTo", o.ShipTo, in.ShipTo)...)
	if len(lines) != len(in.Lines) {
		diff = append(diff, fmt.Sprintf("lines (stored %d, imported %d)", len(lines), len(in.Lines)))
	} else {
		for i, l := range in.Lines {
			st := lines[i]
			f := fmt.Sprintf("lines[%d]", i)
			if l.Sku != st.Sku {
				diff = append(diff, fmt.Sprintf("%s.sku (stored %s, imported %s)", f, st.Sku, l.Sku))
			}
			if deref(l.Title) != st.Title {
				diff = append(diff, fmt.Sprintf("%s.title (stored %q, imported %q)", f, st.Title, deref(l.Title)))
			}
			if l.Quantity != st.Quantity {
				diff = append(diff, fmt.Sprintf("%s.quantity (stored %d, imported %d)", f, st.Quantity, l.Quantity))
			}
			if l.UnitPrice != st.UnitPrice {
				diff = append(diff, fmt.Sprintf("%s.unitPrice (stored %s, imported %s)", f, st.UnitPrice, l.UnitPrice))
			}
		}
	}
	if len(diff) == 0 {
		return nil
	}
	const most = 10
	more := ""
	if len(diff) > most {
		more = fmt.Sprintf(" and %d more", len(diff)-most)
		diff = diff[:most]
	}
	return apperr.Clash("order %s from %s was already imported with other content; it differs in %s%s. Change an imported order with updateOrder or updateOrderPayment",
		o.OrderNumber, o.Channel, strings.Join(diff, ", "), more)
}

// addressDiff lists the fields in which two addresses differ, each as
// "prefix.field (stored …, imported …)".
func addressDiff(prefix string, stored, got address.Address) []string {
	var diff []string
	for _, f := range []struct{ name, a, b string }{
		{"name", stored.Name, got.Name}, {"line1", stored.Line1, got.Line1}, {"line2", stored.Line2, got.Line2},
		{"city", stored.City, got.City}, {"region", stored.Region, got.Region},
		{"postalCode", stored.PostalCode, got.PostalCode}, {"country", stored.Country, got.Country},
	} {
		if f.a != f.b {
			diff = append(diff, fmt.Sprintf("%s.%s (stored %q, imported %q)", prefix, f.name, f.a, f.b))
		}
	}
	return diff
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
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
	var err error
	if in.ShipTo, err = NormalizeAddress("input.shipTo", in.ShipTo); err != nil {
		return in, err
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

// NormalizeAddress checks a shipping address as import does (field names
// under prefix) and returns it with the country code upper-cased.
func NormalizeAddress(prefix string, a address.Address) (address.Address, error) {
	a.Country = strings.ToUpper(strings.TrimSpace(a.Country))
	for _, f := range []struct{ name, v string }{{"line1", a.Line1}, {"city", a.City}, {"postalCode", a.PostalCode}} {
		if strings.TrimSpace(f.v) == "" {
			return a, apperr.Invalid(prefix+"."+f.name, "is required")
		}
	}
	if !address.ValidCountry(a.Country) {
		return a, apperr.Invalid(prefix+".country", "%q is not an ISO 3166-1 alpha-2 country code", a.Country)
	}
	return a, nil
}

// UpdatePayment sets an order's payment status (an order imported PENDING is
// paid later, say), logged with before and after. Setting the status it has
// changes nothing and logs nothing. A canceled order's payment can still be
// recorded (a refund); the status does not route anything there.
func (s *Service) UpdatePayment(ctx context.Context, id int, status order.PaymentStatus) (*ent.Order, error) {
	if err := order.PaymentStatusValidator(status); err != nil {
		return nil, apperr.Invalid("paymentStatus", "unknown payment status %q", status)
	}
	var out *ent.Order
	err := db.InTx(ctx, s.Client, func(tx *ent.Tx) error {
		o, err := tx.Order.Get(ctx, id)
		if ent.IsNotFound(err) {
			return apperr.Missing("order", id)
		}
		if err != nil {
			return err
		}
		if o.PaymentStatus == status {
			out = o
			return nil
		}
		// Guarded on the value read: a concurrent change is a conflict,
		// not a lost update.
		n, err := tx.Order.Update().Where(order.ID(id), order.PaymentStatusEQ(o.PaymentStatus)).SetPaymentStatus(status).Save(ctx)
		if err != nil {
			return err
		}
		if n == 0 {
			return apperr.Clash("order %d changed meanwhile; reload and try again", id)
		}
		if err := trail.New().Write(ctx, tx.FulfillmentLog, trail.Entry{OrderID: id, Stage: "order-update",
			Message: fmt.Sprintf("Payment status changed from %s to %s.", o.PaymentStatus, status),
			Data: map[string]any{
				"before": map[string]any{"paymentStatus": string(o.PaymentStatus)},
				"after":  map[string]any{"paymentStatus": string(status)},
			}}); err != nil {
			return err
		}
		out, err = tx.Order.Get(ctx, id)
		return err
	})
	return db.Unwrap(out, err)
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
