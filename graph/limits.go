package graph

import (
	"context"
	"fmt"
	"math"
	"strings"

	"entgo.io/contrib/entgql"
	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/frsvc/fulfillment/internal/apperr"
	"github.com/frsvc/fulfillment/internal/scalar"
)

// Limits bound what one operation may cost. Zero fields take the defaults.
type Limits struct {
	// Complexity is the most an operation may cost: every field costs 1
	// plus its children, and a connection costs its page size times its
	// children.
	Complexity int
	// Depth is the deepest selection nesting allowed.
	Depth int
	// Aliases is the most aliased fields an operation may have.
	Aliases int
	// Tokens is the parser's token limit (CVE-2023-49559).
	Tokens int
	// SelectionSet is the most selections (fields, fragment spreads and
	// inline fragments) one selection set may hold, and Selections the most
	// a document may hold in all, a fragment's counted at each spread of
	// it; both are checked before validation (see documentBounds).
	SelectionSet int
	Selections   int
}

// The defaults.
const (
	DefaultComplexity = 10000
	DefaultDepth      = 15
	DefaultAliases    = 30
	DefaultTokens     = 10000
	// DefaultSelectionSet and DefaultSelections leave GraphiQL's
	// introspection query (about 300 selections) and any page of this API
	// well inside, and keep the validation of the worst document within
	// them to milliseconds (BenchmarkValidateWorstDocument).
	DefaultSelectionSet = 500
	DefaultSelections   = 1000
	// DefaultPage is the page a connection gets without first or last.
	DefaultPage = 50
	// MaxPage is the largest first or last allowed.
	MaxPage = 100
)

func (l Limits) withDefaults() Limits {
	if l.Complexity <= 0 {
		l.Complexity = DefaultComplexity
	}
	if l.Depth <= 0 {
		l.Depth = DefaultDepth
	}
	if l.Aliases <= 0 {
		l.Aliases = DefaultAliases
	}
	if l.Tokens <= 0 {
		l.Tokens = DefaultTokens
	}
	if l.SelectionSet <= 0 {
		l.SelectionSet = DefaultSelectionSet
	}
	if l.Selections <= 0 {
		l.Selections = DefaultSelections
	}
	return l
}

// limitsExtension checks every operation against the limits, and the
// arguments of its fields against the bounds of inputs.go, before any
// resolver runs.
type limitsExtension struct {
	limits Limits
	schema *ast.Schema
}

var (
	_ graphql.HandlerExtension        = limitsExtension{}
	_ graphql.OperationContextMutator = limitsExtension{}
)

func (limitsExtension) ExtensionName() string                   { return "Limits" }
func (limitsExtension) Validate(graphql.ExecutableSchema) error { return nil }
func (e limitsExtension) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	w := &walker{doc: oc.Doc, vars: oc.Variables, limits: e.limits, schema: e.schema}
	cost := w.selection(oc.Operation.SelectionSet, 1)
	if w.err != nil {
		return w.err
	}
	if w.aliases > e.limits.Aliases {
		return limitError("the operation has %d aliases; at most %d are allowed", w.aliases, e.limits.Aliases)
	}
	if cost > e.limits.Complexity {
		return limitError("the operation has complexity %d, above the limit of %d: ask for smaller pages or fewer fields", cost, e.limits.Complexity)
	}
	return nil
}

func limitError(format string, args ...any) *gqlerror.Error {
	ae := &apperr.Error{Code: apperr.ComplexityLimitExceeded, Message: fmt.Sprintf(format, args...)}
	return &gqlerror.Error{Message: ae.Message, Err: ae}
}

type walker struct {
	doc     *ast.QueryDocument
	vars    map[string]any
	limits  Limits
	schema  *ast.Schema
	aliases int
	err     *gqlerror.Error
}

