package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/frsvc/fulfillment/ent"
	"github.com/frsvc/fulfillment/ent/fulfillmentrequest"
	"github.com/frsvc/fulfillment/ent/order"
	"github.com/frsvc/fulfillment/internal/address"
	"github.com/frsvc/fulfillment/internal/app"
	"github.com/frsvc/fulfillment/internal/money"
	"github.com/frsvc/fulfillment/internal/tenant"
	"github.com/frsvc/fulfillment/internal/testdb"
)

// nestedOrdersQuery walks every nested edge an operator screen shows.
const nestedOrdersQuery = `query($n: Int!) { orders(first: $n) { edges { node {
  id lines { sku }
  fulfillmentRequests(first: 10) { edges { node {
    number source { code } items { sku quantity }
    logs(first: 5) { edges { node { message } } } } } }
  logs(first: 5) { edges { node { message } } } } } } }`

type nestedOrders struct {
	Orders struct {
		Edges []struct {
			Node struct {
				ID                  string
				Lines               []struct{ Sku string }
				FulfillmentRequests struct {
					Edges []struct {
						Node struct {
							Number string
							Source struct{ Code string }
							Items  []struct {
								Sku      string
								Quantity int
							}
							Logs struct {
								Edges []struct{ Node struct{ Message string } }
							}
						}
					}
				}
				Logs struct {
					Edges []struct{ Node struct{ Message string } }
				}
			}
		}
	}
}

// TestNoNPlusOne is the N+1 guard: the nested orders query costs the same
// number of SQL statements for 5 orders as for 50, and few of them.
func TestNoNPlusOne(t *testing.T) {
	t.Parallel()
	for _, kind := range testdb.Kinds(t) {
		t.Run(kind, func(t *testing.T) {
			// The page of 50 costs more than the default complexity limit
			// (an operator setting, --complexity-limit): raise it, since
			// what is measured here is SQL statements, not the limit.
			a := testdb.App(t, kind, func(c *app.Config) { c.Complexity = 100000 })
			s := a.Store
			counter := testdb.NewCounter(s)
			e := New(t, a)
			ctx := tenant.WithAccount(context.Background(), e.Principal(e.AdminKey).AccountID)
			const orders = 60
			seedNested(t, ctx, s.Client, orders)

			run := func(n int) (int64, nestedOrders) {
				t.Helper()
				counter.Reset()
				res := e.Do(Request{Key: e.AdminKey, Query: nestedOrdersQuery, Variables: map[string]any{"n": n}})
				stmts := counter.Count()
				if len(res.Errors) > 0 {
					t.Fatalf("errors: %+v", res.Errors)
				}
				var out nestedOrders
				res.Decode(t, &out)
				checkNested(t, out, n)
				return stmts, out
			}
			few, _ := run(5)
			many, _ := run(50)
			t.Logf("%s: %d SQL statements for orders(first:5), %d for orders(first:50) (both include the API key lookup)", kind, few, many)
			if few != many {
				t.Errorf("%s: statements grow with the page: %d for 5 orders, %d for 50 (N+1)", kind, few, many)
			}
			if many >= 20 {
				t.Errorf("%s: %d statements for one nested page, want < 20", kind, many)
			}
		})
	}
}

