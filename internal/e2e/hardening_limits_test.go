package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/lexer"

	"github.com/frsvc/fulfillment/ent"
	"github.com/frsvc/fulfillment/ent/fulfillmentrequest"
	"github.com/frsvc/fulfillment/ent/order"
	"github.com/frsvc/fulfillment/graph"
	"github.com/frsvc/fulfillment/internal/address"
	"github.com/frsvc/fulfillment/internal/app"
	"github.com/frsvc/fulfillment/internal/httpapi"
	"github.com/frsvc/fulfillment/internal/tenant"
	"github.com/frsvc/fulfillment/internal/testdb"
)

// hdLimit is one operation at, under or over a limit.
type hdLimit struct {
	name  string
	env   *hdEnv
	query string
	vars  map[string]any
	// code is the refusal expected ("" when the operation must run).
	code  string
	field string
}

// mutation reports whether the case imports an order (it then takes $in).
func (c hdLimit) mutation() bool { return strings.HasPrefix(strings.TrimSpace(c.query), "mutation") }

// hdComplexityQuery costs 9998+r by the rule (see TestHardeningLimits).
func hdComplexityQuery(r int) string {
	return fmt.Sprintf(`{ orders(first: 98) { edges { node { fulfillmentRequests(first: 100) { edges { node { id } } } } } }
  inventoryItems(first: %d) { edges { node { id } } } }`, r)
}

// hdComplexityMutation costs 9998+x by the rule, x ≤ 3.
func hdComplexityMutation(x int) string {
	fields := []string{"l1: lines { sku }", "l2: lines { sku }", "l3: lines { sku }"}[:x]
	return fmt.Sprintf(`mutation($in: ImportOrderInput!) { importOrder(input: $in) { id %s
  fulfillmentRequests(first: 98) { edges { node { logs(first: 100) { edges { node { id } } } } } } } }`, strings.Join(fields, " "))
}

// hdDeep is an operation whose longest path has exactly depth fields, the
// last a __typename. The query walks orders → edges → node and then
// Order.fulfillmentRequests → edges → node → order → … ; the mutation starts
// at importOrder.
func hdDeep(depth int, mutation bool) string {
	path := []string{"orders(first: 1)", "edges", "node"}
	head := "{ "
	if mutation {
		path, head = []string{"importOrder(input: $in)"}, "mutation($in: ImportOrderInput!) { "
	}
	cycle := []string{"fulfillmentRequests(first: 1)", "edges", "node", "order"}
	for i := 0; len(path) < depth-1; i++ {
		path = append(path, cycle[i%len(cycle)])
	}
	path = path[:depth-1]
	return head + strings.Join(path, " { ") + " { __typename" + strings.Repeat(" }", len(path)) + " }"
}

// hdDeepFragment is hdDeep(depth, false) with everything below the first
// order in a named fragment.
func hdDeepFragment(depth int) string {
	cycle := []string{"fulfillmentRequests(first: 1)", "edges", "node", "order"}
	var path []string
	for i := 0; len(path) < depth-4; i++ {
		path = append(path, cycle[i%len(cycle)])
	}
	frag := "fragment Deep on Order { " + strings.Join(path, " { ") + " { __typename" + strings.Repeat(" }", len(path)) + " }"
	return "{ orders(first: 1) { edges { node { ...Deep } } } } " + frag
}

// hdDeepIntrospection nests ofType k times below __schema.types.fields.type:
// its depth is 5+k.
func hdDeepIntrospection(k int) string {
	return "{ __schema { types { fields { type { " + strings.Repeat("ofType { ", k) + "name" + strings.Repeat(" }", k) + " } } } } }"
}

// hdAliases is a query or an importOrder with n aliased fields.
func hdAliases(n int, mutation bool) string {
	var b strings.Builder
	field := "role"
	if mutation {
		field = "id"
	}
	for i := range n {
		fmt.Fprintf(&b, " a%d: %s", i, field)
	}
	if mutation {
		return "mutation($in: ImportOrderInput!) { importOrder(input: $in) { id" + b.String() + " } }"
	}
	return "{ viewer {" + b.String() + " } }"
}

// hdRoles is n repetitions of the field role (of Viewer).
func hdRoles(n int) string { return strings.Repeat("role ", n) }

// hdDoubling is a document of a few hundred bytes whose fragments each
// spread the next one twice: 2^levels selections.
func hdDoubling(levels int) string {
	var b strings.Builder
	b.WriteString("{ viewer { ...F0 } }\n")
	for i := range levels {
		fmt.Fprintf(&b, "fragment F%d on Viewer { ...F%d ...F%d }\n", i, i+1, i+1)
	}
	fmt.Fprintf(&b, "fragment F%d on Viewer { role }\n", levels)
	return b.String()
}

// hdTokens counts a document's tokens as the parser's limit does: every
// lexer token but the end, comments included.
func hdTokens(t testing.TB, doc string) int {
	t.Helper()
	lx := lexer.New(&ast.Source{Input: doc})
	n := 0
	for {
		tok, err := lx.ReadToken()
		if err != nil {
			t.Fatalf("lex: %v", err)
		}
		if tok.Kind == lexer.EOF {
			return n
		}
		n++
	}
}

// hdPadTokens appends comment lines (one token each) until doc has exactly n tokens.
func hdPadTokens(t testing.TB, doc string, n int) string {
	t.Helper()
	have := hdTokens(t, doc)
	if have > n {
		t.Fatalf("document already has %d tokens, more than %d", have, n)
	}
	doc += strings.Repeat("\n#", n-have)
	if got := hdTokens(t, doc); got != n {
		t.Fatalf("padded document has %d tokens, want %d", got, n)
	}
	return doc
}

// hdListTokens is a query with exactly n tokens, padded with real ones: the
// strings of where filters, in ten lists (a list holds at most 1000).
func hdListTokens(t testing.TB, n int) string {
	t.Helper()
	build := func(k int) string {
		var b strings.Builder
		b.WriteString("{")
		for i := range 10 {
			fmt.Fprintf(&b, ` a%d: orders(first: 1, where: {orderNumberIn: [%s]}) { totalCount }`, i, strings.Repeat(`"x" `, k/10+btoi(i < k%10)))
		}
		return b.String() + " }"
	}
	k := n - hdTokens(t, build(0))
	doc := build(k)
	if got := hdTokens(t, doc); got != n {
		t.Fatalf("list document has %d tokens, want %d", got, n)
	}
	return doc
}

