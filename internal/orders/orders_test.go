package orders_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/frsvc/fulfillment/ent"
	"github.com/frsvc/fulfillment/ent/fulfillmentlog"
	"github.com/frsvc/fulfillment/ent/order"
	"github.com/frsvc/fulfillment/internal/address"
	"github.com/frsvc/fulfillment/internal/app"
	"github.com/frsvc/fulfillment/internal/apperr"
	"github.com/frsvc/fulfillment/internal/money"
	"github.com/frsvc/fulfillment/internal/orders"
	"github.com/frsvc/fulfillment/internal/tenant"
	"github.com/frsvc/fulfillment/internal/testdb"
)

// These are unit tests of the orders package over the store of an app built by
// testdb (app.New); they construct the package's own types by hand on
// purpose (a fixed clock, a detached lookup), which is what is under test.

func input(number string, lines ...*orders.LineInput) orders.ImportOrderInput {
	if len(lines) == 0 {
		lines = []*orders.LineInput{
			{Sku: "A", Quantity: 2, UnitPrice: money.MustParse("9.99")},
			{Sku: "B", Quantity: 1, UnitPrice: money.MustParse("0")},
		}
	}
	return orders.ImportOrderInput{
		Channel: "web", OrderNumber: number, PaymentStatus: order.PaymentStatusPAID,
		ShipTo: address.Address{Line1: "1 Main", City: "Springfield", PostalCode: "1", Country: "US"},
		Lines:  lines,
	}
}

func TestImportNormalizes(t *testing.T) {
	testdb.Each(t, func(t *testing.T, ap *app.App) {
		s := ap.Store
		ctx := testdb.Account(t, s, "Acme")
		now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
		svc := &orders.Service{Client: s.Client, Now: func() time.Time { return now }}
		in := input(" 1001 ", &orders.LineInput{Sku: "  A  ", Quantity: 3, UnitPrice: money.MustParse("1.5")})
		in.Channel = " web "
		in.ShipTo.Country = " us "
		o, err := svc.Import(ctx, in)
		testdb.Must(t, err)
		if o.Channel != "web" || o.OrderNumber != "1001" || o.ShipToCountry != "US" || o.ShipTo.Country != "US" ||
			!o.OrderedAt.Equal(now) || o.Status != order.StatusOPEN {
			t.Errorf("order = %+v", o)
		}
		lines, err := o.QueryLines().All(ctx)
		testdb.Must(t, err)
		if len(lines) != 1 || lines[0].Sku != "A" || lines[0].Position != 1 || lines[0].UnallocatedQuantity != 3 || lines[0].UnitPrice != money.MustParse("1.50") {
			t.Errorf("lines = %+v", lines)
		}
		// The same order again, with the raw spacing: found, not duplicated.
		again, err := svc.Import(ctx, in)
		testdb.Must(t, err)
		if again.ID != o.ID {
			t.Errorf("repeat = %d, want %d", again.ID, o.ID)
		}
		// An explicit orderedAt wins over the clock.
		at := time.Date(2023, 1, 2, 3, 4, 5, 0, time.UTC)
		in2 := input("1002")
		in2.OrderedAt = &at
		o2, err := svc.Import(ctx, in2)
		testdb.Must(t, err)
		if !o2.OrderedAt.Equal(at) {
			t.Errorf("orderedAt = %v, want %v", o2.OrderedAt, at)
		}
		logs, err := s.Client.FulfillmentLog.Query().Where(fulfillmentlog.OrderID(o.ID)).All(ctx)
		testdb.Must(t, err)
		if len(logs) != 1 || logs[0].Stage != "import" || logs[0].Actor == "system" {
			t.Errorf("import logs = %+v", logs)
		}
	})
}

func TestImportRefusals(t *testing.T) {
	cases := []struct {
		name  string
		mod   func(in *orders.ImportOrderInput)
		field string
	}{
		{"blank channel", func(in *orders.ImportOrderInput) { in.Channel = " " }, "input.channel"},
		{"blank number", func(in *orders.ImportOrderInput) { in.OrderNumber = "" }, "input.orderNumber"},
		{"long number", func(in *orders.ImportOrderInput) { in.OrderNumber = string(make([]byte, 101)) }, "input.orderNumber"},
		{"unknown payment status", func(in *orders.ImportOrderInput) { in.PaymentStatus = "LATER" }, "input.paymentStatus"},
		{"no line1", func(in *orders.ImportOrderInput) { in.ShipTo.Line1 = "" }, "input.shipTo.line1"},
		{"no postal code", func(in *orders.ImportOrderInput) { in.ShipTo.PostalCode = " " }, "input.shipTo.postalCode"},
		{"bad country", func(in *orders.ImportOrderInput) { in.ShipTo.Country = "ZZ" }, "input.shipTo.country"},
		{"no lines", func(in *orders.ImportOrderInput) { in.Lines = nil }, "input.lines"},
		{"too many lines", func(in *orders.ImportOrderInput) {
			in.Lines = make([]*orders.LineInput, orders.MaxLines+1)
			for i := range in.Lines {
				in.Lines[i] = &orders.LineInput{Sku: "A", Quantity: 1}
			}
		}, "input.lines"},
		{"zero quantity", func(in *orders.ImportOrderInput) { in.Lines[1].Quantity = 0 }, "input.lines[1].quantity"},
		{"empty sku", func(in *orders.ImportOrderInput) { in.Lines[1].Sku = " " }, "input.lines[1].sku"},
		{"negative price", func(in *orders.ImportOrderInput) { in.Lines[0].UnitPrice = -1 }, "input.lines[0].unitPrice"},
	}
	testdb.Each(t, func(t *testing.T, ap *app.App) {
		s := ap.Store
		ctx := testdb.Account(t, s, "Acme")
		svc := &orders.Service{Client: s.Client}
		for _, c := range cases {
			in := input("R-1")
			c.mod(&in)
			_, err := svc.Import(ctx, in)
			var ae *apperr.Error
			if !asAppErr(err, &ae) || ae.Code != apperr.Validation || ae.Field != c.field {
				t.Errorf("%s: %v, want VALIDATION on %s", c.name, err, c.field)
			}
		}
		if n, err := s.Client.Order.Query().Count(ctx); err != nil || n != 0 {
			t.Errorf("orders after refusals = %d, %v", n, err)
		}
		if n, err := s.Client.FulfillmentLog.Query().Count(ctx); err != nil || n != 0 {
			t.Errorf("logs after refusals = %d, %v", n, err)
		}
	})
}

