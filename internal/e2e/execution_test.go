package e2e

import (
	"fmt"
	"slices"
	"testing"

	"github.com/frsvc/fulfillment/internal/db"
	"github.com/frsvc/fulfillment/internal/testdb"
)

// TestListFieldErrors: the executor resolves list elements one after the
// other (graph/gqlgen.go); a field error inside a list element still carries
// that element's index in its path, leaves only that field null and the
// rest of the page intact, in order.
func TestListFieldErrors(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, s *db.Store) {
		w := newPartnerWorld(t, s)
		// A SOURCE key may read an order's number but not its hold reason:
		// one FORBIDDEN per request of source A.
		res := w.try(w.keyA, `{ fulfillmentRequests(first: 10) { edges { node { id order { id orderNumber holdReason } } } } }`, nil)
		var data struct {
			FulfillmentRequests struct {
				Edges []struct {
					Node struct {
						ID    string
						Order *struct {
							ID          string
							OrderNumber string
							HoldReason  *string
						}
					}
				}
			}
		}
		res.Decode(t, &data)
		edges := data.FulfillmentRequests.Edges
		var ids, orders []string
		for _, e := range edges {
			ids = append(ids, e.Node.ID)
			if e.Node.Order == nil || e.Node.Order.OrderNumber == "" || e.Node.Order.HoldReason != nil {
				t.Fatalf("edge %s: order %+v, want its number and a null hold reason", e.Node.ID, e.Node.Order)
			}
			orders = append(orders, e.Node.Order.ID)
		}
		if want := []string{w.a1.ID, w.a2.ID}; !slices.Equal(ids, want) {
			t.Fatalf("source A sees requests %v, want %v in id order", ids, want)
		}
		if want := []string{w.o1.ID, w.o2.ID}; !slices.Equal(orders, want) {
			t.Fatalf("orders %v, want %v", orders, want)
		}
		if len(res.Errors) != len(edges) {
			t.Fatalf("%d errors for %d requests: %+v", len(res.Errors), len(edges), res.Errors)
		}
		seen := map[string]bool{}
		for _, e := range res.Errors {
			if e.Code() != "FORBIDDEN" {
				t.Errorf("error %+v: code %q, want FORBIDDEN", e, e.Code())
			}
			seen[fmt.Sprint(e.Path)] = true
		}
		for i := range edges {
			p := fmt.Sprint([]any{"fulfillmentRequests", "edges", float64(i), "node", "order", "holdReason"})
			if !seen[p] {
				t.Errorf("no error at path %s; errors: %+v", p, res.Errors)
			}
		}
	})
}

// TestDeferAnsweredInline: @defer (declared by gqlgen's prelude) is a hint
// a server may decline: the executor resolves every field in order (see
// graph/gqlgen.go), so the deferred fields arrive in the one response,
// complete, alongside a field selected twice under one name.
func TestDeferAnsweredInline(t *testing.T) {
	t.Parallel()
	k := newKit(t, testdb.Open(t, testdb.SQLite, testdb.Options{}))
	o := k.order("DEFER-1", "PAID", kitLine{"SKU-1", 2}, kitLine{"SKU-2", 1})
	res := k.try(`{ orders(first: 5) { edges { node { id orderNumber ... @defer(label: "more") { orderNumber lines { sku quantity } } } } } }`, nil)
	if len(res.Errors) > 0 {
		t.Fatalf("errors: %+v", res.Errors)
	}
	want := fmt.Sprintf(`{"orders":{"edges":[{"node":{"id":%q,"orderNumber":"DEFER-1","lines":[{"sku":"SKU-1","quantity":2},{"sku":"SKU-2","quantity":1}]}}]}}`, o.ID)
	if string(res.Data) != want {
		t.Fatalf("data\n%s\nwant\n%s", res.Data, want)
	}
}