// TestHardeningLimits runs every operation limit at, just under and just
// over its bound and checks the code of each refusal, that no operation ran
// (the operation histogram did not move) and that a refused importOrder
// wrote no order.
//
// Costs by the rule (objects and connections are charged, scalars are not:
// an object field costs 1 plus its children; a connection 1 plus its page
// times one node's cost, 1 plus the node's children; see graph/limits.go):
//
//	{ orders(first: 98) { edges { node { fulfillmentRequests(first: 100) { edges { node { id } } } } } } inventoryItems(first: r) { edges { node { id } } } }
//	  fulfillmentRequests = 1 + 100·1 = 101, an order's node = 102, orders = 1 + 98·102 = 9997
//	  inventoryItems = 1 + r: 9999, 10000, 10001 for r = 1, 2, 3.
//	importOrder(input: $in) { id <x × lines { sku }> fulfillmentRequests(first: 98) { edges { node { logs(first: 100) { edges { node { id } } } } } } }
//	  logs = 101, a request's node = 102, fulfillmentRequests = 1 + 98·102 = 9997,
//	  importOrder = 1 + x + 9997: 9999, 10000, 10001 for x = 1, 2, 3.
//	{ orders(first: n) { edges { node { id } } } } = n + 1;  { orders { edges { node { id } } } } = 1 + 50 (the default page).
//	importOrder(input: $in) { id fulfillmentRequests(first: n) { edges { node { id } } } } = n + 2.
func TestHardeningLimits(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, a *app.App) {
		s := a.Store
		def := hdNew(t, a, func(c *app.Config) { c.Introspection = true })
		small := hdNew(t, a, func(c *app.Config) { c.Complexity = 21 })
		const over, refusedPage = "COMPLEXITY_LIMIT_EXCEEDED", "VALIDATION"
		cases := []hdLimit{
			// Complexity, default limit 10000.
			{name: "complexity 9999", env: def, query: hdComplexityQuery(1)},
			{name: "complexity 10000", env: def, query: hdComplexityQuery(2)},
			{name: "complexity 10001", env: def, query: hdComplexityQuery(3), code: over},
			{name: "mutation complexity 9999", env: def, query: hdComplexityMutation(1)},
			{name: "mutation complexity 10000", env: def, query: hdComplexityMutation(2)},
			{name: "mutation complexity 10001", env: def, query: hdComplexityMutation(3), code: over},
			// Complexity, a handler with Limits.Complexity 21.
			{name: "small complexity 20", env: small, query: `{ orders(first: 19) { edges { node { id } } } }`},
			{name: "small complexity 21", env: small, query: `{ orders(first: 20) { edges { node { id } } } }`},
			{name: "small complexity 22", env: small, query: `{ orders(first: 21) { edges { node { id } } } }`, code: over},
			{name: "small complexity default page 51", env: small, query: `{ orders { edges { node { id } } } }`, code: over},
			{name: "small complexity via variable 22", env: small, query: `query($n: Int) { orders(first: $n) { edges { node { id } } } }`, vars: map[string]any{"n": 21}, code: over},
			{name: "small mutation complexity 20", env: small, query: `mutation($in: ImportOrderInput!) { importOrder(input: $in) { id fulfillmentRequests(first: 18) { edges { node { id } } } } }`},
			{name: "small mutation complexity 21", env: small, query: `mutation($in: ImportOrderInput!) { importOrder(input: $in) { id fulfillmentRequests(first: 19) { edges { node { id } } } } }`},
			{name: "small mutation complexity 22", env: small, query: `mutation($in: ImportOrderInput!) { importOrder(input: $in) { id fulfillmentRequests(first: 20) { edges { node { id } } } } }`, code: over},

			// Depth, default 15: the number of fields on the longest path.
			{name: "depth 14", env: def, query: hdDeep(14, false)},
			{name: "depth 15", env: def, query: hdDeep(15, false)},
			{name: "depth 16", env: def, query: hdDeep(16, false), code: over},
			{name: "depth 16 through a fragment", env: def, query: hdDeepFragment(16), code: over},
			{name: "depth 15 through a fragment", env: def, query: hdDeepFragment(15)},
			{name: "mutation depth 15", env: def, query: hdDeep(15, true)},
			{name: "mutation depth 16", env: def, query: hdDeep(16, true), code: over},
			{name: "introspection depth 15", env: def, query: hdDeepIntrospection(10)},
			{name: "introspection depth 16", env: def, query: hdDeepIntrospection(11), code: over},
			{name: "GraphiQL's introspection query", env: def, query: hdIntrospectionQuery},

			// Aliases, default 30.
			{name: "aliases 29", env: def, query: hdAliases(29, false)},
			{name: "aliases 30", env: def, query: hdAliases(30, false)},
			{name: "aliases 31", env: def, query: hdAliases(31, false), code: over},
			{name: "mutation aliases 30", env: def, query: hdAliases(30, true)},
			{name: "mutation aliases 31", env: def, query: hdAliases(31, true), code: over},

			// Parser tokens, default 10000.
			{name: "tokens 9999", env: def, query: hdPadTokens(t, `{ viewer { role } }`, 9999)},
			{name: "tokens 10000", env: def, query: hdPadTokens(t, `{ viewer { role } }`, 10000)},
			{name: "tokens 10001", env: def, query: hdPadTokens(t, `{ viewer { role } }`, 10001), code: over},
			{name: "list tokens 10000", env: def, query: hdListTokens(t, 10000)},
			{name: "list tokens 10001", env: def, query: hdListTokens(t, 10001), code: over},
			{name: "mutation tokens 10000", env: def, query: hdPadTokens(t, `mutation($in: ImportOrderInput!) { importOrder(input: $in) { id } }`, 10000)},
			{name: "mutation tokens 10001", env: def, query: hdPadTokens(t, `mutation($in: ImportOrderInput!) { importOrder(input: $in) { id } }`, 10001), code: over},

			// Selections, checked before validation: 500 in a selection set
			// (its inline fragments' merged in), 1000 in the document, a
			// fragment's counted at each spread of it.
			{name: "selection set 500", env: def, query: `{ viewer { ` + hdRoles(500) + `} }`},
			{name: "selection set 501", env: def, query: `{ viewer { ` + hdRoles(501) + `} }`, code: over},
			{name: "selection set 501 through inline fragments", env: def, query: `{ viewer { ... on Viewer { ` + hdRoles(250) + `} ... on Viewer { ` + hdRoles(249) + `} } }`, code: over},
			{name: "repeated field 9,900 times (48 KB)", env: def, query: `{ viewer { ` + hdRoles(9900) + `} }`, code: over},
			{name: "selections 1000", env: def, query: `{ viewer { ` + hdRoles(499) + `} viewer { ` + hdRoles(499) + `} }`},
			{name: "selections 1001", env: def, query: `{ viewer { ` + hdRoles(499) + `} viewer { ` + hdRoles(499) + `} __typename }`, code: over},
			{name: "selections 1000 through a fragment", env: def, query: `{ ` + strings.Repeat(`viewer { ...R } `, 8) + `} fragment R on Viewer { ` + hdRoles(123) + `}`},
			{name: "selections 1001 through a fragment", env: def, query: `{ ` + strings.Repeat(`viewer { ...R } `, 7) + `} fragment R on Viewer { ` + hdRoles(141) + `}`, code: over},
			{name: "mutation selections 1001", env: def, query: `mutation($in: ImportOrderInput!) { importOrder(input: $in) { ` + strings.Repeat("id ", 500) + `} importOrder(input: $in) { ` + strings.Repeat("id ", 499) + `} }`, code: over},
			{name: "fragments doubling 40 times", env: def, query: hdDoubling(40), code: over},

			// first / last: 0..100.
			{name: "first 100", env: def, query: `{ orders(first: 100) { totalCount } }`},
			{name: "first 0", env: def, query: `{ orders(first: 0) { totalCount } }`},
			{name: "first 101", env: def, query: `{ orders(first: 101) { totalCount } }`, code: refusedPage, field: "first"},
			{name: "first -1", env: def, query: `{ orders(first: -1) { totalCount } }`, code: refusedPage, field: "first"},
			{name: "last 100", env: def, query: `{ orders(last: 100) { totalCount } }`},
			{name: "last 101", env: def, query: `{ orders(last: 101) { totalCount } }`, code: refusedPage, field: "last"},
			{name: "last -1", env: def, query: `{ orders(last: -1) { totalCount } }`, code: refusedPage, field: "last"},
			{name: "first 100 variable", env: def, query: `query($n: Int) { orders(first: $n) { totalCount } }`, vars: map[string]any{"n": 100}},
			{name: "first 101 variable", env: def, query: `query($n: Int) { orders(first: $n) { totalCount } }`, vars: map[string]any{"n": 101}, code: refusedPage, field: "first"},
			{name: "first -1 variable", env: def, query: `query($n: Int) { orders(first: $n) { totalCount } }`, vars: map[string]any{"n": -1}, code: refusedPage, field: "first"},
			{name: "first 101 as a string variable", env: def, query: `query($n: Int) { orders(first: $n) { totalCount } }`, vars: map[string]any{"n": "101"}, code: refusedPage, field: "first"},
			{name: "first 1000000 as a string variable", env: def, query: `query($n: Int) { orders(first: $n) { totalCount } }`, vars: map[string]any{"n": "1000000"}, code: refusedPage, field: "first"},
			{name: "last 101 as a string variable", env: def, query: `query($n: Int) { orders(last: $n) { totalCount } }`, vars: map[string]any{"n": "101"}, code: refusedPage, field: "last"},
			// Int is 32-bit and never a string.
			{name: "first 100 as a string variable", env: def, query: `query($n: Int) { orders(first: $n) { totalCount } }`, vars: map[string]any{"n": "100"}, code: refusedPage, field: "first"},
			{name: "first null variable", env: def, query: `query($n: Int) { orders(first: $n) { totalCount } }`, vars: map[string]any{"n": nil}, code: refusedPage, field: "first"},
			{name: "nested first 101", env: def, query: `{ orders(first: 1) { edges { node { fulfillmentRequests(first: 101) { totalCount } } } } }`, code: refusedPage, field: "first"},
			{name: "nested last -1", env: def, query: `{ orders(first: 1) { edges { node { logs(last: -1) { totalCount } } } } }`, code: refusedPage, field: "last"},
			{name: "mutation first 100", env: def, query: `mutation($in: ImportOrderInput!) { importOrder(input: $in) { id fulfillmentRequests(first: 100) { totalCount } } }`},
			{name: "mutation first 101", env: def, query: `mutation($in: ImportOrderInput!) { importOrder(input: $in) { id fulfillmentRequests(first: 101) { totalCount } } }`, code: refusedPage, field: "first"},
			{name: "mutation last -1", env: def, query: `mutation($in: ImportOrderInput!) { importOrder(input: $in) { id logs(last: -1) { totalCount } } }`, code: refusedPage, field: "last"},
		}
		for i, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				h := c.env.with(t)
				vars := c.vars
				if c.mutation() {
					vars = map[string]any{"in": hdOrderInput(fmt.Sprintf("LIM-%d", i))}
				}
				ops, orders := h.operations(), hdOrders(t, s)
				res := h.Do(Request{Key: h.AdminKey, Query: c.query, Variables: vars})
				ranOps, nowOrders := h.operations()-ops, hdOrders(t, s)
				if c.code == "" {
					if len(res.Errors) > 0 {
						t.Fatalf("refused (HTTP %d): %+v", res.Status, res.Errors)
					}
					if ranOps != 1 {
						t.Errorf("%d operations ran, want 1", ranOps)
					}
					if want := orders + btoi(c.mutation()); nowOrders != want {
						t.Errorf("orders %d → %d, want %d", orders, nowOrders, want)
					}
					return
				}
				er := h.Err(res, c.code)
				if c.field != "" && er.Field() != c.field {
					t.Errorf("field = %q, want %q (%q)", er.Field(), c.field, er.Message)
				}
				if res.Status >= 500 {
					t.Errorf("HTTP %d", res.Status)
				}
				if len(res.Data) != 0 && string(res.Data) != "null" {
					t.Errorf("data = %s, want none", res.Data)
				}
				if ranOps != 0 {
					t.Errorf("the refused operation ran (%d operations observed)", ranOps)
				}
				if nowOrders != orders {
					t.Errorf("orders %d → %d after a refusal", orders, nowOrders)
				}
			})
		}
	})
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// hdIntrospectionQuery is graphql-js's getIntrospectionQuery() (v16), what
// GraphiQL sends: the depth limit must leave it working.
const hdIntrospectionQuery = `query IntrospectionQuery {
  __schema {
    queryType { name } mutationType { name } subscriptionType { name }
    types { ...FullType }
    directives { name description locations args { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description
  fields(includeDeprecated: true) { name description args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason }
  inputFields { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type {
  kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name
    ofType { kind name ofType { kind name ofType { kind name } } } } } } }
}`

