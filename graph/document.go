package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator"
	"github.com/vektah/gqlparser/v2/validator/rules"

	"github.com/frsvc/fulfillment/internal/gqlhttp"
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
	// schema and rules validate a document as the executor would (see
	// share); nil schema: not at all.
	schema *ast.Schema
	rules  func() *rules.Rules
}

var (
	_ graphql.HandlerExtension          = documentBounds{}
	_ graphql.OperationParameterMutator = documentBounds{}
)

func (documentBounds) ExtensionName() string                   { return "DocumentBounds" }
func (documentBounds) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationParameters bounds a document not in the query cache. Its
// parse is the request's only one: the transport's, when it parsed the
// document already (a GET, to refuse a mutation), is taken over, and a
// document within the bounds that validates goes into the query cache
// (share), where the executor finds it instead of parsing it again.
func (e documentBounds) MutateOperationParameters(ctx context.Context, p *graphql.RawParams) *gqlerror.Error {
	if e.cache != nil {
		if _, ok := e.cache.Get(ctx, p.Query); ok {
			return nil
		}
	}
	doc := gqlhttp.ParsedDocument(ctx, p.Query)
	if doc == nil {
		var err error
		if doc, err = parser.ParseQueryWithTokenLimit(&ast.Source{Input: p.Query}, e.limits.Tokens); err != nil {
			// The executor parses it again and answers the error as usual.
			return nil
		}
	}
	if err := checkSelections(doc, e.limits); err != nil {
		return err
	}
	e.share(ctx, p.Query, doc)
	return nil
}

// share validates doc as the executor would (the same schema and rules,
// validationRules) and, when it is valid, adds it to the query cache as the
// executor would once it had parsed and validated it: the executor then
// takes it from the cache, neither parsed nor validated again. A document
// that does not validate, or holds no operation, is left to the executor,
// which parses and validates it again to answer its errors as it does.
func (e documentBounds) share(ctx context.Context, query string, doc *ast.QueryDocument) {
	if e.cache == nil || e.schema == nil || len(doc.Operations) == 0 {
		return
	}
	if len(validator.ValidateWithRules(e.schema, doc, e.rules())) == 0 {
		e.cache.Add(ctx, query, doc)
	}
}

// validationRules are the rules gqlgen's executor validates a document
// with when no rules are set (handler.Server.SetValidationRulesFn): the
// default rules, the two that suggest names swapped for their variants
// without suggestions when disableSuggestion is set
// (SetDisableSuggestion), as the executor swaps them.
// TestValidationRulesAsExecutor holds the two to the same answers.
func validationRules(disableSuggestion bool) func() *rules.Rules {
	return func() *rules.Rules {
		r := rules.NewDefaultRules()
		fields, leafs := rules.FieldsOnCorrectTypeRule, rules.ScalarLeafsRule
		if disableSuggestion {
			fields, leafs = rules.FieldsOnCorrectTypeRuleWithoutSuggestions, rules.ScalarLeafsRuleWithoutSuggestions
		}
		for _, name := range []string{"FieldsOnCorrectType", "FieldsOnCorrectTypeWithoutSuggestions", "ScalarLeafs", "ScalarLeafsWithoutSuggestions"} {
			r.RemoveRule(name)
		}
		r.AddRule(fields.Name, fields.RuleFunc)
		r.AddRule(leafs.Name, leafs.RuleFunc)
		return r
	}
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