func TestImportConcurrentAndTenants(t *testing.T) {
	testdb.Each(t, func(t *testing.T, ap *app.App) {
		s := ap.Store
		a := testdb.Account(t, s, "A")
		b := testdb.Account(t, s, "B")
		svc := &orders.Service{Client: s.Client}
		const n = 8
		ids := make([]int, 2*n)
		errs := make([]error, 2*n)
		var wg sync.WaitGroup
		for i := range 2 * n {
			ctx := a
			if i%2 == 1 {
				ctx = b
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				o, err := svc.Import(ctx, input("SAME"))
				if err == nil {
					ids[i] = o.ID
				}
				errs[i] = err
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("import %d: %v", i, err)
			}
		}
		// Each account has its own order with that number: one each.
		for i := 2; i < 2*n; i++ {
			if ids[i] != ids[i%2] {
				t.Errorf("import %d answered %d, want %d", i, ids[i], ids[i%2])
			}
		}
		if ids[0] == ids[1] {
			t.Error("two accounts share one order")
		}
		for _, ctx := range []context.Context{a, b} {
			if c, err := s.Client.Order.Query().Count(ctx); err != nil || c != 1 {
				t.Errorf("orders = %d, %v", c, err)
			}
			if c, err := s.Client.OrderLine.Query().Count(ctx); err != nil || c != 2 {
				t.Errorf("lines = %d, %v", c, err)
			}
		}
		// Account B cannot hold A's order.
		if _, err := svc.Hold(b, ids[0], "x"); apperr.CodeOf(err) != apperr.NotFound {
			t.Errorf("hold of another account's order: %v", err)
		}
	})
}

func TestHoldRelease(t *testing.T) {
	testdb.Each(t, func(t *testing.T, ap *app.App) {
		s := ap.Store
		ctx := testdb.Account(t, s, "A")
		svc := &orders.Service{Client: s.Client}
		o, err := svc.Import(ctx, input("H-1"))
		testdb.Must(t, err)
		if _, err := svc.Hold(ctx, o.ID, " \t"); apperr.CodeOf(err) != apperr.Validation {
			t.Errorf("blank reason: %v", err)
		}
		_, err = svc.Release(ctx, o.ID)
		var ae *apperr.Error
		if !asAppErr(err, &ae) || ae.Code != apperr.InvalidTransition || ae.Extra["from"] != "OPEN" || ae.Extra["to"] != "OPEN" {
			t.Errorf("release of OPEN: %v", err)
		}
		held, err := svc.Hold(ctx, o.ID, "  check address ")
		testdb.Must(t, err)
		if held.Status != order.StatusON_HOLD || held.HoldReason == nil || *held.HoldReason != "check address" {
			t.Errorf("held = %+v", held)
		}
		rel, err := svc.Release(ctx, o.ID)
		testdb.Must(t, err)
		if rel.Status != order.StatusOPEN || rel.HoldReason != nil {
			t.Errorf("released = %+v", rel)
		}
		// The returned order is usable outside the finished transaction.
		if _, err := rel.QueryLines().All(ctx); err != nil {
			t.Errorf("edges of the returned order: %v", err)
		}
		// Canceled and closed orders cannot be held.
		for _, st := range []order.Status{order.StatusCANCELED, order.StatusCLOSED} {
			testdb.Must(t, s.Client.Order.UpdateOneID(o.ID).SetStatus(st).Exec(ctx))
			_, err := svc.Hold(ctx, o.ID, "x")
			if !asAppErr(err, &ae) || ae.Code != apperr.InvalidTransition || ae.Extra["from"] != string(st) || ae.Extra["to"] != "ON_HOLD" {
				t.Errorf("hold of %s: %v", st, err)
			}
		}
		logs, err := s.Client.FulfillmentLog.Query().Where(fulfillmentlog.OrderID(o.ID)).Order(ent.Asc(fulfillmentlog.FieldID)).All(ctx)
		testdb.Must(t, err)
		if len(logs) != 3 || logs[1].Data["reason"] != "check address" || logs[2].Data["from"] != "ON_HOLD" {
			t.Errorf("logs = %+v", logs)
		}
		if _, err := svc.Hold(ctx, 123456789, "x"); apperr.CodeOf(err) != apperr.NotFound {
			t.Errorf("unknown order: %v", err)
		}
		// Without an account nothing is read.
		if _, err := svc.Hold(context.Background(), o.ID, "x"); !errors.Is(err, tenant.ErrMissing) {
			t.Errorf("hold without an account: %v", err)
		}
	})
}

func asAppErr(err error, target **apperr.Error) bool { return errors.As(err, target) }
