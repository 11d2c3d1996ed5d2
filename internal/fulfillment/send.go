package fulfillment

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/frsvc/fulfillment/ent"
	"github.com/frsvc/fulfillment/ent/fulfillmentrequest"
	"github.com/frsvc/fulfillment/internal/apperr"
	"github.com/frsvc/fulfillment/internal/db"
	"github.com/frsvc/fulfillment/internal/frstatus"
	"github.com/frsvc/fulfillment/internal/trail"
)

// ErrLeaseLost means a send run's claim on a request expired and another run
// took it over; the late run's outcome is not recorded.
var ErrLeaseLost = errors.New("the send lease was lost")

// SendAttempt is what a send run learned from one delivery attempt.
type SendAttempt struct {
	// Lease is the claim token the run holds the request under.
	Lease     string
	Connector string
	// Outcome: "delivered", "acknowledged", "rejected" or "retry". A retry
	// on the last attempt allowed is recorded (logged and counted) as
	// "failed".
	Outcome      string
	HTTPStatus   int
	Duration     time.Duration
	Confirmation string
	Reason       string
	// NextAttempt is when to try again after a transient failure.
	NextAttempt time.Time
	// Notice is true for a cancellation notice of a voided request.
	Notice bool
}

// RecordSend writes the outcome of a delivery attempt in its own
// transaction, after the network call: a transient failure schedules the next
// attempt (or fails the request once attempts are exhausted), anything else
// moves the request through the status machine. The lease is released
// either way.
func (s *Service) RecordSend(ctx context.Context, frID int, a SendAttempt) error {
	observe, outcome := false, a.Outcome
	defer func() {
		if observe && s.ObserveSend != nil {
			s.ObserveSend(a.Connector, outcome)
		}
	}()
	return db.InTx(ctx, s.Store.Client, func(tx *ent.Tx) error {
		observe, outcome = false, a.Outcome
		fr, err := tx.FulfillmentRequest.Query().Where(fulfillmentrequest.ID(frID)).WithSource().Only(ctx)
		if err != nil {
			return err
		}
		if fr.LeaseHolder == nil || *fr.LeaseHolder != a.Lease {
			return ErrLeaseLost
		}
		// The send loop runs with the system context, which names no
		// account: the log entries take the request's.
		w := trail.New()
		w.AccountID = fr.AccountID
		attempt := fr.Attempts + 1
		maxAttempts := max(fr.Edges.Source.ConnectorMaxAttempts, 1)
		stage, what := "send", "Delivery"
		if a.Notice {
			stage, what = "cancellation-notice", "Cancellation notice"
		}
		exhausted := a.Outcome == "retry" && attempt >= maxAttempts
		if exhausted {
			// The last attempt allowed: no retry follows.
			outcome = "failed"
		}
		data := map[string]any{"connector": a.Connector, "outcome": outcome, "attempt": attempt,
			"maxAttempts": maxAttempts, "durationMs": a.Duration.Milliseconds()}
		if a.HTTPStatus != 0 {
			data["httpStatus"] = a.HTTPStatus
		}
		if a.Reason != "" {
			data["reason"] = a.Reason
		}
		level := trail.Info
		msg := fmt.Sprintf("%s attempt %d of %s through %s: %s.", what, attempt, fr.Number, a.Connector, outcome)
		if a.Outcome == "retry" || a.Outcome == "rejected" {
			level = trail.Warn
			msg = fmt.Sprintf("%s attempt %d of %s through %s failed: %s.", what, attempt, fr.Number, a.Connector, a.Reason)
			switch {
			case a.Outcome == "retry" && !exhausted:
				msg += fmt.Sprintf(" Next attempt at %s.", a.NextAttempt.UTC().Format(time.RFC3339))
				data["nextAttemptAt"] = a.NextAttempt.UTC()
			case exhausted:
				msg += fmt.Sprintf(" That was the last of %d attempts.", maxAttempts)
			}
		}
		if err := w.Write(ctx, tx.FulfillmentLog, trail.Entry{OrderID: fr.OrderID, FRID: fr.ID, Stage: stage, Level: level, Message: msg, Data: data}); err != nil {
			return err
		}
		// The attempt happened whatever becomes of this transaction; it is
		// counted once, below, however often the transaction runs.
		observe = true
		// Every write is guarded by the lease too: a run whose lease ran out
		// and was taken over between the read above and the write must not
		// overwrite the newer claim.
		ours := fulfillmentrequest.LeaseHolder(a.Lease)
		release := func(u *ent.FulfillmentRequestUpdate) { u.ClearLeaseHolder().ClearLeaseExpiresAt().SetAttempts(attempt) }
		if a.Notice {
			u := tx.FulfillmentRequest.Update().Where(fulfillmentrequest.ID(fr.ID), fulfillmentrequest.Version(fr.Version), ours).AddVersion(1)
			release(u)
			switch {
			case a.Outcome == "retry" && !exhausted:
				u.SetNextAttemptAt(a.NextAttempt)
			default:
				u.SetCancellationNoticePending(false).ClearNextAttemptAt()
				if a.Outcome != "delivered" && a.Outcome != "acknowledged" {
					if err := w.Write(ctx, tx.FulfillmentLog, trail.Entry{OrderID: fr.OrderID, FRID: fr.ID, Stage: stage, Level: trail.Error,
						Message: fmt.Sprintf("Gave up on the cancellation notice of %s: tell the source by hand.", fr.Number)}); err != nil {
						return err
					}
				}
			}
			return expectOne(u.Save(ctx))
		}
		c := change{set: release, guard: ours}
		switch {
		case a.Outcome == "delivered":
			c.event, c.to = frstatus.Delivered, frstatus.Processed
		case a.Outcome == "acknowledged":
			c.event, c.to = frstatus.DeliveredAcknowledged, frstatus.Acknowledged
			c.set = func(u *ent.FulfillmentRequestUpdate) {
				release(u)
				if a.Confirmation != "" {
					u.SetConfirmationNumber(a.Confirmation)
				}
			}
		case a.Outcome == "retry" && !exhausted:
			u := tx.FulfillmentRequest.Update().Where(fulfillmentrequest.ID(fr.ID), fulfillmentrequest.Version(fr.Version), ours).
				AddVersion(1).SetNextAttemptAt(a.NextAttempt)
			release(u)
			return expectOne(u.Save(ctx))
		default:
			reason := a.Reason
			if exhausted {
				reason = fmt.Sprintf("gave up after %d attempts: %s", attempt, a.Reason)
			}
			c.event, c.to, c.reason = frstatus.SendFailed, frstatus.Failed, reason
			c.set = func(u *ent.FulfillmentRequestUpdate) { release(u); u.SetFailureReason(reason) }
		}
		_, err = s.transition(ctx, tx, w, fr, c)
		if apperr.CodeOf(err) == apperr.Conflict {
			return ErrLeaseLost // the guarded update found the lease taken over
		}
		return err
	})
}

func expectOne(n int, err error) error {
	if err == nil && n == 0 {
		return ErrLeaseLost
	}
	return err
}
