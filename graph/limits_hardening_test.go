package graph

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2"

	"github.com/frsvc/fulfillment/internal/apperr"
)

// TestLimitsWalkCost checks the walker's arithmetic on known documents, by
// the rule: objects and connections are charged, scalars are not. A field
// returning an object costs 1 plus its children; a connection costs 1 plus
// its page (first, last, else 50) times one node's cost (1 plus its
// children, at least 1 when edges or pageInfo are selected) plus 1 for
// pageInfo; nodes(ids:) 1 plus the number of ids times one node's cost.
// Fragments and inline fragments add no cost and no level; a leaf adds no
// level.
func TestLimitsWalkCost(t *testing.T) {
	schema := NewSchema(&Resolver{}).Schema()
	cases := []struct {
		name    string
		query   string
		vars    map[string]any
		cost    int
		aliases int
	}{
		{"leaf", `{ __typename }`, nil, 0, 0},
		{"viewer", `{ viewer { role account { name } } }`, nil, 1 + 1, 0},
		{"connection", `{ orders(first: 3) { totalCount edges { node { id } } } }`, nil, 1 + 3*1, 0},
		{"count alone reads no rows", `{ orders(first: 100) { totalCount } }`, nil, 1, 0},
		{"pageInfo alone reads the page", `{ orders(first: 10) { pageInfo { endCursor } } }`, nil, 1 + 10*1 + 1, 0},
		{"default page", `{ orders { edges { cursor } } }`, nil, 1 + 50*1, 0},
		{"first 0 counts a page of 1", `{ orders(first: 0) { edges { node { id } } } }`, nil, 1 + 1, 0},
		{"last", `{ orders(last: 7) { edges { node { id } } } }`, nil, 1 + 7, 0},
		{"variable page", `query($n: Int) { orders(first: $n) { edges { node { id } } } }`, map[string]any{"n": int64(9)}, 1 + 9, 0},
		{"json.Number variable page", `query($n: Int) { orders(first: $n) { edges { node { id } } } }`, map[string]any{"n": json.Number("9")}, 1 + 9, 0},
		{"nested connections", `{ orders(first: 10) { edges { node { fulfillmentRequests(first: 5) { edges { node { number } } } } } } }`,
			nil, 1 + 10*(1+(1+5*1)), 0},
		{"objects in a node", `{ orders(first: 10) { edges { node { id lines { sku } shipTo { city } } } } }`, nil, 1 + 10*(1+1+1), 0},
		{"nodes", `{ nodes(ids: [1, 2, 3]) { id } }`, nil, 1 + 3*1, 0},
		{"fragment and inline fragment", `{ ...Q } fragment Q on Query { orders(first: 2) { ... on OrderConnection { edges { node { id } } } } }`, nil, 1 + 2*1, 0},
		{"aliases", `{ a: viewer { r: role role } b: orders(first: 1) { totalCount e: edges { node { id } } } }`, nil, 1 + (1 + 1), 4},
		{"introspection", `{ __schema { types { name } } }`, nil, 1 + 1, 0},
		// An operator's page: 50 orders with their lines, 5 requests each
		// with items and 10 log entries.
		{"operator page", `{ orders(first: 50) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id orderNumber status
  lines { id sku quantity unitPrice } shipTo { name city country }
  fulfillmentRequests(first: 5) { totalCount edges { node { id number status items { id quantity }
    logs(first: 10) { edges { node { id message createdAt } } } } } } } } } }`, nil,
			1 + 50*(1+1+1+(1+5*(1+1+(1+10*1)))) + 1, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			doc, err := gqlparser.LoadQuery(schema, c.query)
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			w := &walker{doc: doc, vars: c.vars, limits: Limits{}.withDefaults(), schema: schema}
			cost := w.selection(doc.Operations[0].SelectionSet, 1, &costNode{})
			if w.err != nil {
				t.Fatalf("refused: %v", w.err)
			}
			if cost != c.cost || w.aliases != c.aliases {
				t.Errorf("cost %d, aliases %d; want %d, %d", cost, w.aliases, c.cost, c.aliases)
			}
		})
	}
}

// TestLimitsWalkDepth: Depth is the most fields on one path.
func TestLimitsWalkDepth(t *testing.T) {
	schema := NewSchema(&Resolver{}).Schema()
	for _, c := range []struct {
		query string
		depth int // the query's depth
	}{
		{`{ __typename }`, 1},
		{`{ viewer { role } }`, 2},
		{`{ viewer { account { name } } }`, 3},
		{`{ ...F } fragment F on Query { viewer { ... on Viewer { account { name } } } }`, 3},
		{`{ __schema { types { fields { type { ofType { name } } } } } }`, 6},
	} {
		doc, err := gqlparser.LoadQuery(schema, c.query)
		if err != nil {
			t.Fatalf("%s: %v", c.query, err)
		}
		for _, limit := range []int{c.depth - 1, c.depth, c.depth + 1} {
			if limit < 1 {
				continue
			}
			w := &walker{doc: doc, limits: Limits{Depth: limit}.withDefaults(), schema: schema}
			w.selection(doc.Operations[0].SelectionSet, 1, &costNode{})
			refused := w.err != nil
			if refused != (limit < c.depth) {
				t.Errorf("%s (depth %d) with Depth %d: refused %v (%v)", c.query, c.depth, limit, refused, w.err)
			}
			var ae *apperr.Error
			if refused && (!errors.As(w.err, &ae) || ae.Code != apperr.ComplexityLimitExceeded) {
				t.Errorf("refusal %v is not COMPLEXITY_LIMIT_EXCEEDED", w.err)
			}
		}
	}
}

