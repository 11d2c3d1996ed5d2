package e2e

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/frsvc/fulfillment/internal/app"
	"github.com/frsvc/fulfillment/internal/testdb"
)

type opPageInfo struct {
	HasNextPage, HasPreviousPage bool
	StartCursor, EndCursor       *string
}

// TestPagingFirstAndLastRefused: first and last together are a refused
// request (VALIDATION), on the root connections and on nested ones.
func TestPagingFirstAndLastRefused(t *testing.T) {
	testdb.Each(t, func(t *testing.T, a *app.App) {
		env := New(t, a)
		env.importOrder(env.AdminKey, orderInput("PG-1"))
		for _, q := range []string{
			`{ orders(first: 3, last: 3) { totalCount } }`,
			`{ orders(first: 3, last: 3) { edges { node { id } } } }`,
			`{ sources(first: 1, last: 1) { pageInfo { endCursor } } }`,
			`{ fulfillmentLogs(first: 1, last: 1) { totalCount } }`,
			`{ orders(first: 1) { edges { node { logs(first: 2, last: 2) { totalCount } } } } }`,
		} {
			res := env.Do(Request{Key: env.AdminKey, Query: q})
			e := env.Err(res, "VALIDATION")
			if e.Message == "" || e.Message == "internal error" {
				t.Errorf("%s: message %q", q, e.Message)
			}
		}
	})
}

// TestPagingByPageInfoAlone pages through orders, and through an order's
// logs, once selecting edges and once selecting pageInfo alone; the two
// walks must agree page by page.
func TestPagingByPageInfoAlone(t *testing.T) {
	testdb.Each(t, func(t *testing.T, a *app.App) {
		env := New(t, a)
		var first string
		for i := 0; i < 5; i++ {
			o := env.importOrder(env.AdminKey, orderInput(fmt.Sprintf("PG-%d", i)))
			if i == 0 {
				first = o.ID
			}
		}
		for i := 0; i < 2; i++ {
			env.Query(`mutation($id: ID!) { holdOrder(id: $id, reason: "check") { id } }`, map[string]any{"id": first}, nil)
			env.Query(`mutation($id: ID!) { releaseOrder(id: $id) { id } }`, map[string]any{"id": first}, nil)
		}

		// All orders in one page: hasNextPage is false.
		var all struct {
			Orders struct {
				TotalCount int
				PageInfo   opPageInfo
			}
		}
		env.Query(`{ orders(first: 100) { totalCount pageInfo { hasNextPage hasPreviousPage endCursor } } }`, nil, &all)
		if all.Orders.TotalCount != 5 || all.Orders.PageInfo.HasNextPage || all.Orders.PageInfo.EndCursor == nil {
			t.Errorf("orders(first: 100) by pageInfo alone: %+v", all.Orders)
		}

		walk := func(withEdges, backward bool) []opPageInfo {
			edges := ""
			if withEdges {
				edges = "edges { cursor }"
			}
			var pages []opPageInfo
			var cursor *string
			for n := 0; n < 10; n++ {
				args := "first: 2, after: $c"
				if backward {
					args = "last: 2, before: $c"
				}
				var out struct {
					Orders struct{ PageInfo opPageInfo }
				}
				env.Query(fmt.Sprintf(`query($c: Cursor) { orders(%s) { %s pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }`, args, edges),
					map[string]any{"c": cursor}, &out)
				p := out.Orders.PageInfo
				pages = append(pages, p)
				more, next := p.HasNextPage, p.EndCursor
				if backward {
					more, next = p.HasPreviousPage, p.StartCursor
				}
				if !more {
					break
				}
				cursor = next
			}
			return pages
		}
		for _, backward := range []bool{false, true} {
			with, without := walk(true, backward), walk(false, backward)
			if len(with) != 3 || !reflect.DeepEqual(with, without) {
				t.Errorf("backward=%v: with edges %s, without %s", backward, opPages(with), opPages(without))
			}
		}

		// Nested: an order's logs, newest first, one at a time.
		nested := func(withEdges bool) []opPageInfo {
			edges := ""
			if withEdges {
				edges = "edges { cursor }"
			}
			var pages []opPageInfo
			var cursor *string
			for n := 0; n < 20; n++ {
				var out struct {
					Orders struct {
						Edges []struct {
							Node struct{ Logs struct{ PageInfo opPageInfo } }
						}
					}
				}
				env.Query(fmt.Sprintf(`query($c: Cursor, $id: ID!) { orders(first: 1, where: {id: $id}) { edges { node {
  logs(first: 1, after: $c) { %s pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } } } } }`, edges),
					map[string]any{"c": cursor, "id": first}, &out)
				if len(out.Orders.Edges) != 1 {
					t.Fatalf("order not found")
				}
				p := out.Orders.Edges[0].Node.Logs.PageInfo
				pages = append(pages, p)
				if !p.HasNextPage {
					break
				}
				cursor = p.EndCursor
			}
			return pages
		}
		with, without := nested(true), nested(false)
		if len(with) < 4 || !reflect.DeepEqual(with, without) {
			t.Errorf("nested logs: with edges %s, without %s", opPages(with), opPages(without))
		}
	})
}

func opPages(ps []opPageInfo) string {
	s := ""
	for _, p := range ps {
		str := func(c *string) string {
			if c == nil {
				return "nil"
			}
			return (*c)[:6]
		}
		s += fmt.Sprintf("[next=%v prev=%v %s..%s] ", p.HasNextPage, p.HasPreviousPage, str(p.StartCursor), str(p.EndCursor))
	}
	return s
}
