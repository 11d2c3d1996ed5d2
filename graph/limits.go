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
	// Complexity is the most an operation may cost: objects and
	// connections are charged, scalar fields are not. A field that returns
	// an object costs 1 plus its children, a list of objects (not a
	// connection) 1 plus DefaultListSize times its children when they are
	// objects too; a connection costs 1 plus its
	// page size times the cost of one of its nodes (at least 1 when edges or
	// pageInfo are selected, which read the page), plus its pageInfo;
	// nodes(ids:) costs the number of ids times the cost of one node.
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
	// DefaultListSize is how many elements a list of objects (not a
	// connection: an order's lines, a request's items) is charged as, when
	// its elements select objects of their own.
	DefaultListSize = 10
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
	_ graphql.ResponseInterceptor     = limitsExtension{}
)

// costExtension is the key of the operation's cost, in the operation's
// stats and in the answer's extensions.
const costExtension = "cost"

// Cost is extensions.cost of every answer to an operation that was costed:
// what it requested and the limit. When the walk stopped early (over the
// limit), Requested is what was counted so far, already above the limit.
type Cost struct {
	Requested int `json:"requested"`
	Limit     int `json:"limit"`
}

func (limitsExtension) ExtensionName() string                   { return "Limits" }
func (limitsExtension) Validate(graphql.ExecutableSchema) error { return nil }
func (e limitsExtension) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	w := &walker{doc: oc.Doc, vars: oc.Variables, limits: e.limits, schema: e.schema}
	root := &costNode{}
	cost := w.selection(oc.Operation.SelectionSet, 1, root)
	if w.err == nil || w.over {
		oc.Stats.SetExtension(costExtension, Cost{Requested: cost, Limit: e.limits.Complexity})
	}
	if w.over {
		return limitError("the operation costs %s%d, above the limit of %d; most of it is %s: ask for smaller pages or fewer nested connections",
			map[bool]string{true: "more than ", false: ""}[w.stopped], cost, e.limits.Complexity, root.heaviest())
	}
	if w.err != nil {
		return w.err
	}
	if w.aliases > e.limits.Aliases {
		return limitError("the operation has %d aliases; at most %d are allowed", w.aliases, e.limits.Aliases)
	}
	return nil
}

// InterceptResponse puts the operation's cost in the answer's extensions,
// refusals included (the executor answers those through the same chain).
func (limitsExtension) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	resp := next(ctx)
	if resp == nil || !graphql.HasOperationContext(ctx) {
		return resp
	}
	if c := graphql.GetOperationContext(ctx).Stats.GetExtension(costExtension); c != nil {
		if resp.Extensions == nil {
			resp.Extensions = map[string]any{}
		}
		resp.Extensions[costExtension] = c
	}
	return resp
}

// costNode is a costed field with its costed children: what a refusal
// names. Connections carry their label ("logs(first: 50, the default)").
type costNode struct {
	label    string
	cost     int
	children []*costNode
}

func (n *costNode) add(label string) *costNode {
	c := &costNode{label: label}
	n.children = append(n.children, c)
	return c
}

// heaviest names the connections on the path that costs most, from the
// root down: "orders(first: 50) × logs(first: 50, the default)".
func (n *costNode) heaviest() string {
	var labels []string
	for len(n.children) > 0 {
		next := n.children[0]
		for _, c := range n.children[1:] {
			if c.cost > next.cost {
				next = c
			}
		}
		if next.label != "" {
			labels = append(labels, next.label)
		}
		n = next
	}
	if len(labels) == 0 {
		return "its many fields"
	}
	return strings.Join(labels, " × ")
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
	// over is set when the cost passed the limit (err is then the refusal),
	// stopped when the walk stopped there, before the end.
	over, stopped bool
	// visits counts the fields walked, fragments expanded at each spread:
	// scalars cost nothing, yet walking them is work, and nested spreads
	// can double it at every level. More than the complexity limit is
	// refused as it was when every field cost 1.
	visits int
}

// visit counts a field walked; false when there were too many.
func (w *walker) visit() bool {
	w.visits++
	if w.visits > w.limits.Complexity && w.err == nil {
		w.err = limitError("the operation selects more than %d fields once its fragments are expanded", w.limits.Complexity)
	}
	return w.err == nil
}

