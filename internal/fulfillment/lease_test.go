package fulfillment_test

import (
	"context"
	"testing"
	"time"

	"github.com/frsvc/fulfillment/ent/fulfillmentlog"
	"github.com/frsvc/fulfillment/ent/order"
	"github.com/frsvc/fulfillment/internal/address"
	"github.com/frsvc/fulfillment/internal/admin"
	"github.com/frsvc/fulfillment/internal/app"
	"github.com/frsvc/fulfillment/internal/apperr"
	"github.com/frsvc/fulfillment/internal/auth"
	"github.com/frsvc/fulfillment/internal/db"
	"github.com/frsvc/fulfillment/internal/frstatus"
	"github.com/frsvc/fulfillment/internal/fulfillment"
	"github.com/frsvc/fulfillment/internal/money"
	"github.com/frsvc/fulfillment/internal/orders"
	"github.com/frsvc/fulfillment/internal/tenant"
	"github.com/frsvc/fulfillment/internal/testdb"
)

// seedOne makes an account with one source carrying SKU A, a default
// group and a paid order of 2 × A, and returns the account's context, the
// service and the order id.
// The services are wired by hand over the app's store on purpose: these are
// unit tests of the use cases, below the HTTP surface.
func seedOne(t *testing.T, s *db.Store) (context.Context, *fulfillment.Service, int) {
	t.Helper()
	acc, _, err := auth.CreateAccount(context.Background(), s.Client, "Lease", "")
	testdb.Must(t, err)
	ctx := tenant.WithAccount(context.Background(), acc.ID)
	ad := &admin.Service{Client: s.Client}
	src, err := ad.CreateSource(ctx, admin.CreateSourceInput{Name: "S", Code: "S"})
	testdb.Must(t, err)
	_, err = ad.UpsertInventory(ctx, src.ID, []*admin.InventoryInput{{Sku: "A", Quantity: 10, UnitCost: money.FromUnits(1)}})
	testdb.Must(t, err)
	yes := true
	_, err = ad.CreateRoutingGroup(ctx, admin.CreateRoutingGroupInput{Name: "G", IsDefault: &yes,
		Rules: []admin.RoutingRule{"LOWEST_COST"}, Members: []*admin.RoutingGroupMemberInput{{SourceID: src.ID, Priority: 1}}})
	testdb.Must(t, err)
	o, err := (&orders.Service{Client: s.Client}).Import(ctx, orders.ImportOrderInput{
		Channel: "web", OrderNumber: "L1", PaymentStatus: order.PaymentStatusPAID,
		ShipTo: address.Address{Line1: "1 Main St", City: "X", PostalCode: "1", Country: "US"},
		Lines:  []*orders.LineInput{{Sku: "A", Quantity: 2, UnitPrice: money.FromUnits(5)}},
	})
	testdb.Must(t, err)
	return ctx, &fulfillment.Service{Store: s}, o.ID
}

// TestVoidRefusedWhileSending: a request a send run holds under a live
// lease cannot be voided or regenerated (CONFLICT, nothing changes); once
// the lease has expired it can.
func TestVoidRefusedWhileSending(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, a *app.App) {
		s := a.Store
		ctx, svc, orderID := seedOne(t, s)
		res, err := svc.Generate(ctx, orderID, nil)
		testdb.Must(t, err)
		fr := res.FulfillmentRequests[0]
		_, err = svc.Process(ctx, []int{fr.ID})
		testdb.Must(t, err)
		until := time.Now().Add(time.Minute)
		testdb.Must(t, s.Client.FulfillmentRequest.UpdateOneID(fr.ID).SetLeaseHolder("run-1").SetLeaseExpiresAt(until).Exec(ctx))
		before, err := s.Client.FulfillmentRequest.Get(ctx, fr.ID)
		testdb.Must(t, err)
		logs := func() int {
			n, err := s.Client.FulfillmentLog.Query().Where(fulfillmentlog.FulfillmentRequestID(fr.ID)).Count(ctx)
			testdb.Must(t, err)
			return n
		}
		logsBefore := logs()

		if _, err := svc.Void(ctx, fr.ID, "stop"); apperr.CodeOf(err) != apperr.Conflict {
			t.Fatalf("void under a live lease: %v, want CONFLICT", err)
		}
		if _, err := svc.Regenerate(ctx, fr.ID, "elsewhere", false); apperr.CodeOf(err) != apperr.Conflict {
			t.Fatalf("regenerate under a live lease: %v, want CONFLICT", err)
		}
		// Marking by hand from PROCESSING is allowed, but not while a run
		// holds the lease.
		if _, err := svc.MarkProcessed(ctx, fr.ID); apperr.CodeOf(err) != apperr.Conflict {
			t.Fatalf("mark processed under a live lease: %v, want CONFLICT", err)
		}
		if _, err := svc.MarkAcknowledged(ctx, fr.ID, nil); apperr.CodeOf(err) != apperr.Conflict {
			t.Fatalf("mark acknowledged under a live lease: %v, want CONFLICT", err)
		}
		after, err := s.Client.FulfillmentRequest.Get(ctx, fr.ID)
		testdb.Must(t, err)
		if after.Status != frstatus.Processing || after.Version != before.Version || logs() != logsBefore {
			t.Fatalf("a refused void changed the request: %+v", after)
		}
		line, err := s.Client.OrderLine.Query().Only(ctx)
		testdb.Must(t, err)
		if line.AllocatedQuantity != 2 || line.UnallocatedQuantity != 0 {
			t.Fatalf("line after a refused void: %+v", line)
		}

		// The lease expires: the run that held it is gone.
		testdb.Must(t, s.Client.FulfillmentRequest.UpdateOneID(fr.ID).SetLeaseExpiresAt(time.Now().Add(-time.Second)).Exec(ctx))
		v, err := svc.Void(ctx, fr.ID, "stop")
		testdb.Must(t, err)
		if v.Status != frstatus.Voided || v.Version != before.Version+1 {
			t.Fatalf("void after the lease expired: %+v", v)
		}
		item, err := s.Client.InventoryItem.Query().Only(ctx)
		testdb.Must(t, err)
		if item.Committed != 0 {
			t.Fatalf("committed %d after the void", item.Committed)
		}
	})
}
