package graph

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
)

// TestCheckArguments: the bounds of inputs.go on the arguments of one
// field, with the path each refusal names. The e2e tests run them through
// HTTP on both databases; these reach what JSON cannot carry (invalid
// UTF-8, which a GET query string can) and Go values other than JSON's.
func TestCheckArguments(t *testing.T) {
	schema := NewSchema(&Resolver{}).Schema()
	for _, c := range []struct {
		name  string
		query string
		vars  map[string]any
		field string // "" when accepted
	}{
		{"plain", `query($w: OrderWhereInput) { orders(where: $w) { totalCount } }`, map[string]any{"w": map[string]any{"orderNumber": "A-1"}}, ""},
		{"invalid UTF-8", `query($w: OrderWhereInput) { orders(where: $w) { totalCount } }`, map[string]any{"w": map[string]any{"holdReason": "\xff"}}, "where.holdReason"},
		{"NUL in a literal", `{ orders(where: {orderNumber: "a\u0000"}) { totalCount } }`, nil, "where.orderNumber"},
		{"a []string list", `query($w: OrderWhereInput) { orders(where: $w) { totalCount } }`, map[string]any{"w": map[string]any{"orderNumberIn": []string{"a", "b\x00"}}}, "where.orderNumberIn[1]"},
		{"a single value for a list", `query($w: OrderWhereInput) { orders(where: $w) { totalCount } }`, map[string]any{"w": map[string]any{"orderNumberIn": strings.Repeat("x", 256)}}, "where.orderNumberIn"},
		{"identifier of 255 bytes", `query($w: OrderWhereInput) { orders(where: $w) { totalCount } }`, map[string]any{"w": map[string]any{"orderNumberHasPrefix": strings.Repeat("x", 255)}}, ""},
		{"identifier of 256 bytes", `query($w: OrderWhereInput) { orders(where: $w) { totalCount } }`, map[string]any{"w": map[string]any{"orderNumberHasPrefix": strings.Repeat("x", 256)}}, "where.orderNumberHasPrefix"},
		{"other string of 4096 bytes", `query($w: OrderWhereInput) { orders(where: $w) { totalCount } }`, map[string]any{"w": map[string]any{"holdReasonContains": strings.Repeat("x", 4096)}}, ""},
		{"other string of 4097 bytes", `query($w: OrderWhereInput) { orders(where: $w) { totalCount } }`, map[string]any{"w": map[string]any{"holdReasonContains": strings.Repeat("x", 4097)}}, "where.holdReasonContains"},
		{"Int in a filter", `query($w: InventoryItemWhereInput) { inventoryItems(where: $w) { totalCount } }`, map[string]any{"w": map[string]any{"quantityIn": []any{json.Number("1"), json.Number("2147483648")}}}, "where.quantityIn[1]"},
		{"predicates under or count", `query($w: OrderWhereInput) { orders(where: $w) { totalCount } }`, map[string]any{"w": map[string]any{"or": manyPredicates(101)}}, "where"},
		{"100 predicates", `query($w: OrderWhereInput) { orders(where: $w) { totalCount } }`, map[string]any{"w": map[string]any{"or": manyPredicates(100)}}, ""},
		{"60 predicates under and", `query($w: OrderWhereInput) { orders(where: $w) { totalCount } }`, map[string]any{"w": map[string]any{"and": manyPredicates(60)}}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			doc, errs := gqlparser.LoadQueryWithRules(schema, c.query, nil)
			if errs != nil {
				t.Fatalf("load: %v", errs)
			}
			f := doc.Operations[0].SelectionSet[0].(*ast.Field)
			args, ae := argumentValues(f, c.vars)
			if ae == nil {
				ae = checkArguments(schema, f, args)
			}
			switch {
			case c.field == "" && ae != nil:
				t.Errorf("refused: %v", ae)
			case c.field != "" && ae == nil:
				t.Errorf("accepted, want refused on %s", c.field)
			case c.field != "" && (ae.Field != c.field || ae.Code != "VALIDATION"):
				t.Errorf("refused %v, want VALIDATION on %s", ae, c.field)
			}
		})
	}
}

func manyPredicates(n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = map[string]any{"orderNumber": "x"}
	}
	return out
}
