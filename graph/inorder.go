package graph

import (
	"context"
	"io"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

// The generated executor (graph/generated.go) calls these two in place of
// gqlgen's graphql.MarshalSliceConcurrently and graphql.NewDeferredGroup:
// see graph/gqlgen.go for why.

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
	// The elements' field contexts and indexes, allocated together.
	fcs := make([]graphql.FieldContext, length)
	idx := make([]int, length)
	for i := range length {
		idx[i] = i
		fcs[i].Index = &idx[i]
		childCtx := graphql.WithFieldContext(ctx, &fcs[i])
		if omitPanicHandler {
			ret[i] = marshalElement(childCtx, i)
			continue
		}
		ret[i] = marshalRecovering(childCtx, i, marshalElement)
	}
	return ret
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
	call := &fieldCall{ctx: graphql.WithFieldContext(ctx, fc), resolve: fieldResolver}
	if recoverFromPanic {
		defer func() {
			if r := recover(); r != nil {
				oc.Error(call.ctx, oc.Recover(call.ctx, r))
				ret = graphql.Null
			}
		}()
	}
	next := graphql.Resolver(call.next)
	if middlewareChain != nil {
		next = middlewareChain(call.ctx, next)
	}
	resTmp, err := oc.ResolverMiddleware(call.ctx, next)
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

// fieldCall is one field's resolver call: next runs the resolver and keeps
// the context the middleware chain handed it, under which the field's
// children are then marshalled.
type fieldCall struct {
	ctx     context.Context
	resolve func(ctx context.Context) (any, error)
}

func (c *fieldCall) next(ctx context.Context) (any, error) {
	c.ctx = ctx
	return c.resolve(ctx)
}

// objectFields stands in for the *graphql.FieldSet an object marshals to
// (newObjectFields for graphql.NewFieldSet): the object's collected fields
// and their values, written in order, a response name already written
// skipped, as gqlgen does. It is one allocation for an object of up to
// eight fields, where gqlgen's FieldSet takes three and a map per object
// for the skip; an object has a handful of fields, so a look back over them
// costs less. Nothing is scheduled to run concurrently (graph/gqlgen.go
// checks), so Dispatch has nothing to wait for.
type objectFields struct {
	fields   []graphql.CollectedField
	Values   []graphql.Marshaler
	Invalids uint32
	inline   [8]graphql.Marshaler
}

func newObjectFields(fields []graphql.CollectedField) *objectFields {
	o := &objectFields{fields: fields}
	if len(fields) <= len(o.inline) {
		o.Values = o.inline[:len(fields)]
	} else {
		o.Values = make([]graphql.Marshaler, len(fields))
	}
	return o
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