// TestLimitsPageSize: first and last are read as the resolvers will read
// them (internal/scalar's Int), and anything they would take is
// range-checked.
func TestLimitsPageSize(t *testing.T) {
	for _, c := range []struct {
		v  any
		n  int64
		ok bool
	}{
		{int64(5), 5, true}, {5, 5, true}, {json.Number("101"), 101, true}, {json.Number("-1"), -1, true},
		{float64(3), 3, true}, {1.5, 0, false}, {"x", 0, false}, {json.Number("1e2"), 100, true}, {true, 0, false},
		{"101", 0, false}, {"99999999999999999999", 0, false}, {int64(1) << 31, 0, false},
	} {
		n, ok := pageSize(c.v)
		if ok != c.ok || (ok && n != c.n) {
			t.Errorf("pageSize(%#v) = %d, %v; want %d, %v", c.v, n, ok, c.n, c.ok)
		}
	}
}

// TestLimitsWalkStopsOnFragmentBlowUp: each fragment spreads the next one
// twice, so the document is tiny but its cost doubles at every level. The
// walk must stop as soon as the cost passes the limit: walking every
// expansion of 40 levels would not end in any reasonable time.
func TestLimitsWalkStopsOnFragmentBlowUp(t *testing.T) {
	schema := NewSchema(&Resolver{}).Schema()
	const levels = 40
	var b strings.Builder
	b.WriteString("{ ...F0 }\n")
	for i := 0; i < levels; i++ {
		fmt.Fprintf(&b, "fragment F%d on Query { ...F%d ...F%d }\n", i, i+1, i+1)
	}
	fmt.Fprintf(&b, "fragment F%d on Query { __typename }\n", levels)
	doc, err := gqlparser.LoadQuery(schema, b.String())
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	w := &walker{doc: doc, limits: Limits{}.withDefaults(), schema: schema}
	w.selection(doc.Operations[0].SelectionSet, 1, &costNode{})
	if w.err == nil || apperrCode(w.err) != "COMPLEXITY_LIMIT_EXCEEDED" {
		t.Fatalf("err = %v, want COMPLEXITY_LIMIT_EXCEEDED", w.err)
	}
}

func apperrCode(err error) string {
	var ae *apperr.Error
	if errors.As(err, &ae) {
		return string(ae.Code)
	}
	return ""
}

// TestLimitsListsOfObjects: a list of objects that are not leaves (an
// order's lines with their order, a request's items with their line) is
// charged as DefaultListSize of its elements, since each element loads
// what it selects. Otherwise going back and forth between lines and their
// order multiplied the answer by an order's lines at every turn (100
// orders of 50 lines answered 100 × 50³ objects) for a cost under 1,000.
// Lists of leaves-only elements cost what they did, and so does the
// schema's introspection (bounded by the schema itself).
func TestLimitsListsOfObjects(t *testing.T) {
	schema := NewSchema(&Resolver{}).Schema()
	walk := func(q string) (int, error) {
		t.Helper()
		doc, err := gqlparser.LoadQuery(schema, q)
		if err != nil {
			t.Fatalf("load: %v", err)
		}
		w := &walker{doc: doc, limits: Limits{}.withDefaults(), schema: schema}
		cost := w.selection(doc.Operations[0].SelectionSet, 1, &costNode{})
		if w.err != nil {
			return cost, w.err
		}
		return cost, nil
	}
	hostile := `{ orders(first: 100) { edges { node { lines { order { lines { order { lines { order { lines { sku } } } } } } } } } } }`
	if cost, err := walk(hostile); err == nil || apperrCode(err) != "COMPLEXITY_LIMIT_EXCEEDED" {
		t.Errorf("lines → order → lines × 3 over 100 orders: cost %d accepted, want COMPLEXITY_LIMIT_EXCEEDED", cost)
	}
	n := DefaultListSize
	for _, c := range []struct {
		name  string
		query string
		cost  int
	}{
		{"lines of leaves", `{ orders(first: 10) { edges { node { lines { sku quantity } } } } }`, 1 + 10*(1+1)},
		{"items with their line", `{ fulfillmentRequests(first: 10) { edges { node { items { quantity orderLine { sku } } } } } }`,
			1 + 10*(1+(1+n*1))},
		{"introspection", `{ __schema { types { name fields { name type { name } } } } }`, 1 + (1 + (1 + 1))},
	} {
		cost, err := walk(c.query)
		if err != nil || cost != c.cost {
			t.Errorf("%s: cost %d, err %v; want %d", c.name, cost, err, c.cost)
		}
	}
}