// TestHardeningDefaultPage seeds more than a page and reads connections
// without first or last: each gets first: 50, at the root, nested and
// through a fragment.
func TestHardeningDefaultPage(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, a *app.App) {
		s := a.Store
		h := hdNew(t, a, nil)
		ctx := tenant.WithAccount(context.Background(), h.Principal(h.AdminKey).AccountID)
		const n = 60
		src, err := s.Client.Source.Create().SetName("Page source").SetCode("PAGE").Save(ctx)
		testdb.Must(t, err)
		ob := make([]*ent.OrderCreate, n)
		for i := range ob {
			ob[i] = s.Client.Order.Create().SetChannel("web").SetOrderNumber(fmt.Sprintf("P-%03d", i)).
				SetPaymentStatus(order.PaymentStatusPAID).SetOrderedAt(time.Now()).SetShipToCountry("US").
				SetShipTo(address.Address{Line1: "1 Main", City: "X", PostalCode: "1", Country: "US"})
		}
		orders, err := s.Client.Order.CreateBulk(ob...).Save(ctx)
		testdb.Must(t, err)
		fb := make([]*ent.FulfillmentRequestCreate, n)
		for i := range fb {
			fb[i] = s.Client.FulfillmentRequest.Create().SetNumber(fmt.Sprintf("P-000-%d", i+1)).SetSequence(i + 1).
				SetOrderID(orders[0].ID).SetSourceID(src.ID).SetOrigin(fulfillmentrequest.OriginCREATED)
		}
		testdb.Must(t, s.Client.FulfillmentRequest.CreateBulk(fb...).Exec(ctx))

		type page struct {
			TotalCount int
			Edges      []struct{ Cursor string }
			PageInfo   struct {
				HasNextPage bool
				EndCursor   string
			}
		}
		var root struct{ Orders page }
		h.Query(`{ orders { totalCount edges { cursor } pageInfo { hasNextPage endCursor } } }`, nil, &root)
		if got := root.Orders; got.TotalCount != n || len(got.Edges) != graph.DefaultPage || !got.PageInfo.HasNextPage {
			t.Fatalf("orders without first: totalCount %d, %d edges, hasNextPage %v; want %d, %d, true",
				got.TotalCount, len(got.Edges), got.PageInfo.HasNextPage, n, graph.DefaultPage)
		}
		var rest struct{ Orders page }
		h.Query(`query($after: Cursor) { orders(after: $after) { edges { cursor } pageInfo { hasNextPage } } }`,
			map[string]any{"after": root.Orders.PageInfo.EndCursor}, &rest)
		if len(rest.Orders.Edges) != n-graph.DefaultPage || rest.Orders.PageInfo.HasNextPage {
			t.Errorf("second page: %d edges, hasNextPage %v", len(rest.Orders.Edges), rest.Orders.PageInfo.HasNextPage)
		}

		var nested struct {
			Orders struct {
				Edges []struct {
					Node struct{ FulfillmentRequests page }
				}
			}
		}
		h.Query(`{ orders(first: 1, where: {orderNumber: "P-000"}) { edges { node {
			fulfillmentRequests { totalCount edges { cursor } pageInfo { hasNextPage } } } } } }`, nil, &nested)
		if len(nested.Orders.Edges) != 1 {
			t.Fatalf("nested: %+v", nested)
		}
		if got := nested.Orders.Edges[0].Node.FulfillmentRequests; got.TotalCount != n || len(got.Edges) != graph.DefaultPage || !got.PageInfo.HasNextPage {
			t.Errorf("Order.fulfillmentRequests without first: totalCount %d, %d edges; want %d, %d", got.TotalCount, len(got.Edges), n, graph.DefaultPage)
		}

		var frag struct {
			Orders      page
			Source      struct{ FulfillmentRequests page }
			SourcesConn struct {
				Edges []struct {
					Node struct{ FulfillmentRequests page }
				}
			} `json:"sources"`
		}
		h.Query(`query { ...Root } fragment Root on Query {
			orders { edges { cursor } }
			sources { edges { node { ...Src } } } }
			fragment Src on Source { fulfillmentRequests { edges { cursor } } }`, nil, &frag)
		if len(frag.Orders.Edges) != graph.DefaultPage {
			t.Errorf("orders through a fragment: %d edges, want %d", len(frag.Orders.Edges), graph.DefaultPage)
		}
		if len(frag.SourcesConn.Edges) != 1 || len(frag.SourcesConn.Edges[0].Node.FulfillmentRequests.Edges) != graph.DefaultPage {
			t.Errorf("Source.fulfillmentRequests through a fragment: %+v", frag.SourcesConn)
		}
	})
}