// selection returns the cost of a selection set at a depth.
func (w *walker) selection(set ast.SelectionSet, depth int) int {
	if w.err != nil {
		return 0
	}
	if depth > w.limits.Depth {
		w.err = limitError("the operation is nested deeper than %d levels", w.limits.Depth)
		return 0
	}
	cost := 0
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			if w.included(s.Directives) {
				cost = saturate(cost, w.field(s, depth))
			}
		case *ast.InlineFragment:
			if w.included(s.Directives) {
				cost = saturate(cost, w.selection(s.SelectionSet, depth))
			}
		case *ast.FragmentSpread:
			if f := w.doc.Fragments.ForName(s.Name); f != nil && w.included(s.Directives) {
				cost = saturate(cost, w.selection(f.SelectionSet, depth))
			}
		}
		// Stop at once when over: nested fragment spreads can double the
		// work at every level, and a hostile document must not make the
		// check itself expensive.
		if cost > w.limits.Complexity && w.err == nil {
			w.err = limitError("the operation's complexity is above the limit of %d: ask for smaller pages or fewer fields", w.limits.Complexity)
		}
		if w.err != nil {
			return cost
		}
	}
	return cost
}

// included reports whether @skip and @include let a selection run, as the
// executor will decide: what does not run neither costs nor has its
// arguments checked.
func (w *walker) included(dirs ast.DirectiveList) bool {
	for _, d := range dirs {
		switch d.Name {
		case "skip":
			if skip, _ := d.ArgumentMap(w.vars)["if"].(bool); skip {
				return false
			}
		case "include":
			if include, _ := d.ArgumentMap(w.vars)["if"].(bool); !include {
				return false
			}
		}
	}
	return true
}

func (w *walker) field(f *ast.Field, depth int) int {
	if f.Alias != "" && f.Alias != f.Name {
		w.aliases++
	}
	// The field's own arguments first, then what it selects.
	var args map[string]any
	if len(f.Arguments) > 0 || isConnection(f) || f.Name == "nodes" {
		var ae *apperr.Error
		if args, ae = argumentValues(f, w.vars); ae == nil && len(f.Arguments) > 0 {
			// Defaults are the schema's own: only given arguments are checked.
			ae = checkArguments(w.schema, f, args)
		}
		if ae != nil {
			w.err = &gqlerror.Error{Message: ae.Message, Err: ae, Path: ast.Path{ast.PathName(f.Alias)}}
			return 0
		}
	}
	mult := 1
	if isConnection(f) {
		page := DefaultPage
		if args["first"] == nil && args["last"] == nil && (f.Arguments.ForName("first") != nil || f.Arguments.ForName("last") != nil) {
			// Present but null through a variable: the cache could not page it.
			ae := &apperr.Error{Code: apperr.Validation, Field: "first", Message: "first or last must not be null"}
			w.err = &gqlerror.Error{Message: ae.Message, Err: ae}
			return 0
		}
		for _, name := range []string{"first", "last"} {
			if args[name] == nil {
				continue
			}
			v, ok := pageSize(args[name])
			if !ok || v < 0 || v > MaxPage {
				ae := &apperr.Error{Code: apperr.Validation, Field: name, Message: fmt.Sprintf("%s must be between 0 and %d", name, MaxPage)}
				w.err = &gqlerror.Error{Message: ae.Message, Err: ae, Path: ast.Path{ast.PathName(f.Alias)}}
				return 0
			}
			page = int(v)
		}
		// A cursor must be one the server gave. The resolvers' own
		// coercion would refuse a malformed one only after the root
		// resolver had loaded the nested connections, which assumes it
		// well-formed.
		for _, name := range []string{"after", "before"} {
			if args[name] == nil {
				continue
			}
			if !serverCursor(args[name]) {
				ae := &apperr.Error{Code: apperr.Validation, Field: name, Message: name + " is not a cursor this server gave"}
				w.err = &gqlerror.Error{Message: ae.Message, Err: ae, Path: ast.Path{ast.PathName(f.Alias)}}
				return 0
			}
		}
		mult = max(page, 1)
	} else if f.Name == "nodes" {
		if ids, ok := args["ids"].([]any); ok {
			mult = max(len(ids), 1)
		}
	}
	// Introspection is walked like the rest: __Type.fields → __Field.type →
	// __Type.fields … nests without end, and each level multiplies the answer.
	children := 0
	if len(f.SelectionSet) > 0 {
		// A leaf has no selection set and adds no level.
		children = w.selection(f.SelectionSet, depth+1)
	}
	return saturate(1, mul(mult, children))
}

