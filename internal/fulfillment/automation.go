package fulfillment

import (
	"context"
	"fmt"

	"github.com/frsvc/fulfillment/ent"
	"github.com/frsvc/fulfillment/ent/order"
	"github.com/frsvc/fulfillment/internal/apperr"
	"github.com/frsvc/fulfillment/internal/trail"
)

// GenerateOnImport is the "generate on import" automation: when the account
// has it on and a new order is paid or deferred, generate at once. A
// roadblock is logged by the generation itself; any other failure is logged
// here. Nothing is returned: the import stands either way.
func (s *Service) GenerateOnImport(ctx context.Context, o *ent.Order) {
	acc, err := s.Store.Client.Account.Get(ctx, o.AccountID)
	if err != nil || !acc.GenerateOnImport {
		return
	}
	if o.PaymentStatus != order.PaymentStatusPAID && o.PaymentStatus != order.PaymentStatusDEFERRED {
		return
	}
	_, err = s.Generate(ctx, o.ID, nil)
	if err == nil || apperr.CodeOf(err) == apperr.RoutingFailed {
		return
	}
	_ = trail.New().Write(ctx, s.Store.Client.FulfillmentLog, trail.Entry{
		OrderID: o.ID, Stage: "automation", Level: trail.Error,
		Message: fmt.Sprintf("Generate on import failed: %s", publicMessage(err)),
	})
}

// publicMessage is an error's text fit for an operator's log: typed errors
// say what happened, anything else only that it failed.
func publicMessage(err error) string {
	if apperr.CodeOf(err) == apperr.Internal {
		return "internal error"
	}
	return err.Error()
}
