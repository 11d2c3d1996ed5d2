package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"
)

// documentBounds refuses a document before it is validated when its
// selection sets are larger than the validator can check quickly. The
// validator's rule that overlapping fields can be merged compares every pair
// of fields that share a response name in one selection set, and the
// selection sets below each pair: its work grows as the square of the
// document. `{ viewer { role role … } }` with 9,900 repetitions (under the
// token limit) took about 10 s. Bounding each selection set and the whole
// document keeps the worst document under the bounds to milliseconds
// (BenchmarkValidateWorstDocument).
//
// It runs before parsing and validation (an OperationParameterMutator), so it
// parses the document itself; a document already in the query cache passed
// it when it was added.
type documentBounds struct {
	limits Limits
	cache  graphql.Cache[*ast.QueryDocument]
}

var (
	_ graphql.HandlerExtension          = documentBounds{}
	_ graphql.OperationParameterMutator = documentBounds{}
)

func (documentBounds) ExtensionName() string                   { return "DocumentBounds" }
func (documentBounds) Validate(graphql.ExecutableSchema) error { return nil }

func (e documentBounds) MutateOperationParameters(ctx context.Context, p *graphql.RawParams) *gqlerror.Error {
	if e.cache != nil {
		if _, ok := e.cache.Get(ctx, p.Query); ok {
			return nil
		}
	}
	doc, err := parser.ParseQueryWithTokenLimit(&ast.Source{Input: p.Query}, e.limits.Tokens)
	if err != nil {
		// The executor parses it again and answers the error as usual.
		return nil
	}
	return checkSelections(doc, e.limits)
}

// checkSelections refuses a document with a selection set of more than
// limits.SelectionSet selections (fields, fragment spreads and inline
// fragments, and what its inline fragments hold) or more than
// limits.Selections in all, each fragment spread counting the selections of
// its fragment.
func checkSelections(doc *ast.QueryDocument, limits Limits) *gqlerror.Error {
	c := selectionCounter{
		perSet:    limits.SelectionSet,
		fragments: make(map[string]*ast.FragmentDefinition, len(doc.Fragments)),
		sizes:     make(map[string]int, len(doc.Fragments)),
	}
	for _, f := range doc.Fragments {
		if _, dup := c.fragments[f.Name]; !dup {
			c.fragments[f.Name] = f
		}
	}
	total := 0
	for _, op := range doc.Operations {
		total = saturate(total, c.set(op.SelectionSet))
	}
	// The validator checks the fragments no operation spreads too.
	for _, f := range doc.Fragments {
		if _, counted := c.sizes[f.Name]; !counted {
			total = saturate(total, c.fragment(f.Name))
		}
	}
	if c.err != nil {
		return c.err
	}
	if total > limits.Selections {
		return limitError("the document holds %d selections, counting a fragment's at each spread of it; at most %d are allowed", total, limits.Selections)
	}
	return nil
}

// selectionCounter counts the selections of a document, each fragment once
// (a fragment spread stands for its size, however often it is spread).
type selectionCounter struct {
	perSet    int
	fragments map[string]*ast.FragmentDefinition
	// sizes holds each fragment counted, -1 while it is being counted (a
	// spread of it then counts nothing: the validator refuses the cycle).
	sizes map[string]int
	err   *gqlerror.Error
}

func (c *selectionCounter) set(set ast.SelectionSet) int {
	if c.err != nil {
		return 0
	}
	if n := width(set); n > c.perSet {
		c.err = limitError("a selection set holds %d fields and fragments; at most %d are allowed", n, c.perSet)
		return 0
	}
	n := 0
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			n = saturate(n, saturate(1, c.set(s.SelectionSet)))
		case *ast.InlineFragment:
			n = saturate(n, saturate(1, c.set(s.SelectionSet)))
		case *ast.FragmentSpread:
			n = saturate(n, saturate(1, c.fragment(s.Name)))
		}
	}
	return n
}

// width is the selections of a set as the validator collects them to
// compare: its own and those of the inline fragments in it, which merge
// into it.
func width(set ast.SelectionSet) int {
	n := len(set)
	for _, sel := range set {
		if f, ok := sel.(*ast.InlineFragment); ok {
			n += width(f.SelectionSet)
		}
	}
	return n
}

func (c *selectionCounter) fragment(name string) int {
	if n, ok := c.sizes[name]; ok {
		return max(n, 0)
	}
	f := c.fragments[name]
	if f == nil {
		return 0 // unknown: the validator refuses it
	}
	c.sizes[name] = -1
	n := c.set(f.SelectionSet)
	c.sizes[name] = n
	return n
}