// seedNested writes n orders with 2–3 lines and 2 logs each, and 1–2
// fulfillment requests per order with an item per line and 3 logs each,
// spread over three sources. The last order has no request at all.
func seedNested(t *testing.T, ctx context.Context, c *ent.Client, n int) {
	t.Helper()
	var sources []*ent.Source
	for i := range 3 {
		src, err := c.Source.Create().SetName(fmt.Sprintf("Source %d", i)).SetCode(fmt.Sprintf("S%d", i)).Save(ctx)
		testdb.Must(t, err)
		sources = append(sources, src)
	}
	ob := make([]*ent.OrderCreate, n)
	for i := range ob {
		ob[i] = c.Order.Create().SetChannel("web").SetOrderNumber(fmt.Sprintf("N-%03d", i)).
			SetPaymentStatus(order.PaymentStatusPAID).SetOrderedAt(time.Now()).SetShipToCountry("US").
			SetShipTo(address.Address{Line1: "1 Main", City: "X", PostalCode: "1", Country: "US"})
	}
	os, err := c.Order.CreateBulk(ob...).Save(ctx)
	testdb.Must(t, err)

	var lb []*ent.OrderLineCreate
	var logs []*ent.FulfillmentLogCreate
	for i, o := range os {
		for l := range 2 + i%2 {
			lb = append(lb, c.OrderLine.Create().SetOrderID(o.ID).SetPosition(l+1).SetSku(fmt.Sprintf("SKU-%d", l)).
				SetQuantity(2).SetUnitPrice(money.MustParse("4.50")).SetUnallocatedQuantity(1))
		}
		for j := range 2 {
			logs = append(logs, c.FulfillmentLog.Create().SetOrderID(o.ID).SetCorrelationID("seed").SetStage("import").
				SetMessage(fmt.Sprintf("order %d log %d", i, j)).SetActor("system"))
		}
	}
	lines, err := c.OrderLine.CreateBulk(lb...).Save(ctx)
	testdb.Must(t, err)
	linesOf := map[int][]*ent.OrderLine{}
	for _, l := range lines {
		linesOf[l.OrderID] = append(linesOf[l.OrderID], l)
	}

	var fb []*ent.FulfillmentRequestCreate
	for i, o := range os[:n-1] {
		for k := range 1 + i%2 {
			fb = append(fb, c.FulfillmentRequest.Create().SetNumber(fmt.Sprintf("%s-%d", o.OrderNumber, k+1)).SetSequence(k+1).
				SetOrderID(o.ID).SetSourceID(sources[(i+k)%3].ID).SetOrigin(fulfillmentrequest.OriginCREATED))
		}
	}
	frs, err := c.FulfillmentRequest.CreateBulk(fb...).Save(ctx)
	testdb.Must(t, err)
	var ib []*ent.FulfillmentRequestItemCreate
	for _, fr := range frs {
		for _, l := range linesOf[fr.OrderID] {
			ib = append(ib, c.FulfillmentRequestItem.Create().SetFulfillmentRequestID(fr.ID).SetOrderLineID(l.ID).
				SetSku(l.Sku).SetQuantity(1).SetUnitCost(money.MustParse("2")))
		}
		for j := range 3 {
			logs = append(logs, c.FulfillmentLog.Create().SetOrderID(fr.OrderID).SetFulfillmentRequestID(fr.ID).
				SetCorrelationID("seed").SetStage("create").SetMessage(fmt.Sprintf("%s log %d", fr.Number, j)).SetActor("system"))
		}
	}
	testdb.Must(t, c.FulfillmentRequestItem.CreateBulk(ib...).Exec(ctx))
	testdb.Must(t, c.FulfillmentLog.CreateBulk(logs...).Exec(ctx))
}

// checkNested makes sure the query really loaded every level, so that equal
// counts are not equal because something came back empty.
func checkNested(t *testing.T, out nestedOrders, n int) {
	t.Helper()
	edges := out.Orders.Edges
	if len(edges) != n {
		t.Fatalf("got %d orders, want %d", len(edges), n)
	}
	var frs int
	for i, ed := range edges {
		o := ed.Node
		if len(o.Lines) != 2+i%2 {
			t.Fatalf("order %d: %d lines", i, len(o.Lines))
		}
		// Order.logs holds the order's own 2 entries and its requests' 3 each: first:5 caps it.
		if len(o.Logs.Edges) != 5 {
			t.Fatalf("order %d: %d logs, want 5 (first:5)", i, len(o.Logs.Edges))
		}
		reqs := o.FulfillmentRequests.Edges
		if len(reqs) != 1+i%2 {
			t.Fatalf("order %d: %d fulfillment requests, want %d", i, len(reqs), 1+i%2)
		}
		for _, r := range reqs {
			frs++
			fr := r.Node
			if fr.Number == "" || fr.Source.Code == "" || len(fr.Items) != len(o.Lines) || len(fr.Logs.Edges) != 3 {
				t.Fatalf("order %d: request %+v", i, fr)
			}
			for _, it := range fr.Items {
				if it.Sku == "" || it.Quantity != 1 {
					t.Fatalf("order %d: item %+v", i, it)
				}
			}
		}
	}
	if frs == 0 {
		t.Fatal("no fulfillment requests loaded")
	}
}
