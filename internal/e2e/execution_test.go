package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/frsvc/fulfillment/internal/app"
	"github.com/frsvc/fulfillment/internal/testdb"
)

// TestListFieldErrors: the executor resolves list elements one after the
// other (graph/gqlgen.go); a field error inside a list element still carries
// that element's index in its path, leaves only that field null and the
// rest of the page intact, in order.
func TestListFieldErrors(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, a *app.App) {
		w := newPartnerWorld(t, a)
		// A SOURCE key may read an order's number but not its hold reason:
		// one FORBIDDEN per request of source A.
		res := w.Try(w.keyA, `{ fulfillmentRequests(first: 10) { edges { node { id order { id orderNumber holdReason } } } } }`, nil)
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
	k := newKit(t, testdb.App(t, testdb.SQLite))
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

// TestArgumentsPerOperation: the executor coerces a field's arguments once
// per operation (graph/inorder.go, operationMemo), not once per place the
// field occurs. The same document run with other variables (the parsed
// document is cached and shared) answers by its own variables, and two
// aliases of one field keep their own arguments.
func TestArgumentsPerOperation(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, a *app.App) {
		w := newPartnerWorld(t, a)
		const doc = `query($n: Int) { orders(first: 4) { edges { node { orderNumber
			some: fulfillmentRequests(first: $n) { edges { node { id } } }
			all: fulfillmentRequests(first: 5) { edges { node { id } } } } } } }`
		type page struct {
			Orders struct {
				Edges []struct {
					Node struct {
						OrderNumber string
						Some, All   struct {
							Edges []struct{ Node struct{ ID string } }
						}
					}
				}
			}
		}
		for _, n := range []int{1, 2, 1} {
			var p page
			w.Try(w.AdminKey, doc, map[string]any{"n": n}).Decode(t, &p)
			var got []string
			for _, e := range p.Orders.Edges {
				got = append(got, fmt.Sprintf("%s:%d/%d", e.Node.OrderNumber, len(e.Node.Some.Edges), len(e.Node.All.Edges)))
			}
			want := []string{"P-1:1/1", fmt.Sprintf("P-2:%d/2", n), "P-3:1/1", "P-4:0/0"}
			if !slices.Equal(got, want) {
				t.Fatalf("first: %d: orders %v, want %v", n, got, want)
			}
		}

		// A malformed cursor, nested or not, is refused before any
		// resolver runs (the nested one used to fail the whole page as
		// INTERNAL, in the loading of nested connections).
		for _, q := range []string{
			`{ orders(first: 4) { edges { node { fulfillmentRequests(first: 1, after: "not-a-cursor") { totalCount } } } } }`,
			`query($c: Cursor) { orders(first: 4) { edges { node { logs(last: 1, before: $c) { totalCount } } } } }`,
			`{ orders(first: 4, after: "bm90LWEtY3Vyc29y") { totalCount } }`,
		} {
			res := w.Try(w.AdminKey, q, map[string]any{"c": "@@"})
			if len(res.Errors) != 1 || res.Errors[0].Code() != "VALIDATION" || string(res.Data) != "null" && len(res.Data) != 0 {
				t.Errorf("%s: errors %+v, data %s; want one VALIDATION error and no data", q, res.Errors, res.Data)
			}
		}
		// A field that @skip or @include leaves out does not run: its
		// arguments are not checked.
		const skipped = `query($c: Cursor, $has: Boolean!, $skip: Boolean!) { orders(first: 2, after: $c) @include(if: $has) { totalCount }
			sources { totalCount } ... on Query @skip(if: $skip) { shipments(first: 1, before: $c) { totalCount } } }`
		res := w.Try(w.AdminKey, skipped, map[string]any{"c": "", "has": false, "skip": true})
		if len(res.Errors) != 0 || strings.Contains(string(res.Data), "orders") || !strings.Contains(string(res.Data), `"sources":{"totalCount":2}`) {
			t.Errorf("cursors under @include(if: false) and @skip(if: true): errors %+v, data %s; want the rest answered", res.Errors, res.Data)
		}
		if res := w.Try(w.AdminKey, skipped, map[string]any{"c": "", "has": true, "skip": true}); len(res.Errors) != 1 || res.Errors[0].Code() != "VALIDATION" {
			t.Errorf("cursor under @include(if: true): errors %+v; want one VALIDATION error", res.Errors)
		}
	})
}

// TestSourceWarningsRefusedOnce: FulfillmentRequest.warnings is non-null
// and a SOURCE key may not read it. Refused while resolving, its null
// spread to every request of the page, one error each; it is refused once,
// at its place in the document, before anything runs, as the Order and
// OrderLine fields a SOURCE key may not read are.
func TestSourceWarningsRefusedOnce(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, a *app.App) {
		w := newPartnerWorld(t, a)
		res := w.Try(w.keyA, `{ fulfillmentRequests(first: 10) { totalCount edges { node { id warnings } } } }`, nil)
		if len(res.Errors) != 1 || res.Errors[0].Code() != "FORBIDDEN" ||
			fmt.Sprint(res.Errors[0].Path) != fmt.Sprint([]any{"fulfillmentRequests", "edges", "node", "warnings"}) {
			t.Fatalf("errors %+v (data %s), want one FORBIDDEN at fulfillmentRequests.edges.node.warnings", res.Errors, res.Data)
		}
		// Without it, the page reads as before.
		res = w.Try(w.keyA, `{ fulfillmentRequests(first: 10) { edges { node { id } } } }`, nil)
		if len(res.Errors) != 0 {
			t.Errorf("errors %+v", res.Errors)
		}
	})
}

// TestSourceRefusedFieldUnderNestedFragments: fragments add no level to
// the operation's depth, so a field the SOURCE key may not read, nested in
// 70 inline fragments, is refused once before anything runs as it is
// without them, not left to null the page row by row.
func TestSourceRefusedFieldUnderNestedFragments(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, a *app.App) {
		w := newPartnerWorld(t, a)
		const n = 70
		q := "{ fulfillmentRequests(first: 10) { edges { node { id " + strings.Repeat("... on FulfillmentRequest { ", n) +
			"warnings" + strings.Repeat(" }", n) + " } } } }"
		res := w.Try(w.keyA, q, nil)
		if len(res.Errors) != 1 || res.Errors[0].Code() != "FORBIDDEN" {
			t.Fatalf("errors %+v (data %s), want one FORBIDDEN", res.Errors, res.Data)
		}
	})
}