// pageSize reads first or last as the resolvers will (internal/scalar's
// Int: a 32-bit integer, never a string).
func pageSize(v any) (int64, bool) {
	n, err := scalar.UnmarshalInt(v)
	return int64(n), err == nil
}

// serverCursor reports whether v is a cursor this server gave: one that
// decodes and encodes back to exactly itself. Decoding alone takes a cursor
// followed by anything (it reads what it needs and stops), with fields of
// its own added, or encoded otherwise than the server encodes.
func serverCursor(v any) bool {
	s, ok := v.(string)
	if !ok {
		return false
	}
	var c entgql.Cursor[int]
	if c.UnmarshalGQL(s) != nil {
		return false
	}
	c.Value = cursorValue(c.Value)
	var b strings.Builder
	b.Grow(len(s) + 2)
	c.MarshalGQL(&b)
	enc := b.String()
	return len(enc) == len(s)+2 && enc[1:len(enc)-1] == s
}

// cursorValue undoes what decoding into an interface does to an integer:
// the server encodes an int (an Int column) in the fewest bytes, which
// decode as the smallest Go type that holds them (int8, uint16, …), which
// would encode back in a fixed width. An int64 (a money column) is encoded
// in 8 bytes and decodes as an int64, which encodes back as it was.
func cursorValue(v any) any {
	switch n := v.(type) {
	case int8:
		return int(n)
	case int16:
		return int(n)
	case int32:
		return int(n)
	case uint8:
		return int(n)
	case uint16:
		return int(n)
	case uint32:
		return int(n)
	case uint64:
		if n <= math.MaxInt64 {
			return int(n)
		}
	}
	return v
}

func isConnection(f *ast.Field) bool {
	d := f.Definition
	return d != nil && d.Arguments.ForName("first") != nil && d.Arguments.ForName("last") != nil
}

// saturate adds without overflowing, so that a hostile query cannot wrap
// its cost around to a small number.
func saturate(a, b int) int {
	if s := a + b; s >= a {
		return s
	}
	return int(^uint(0) >> 1)
}

func mul(a, b int) int {
	if a == 0 || b == 0 {
		return 0
	}
	if p := a * b; p/a == b {
		return p
	}
	return int(^uint(0) >> 1)
}

// pagingCache is the parsed-query cache. A document enters it once, right
// after parsing and validation and before anyone else can see it; that is
// when connections asked for without first or last get first: DefaultPage,
// so that the resolvers and entgql's eager loading agree on the page and
// nothing ever loads a whole table.
type pagingCache struct {
	*lru.LRU[*ast.QueryDocument]
}

func newPagingCache(size int) pagingCache {
	return pagingCache{lru.New[*ast.QueryDocument](size)}
}

// Add pages the document's connections, then caches it.
func (c pagingCache) Add(ctx context.Context, key string, doc *ast.QueryDocument) {
	for _, op := range doc.Operations {
		addDefaultPage(op.SelectionSet)
	}
	for _, f := range doc.Fragments {
		addDefaultPage(f.SelectionSet)
	}
	c.LRU.Add(ctx, key, doc)
}

func addDefaultPage(set ast.SelectionSet) {
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			if isConnection(s) && s.Arguments.ForName("first") == nil && s.Arguments.ForName("last") == nil {
				s.Arguments = append(s.Arguments, &ast.Argument{
					Name:  "first",
					Value: &ast.Value{Kind: ast.IntValue, Raw: fmt.Sprint(DefaultPage), Position: s.Position},
				})
			}
			addDefaultPage(s.SelectionSet)
		case *ast.InlineFragment:
			addDefaultPage(s.SelectionSet)
		}
	}
}