// TestHardeningBodyLimit sends bodies of exactly 1 MiB (accepted) and one
// byte more (413, with and without a Content-Length), a mutation among them.
func TestHardeningBodyLimit(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, a *app.App) {
		s := a.Store
		h := hdNew(t, a, nil)
		pad := func(body []byte, size int) []byte {
			if len(body) > size {
				t.Fatalf("body of %d bytes already", len(body))
			}
			return append(body, bytes.Repeat([]byte(" "), size-len(body))...)
		}
		headers := map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + h.AdminKey}
		const limit = httpapi.DefaultMaxBodyBytes
		query := Body(`{ viewer { role } }`, nil)
		mutation := func(n string) []byte {
			return Body(`mutation($in: ImportOrderInput!) { importOrder(input: $in) { id } }`, map[string]any{"in": hdOrderInput(n)})
		}
		cases := []struct {
			name    string
			body    []byte
			chunked bool
			status  int
			orders  int
		}{
			{"query 1 MiB - 1", pad(query, limit-1), false, http.StatusOK, 0},
			{"query 1 MiB", pad(query, limit), false, http.StatusOK, 0},
			{"query 1 MiB + 1", pad(query, limit+1), false, http.StatusRequestEntityTooLarge, 0},
			{"query 1 MiB chunked", pad(query, limit), true, http.StatusOK, 0},
			{"query 1 MiB + 1 chunked", pad(query, limit+1), true, http.StatusRequestEntityTooLarge, 0},
			{"query 4 MiB chunked", pad(query, 4*limit), true, http.StatusRequestEntityTooLarge, 0},
			{"mutation 1 MiB", pad(mutation("BODY-1"), limit), false, http.StatusOK, 1},
			{"mutation 1 MiB + 1", pad(mutation("BODY-2"), limit+1), false, http.StatusRequestEntityTooLarge, 0},
			{"mutation 1 MiB + 1 chunked", pad(mutation("BODY-3"), limit+1), true, http.StatusRequestEntityTooLarge, 0},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				h := h.with(t)
				before, ops := hdOrders(t, s), h.operations()
				var body io.Reader = bytes.NewReader(c.body)
				if c.chunked {
					body = io.MultiReader(body) // no length known: sent chunked
				}
				resp := h.raw(http.MethodPost, "/query", headers, body)
				res := resp.result()
				if resp.Status != c.status {
					t.Fatalf("HTTP %d, want %d: %s", resp.Status, c.status, resp.Body)
				}
				if res == nil {
					t.Fatalf("answer is not JSON: %q", resp.Body)
				}
				if err := CheckHygiene(res); err != nil {
					t.Error(err)
				}
				if c.status == http.StatusOK {
					if len(res.Errors) > 0 {
						t.Errorf("errors: %+v", res.Errors)
					}
				} else {
					h.Err(res, "VALIDATION")
					if n := h.operations() - ops; n != 0 {
						t.Errorf("%d operations ran", n)
					}
				}
				if got := hdOrders(t, s) - before; got != c.orders {
					t.Errorf("%d orders written, want %d", got, c.orders)
				}
			})
		}
	})
}

// TestHardeningListCap: upsertInventory takes at most 1000 items a call.
func TestHardeningListCap(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, a *app.App) {
		s := a.Store
		h := hdNew(t, a, nil)
		var src struct{ CreateSource struct{ ID string } }
		h.Query(`mutation { createSource(input: {name: "Cap", code: "CAP"}) { id } }`, nil, &src)
		inventory := func() int {
			n, err := s.Client.InventoryItem.Query().Count(tenant.WithSystem(context.Background()))
			testdb.Must(t, err)
			return n
		}
		for _, c := range []struct {
			n     int
			code  string
			total int
		}{{999, "", 999}, {1000, "", 1000}, {1001, "VALIDATION", 1000}} {
			t.Run(fmt.Sprint(c.n), func(t *testing.T) {
				h := h.with(t)
				res := h.Do(Request{Key: h.AdminKey, Query: `mutation($s: ID!, $items: [InventoryInput!]!) {
					upsertInventory(sourceID: $s, items: $items) { id } }`,
					Variables: map[string]any{"s": src.CreateSource.ID, "items": items(c.n)}})
				if c.code == "" {
					if len(res.Errors) > 0 {
						t.Fatalf("errors: %+v", res.Errors)
					}
				} else if f := h.Err(res, c.code).Field(); f != "items" {
					t.Errorf("field = %q, want items", f)
				}
				if got := inventory(); got != c.total {
					t.Errorf("%d inventory items, want %d", got, c.total)
				}
			})
		}
	})
}

