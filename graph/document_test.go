package graph

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator"
)

// introspectionQuery is graphql-js's getIntrospectionQuery() (v16), what
// GraphiQL sends.
const introspectionQuery = `query IntrospectionQuery {
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

func parse(t testing.TB, q string) *ast.QueryDocument {
	t.Helper()
	doc, err := parser.ParseQuery(&ast.Source{Input: q})
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return doc
}

// selections is the document's total as checkSelections counts it, with
// bounds high enough to refuse nothing.
func selections(t testing.TB, q string) int {
	t.Helper()
	doc := parse(t, q)
	for n := 1; ; n *= 2 {
		if checkSelections(doc, Limits{SelectionSet: 1 << 30, Selections: n}) == nil {
			lo := n / 2
			for lo < n {
				mid := (lo + n) / 2
				if checkSelections(doc, Limits{SelectionSet: 1 << 30, Selections: mid}) == nil {
					n = mid
				} else {
					lo = mid + 1
				}
			}
			return n
		}
	}
}

func roles(n int) string { return strings.Repeat("role ", n) }

// TestCheckSelections counts selections by the rule: a field, an inline
// fragment and a fragment spread count 1 each, plus what they hold; a
// spread holds its fragment's selections, counted once however often it is
// spread; fragments nobody spreads count too.
func TestCheckSelections(t *testing.T) {
	for _, c := range []struct {
		name  string
		query string
		want  int
	}{
		{"leaf", `{ __typename }`, 1},
		{"nested", `{ viewer { role account { name } } }`, 4},
		{"inline fragment", `{ viewer { ... on Viewer { role } } }`, 3},
		{"spread twice", `{ viewer { ...F ...F } } fragment F on Viewer { role account { name } }`, 1 + 2*(1+3)},
		{"fan-out", `{ viewer { ...G ...G } } fragment G on Viewer { ...F ...F ...F } fragment F on Viewer { role }`, 1 + 2*(1+3*(1+1))},
		{"unused fragment", `{ __typename } fragment F on Viewer { role account { name } }`, 1 + 3},
		{"cycle", `{ viewer { ...A } } fragment A on Viewer { role ...B } fragment B on Viewer { ...A }`, 1 + 1 + (1 + 1 + 1)},
		{"unknown fragment", `{ viewer { ...X } }`, 2},
		{"two operations", `query A { __typename } query B { viewer { role } }`, 3},
	} {
		if got := selections(t, c.query); got != c.want {
			t.Errorf("%s: %d selections, want %d", c.name, got, c.want)
		}
	}

	refused := func(q string, l Limits) bool {
		err := checkSelections(parse(t, q), l.withDefaults())
		if err != nil && apperrCode(err) != "COMPLEXITY_LIMIT_EXCEEDED" {
			t.Errorf("refusal %v is not COMPLEXITY_LIMIT_EXCEEDED", err)
		}
		return err != nil
	}
	for _, c := range []struct {
		name    string
		query   string
		refused bool
	}{
		{"500 fields in a set", `{ viewer { ` + roles(500) + `} }`, false},
		{"501 fields in a set", `{ viewer { ` + roles(501) + `} }`, true},
		{"501 in the root set", `{ ` + strings.Repeat("__typename ", 501) + `}`, true},
		{"501 spreads and inline fragments", `{ viewer { ` + strings.Repeat("...F ", 251) + strings.Repeat("... on Viewer { __typename } ", 125) + `} } fragment F on Viewer { role }`, true},
		{"500 spreads and inline fragments", `{ viewer { ` + strings.Repeat("...F ", 250) + strings.Repeat("... on Viewer { __typename } ", 125) + `} } fragment F on Viewer { role }`, false},
		{"501 through inline fragments, merged", `{ viewer { role ... on Viewer { ` + roles(250) + `} ... on Viewer { ... on Viewer { ` + roles(247) + `} } } }`, true},
		{"500 through inline fragments, merged", `{ viewer { role ... on Viewer { ` + roles(250) + `} ... on Viewer { ... on Viewer { ` + roles(246) + `} } } }`, false},
		{"501 in a fragment nobody spreads", `{ __typename } fragment F on Viewer { ` + roles(501) + `}`, true},
		{"9,900 repetitions", `{ viewer { ` + roles(9900) + `} }`, true},
		{"1000 in all", `{ viewer { ` + roles(499) + `} viewer { ` + roles(499) + `} }`, false},
		{"1001 in all", `{ viewer { ` + roles(499) + `} viewer { ` + roles(499) + `} __typename }`, true},
		{"1001 through fan-out", `{ ` + strings.Repeat("viewer { ...F } ", 7) + ` } fragment F on Viewer { ` + roles(141) + `}`, true},
		{"exponential fan-out", blowUp(60), true},
	} {
		if got := refused(c.query, Limits{}); got != c.refused {
			t.Errorf("%s: refused %v, want %v", c.name, got, c.refused)
		}
	}
	// 7 × (1 + 1 + 141) = 1001
	if n := selections(t, `{ `+strings.Repeat("viewer { ...F } ", 7)+` } fragment F on Viewer { `+roles(141)+`}`); n != 1001 {
		t.Errorf("fan-out: %d selections, want 1001", n)
	}
}

// blowUp spreads each fragment twice in the one before: 2^levels
// selections in a few hundred bytes.
func blowUp(levels int) string {
	var b strings.Builder
	b.WriteString("{ viewer { ...F0 } }\n")
	for i := range levels {
		fmt.Fprintf(&b, "fragment F%d on Viewer { ...F%d ...F%d }\n", i, i+1, i+1)
	}
	fmt.Fprintf(&b, "fragment F%d on Viewer { role }\n", levels)
	return b.String()
}

// TestLegitimateDocumentsWithinSelections: GraphiQL's introspection query
// and the Go client's operations stay well inside the bounds.
func TestLegitimateDocumentsWithinSelections(t *testing.T) {
	docs := map[string]string{"introspection": introspectionQuery}
	files, err := filepath.Glob("../client/operations/*.graphql")
	if err != nil || len(files) == 0 {
		t.Fatalf("client operations: %v %v", files, err)
	}
	var all strings.Builder
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		all.Write(b)
		all.WriteByte('\n')
	}
	// genqlient sends each operation with the fragments it uses: each
	// operation is checked here with every fragment of the client, more
	// than any one request of it holds.
	ops := parse(t, all.String())
	if len(ops.Operations) == 0 {
		t.Fatal("no client operations")
	}
	for _, op := range ops.Operations {
		one := &ast.QueryDocument{Operations: ast.OperationList{op}, Fragments: ops.Fragments}
		if err := checkSelections(one, Limits{}.withDefaults()); err != nil {
			t.Errorf("client operation %s with the client's fragments refused: %v", op.Name, err)
		}
	}
	for name, q := range docs {
		n := selections(t, q)
		t.Logf("%s: %d selections", name, n)
		if err := checkSelections(parse(t, q), Limits{}.withDefaults()); err != nil {
			t.Errorf("%s refused: %v", name, err)
		}
	}
}

// worstDocuments are the documents at the selection bounds that cost the
// validator most: many fields of one response name in one set (compared
// pairwise), the same through inline fragments (merged into one set), and
// repeated sets whose pairs compare their sub-selections pairwise.
func worstDocuments() map[string]string {
	inline := func(n, k int) string {
		return `{ viewer { ` + strings.Repeat(`... on Viewer { `+roles(k)+`} `, n) + `} }`
	}
	return map[string]string{
		"one set of 500":                          `{ viewer { ` + roles(500) + `} }`,
		"2 sets of 499 (1000 in all)":             `{ viewer { ` + roles(499) + `} viewer { ` + roles(499) + `} }`,
		"20 sets of 49 (1000)":                    `{ ` + strings.Repeat(`viewer { `+roles(49)+`} `, 20) + `}`,
		"inline fragments, 2 of 249 (500 merged)": inline(2, 249),
		"inline fragments, 250 of 1 (500 merged)": inline(250, 1),
		"3 levels of 9 (9+81+729 = 819)":          `{ ` + strings.Repeat(`viewer { `+strings.Repeat(`source { `+strings.Repeat("name ", 9)+`} `, 9)+`} `, 9) + `}`,
		"one fragment spread 499 times":           `{ viewer { ` + strings.Repeat("...F ", 499) + `} } fragment F on Viewer { role }`,
		"exponential fan-out (refused, counted)":  blowUp(60),
	}
}

// BenchmarkValidateWorstDocument validates the worst documents within the
// selection bounds, after checking that they are within them (but the last,
// refused: its cost is the check's), and times the check itself:
//
//	go test -run '^$' -bench BenchmarkValidateWorstDocument -benchtime 20x ./graph/
func BenchmarkValidateWorstDocument(b *testing.B) {
	schema := NewSchema(&Resolver{}).Schema()
	limits := Limits{}.withDefaults()
	for name, q := range worstDocuments() {
		doc := parse(b, q)
		refused := checkSelections(doc, limits) != nil
		if refused != strings.Contains(name, "refused") {
			b.Fatalf("%s: refused %v", name, refused)
		}
		b.Run(name+"/validate", func(b *testing.B) {
			if refused {
				b.Skip("refused before validation")
			}
			for b.Loop() {
				// The executor validates a freshly parsed document.
				doc := parse(b, q)
				validator.Validate(schema, doc)
			}
		})
		b.Run(name+"/check", func(b *testing.B) {
			for b.Loop() {
				doc, _ := parser.ParseQueryWithTokenLimit(&ast.Source{Input: q}, limits.Tokens)
				checkSelections(doc, limits)
			}
		})
	}
}
