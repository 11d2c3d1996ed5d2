package sender

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/frsvc/fulfillment/ent"
	"github.com/frsvc/fulfillment/ent/fulfillmentrequest"
	"github.com/frsvc/fulfillment/ent/predicate"
	"github.com/frsvc/fulfillment/ent/sendrun"
	"github.com/frsvc/fulfillment/internal/frstatus"
	"github.com/frsvc/fulfillment/internal/tenant"
)

// Status is what an account's send run has to do, and how its last run went.
type Status struct {
	// Due are the requests and cancellation notices the next run takes.
	Due int
	// Sending are those a run holds under its lease right now.
	Sending int
	// Waiting are those backing off after a failed attempt.
	Waiting int
	// NextAttemptAt is the earliest next attempt of those waiting.
	NextAttemptAt *time.Time
	// LastRun is the account's last run, whichever process ran it; nil
	// before the first.
	LastRun *ent.SendRun
}

// pending selects requests the send run has to send, whatever their lease
// and next attempt: PROCESSING requests, and voided requests with a
// cancellation notice to send.
func pending() predicate.FulfillmentRequest {
	return fulfillmentrequest.Or(
		fulfillmentrequest.StatusEQ(frstatus.Processing),
		fulfillmentrequest.And(fulfillmentrequest.StatusEQ(frstatus.Voided), fulfillmentrequest.CancellationNoticePending(true)),
	)
}

// Status reports the send queue of ctx's account and its last run.
func (r *Runner) Status(ctx context.Context) (*Status, error) {
	r.init()
	if _, ok := tenant.AccountID(ctx); !ok {
		return nil, errors.New("sender: the send status needs a context confined to an account")
	}
	now := r.now()
	q := r.Store.Client.FulfillmentRequest.Query
	free := fulfillmentrequest.Or(fulfillmentrequest.LeaseExpiresAtIsNil(), fulfillmentrequest.LeaseExpiresAtLT(now))
	var (
		st  Status
		err error
	)
	if st.Due, err = q().Where(due(now)).Count(ctx); err != nil {
		return nil, fmt.Errorf("count due requests: %w", err)
	}
	if st.Sending, err = q().Where(pending(), fulfillmentrequest.LeaseExpiresAtGTE(now)).Count(ctx); err != nil {
		return nil, fmt.Errorf("count requests being sent: %w", err)
	}
	waiting := []predicate.FulfillmentRequest{pending(), free, fulfillmentrequest.NextAttemptAtGT(now)}
	if st.Waiting, err = q().Where(waiting...).Count(ctx); err != nil {
		return nil, fmt.Errorf("count waiting requests: %w", err)
	}
	if st.Waiting > 0 {
		first, err := q().Where(waiting...).Order(ent.Asc(fulfillmentrequest.FieldNextAttemptAt)).First(ctx)
		if err != nil {
			return nil, fmt.Errorf("first waiting request: %w", err)
		}
		st.NextAttemptAt = first.NextAttemptAt
	}
	last, err := r.Store.Client.SendRun.Query().Only(ctx)
	switch {
	case ent.IsNotFound(err):
	case err != nil:
		return nil, fmt.Errorf("last send run: %w", err)
	default:
		st.LastRun = last
	}
	return &st, nil
}

// recordStart writes that a run of ctx's account began, replacing the
// account's last run; it returns the run's token.
func (r *Runner) recordStart(ctx context.Context, started time.Time) string {
	token := r.Holder + "/" + randomHex(6)
	err := r.Store.Client.SendRun.Create().SetRun(token).SetStartedAt(started).
		OnConflictColumns(sendrun.FieldAccountID).UpdateNewValues().
		Update(func(u *ent.SendRunUpsert) { u.ClearFinishedAt(); u.ClearError() }).
		Exec(ctx)
	if err != nil {
		r.Logger.Warn("record the start of a send run", "error", err.Error())
	}
	return token
}

// recordEnd writes a run's counts and end over its own start (not over a
// run another process began meanwhile).
func (r *Runner) recordEnd(ctx context.Context, token string, res Result, runErr error) {
	u := r.Store.Client.SendRun.Update().Where(sendrun.Run(token)).SetFinishedAt(r.now()).
		SetClaimed(res.Claimed).SetProcessed(res.Processed).SetAcknowledged(res.Acknowledged).
		SetFailed(res.Failed).SetRetried(res.Retried).SetNotices(res.Notices).SetNoticesFailed(res.NoticesFailed).
		SetComplete(true)
	if runErr != nil {
		u.SetError(runErrorText(runErr))
	}
	if err := u.Exec(ctx); err != nil {
		r.Logger.Warn("record the end of a send run", "error", err.Error())
	}
}

// runErrorText is what sendStatus says of a run's error. The error itself
// (a driver's, naming tables and SQL) goes to the server's log only, as an
// INTERNAL error's cause does; any key that reads sendStatus reads this.
func runErrorText(err error) string {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return "the run was stopped before the end (the server was shutting down or the request ended); what was left is sent by a later run"
	}
	return "the run stopped on an internal error; the server's log has the cause (\"send run\" with this account); what was left is sent by a later run"
}