// TestHardeningTimeout bounds a request by RequestTimeout. The slow
// operation is runSendFulfillmentRequests delivering to a partner endpoint
// that does not answer for 20 s: with a 300 ms request timeout the request
// must be answered within it, reporting the run as not complete (its request
// claimed, nothing finished yet), while the delivery goes on detached from
// the request; and the server must go on answering.
func TestHardeningTimeout(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, a *app.App) {
		const timeout = 300 * time.Millisecond
		h := hdNew(t, a, func(c *app.Config) { c.RequestTimeout = timeout })
		var hits, cut atomic.Int32
		release := make(chan struct{})
		partner := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits.Add(1)
			select {
			case <-r.Context().Done():
				cut.Add(1)
			case <-release:
			case <-time.After(20 * time.Second):
			}
		}))
		// Registered after the app: the partner lets go before the app
		// closes (which waits for the run).
		t.Cleanup(partner.Close)
		t.Cleanup(func() { close(release) })
		frID := hdProcessingFR(h, "SLOW", partner.URL, "whsec_timeout_0123456789")

		start := time.Now()
		res := h.Do(Request{Key: h.AdminKey, Query: `mutation { runSendFulfillmentRequests { claimed processed failed retried complete } }`})
		took := time.Since(start)
		t.Logf("runSendFulfillmentRequests ended after %s: HTTP %d, errors [%s], data %s", took, res.Status, hdCodes(res), res.Data)
		if res.Status != http.StatusOK || len(res.Errors) > 0 {
			t.Fatalf("HTTP %d %s", res.Status, hdCodes(res))
		}
		if took >= timeout {
			t.Errorf("the request took %s with a %s timeout", took, timeout)
		}
		var out struct {
			RunSendFulfillmentRequests struct {
				Claimed, Processed, Failed, Retried int
				Complete                            bool
			}
		}
		res.Decode(t, &out)
		if got := out.RunSendFulfillmentRequests; got.Claimed != 1 || got.Complete || got.Processed+got.Failed+got.Retried != 0 {
			t.Errorf("send run = %+v, want claimed 1, nothing finished, not complete", got)
		}
		if hits.Load() != 1 || cut.Load() != 0 {
			t.Errorf("the partner was called %d times, %d cut", hits.Load(), cut.Load())
		}
		var fr struct {
			Node struct{ Status string }
		}
		h.Query(`query($id: ID!) { node(id: $id) { ... on FulfillmentRequest { status } } }`, map[string]any{"id": frID}, &fr)
		if fr.Node.Status != "PROCESSING" {
			t.Errorf("status while the delivery is in flight = %s, want PROCESSING", fr.Node.Status)
		}
	})
}

// TestHardeningSelectionAnswer: a document refused for its selections is
// answered as one refused for its tokens: the same status, one error with a
// message and extensions.code alone, no data.
func TestHardeningSelectionAnswer(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, a *app.App) {
		h := hdNew(t, a, nil)
		shape := func(res *Result) string {
			var body map[string]any
			if err := json.Unmarshal(res.Raw, &body); err != nil {
				t.Fatalf("answer %s: %v", res.Raw, err)
			}
			var keys []string
			for k, v := range body {
				keys = append(keys, k)
				if errs, ok := v.([]any); ok {
					for _, e := range errs {
						for ek, ev := range e.(map[string]any) {
							keys = append(keys, k+"."+ek)
							if ext, ok := ev.(map[string]any); ok {
								for xk := range ext {
									keys = append(keys, k+"."+ek+"."+xk)
								}
							}
						}
					}
				}
			}
			sort.Strings(keys)
			return fmt.Sprintf("HTTP %d %v", res.Status, keys)
		}
		tokens := h.Do(Request{Key: h.AdminKey, Query: hdPadTokens(t, `{ viewer { role } }`, 10001)})
		h.Err(tokens, "COMPLEXITY_LIMIT_EXCEEDED")
		for _, q := range []string{`{ viewer { ` + hdRoles(501) + `} }`, `{ viewer { ` + hdRoles(499) + `} viewer { ` + hdRoles(499) + `} __typename }`} {
			res := h.Do(Request{Key: h.AdminKey, Query: q})
			h.Err(res, "COMPLEXITY_LIMIT_EXCEEDED")
			if got, want := shape(res), shape(tokens); got != want {
				t.Errorf("answer %s (%s), want the shape of the token limit's: %s (%s)", got, res.Raw, want, tokens.Raw)
			}
		}
	})
}

// hdCase is one request that must run ("" field and code) or be refused
// with code (VALIDATION unless said) on field.
type hdCase struct {
	name  string
	query string
	vars  map[string]any
	field string
	code  string
}

// hdRefusedBeforeSQL runs each case and checks the refusals: the code, the
// field, no data, no 5xx, and not one SQL statement beyond those of a
// request that runs none (the key lookup).
func hdRefusedBeforeSQL(t *testing.T, h *hdEnv, cases []hdCase) {
	t.Helper()
	counter := testdb.NewCounter(h.Store)
	statements := func(r Request) (*Result, int64) {
		h.T.Helper()
		counter.Reset()
		h.Do(Request{Key: r.Key, Query: `{ __typename }`})
		base := counter.Count()
		counter.Reset()
		res := h.Do(r)
		return res, counter.Count() - base
	}
	statements(Request{Key: h.AdminKey}) // warm
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := h.with(t)
			res, n := statements(Request{Key: h.AdminKey, Query: c.query, Variables: c.vars})
			if c.field == "" && c.code == "" {
				if len(res.Errors) > 0 {
					t.Fatalf("refused (HTTP %d): %+v", res.Status, res.Errors)
				}
				return
			}
			code := c.code
			if code == "" {
				code = "VALIDATION"
			}
			er := h.Err(res, code)
			if er.Field() != c.field {
				t.Errorf("field = %q, want %q (%q)", er.Field(), c.field, er.Message)
			}
			if res.Status >= 500 {
				t.Errorf("HTTP %d", res.Status)
			}
			if len(res.Data) != 0 && string(res.Data) != "null" {
				t.Errorf("data = %s, want none", res.Data)
			}
			if n != 0 {
				t.Errorf("%d SQL statements ran for a refused request", n)
			}
		})
	}
}

