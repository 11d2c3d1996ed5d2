package graph

import (
	"bytes"
	"context"
	"errors"
	"hash/maphash"
	"io"
	"reflect"
	"sync"
	"sync/atomic"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

// The generated executor (graph/generated.go) calls these in place of
// gqlgen's graphql.MarshalSliceConcurrently, graphql.NewDeferredGroup,
// graphql.ResolveField, graphql.NewFieldSet and
// graphql.NewScalarFieldContext: see graph/gqlgen.go for why.

// operationMemo keeps, for one operation, what the executor would otherwise
// compute again at each place the answer repeats a selection: the fields an
// object's selection set collects to (gqlgen caches them per operation too,
// but hashes a new key on every look-up) and a field's coerced arguments,
// which depend only on the field's syntax and the operation's variables.
// Both are read-only once made: gqlgen hands out its cached fields alike,
// and resolvers take arguments as they are (the paginators copy an order
// before they default it). An operation's fields all resolve on one
// goroutine, one after the other (graph/gqlgen.go refuses generated code
// that would start another), so the memo takes no lock.
type operationMemo struct {
	collected map[collectKey][]graphql.CollectedField
	coerced   map[*ast.Field]map[string]any
	objects   []objectFields // allocated a slab at a time
}

// collectKey names a selection set and the type conditions it is collected
// for: both live as long as the operation (the selection set in its
// document, the type names in the generated code), so their addresses
// name them.
type collectKey struct {
	sel       *ast.Selection
	n         int
	satisfies *string
	m         int
}

func (m *operationMemo) collectFields(oc *graphql.OperationContext, sel ast.SelectionSet, satisfies []string) []graphql.CollectedField {
	k := collectKey{n: len(sel), m: len(satisfies)}
	if len(sel) > 0 {
		k.sel = &sel[0]
	}
	if len(satisfies) > 0 {
		k.satisfies = &satisfies[0]
	}
	if fields, ok := m.collected[k]; ok {
		return fields
	}
	fields := graphql.CollectFields(oc, sel, satisfies)
	if m.collected == nil {
		m.collected = make(map[collectKey][]graphql.CollectedField)
	}
	m.collected[k] = fields
	return fields
}

// args returns the field's arguments as coerced where it last occurred.
func (m *operationMemo) args(field graphql.CollectedField) (map[string]any, bool) {
	args, ok := m.coerced[field.Field]
	return args, ok
}

// keepArgs keeps the field's coerced arguments for the rest of the
// operation.
func (m *operationMemo) keepArgs(field graphql.CollectedField, args map[string]any) {
	if m.coerced == nil {
		m.coerced = make(map[*ast.Field]map[string]any)
	}
	m.coerced[field.Field] = args
}

// classifyMiddlewarePC tells classifyMiddleware among field middlewares.
var classifyMiddlewarePC = reflect.ValueOf(graphql.FieldMiddleware(classifyMiddleware)).Pointer()

// plainLeaf reports whether a field may be marshalled straight from its
// struct field, without a FieldContext, the field middleware or panic
// recovery. The generated executor asks it only for a plain struct field
// holding a leaf value whose marshalling cannot fail (graph/gqlgen.go
// picks them): such a field has no resolver to fail or panic, no directive
// and no children, so only the field middleware could observe its context.
// It may be skipped when it is classifyMiddleware (the only one NewHandler
// installs), which passes such a field straight on whoever asks
// (plainFieldOpen); any other field middleware sees every field as gqlgen
// would show it.
func plainLeaf(oc *graphql.OperationContext, object, field string) bool {
	mw := oc.ResolverMiddleware
	return mw != nil && reflect.ValueOf(mw).Pointer() == classifyMiddlewarePC && plainFieldOpen(object, field)
}

// marshalSliceInOrder marshals the elements of a list one after the other on
// the caller's goroutine. It keeps graphql.MarshalSliceConcurrently's
// contract: each element gets a FieldContext with its Index, and a panic in
// one element (unless omitPanicHandler) is reported as an error on that
// element's path and leaves it null. workerLimit does not apply: one element
// runs at a time.
func marshalSliceInOrder(
	ctx context.Context,
	length int,
	_ int64,
	omitPanicHandler bool,
	marshalElement func(ctx context.Context, i int) graphql.Marshaler,
) graphql.Array {
	ret := make(graphql.Array, length)
	// The elements' contexts, each holding the element's field context and
	// index, allocated together.
	elems := make([]elementContext, length)
	parent := graphql.GetFieldContext(ctx)
	for i := range length {
		e := &elems[i]
		e.Context = ctx
		e.index = i
		e.fc.Index = &e.index
		e.fc.Parent = parent
		if omitPanicHandler {
			ret[i] = marshalElement(e, i)
			continue
		}
		ret[i] = marshalRecovering(e, i, marshalElement)
	}
	return ret
}

// elementContext is a list element's context: what
// graphql.WithFieldContext(ctx, &FieldContext{Index: &i}) gives, without
// an allocation per element.
type elementContext struct {
	context.Context
	fc    graphql.FieldContext
	index int
}

func (c *elementContext) Value(key any) any {
	if key == fieldContextKey {
		return &c.fc
	}
	return c.Context.Value(key)
}

func marshalRecovering(ctx context.Context, i int, marshalElement func(ctx context.Context, i int) graphql.Marshaler) (m graphql.Marshaler) {
	defer func() {
		if r := recover(); r != nil {
			graphql.AddError(ctx, graphql.Recover(ctx, r))
			m = graphql.Null
		}
	}()
	return marshalElement(ctx, i)
}

// noDeferredGroup stands in for graphql.NewDeferredGroup, which computes the
// object's response path for @defer on every object marshalled. Every object
// here has DisableConcurrency set (graph/gqlgen.go), and gqlgen defers only
// fields it schedules concurrently: a fragment marked @defer is resolved in
// place, as the incremental delivery proposal allows a server to do, and the
// generated code only reads the group's (empty) Defers.
func noDeferredGroup(ctx context.Context) graphql.DeferredGroup {
	return graphql.DeferredGroup{Context: ctx}
}

// resolveFieldInOrder stands in for graphql.ResolveField, with the same
// signature and behaviour: a FieldContext for the field, panic recovery,
// the field's directive chain, then the operation's field middleware around
// the resolver, errors and nulls reported as gqlgen reports them, and the
// children marshalled under the context the middleware handed the resolver.
// It saves the allocations gqlgen spends on wrapping: a second boxing of the
// result and a closure around marshal, per field of the response.
func resolveFieldInOrder[T any](
	ctx context.Context,
	oc *graphql.OperationContext,
	field graphql.CollectedField,
	initializeFieldContext func(ctx context.Context, field graphql.CollectedField) (*graphql.FieldContext, error),
	fieldResolver func(ctx context.Context) (any, error),
	middlewareChain func(ctx context.Context, next graphql.Resolver) graphql.Resolver,
	marshal func(ctx context.Context, sel ast.SelectionSet, v T) graphql.Marshaler,
	recoverFromPanic bool,
	nonNull bool,
) (ret graphql.Marshaler) {
	fc, err := initializeFieldContext(ctx, field)
	if err != nil {
		return graphql.Null
	}
	// The field's context, as graphql.WithFieldContext makes it, is the
	// call itself: one allocation holds both.
	fc.Parent = graphql.GetFieldContext(ctx)
	call := &fieldCall{Context: ctx, fc: fc, resolve: fieldResolver}
	call.ctx = call
	if recoverFromPanic {
		defer func() {
			if r := recover(); r != nil {
				oc.Error(call.ctx, oc.Recover(call.ctx, r))
				ret = graphql.Null
			}
		}()
	}
	next := graphql.Resolver(resolveCall)
	if middlewareChain != nil {
		next = middlewareChain(call, next)
	}
	resTmp, err := oc.ResolverMiddleware(call, next)
	// The chain is done: a later resolveCall that finds this call (through
	// a context a middleware kept from it) is not this field's.
	call.resolve = nil
	return fieldResult(call.ctx, oc, fc, field, resTmp, err, marshal, nonNull)
}

// fieldResult turns what a field's resolver (through the middleware)
// answered into its value, as gqlgen does: an error reported on the field's
// path, null checked against the field's type, the result marshalled under
// ctx.
func fieldResult[T any](
	ctx context.Context,
	oc *graphql.OperationContext,
	fc *graphql.FieldContext,
	field graphql.CollectedField,
	resTmp any,
	err error,
	marshal func(ctx context.Context, sel ast.SelectionSet, v T) graphql.Marshaler,
	nonNull bool,
) graphql.Marshaler {
	if err != nil {
		oc.Error(ctx, graphql.AddFieldLocationToError(ctx, err))
		if fc.NonNull && !nonNull {
			return graphql.RequiredNull
		}
		return graphql.Null
	}
	if resTmp == nil {
		if nonNull || fc.NonNull {
			graphql.AddInvalidNullError(ctx, "")
		}
		if fc.NonNull && !nonNull {
			return graphql.RequiredNull
		}
		return graphql.Null
	}
	if res, ok := resTmp.(T); ok {
		fc.Result = resTmp
		return marshal(ctx, field.Selections, res)
	}
	if res, ok := resTmp.(graphql.Marshaler); ok {
		fc.Result = res
		return res
	}
	var t T
	oc.Errorf(ctx, `unexpected type %T from middleware/directive chain, should be %T`, resTmp, t)
	return graphql.Null
}

// fieldCall is one field's resolver call, and the field's context: it
// carries the field's FieldContext as graphql.WithFieldContext would, and
// itself, so that resolveCall (a plain function, not a closure per field)
// finds the call from the context the middleware hands it. resolveCall
// keeps that context, under which the field's children are then marshalled.
type fieldCall struct {
	context.Context // the parent's
	fc              *graphql.FieldContext
	ctx             context.Context
	resolve         func(ctx context.Context) (any, error)
}

type fieldCallKey struct{}

func (c *fieldCall) Value(key any) any {
	switch key {
	case fieldContextKey:
		return c.fc
	case fieldCallKey{}:
		return c
	}
	return c.Context.Value(key)
}

// resolveCall is the resolver at the end of every field's middleware chain.
// A middleware must pass on the context it was given or one derived from
// it, as gqlgen's own do. One that passed on another (one with no field's
// call in it, or one kept from an earlier field, whose chain is done) is
// told so here rather than running another field's resolver.
func resolveCall(ctx context.Context) (any, error) {
	c, ok := ctx.Value(fieldCallKey{}).(*fieldCall)
	if !ok || c.resolve == nil {
		return nil, errors.New("field middleware did not pass on the field's context")
	}
	c.ctx = ctx
	return c.resolve(ctx)
}

// fieldContextKey is the context key under which gqlgen keeps a field's
// FieldContext (unexported in package graphql): read once by asking
// graphql.GetFieldContext what it looks up.
var fieldContextKey = func() any {
	p := &keyProbe{Context: context.Background()}
	graphql.GetFieldContext(p)
	if p.key == nil {
		panic("graphql.GetFieldContext looks up no context key")
	}
	return p.key
}()

type keyProbe struct {
	context.Context
	key any
}

func (p *keyProbe) Value(key any) any {
	p.key = key
	return nil
}

// newScalarFieldContext stands in for graphql.NewScalarFieldContext, with
// the same FieldContext, but one Child function per type name instead of a
// closure per field.
func newScalarFieldContext(objectName string, field graphql.CollectedField, isMethod, isResolver bool, typeName string) (*graphql.FieldContext, error) {
	return &graphql.FieldContext{
		Object:     objectName,
		Field:      field,
		IsMethod:   isMethod,
		IsResolver: isResolver,
		Child:      scalarChild(typeName),
	}, nil
}

var scalarChildren sync.Map // type name → child func

func scalarChild(typeName string) func(context.Context, graphql.CollectedField) (*graphql.FieldContext, error) {
	if f, ok := scalarChildren.Load(typeName); ok {
		return f.(func(context.Context, graphql.CollectedField) (*graphql.FieldContext, error))
	}
	f, _ := scalarChildren.LoadOrStore(typeName, func(context.Context, graphql.CollectedField) (*graphql.FieldContext, error) {
		return nil, errors.New("field of type " + typeName + " does not have child fields")
	})
	return f.(func(context.Context, graphql.CollectedField) (*graphql.FieldContext, error))
}

// objectFields stands in for the *graphql.FieldSet an object marshals to
// (operationMemo.objectFields for graphql.NewFieldSet): the object's
// collected fields and their values, written in order, a response name
// already written skipped, as gqlgen does. It takes no allocation of its
// own for an object of up to four fields, where gqlgen's FieldSet takes
// three and a map per object for the skip; an object has a handful of
// fields, so a look back over them costs less. Four inline values hold
// most objects of a page (an edge, a line, a log entry); a larger object
// takes an allocation for its values. Nothing is scheduled to run
// concurrently (graph/gqlgen.go checks), so Dispatch has nothing to wait
// for.
type objectFields struct {
	fields   []graphql.CollectedField
	Values   []graphql.Marshaler
	Invalids uint32
	inline   [4]graphql.Marshaler
}

// objectFields returns an object's field set taken from a slab: the objects
// of an answer all live until it is written, so they may share their
// allocations, which a page would otherwise make by the thousand.
func (m *operationMemo) objectFields(fields []graphql.CollectedField) *objectFields {
	if len(m.objects) == 0 {
		m.objects = make([]objectFields, objectSlab)
	}
	o := &m.objects[0]
	m.objects = m.objects[1:]
	o.init(fields)
	return o
}

const objectSlab = 64

func (o *objectFields) init(fields []graphql.CollectedField) {
	o.fields = fields
	if len(fields) <= len(o.inline) {
		o.Values = o.inline[:len(fields)]
	} else {
		o.Values = make([]graphql.Marshaler, len(fields))
	}
}

// Dispatch runs the fields scheduled to run concurrently: there are none.
func (o *objectFields) Dispatch(context.Context) {}

func (o *objectFields) MarshalGQL(w io.Writer) {
	_, _ = io.WriteString(w, "{")
	first := true
	for i := range o.fields {
		alias := o.fields[i].Alias
		if o.written(i, alias) {
			continue
		}
		if first {
			_, _ = io.WriteString(w, `"`)
			first = false
		} else {
			_, _ = io.WriteString(w, `,"`)
		}
		// A response name is a GraphQL name ([_A-Za-z][_0-9A-Za-z]*):
		// nothing to escape.
		_, _ = io.WriteString(w, alias)
		_, _ = io.WriteString(w, `":`)
		o.Values[i].MarshalGQL(w)
	}
	_, _ = io.WriteString(w, "}")
}

// written reports whether a field before i has the response name alias.
func (o *objectFields) written(i int, alias string) bool {
	for j := range i {
		if o.fields[j].Alias == alias {
			return true
		}
	}
	return false
}

// marshalResponse writes the operation's answer into buf, first grown to
// the size of the answer the same operation last gave (rather than doubled
// from nothing as it is written: a page of some 40 KB would otherwise
// allocate three times that).
func marshalResponse(oc *graphql.OperationContext, data graphql.Marshaler, buf *bytes.Buffer) {
	slot := &responseSizes[maphash.String(responseSizeSeed, oc.RawQuery)%uint64(len(responseSizes))]
	if slot.op.Load() == oc.Operation {
		buf.Grow(int(slot.size.Load()))
	}
	data.MarshalGQL(buf)
	slot.op.Store(oc.Operation)
	slot.size.Store(int64(min(buf.Len(), maxResponseSizeHint)))
}

// responseSizes remembers the last answer's size per operation (its parsed
// definition, which the query cache keeps for the document) in a small
// table where operations that collide take turns. The hint is only ever a
// buffer's starting capacity.
var responseSizes [256]struct {
	op   atomic.Pointer[ast.OperationDefinition]
	size atomic.Int64
}

var responseSizeSeed = maphash.MakeSeed()

const maxResponseSizeHint = 4 << 20
