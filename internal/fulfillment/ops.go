package fulfillment

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/frsvc/fulfillment/ent"
	"github.com/frsvc/fulfillment/ent/fulfillmentrequest"
	"github.com/frsvc/fulfillment/ent/fulfillmentrequestitem"
	"github.com/frsvc/fulfillment/internal/admin"
	"github.com/frsvc/fulfillment/internal/apperr"
	"github.com/frsvc/fulfillment/internal/db"
	"github.com/frsvc/fulfillment/internal/frstatus"
	"github.com/frsvc/fulfillment/internal/trail"
)

// MaxBatch bounds processFulfillmentRequests.
const MaxBatch = 500

// Process queues requests for the next send run, all or nothing.
func (s *Service) Process(ctx context.Context, ids []int) ([]*ent.FulfillmentRequest, error) {
	if len(ids) == 0 {
		return nil, apperr.Invalid("ids", "give at least one fulfillment request")
	}
	if len(ids) > MaxBatch {
		return nil, apperr.Invalid("ids", "at most %d fulfillment requests a call", MaxBatch)
	}
	for i, id := range ids {
		if slices.Contains(ids[:i], id) {
			return nil, apperr.Invalid(fmt.Sprintf("ids[%d]", i), "fulfillment request %d is listed twice", id)
		}
	}
	w := trail.New()
	out := make([]*ent.FulfillmentRequest, len(ids))
	err := db.InTx(ctx, s.Store.Client, func(tx *ent.Tx) error {
		for i, id := range ids {
			fr, err := s.getFR(ctx, tx, id)
			if err != nil {
				return err
			}
			out[i], err = s.transition(ctx, tx, w, fr, change{
				event: frstatus.Process, to: frstatus.Processing, operator: true,
				set: func(u *ent.FulfillmentRequestUpdate) { u.SetAttempts(0).ClearFailureReason() },
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	return unwrapAll(out, err)
}

// MarkProcessed records by hand that a request reached its source.
// From PROCESSING it is allowed only while no send run holds the request's
// lease (CONFLICT otherwise); a stale lease and a scheduled retry are
// cleared, so a run that reports late finds its lease gone and writes nothing.
func (s *Service) MarkProcessed(ctx context.Context, id int) (*ent.FulfillmentRequest, error) {
	return s.move(ctx, id, change{event: frstatus.MarkProcessed, to: frstatus.Processed, operator: true,
		reason: "marked processed by hand", set: clearSending})
}

// MarkAcknowledged records by hand that the source confirmed a request; from
// PROCESSING as MarkProcessed allows it.
func (s *Service) MarkAcknowledged(ctx context.Context, id int, confirmation *string) (*ent.FulfillmentRequest, error) {
	confirm := setConfirmation(confirmation)
	return s.move(ctx, id, change{event: frstatus.MarkAcknowledged, to: frstatus.Acknowledged, operator: true,
		reason: "marked acknowledged by hand", set: func(u *ent.FulfillmentRequestUpdate) { clearSending(u); confirm(u) }})
}

// clearSending drops what the send run keeps on a request it is to send: a
// lease (expired, or the mark would have been refused) and the next attempt.
func clearSending(u *ent.FulfillmentRequestUpdate) {
	u.ClearLeaseHolder().ClearLeaseExpiresAt().ClearNextAttemptAt()
}

// Acknowledge is the source's own confirmation of a request it received.
func (s *Service) Acknowledge(ctx context.Context, id int, confirmation *string) (*ent.FulfillmentRequest, error) {
	return s.move(ctx, id, change{event: frstatus.Acknowledge, to: frstatus.Acknowledged,
		reason: "acknowledged by the source", set: setConfirmation(confirmation)})
}

func setConfirmation(c *string) func(*ent.FulfillmentRequestUpdate) {
	return func(u *ent.FulfillmentRequestUpdate) {
		if c != nil && strings.TrimSpace(*c) != "" {
			u.SetConfirmationNumber(strings.TrimSpace(*c))
		}
	}
}

// move runs one transition in its own transaction.
func (s *Service) move(ctx context.Context, id int, c change) (*ent.FulfillmentRequest, error) {
	var out *ent.FulfillmentRequest
	err := db.InTx(ctx, s.Store.Client, func(tx *ent.Tx) error {
		fr, err := s.getFR(ctx, tx, id)
		if err != nil {
			return err
		}
		out, err = s.transition(ctx, tx, trail.New(), fr, c)
		return err
	})
	return db.Unwrap(out, err)
}

// Renumber gives a request a new number. A request parked as NUMBER_TOO_LONG
// or DUPLICATE_NUMBER moves on (to PROCESSING with autoProcess) once the new
// number passes; an UNPROCESSED or FAILED one just takes the new number. A
// number that does not pass is refused and changes nothing.
func (s *Service) Renumber(ctx context.Context, id int, number string) (*ent.FulfillmentRequest, error) {
	number = strings.TrimSpace(number)
	if number == "" {
		return nil, apperr.Invalid("number", "a number must not be empty")
	}
	if len(number) > 255 {
		return nil, apperr.Invalid("number", "at most 255 characters")
	}
	w := trail.New()
	var out *ent.FulfillmentRequest
	err := db.InTx(ctx, s.Store.Client, func(tx *ent.Tx) error {
		fr, err := s.getFR(ctx, tx, id)
		if err != nil {
			return err
		}
		src, err := tx.Source.Get(ctx, fr.SourceID)
		if err != nil {
			return err
		}
		acc, err := tx.Account.Get(ctx, fr.AccountID)
		if err != nil {
			return err
		}
		st := admin.Effective(admin.AccountStrategy(acc), src)
		if st.MaxNumberLength > 0 && len(number) > st.MaxNumberLength {
			return apperr.Invalid("number", "%q is longer than the %d characters the strategy allows", number, st.MaxNumberLength)
		}
		if used, err := numberTaken(ctx, tx, number, fr.ID); err != nil {
			return err
		} else if used {
			return apperr.Invalid("number", "number %q is already used", number)
		}
		data := map[string]any{"oldNumber": fr.Number, "number": number}
		switch fr.Status {
		case frstatus.NumberTooLong, frstatus.DuplicateNumber:
			to := frstatus.Creation(st.AutoProcess, "")
			out, err = s.transition(ctx, tx, w, fr, change{event: frstatus.Renumber, to: to, operator: true,
				reason: fmt.Sprintf("renumbered from %s to %s", fr.Number, number), data: data,
				set: func(u *ent.FulfillmentRequestUpdate) { u.SetNumber(number) }})
			return err
		case frstatus.Unprocessed, frstatus.Failed:
			n, err := tx.FulfillmentRequest.Update().
				Where(fulfillmentrequest.ID(fr.ID), fulfillmentrequest.Version(fr.Version)).
				SetNumber(number).AddVersion(1).Save(ctx)
			if err != nil {
				return err
			}
			if n == 0 {
				return apperr.Clash("fulfillment request %s changed meanwhile; reload and try again", fr.Number)
			}
			if err := w.Write(ctx, tx.FulfillmentLog, trail.Entry{OrderID: fr.OrderID, FRID: fr.ID, Stage: "renumber",
				Message: fmt.Sprintf("Fulfillment request renumbered from %s to %s.", fr.Number, number), Data: data}); err != nil {
				return err
			}
			out, err = tx.FulfillmentRequest.Get(ctx, fr.ID)
			return err
		}
		return transitionError(frstatus.Check(frstatus.Renumber, fr.Status, fr.Status))
	})
	return db.Unwrap(out, translateNumberClash(err))
}

// translateNumberClash turns a lost race for a number (the partial unique
// index) into the answer the losing caller deserves.
func translateNumberClash(err error) error {
	if err != nil && ent.IsConstraintError(err) {
		return &apperr.Error{Code: apperr.Conflict, Message: "the number was taken by a concurrent change; try again", Err: err}
	}
	return err
}

// Void ends a request by an operator's decision: stock left reserved is
// released, unshipped quantities go back to the order lines as unallocated,
// and a cancellation notice is queued if the source already had it.
func (s *Service) Void(ctx context.Context, id int, reason string) (*ent.FulfillmentRequest, error) {
	if err := needReason(reason); err != nil {
		return nil, err
	}
	var out *ent.FulfillmentRequest
	err := db.InTx(ctx, s.Store.Client, func(tx *ent.Tx) error {
		fr, err := s.lockFR(ctx, tx, id)
		if err != nil {
			return err
		}
		out, err = s.void(ctx, tx, trail.New(), fr, reason)
		return err
	})
	return db.Unwrap(out, err)
}

// void is Void inside the caller's transaction, with the order locked.
func (s *Service) void(ctx context.Context, tx *ent.Tx, w *trail.Writer, fr *ent.FulfillmentRequest, reason string) (*ent.FulfillmentRequest, error) {
	reached := fr.Status == frstatus.Processed || fr.Status == frstatus.Acknowledged
	items, err := tx.FulfillmentRequestItem.Query().Where(fulfillmentrequestitem.FulfillmentRequestID(fr.ID)).All(ctx)
	if err != nil {
		return nil, err
	}
	shipped := 0
	released := map[string]int{}
	// A DUPLICATE_NUMBER request shares its number with the request that
	// holds it, which only that status may do (the unique index exempts it
	// alone). Voided, it gives the number up for a unique one derived from
	// it; the log keeps the number it had.
	var data map[string]any
	renamed := ""
	if fr.Status == frstatus.DuplicateNumber {
		used, err := numberTaken(ctx, tx, fr.Number, fr.ID)
		if err != nil {
			return nil, err
		}
		if used {
			renamed = fmt.Sprintf("%s~void-%d", fr.Number, fr.ID)
			data = map[string]any{"oldNumber": fr.Number, "number": renamed}
		}
	}
	out, err := s.transition(ctx, tx, w, fr, change{event: frstatus.Void, to: frstatus.Voided, operator: true, reason: reason, data: data,
		set: func(u *ent.FulfillmentRequestUpdate) {
			// A run whose lease ran out may still report late: with the lease
			// gone its outcome is dropped as lease lost.
			u.SetVoidReason(reason).ClearLeaseHolder().ClearLeaseExpiresAt()
			if renamed != "" {
				u.SetNumber(renamed)
			}
			if reached {
				u.SetCancellationNoticePending(true).SetNextAttemptAt(s.now()).SetAttempts(0)
			} else {
				u.ClearNextAttemptAt()
			}
		}})
	if err != nil {
		return nil, err
	}
	for _, it := range items {
		shipped += it.ShippedQuantity
		left := it.Quantity - it.ShippedQuantity - it.CanceledQuantity
		if left <= 0 {
			continue
		}
		if err := moveLine(ctx, tx, it.OrderLineID, ledger{allocated: -left, unallocated: left}); err != nil {
			return nil, err
		}
		released[it.Sku] += left
	}
	if shipped == 0 {
		if err := tx.FulfillmentRequest.UpdateOneID(fr.ID).SetShipmentStatus(frstatus.ShipmentCanceled).Exec(ctx); err != nil {
			return nil, err
		}
	}
	entries := []trail.Entry{}
	if fr.CommitsStock && len(released) > 0 {
		if err := s.releaseAll(ctx, tx, fr, released); err != nil {
			return nil, err
		}
		entries = append(entries, trail.Entry{OrderID: fr.OrderID, FRID: fr.ID, Stage: "stock",
			Message: "Released the reservation of the unshipped quantity.", Data: map[string]any{"released": released}})
	}
	if reached {
		entries = append(entries, trail.Entry{OrderID: fr.OrderID, FRID: fr.ID, Stage: "cancellation-notice",
			Message: fmt.Sprintf("The source already had %s: a cancellation notice is queued for its connector.", fr.Number)})
	}
	if err := w.Write(ctx, tx.FulfillmentLog, entries...); err != nil {
		return nil, err
	}
	if err := refreshOrder(ctx, tx, fr.OrderID); err != nil {
		return nil, err
	}
	return tx.FulfillmentRequest.Get(ctx, out.ID)
}

func needReason(reason string) error {
	if strings.TrimSpace(reason) == "" {
		return apperr.Invalid("reason", "a reason is required")
	}
	return nil
}

func unwrapAll(list []*ent.FulfillmentRequest, err error) ([]*ent.FulfillmentRequest, error) {
	if err != nil {
		return nil, err
	}
	for i := range list {
		list[i] = list[i].Unwrap()
	}
	return list, nil
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