// TestHardeningIntRange: Int is GraphQL's 32-bit Int. Values outside it,
// strings and fractions are refused at coercion, literals and variables
// alike, at the root and in nested connections (before their parent's
// query runs), and nothing is written.
func TestHardeningIntRange(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, a *app.App) {
		h := hdNew(t, a, nil)
		var src struct{ CreateSource struct{ ID string } }
		h.Query(`mutation { createSource(input: {name: "Ints", code: "INTS"}) { id } }`, nil, &src)
		upsert := `mutation($s: ID!, $items: [InventoryInput!]!) { upsertInventory(sourceID: $s, items: $items) { id } }`
		item := func(q any) map[string]any {
			return map[string]any{"s": src.CreateSource.ID, "items": []any{map[string]any{"sku": "INT-1", "quantity": q, "unitCost": "1.00"}}}
		}
		literal := func(n string) string { return `{ inventoryItems(where: {quantityGT: ` + n + `}) { totalCount } }` }
		nested := func(n string) string {
			return `{ sources(first: 1) { edges { node { inventoryItems(where: {quantityGT: ` + n + `}) { totalCount } } } } }`
		}
		whereVar := `query($w: InventoryItemWhereInput) { inventoryItems(where: $w) { totalCount } }`
		intVar := `query($n: Int) { inventoryItems(where: {quantityGT: $n}) { totalCount } }`
		// JSON numbers as sent: json.Number keeps 2^63−1 exact.
		num := func(s string) json.Number { return json.Number(s) }
		var cases []hdCase
		for _, n := range []string{"2147483647", "-2147483648", "0"} {
			cases = append(cases,
				hdCase{name: "literal " + n, query: literal(n)},
				hdCase{name: "nested literal " + n, query: nested(n)},
				hdCase{name: "variable " + n, query: intVar, vars: map[string]any{"n": num(n)}},
				hdCase{name: "input object variable " + n, query: whereVar, vars: map[string]any{"w": map[string]any{"quantityGT": num(n)}}})
		}
		for _, n := range []string{"2147483648", "-2147483649", "4611686018427387904", "9223372036854775807"} {
			cases = append(cases,
				hdCase{name: "literal " + n, query: literal(n), field: "where.quantityGT"},
				hdCase{name: "nested literal " + n, query: nested(n), field: "where.quantityGT"},
				hdCase{name: "variable " + n, query: intVar, vars: map[string]any{"n": num(n)}, field: "where.quantityGT"},
				hdCase{name: "input object variable " + n, query: whereVar, vars: map[string]any{"w": map[string]any{"quantityGT": num(n)}}, field: "where.quantityGT"},
				hdCase{name: "upsertInventory quantity " + n, query: upsert, vars: item(num(n)), field: "items[0].quantity"})
		}
		// A string is no Int (gqlgen's Int took "5").
		cases = append(cases,
			hdCase{name: `variable "5"`, query: intVar, vars: map[string]any{"n": "5"}, field: "where.quantityGT"},
			hdCase{name: `input object variable "5"`, query: whereVar, vars: map[string]any{"w": map[string]any{"quantityGT": "5"}}, field: "where.quantityGT"},
			hdCase{name: `upsertInventory quantity "5"`, query: upsert, vars: item("5"), field: "items[0].quantity"})
		// Fractions and booleans: refused by the validation of variables,
		// which names the variable's path.
		for name, v := range map[string]any{"5.5": num("5.5"), "true": true} {
			cases = append(cases,
				hdCase{name: "variable " + name, query: intVar, vars: map[string]any{"n": v}, field: "n"},
				hdCase{name: "input object variable " + name, query: whereVar, vars: map[string]any{"w": map[string]any{"quantityGT": v}}, field: "w.quantityGT"},
				hdCase{name: "upsertInventory quantity " + name, query: upsert, vars: item(v), field: "items[0].quantity"})
		}
		// A literal string, fraction or boolean is refused by validation.
		for _, v := range []string{`"5"`, "5.5", "true"} {
			res := h.Do(Request{Key: h.AdminKey, Query: literal(v)})
			h.Err(res, "VALIDATION")
		}
		hdRefusedBeforeSQL(t, h, cases)
		n, err := h.Store.Client.InventoryItem.Query().Count(tenant.WithSystem(context.Background()))
		testdb.Must(t, err)
		if n != 0 {
			t.Errorf("%d inventory items written by refused requests", n)
		}
	})
}