// selection returns the cost of a selection set at a depth; parent
// receives a costNode for each field.
func (w *walker) selection(set ast.SelectionSet, depth int, parent *costNode) int {
	if w.err != nil {
		return 0
	}
	if depth > w.limits.Depth {
		w.err = limitError("the operation is nested deeper than %d levels", w.limits.Depth)
		return 0
	}
	cost := 0
	for i, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			if w.included(s.Directives) && w.visit() {
				cost = saturate(cost, w.field(s, depth, parent))
			}
		case *ast.InlineFragment:
			if w.included(s.Directives) {
				cost = saturate(cost, w.selection(s.SelectionSet, depth, parent))
			}
		case *ast.FragmentSpread:
			if f := w.doc.Fragments.ForName(s.Name); f != nil && w.included(s.Directives) {
				cost = saturate(cost, w.selection(f.SelectionSet, depth, parent))
			}
		}
		// Stop at once when over: nested fragment spreads can double the
		// work at every level, and a hostile document must not make the
		// check itself expensive. (MutateOperationContext words the
		// refusal.)
		if cost > w.limits.Complexity && w.err == nil {
			w.over = true
			w.err = limitError("the operation costs more than the limit of %d", w.limits.Complexity)
		}
		if w.err != nil {
			if w.over && i < len(set)-1 {
				w.stopped = true
			}
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

func (w *walker) field(f *ast.Field, depth int, parent *costNode) int {
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
	mult, label := 1, ""
	if isConnection(f) {
		page, defaulted := DefaultPage, false
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
			// pagingCache gave it (at the field's own position).
			a := f.Arguments.ForName(name)
			defaulted = a != nil && a.Value != nil && a.Value.Position == f.Position && f.Position != nil
			label = fmt.Sprintf("%s(%s: %d)", f.Name, name, page)
			if defaulted {
				label = fmt.Sprintf("%s(%s: %d, the default)", f.Name, name, page)
			}
		}
		if label == "" {
			label = fmt.Sprintf("%s(first: %d, the default)", f.Name, page)
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
	if len(f.SelectionSet) == 0 {
		// A leaf (scalar or enum) costs nothing and adds no level.
		return 0
	}
	node := parent.add(label)
	if isConnection(f) {
		node.cost = w.connection(f, depth, mult, node)
		return node.cost
	}
	// Introspection is walked like the rest: __Type.fields → __Field.type →
	// __Type.fields … nests without end, and each level multiplies the answer.
	children := w.selection(f.SelectionSet, depth+1, node)
	switch {
	case f.Name == "nodes":
		// Each id is an object read.
		node.cost = saturate(1, mul(mult, saturate(1, children)))
	case children > 0 && objectList(f):
		// Each element loads the objects it selects.
		node.cost = saturate(1, mul(DefaultListSize, children))
	default:
		node.cost = saturate(1, children)
	}
	return node.cost
}

// connection costs a connection of page items: 1, plus page times the cost
// of one node (at least 1 when edges or pageInfo are selected: either reads
// the page's rows), plus pageInfo (an object). The edges and their node
// are the node's cost, not objects charged again; totalCount is a scalar.
func (w *walker) connection(f *ast.Field, depth, page int, node *costNode) int {
	perItem, rest, reads := 0, 0, false
	// The levels the connection's own selection sets take: its fields at
	// depth+1, those of edges and pageInfo at depth+2 (the node's are
	// checked by selection at depth+3).
	deep := func(d int) bool {
		if d > w.limits.Depth && w.err == nil {
			w.err = limitError("the operation is nested deeper than %d levels", w.limits.Depth)
		}
		return w.err != nil
	}
	if deep(depth + 1) {
		return 0
	}
	for _, sel := range w.flatten(f.SelectionSet) {
		if len(sel.SelectionSet) > 0 && deep(depth+2) {
			return 0
		}
		switch sel.Name {
		case "edges":
			reads = true
			// edges → node: the node costs 1 plus its children.
			for _, e := range w.flatten(sel.SelectionSet) {
				if e.Name == "node" {
					perItem = saturate(perItem, saturate(1, w.selection(e.SelectionSet, depth+3, node)))
				}
			}
		case "pageInfo":
			reads = true
			rest = saturate(rest, 1)
		}
		if w.err != nil {
			return 0
		}
	}
	if reads {
		perItem = max(perItem, 1)
	}
	return saturate(saturate(1, mul(page, perItem)), rest)
}

// flatten lists the fields of a selection set that run, through its
// fragments. Connection and edge types have no interfaces or unions, so a
// fragment's fields are the type's own.
func (w *walker) flatten(set ast.SelectionSet) []*ast.Field {
	var out []*ast.Field
	for _, sel := range set {
		if w.err != nil {
			return nil
		}
		switch s := sel.(type) {
		case *ast.Field:
			if w.included(s.Directives) && w.visit() {
				if s.Alias != "" && s.Alias != s.Name {
					w.aliases++
				}
				out = append(out, s)
			}
		case *ast.InlineFragment:
			if w.included(s.Directives) {
				out = append(out, w.flatten(s.SelectionSet)...)
			}
		case *ast.FragmentSpread:
			if fr := w.doc.Fragments.ForName(s.Name); fr != nil && w.included(s.Directives) {
				out = append(out, w.flatten(fr.SelectionSet)...)
			}
		}
	}
	return out
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

// objectList reports whether f is a list of the schema's own objects (not
// of introspection's, which the schema bounds).
func objectList(f *ast.Field) bool {
	d := f.Definition
	return d != nil && d.Type != nil && d.Type.Elem != nil &&
		f.ObjectDefinition != nil && !strings.HasPrefix(f.ObjectDefinition.Name, "__")
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
