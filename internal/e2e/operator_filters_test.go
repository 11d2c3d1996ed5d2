package e2e

import (
	"fmt"
	"slices"
	"testing"

	"github.com/frsvc/fulfillment/internal/app"
	"github.com/frsvc/fulfillment/internal/testdb"
)

// TestFilterOrdersBySku: orders(where: {hasLinesWith: {sku}}) finds the
// orders with a line of the SKU; a SOURCE key may not filter orders
// through their lines.
func TestFilterOrdersBySku(t *testing.T) {
	testdb.Each(t, func(t *testing.T, a *app.App) {
		w := newPartnerWorld(t, a)
		ids := func(key, where string) ([]string, *Result) {
			res := w.Try(key, fmt.Sprintf(`{ orders(where: %s, orderBy: {field: ORDER_NUMBER, direction: ASC}) { edges { node { id } } } }`, where), nil)
			var out struct {
				Orders struct {
					Edges []struct{ Node struct{ ID string } }
				}
			}
			if len(res.Errors) == 0 {
				res.Decode(t, &out)
			}
			var got []string
			for _, e := range out.Orders.Edges {
				got = append(got, e.Node.ID)
			}
			return got, res
		}
		got, res := ids(w.AdminKey, `{hasLinesWith: {sku: "SKU-A"}}`)
		if want := []string{w.o1.ID, w.o2.ID, w.o4.ID}; len(res.Errors) > 0 || !slices.Equal(got, want) {
			t.Errorf("orders with SKU-A: %v %+v, want %v", got, res.Errors, want)
		}
		got, res = ids(w.AdminKey, `{hasLinesWith: {skuIn: ["SKU-B"], quantityGTE: 3}}`)
		if want := []string{w.o2.ID, w.o3.ID}; len(res.Errors) > 0 || !slices.Equal(got, want) {
			t.Errorf("orders with 3 or more SKU-B: %v %+v, want %v", got, res.Errors, want)
		}
		_, res = ids(w.keyA, `{hasLinesWith: {sku: "SKU-A"}}`)
		w.Err(res, "FORBIDDEN")
	})
}

// TestSourceFiltersRequestsByOrderNumber: a SOURCE key finds its own
// requests by the order's number, and only its own: another source's
// request on the same order, or on an order of its own, never shows.
func TestSourceFiltersRequestsByOrderNumber(t *testing.T) {
	testdb.Each(t, func(t *testing.T, a *app.App) {
		w := newPartnerWorld(t, a)
		frs := func(key, where string) []string {
			var out struct {
				FulfillmentRequests struct {
					Edges []struct{ Node struct{ ID string } }
				}
			}
			res := w.Try(key, fmt.Sprintf(`{ fulfillmentRequests(where: %s) { edges { node { id } } } }`, where), nil)
			if len(res.Errors) > 0 {
				t.Fatalf("%s: %+v", where, res.Errors)
			}
			res.Decode(t, &out)
			got := []string{}
			for _, e := range out.FulfillmentRequests.Edges {
				got = append(got, e.Node.ID)
			}
			return got
		}
		for _, c := range []struct {
			key, where string
			want       []string
		}{
			{w.keyA, `{orderNumber: "P-2"}`, []string{w.a2.ID}},
			{w.keyB, `{orderNumber: "P-2"}`, []string{w.b1.ID}},
			{w.keyA, `{orderNumber: "P-3"}`, []string{}},
			{w.keyA, `{orderNumberIn: ["P-1", "P-2", "P-3"]}`, []string{w.a1.ID, w.a2.ID}},
			{w.keyA, `{or: [{orderNumber: "P-3"}, {orderNumber: "P-1"}]}`, []string{w.a1.ID}},
			{w.AdminKey, `{orderNumber: "P-2"}`, []string{w.a2.ID, w.b1.ID}},
		} {
			if got := frs(c.key, c.where); !slices.Equal(got, c.want) {
				t.Errorf("%s: %v, want %v", c.where, got, c.want)
			}
		}
	})
}

// TestSourceForbiddenFieldNamed: a SOURCE key that selects one order field
// it may not read (a non-null one, which would null every row) gets that
// field's FORBIDDEN at its path, once, and no resolver runs.
func TestSourceForbiddenFieldNamed(t *testing.T) {
	testdb.Each(t, func(t *testing.T, a *app.App) {
		w := newPartnerWorld(t, a)
		res := w.Try(w.keyA, `{ fulfillmentRequests(first: 10) { edges { node { id order { orderNumber status paymentStatus } } } } }`, nil)
		if len(res.Errors) != 2 {
			t.Fatalf("errors %+v, want two: Order.status and Order.paymentStatus", res.Errors)
		}
		want := map[string]string{
			fmt.Sprint([]any{"fulfillmentRequests", "edges", "node", "order", "status"}):        "Order.status",
			fmt.Sprint([]any{"fulfillmentRequests", "edges", "node", "order", "paymentStatus"}): "Order.paymentStatus",
		}
		for _, e := range res.Errors {
			name, ok := want[fmt.Sprint(e.Path)]
			if e.Code() != "FORBIDDEN" || !ok || e.Message != "a SOURCE key may not read "+name {
				t.Errorf("error %+v", e)
			}
		}
		// The same without the forbidden fields answers every row.
		var out struct {
			FulfillmentRequests struct {
				Edges []struct {
					Node *struct{ Order struct{ OrderNumber string } }
				}
			}
		}
		w.QueryAs(w.keyA, `{ fulfillmentRequests(first: 10) { edges { node { order { orderNumber } } } } }`, nil, &out)
		if len(out.FulfillmentRequests.Edges) != 2 || out.FulfillmentRequests.Edges[0].Node == nil {
			t.Errorf("rows %+v", out)
		}
	})
}