// TestHardeningInputBounds: inputs the databases refuse, or that would
// differ between them, are refused first with VALIDATION and the field, on
// both databases alike, before any SQL: a NUL in any string, strings over
// 4096 bytes (255 for identifiers), lists over 1000, where filters nested
// over 10 deep, with over 100 predicates or over 1000 list values.
func TestHardeningInputBounds(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, a *app.App) {
		h := hdNew(t, a, nil)
		var src struct{ CreateSource struct{ ID string } }
		h.Query(`mutation { createSource(input: {name: "Bounds", code: "BOUNDS"}) { id } }`, nil, &src)
		order := `mutation($in: ImportOrderInput!) { importOrder(input: $in) { id } }`
		orderWith := func(n int, change func(map[string]any)) map[string]any {
			in := hdOrderInput(fmt.Sprintf("BOUND-%d", n))
			change(in)
			return map[string]any{"in": in}
		}
		line := func(in map[string]any) map[string]any { return in["lines"].([]any)[0].(map[string]any) }
		upsert := `mutation($s: ID!, $items: [InventoryInput!]!) { upsertInventory(sourceID: $s, items: $items) { id } }`
		inventory := func(n int, sku string) map[string]any {
			items := items(n)
			items[n-1].(map[string]any)["sku"] = sku
			return map[string]any{"s": src.CreateSource.ID, "items": items}
		}
		orders := `query($w: OrderWhereInput) { orders(first: 1, where: $w) { totalCount } }`
		inventoryItems := `query($w: InventoryItemWhereInput) { inventoryItems(first: 1, where: $w) { totalCount } }`
		nestedInventory := `query($w: InventoryItemWhereInput) { sources(first: 1) { edges { node { inventoryItems(first: 1, where: $w) { totalCount } } } } }`
		ids := func(n int) []any {
			out := make([]any, n)
			for i := range out {
				out[i] = fmt.Sprint(i + 1)
			}
			return out
		}
		skus := func(n int) []any {
			out := make([]any, n)
			for i := range out {
				out[i] = fmt.Sprintf("S%d", i)
			}
			return out
		}
		nots := func(depth int) map[string]any {
			w := map[string]any{"idNEQ": "1"}
			for range depth {
				w = map[string]any{"not": w}
			}
			return w
		}
		ors := func(n int) map[string]any {
			or := make([]any, n)
			for i := range or {
				or[i] = map[string]any{"idNEQ": fmt.Sprint(i + 1)}
			}
			return map[string]any{"or": or}
		}
		// hasChain nests orders' and their requests' filters depth deep.
		hasChain := func(depth int) map[string]any {
			w := map[string]any{"idNEQ": "1"}
			for i := depth; i > 0; i-- {
				w = map[string]any{[]string{"hasOrderWith", "hasFulfillmentRequestsWith"}[i%2]: []any{w}}
			}
			return w
		}
		notPath := func(depth int) string { return "where" + strings.Repeat(".not", depth) }
		long := func(n int) string { return strings.Repeat("x", n) }
		cases := []hdCase{
			// NUL, anywhere.
			{name: "NUL in an order number", query: order, vars: orderWith(1, func(in map[string]any) { in["orderNumber"] = "N\x00UL" }), field: "input.orderNumber"},
			{name: "NUL in a line's SKU", query: order, vars: orderWith(2, func(in map[string]any) { line(in)["sku"] = "SKU\x00" }), field: "input.lines[0].sku"},
			{name: "NUL in an address", query: order, vars: orderWith(3, func(in map[string]any) { in["shipTo"].(map[string]any)["city"] = "\x00" }), field: "input.shipTo.city"},
			{name: "NUL in a literal", query: `mutation { holdOrder(id: "1", reason: "a\u0000b") { id } }`, field: "reason"},
			{name: "NUL in an inventory SKU", query: upsert, vars: inventory(3, "A\x00"), field: "items[2].sku"},
			{name: "NUL in a filter", query: orders, vars: map[string]any{"w": map[string]any{"orderNumberIn": []any{"a", "b\x00"}}}, field: "where.orderNumberIn[1]"},
			{name: "NUL in a nested connection's filter", query: nestedInventory, vars: map[string]any{"w": map[string]any{"skuContains": "\x00"}}, field: "where.skuContains"},

			// Lengths: 255 bytes for identifiers, 4096 for the rest.
			{name: "line SKU of 255 bytes", query: order, vars: orderWith(10, func(in map[string]any) { line(in)["sku"] = long(255) })},
			{name: "line SKU of 256 bytes", query: order, vars: orderWith(11, func(in map[string]any) { line(in)["sku"] = long(256) }), field: "input.lines[0].sku"},
			{name: "line SKU of 1 MB − 1 KB", query: order, vars: orderWith(12, func(in map[string]any) { line(in)["sku"] = long(1<<20 - 1024) }), field: "input.lines[0].sku"},
			{name: "line title of 4096 bytes", query: order, vars: orderWith(13, func(in map[string]any) { line(in)["title"] = long(4096) })},
			{name: "line title of 4097 bytes", query: order, vars: orderWith(14, func(in map[string]any) { line(in)["title"] = long(4097) }), field: "input.lines[0].title"},
			{name: "channel of 256 bytes", query: order, vars: orderWith(15, func(in map[string]any) { in["channel"] = long(256) }), field: "input.channel"},
			{name: "inventory SKU of 256 bytes", query: upsert, vars: inventory(2, long(256)), field: "items[1].sku"},
			{name: "skuIn of a 256-byte SKU", query: inventoryItems, vars: map[string]any{"w": map[string]any{"skuIn": []any{long(256)}}}, field: "where.skuIn[0]"},
			{name: "source name of 256 bytes", query: `mutation($n: String!) { createSource(input: {name: $n, code: "LONG"}) { id } }`, vars: map[string]any{"n": long(256)}, field: "input.name"},
			{name: "hold reason of 4097 bytes", query: `mutation($r: String!) { holdOrder(id: "1", reason: $r) { id } }`, vars: map[string]any{"r": long(4097)}, field: "reason"},

			// Lists: 1000 items.
			{name: "idIn of 1000", query: orders, vars: map[string]any{"w": map[string]any{"idIn": ids(1000)}}},
			{name: "idIn of 1001", query: orders, vars: map[string]any{"w": map[string]any{"idIn": ids(1001)}}, field: "where.idIn"},
			{name: "idIn of 70,000", query: orders, vars: map[string]any{"w": map[string]any{"idIn": ids(70000)}}, field: "where.idIn"},
			{name: "skuIn of 70,000", query: inventoryItems, vars: map[string]any{"w": map[string]any{"skuIn": skus(70000)}}, field: "where.skuIn"},
			{name: "nested skuIn of 1001", query: nestedInventory, vars: map[string]any{"w": map[string]any{"skuIn": skus(1001)}}, field: "where.skuIn"},
			{name: "nodes of 1001 ids", query: `query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, vars: map[string]any{"ids": ids(1001)}, field: "ids"},
			// The tighter bounds of their own stay: 1000 items, 500 lines.
			{name: "upsertInventory of 1001 items", query: upsert, vars: inventory(1001, "LAST"), field: "items"},
			{name: "order of 501 lines", query: order, vars: orderWith(20, func(in map[string]any) {
				lines := make([]any, 501)
				for i := range lines {
					lines[i] = map[string]any{"sku": fmt.Sprintf("L-%d", i), "quantity": 1, "unitPrice": "1.00"}
				}
				in["lines"] = lines
			}), field: "input.lines"},

			// Filters: 10 levels of nesting, 100 predicates, 1000 list values.
			{name: "not 10 deep", query: orders, vars: map[string]any{"w": nots(10)}},
			{name: "not 11 deep", query: orders, vars: map[string]any{"w": nots(11)}, field: notPath(11)},
			{name: "not 3000 deep", query: orders, vars: map[string]any{"w": nots(3000)}, field: notPath(11)},
			{name: "not 11 deep in a nested connection", query: `query($w: InventoryItemWhereInput) { sources(first: 1) { edges { node { inventoryItems(first: 1, where: $w) { totalCount } } } } }`,
				vars: map[string]any{"w": nots(11)}, field: notPath(11)},
			{name: "has…With 10 deep", query: orders, vars: map[string]any{"w": hasChain(10)}},
			{name: "has…With 11 deep", query: orders, vars: map[string]any{"w": hasChain(11)},
				field: "where" + strings.Repeat(".hasFulfillmentRequestsWith[0].hasOrderWith[0]", 5) + ".hasFulfillmentRequestsWith[0]"},
			{name: "or of 100", query: orders, vars: map[string]any{"w": ors(100)}},
			{name: "or of 101", query: orders, vars: map[string]any{"w": ors(101)}, field: "where"},
			{name: "or of 20,000", query: orders, vars: map[string]any{"w": ors(20000)}, field: "where.or"},
			{name: "and of 101 predicates in one object", query: orders, vars: map[string]any{"w": map[string]any{"and": []any{hdPredicates(60), hdPredicates(41)}}}, field: "where"},
			{name: "1000 list values", query: orders, vars: map[string]any{"w": map[string]any{"or": []any{map[string]any{"idIn": ids(500)}, map[string]any{"idNotIn": ids(500)}}}}},
			{name: "1001 list values", query: orders, vars: map[string]any{"w": map[string]any{"or": []any{map[string]any{"idIn": ids(500)}, map[string]any{"idNotIn": ids(501)}}}}, field: "where.or[1].idNotIn"},

			// A literal no Go value holds, given to a custom scalar.
			{name: "cursor of 20 digits", query: `{ orders(after: 99999999999999999999) { totalCount } }`, field: "after"},
		}
		hdRefusedBeforeSQL(t, h, cases)
	})
}

// hdPredicates is an OrderWhereInput of n predicates, none nested.
func hdPredicates(n int) map[string]any {
	fields := []string{"id", "idNEQ", "idGT", "idGTE", "idLT", "idLTE", "channel", "channelNEQ", "channelGT", "channelGTE",
		"channelLT", "channelLTE", "channelContains", "channelHasPrefix", "channelHasSuffix", "channelEqualFold", "channelContainsFold",
		"orderNumber", "orderNumberNEQ", "orderNumberGT", "orderNumberGTE", "orderNumberLT", "orderNumberLTE", "orderNumberContains",
		"orderNumberHasPrefix", "orderNumberHasSuffix", "orderNumberEqualFold", "orderNumberContainsFold",
		"referenceNumber", "referenceNumberNEQ", "referenceNumberGT", "referenceNumberGTE", "referenceNumberLT", "referenceNumberLTE",
		"referenceNumberContains", "referenceNumberHasPrefix", "referenceNumberHasSuffix", "referenceNumberEqualFold", "referenceNumberContainsFold",
		"holdReason", "holdReasonNEQ", "holdReasonGT", "holdReasonGTE", "holdReasonLT", "holdReasonLTE", "holdReasonContains",
		"holdReasonHasPrefix", "holdReasonHasSuffix", "holdReasonEqualFold", "holdReasonContainsFold",
		"shipToCountry", "shipToCountryNEQ", "shipToCountryGT", "shipToCountryGTE", "shipToCountryLT", "shipToCountryLTE",
		"shipToCountryContains", "shipToCountryHasPrefix", "shipToCountryHasSuffix", "shipToCountryEqualFold", "shipToCountryContainsFold"}
	if n > len(fields) {
		panic("too many predicates")
	}
	w := map[string]any{}
	for _, f := range fields[:n] {
		if strings.HasPrefix(f, "id") {
			w[f] = "1"
		} else {
			w[f] = "x"
		}
	}
	return w
}

// TestHardeningCursorWhole: a cursor is one this server gave, checked
// whole. Every ordering's cursors page on (small integers among them, which
// the cursor encoding keeps in one byte), and a cursor cut short, followed
// by anything, padded, with a field added or encoded in other bytes for the
// same values is refused with VALIDATION, nested connections' too, before
// any SQL.
func TestHardeningCursorWhole(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, a *app.App) {
		h := hdNew(t, a, nil)
		var src struct{ CreateSource struct{ ID string } }
		h.Query(`mutation { createSource(input: {name: "Cursors", code: "CURSORS"}) { id } }`, nil, &src)
		inv := make([]any, 5)
		for i := range inv {
			// Small quantities and costs: their cursors hold one-byte integers.
			inv[i] = map[string]any{"sku": fmt.Sprintf("CUR-%d", i), "quantity": i * 3, "unitCost": fmt.Sprintf("0.0%d", i)}
		}
		h.Query(`mutation($s: ID!, $items: [InventoryInput!]!) { upsertInventory(sourceID: $s, items: $items) { id } }`,
			map[string]any{"s": src.CreateSource.ID, "items": inv}, nil)
		for i := range 3 {
			h.Query(`mutation($in: ImportOrderInput!) { importOrder(input: $in) { id } }`, map[string]any{"in": hdOrderInput(fmt.Sprintf("CUR-%d", i))}, nil)
		}

		type page struct {
			Edges    []struct{ Cursor string }
			PageInfo struct{ EndCursor string }
		}
		// Each ordering pages on from its first page's cursor.
		var first string
		for _, c := range []struct{ conn, order string }{
			{"inventoryItems", ""}, {"inventoryItems", "QUANTITY"}, {"inventoryItems", "COMMITTED"}, {"inventoryItems", "UNIT_COST"},
			{"inventoryItems", "SKU"}, {"inventoryItems", "CREATED_AT"}, {"orders", "ORDER_NUMBER"}, {"orders", "STATUS"},
			{"orders", "ORDERED_AT"}, {"sources", "NAME"}, {"fulfillmentLogs", ""},
		} {
			order := ""
			if c.order != "" {
				order = ", orderBy: {field: " + c.order + "}"
			}
			q := `query($after: Cursor) { ` + c.conn + `(first: 2, after: $after` + order + `) { edges { cursor } pageInfo { endCursor } } }`
			var p1, p2 map[string]page
			h.Query(q, map[string]any{"after": nil}, &p1)
			end := p1[c.conn].PageInfo.EndCursor
			if end == "" {
				t.Fatalf("%s %s: no cursor", c.conn, c.order)
			}
			h.Query(q, map[string]any{"after": end}, &p2)
			for _, e := range p2[c.conn].Edges {
				for _, e1 := range p1[c.conn].Edges {
					if e.Cursor == e1.Cursor {
						t.Errorf("%s %s: the second page repeats the first's %s", c.conn, c.order, e.Cursor)
					}
				}
			}
			if c.conn == "orders" && c.order == "ORDER_NUMBER" {
				first = end
			}
		}

		raw, err := base64.RawStdEncoding.DecodeString(first)
		testdb.Must(t, err)
		if raw[0] != 0x82 {
			t.Fatalf("cursor %s is not a map of 2 entries: % x", first, raw)
		}
		enc := base64.RawStdEncoding.EncodeToString
		// The same map with one more entry: "k": nil.
		added := enc(append(append([]byte{0x83}, raw[1:]...), 0xa1, 'k', 0xc0))
		// The id (a uint64 after "\x82\xa1i") as an int64 of the same value.
		if raw[3] != 0xcf {
			t.Fatalf("cursor %s: the id is not a uint64: % x", first, raw)
		}
		other := append([]byte{}, raw...)
		other[3] = 0xd3
		reencoded := enc(other)

		forms := map[string]string{
			"cut by 1": first[:len(first)-1], "cut by 2": first[:len(first)-2],
			"followed by AA": first + "AA", "followed by !!": first + "!!", "padded": first + "==",
			"with a field added": added, "encoded otherwise": reencoded,
		}
		var cases []hdCase
		for name, c := range forms {
			cases = append(cases,
				hdCase{name: "after " + name, query: `query($c: Cursor) { orders(first: 2, after: $c, orderBy: {field: ORDER_NUMBER}) { totalCount } }`, vars: map[string]any{"c": c}, field: "after"},
				hdCase{name: "before " + name, query: `query($c: Cursor) { orders(last: 2, before: $c, orderBy: {field: ORDER_NUMBER}) { totalCount } }`, vars: map[string]any{"c": c}, field: "before"},
				hdCase{name: "nested after " + name, query: `query($c: Cursor) { sources(first: 1) { edges { node { inventoryItems(first: 1, after: $c) { totalCount } } } } }`, vars: map[string]any{"c": c}, field: "after"})
		}
		cases = append(cases, hdCase{name: "the cursor itself", query: `query($c: Cursor) { orders(first: 2, after: $c, orderBy: {field: ORDER_NUMBER}) { totalCount } }`, vars: map[string]any{"c": first}})
		hdRefusedBeforeSQL(t, h, cases)
	})
}
