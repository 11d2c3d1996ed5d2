package graph

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/frsvc/fulfillment/internal/auth"
)

func TestMarshalSliceInOrder(t *testing.T) {
	ctx := graphql.WithResponseContext(context.Background(), graphql.DefaultErrorPresenter,
		func(_ context.Context, p any) error { return fmt.Errorf("panic: %v", p) })
	ctx = graphql.WithFieldContext(ctx, &graphql.FieldContext{Field: graphql.CollectedField{Field: &ast.Field{Alias: "items", Name: "items"}}})
	var order []int
	got := marshalSliceInOrder(ctx, 4, 0, false, func(ctx context.Context, i int) graphql.Marshaler {
		order = append(order, i)
		if fc := graphql.GetFieldContext(ctx); fc.Index == nil || *fc.Index != i {
			t.Errorf("element %d: field context index %v", i, fc.Index)
		}
		if i == 2 {
			panic("boom")
		}
		return graphql.MarshalInt(i * 10)
	})
	var buf bytes.Buffer
	got.MarshalGQL(&buf)
	if buf.String() != "[0,10,null,30]" {
		t.Fatalf("marshalled %s, want [0,10,null,30]", buf.String())
	}
	if fmt.Sprint(order) != "[0 1 2 3]" {
		t.Fatalf("elements ran in order %v", order)
	}
	errs := graphql.GetErrors(ctx)
	if len(errs) != 1 || errs[0].Path.String() != "items[2]" {
		t.Fatalf("errors %v, want one at items[2]", errs)
	}

	// Without the panic handler a panic goes up to the caller (gqlgen's
	// contract for omit_panic_handler).
	defer func() {
		if recover() == nil {
			t.Fatal("omitPanicHandler: the panic was swallowed")
		}
	}()
	marshalSliceInOrder(ctx, 2, 0, true, func(ctx context.Context, i int) graphql.Marshaler { panic("boom") })
}

func TestObjectFields(t *testing.T) {
	field := func(alias string) graphql.CollectedField {
		return graphql.CollectedField{Field: &ast.Field{Alias: alias, Name: alias}}
	}
	var memo operationMemo
	o := memo.objectFields([]graphql.CollectedField{field("id"), field("sku"), field("id"), field("quantity")})
	copy(o.Values, []graphql.Marshaler{graphql.MarshalString("1"), graphql.MarshalString("A-\"1\""), graphql.MarshalString("dup"), graphql.MarshalInt(3)})
	var buf bytes.Buffer
	o.MarshalGQL(&buf)
	if want := `{"id":"1","sku":"A-\"1\"","quantity":3}`; buf.String() != want {
		t.Fatalf("marshalled %s, want %s", buf.String(), want)
	}

	// More fields than fit inline.
	var many []graphql.CollectedField
	for i := range 10 {
		many = append(many, field(fmt.Sprintf("f%d", i)))
	}
	o = memo.objectFields(many)
	for i := range o.Values {
		o.Values[i] = graphql.MarshalInt(i)
	}
	buf.Reset()
	o.MarshalGQL(&buf)
	if want := `{"f0":0,"f1":1,"f2":2,"f3":3,"f4":4,"f5":5,"f6":6,"f7":7,"f8":8,"f9":9}`; buf.String() != want {
		t.Fatalf("marshalled %s, want %s", buf.String(), want)
	}

	buf.Reset()
	memo.objectFields(nil).MarshalGQL(&buf)
	if buf.String() != "{}" {
		t.Fatalf("empty object marshalled %s", buf.String())
	}

	// Objects share slabs but nothing else: past a slab's end, each keeps
	// its own fields and values.
	objects := make([]*objectFields, 2*objectSlab+1)
	for i := range objects {
		objects[i] = memo.objectFields([]graphql.CollectedField{field("n")})
		objects[i].Values[0] = graphql.MarshalInt(i)
	}
	for i, o := range objects {
		buf.Reset()
		o.MarshalGQL(&buf)
		if want := fmt.Sprintf(`{"n":%d}`, i); buf.String() != want {
			t.Fatalf("object %d marshalled %s, want %s", i, buf.String(), want)
		}
	}
}

type testCtxKey struct{}

// TestResolveFieldInOrder: the field's context (the call itself) carries the
// field's FieldContext under gqlgen's key with its parent, passes on the
// parent's values and cancellation, and the children are marshalled under
// the context the middleware handed the resolver; a middleware that drops
// the field's context gets an error, not another field's resolver.
func TestResolveFieldInOrder(t *testing.T) {
	parentCtx, cancel := context.WithCancel(context.WithValue(context.Background(), testCtxKey{}, "parent"))
	defer cancel()
	ctx := graphql.WithResponseContext(parentCtx, graphql.DefaultErrorPresenter, graphql.DefaultRecover)
	parent := &graphql.FieldContext{Object: "Query", Field: graphql.CollectedField{Field: &ast.Field{Alias: "order", Name: "order"}}}
	ctx = graphql.WithFieldContext(ctx, parent)
	field := graphql.CollectedField{Field: &ast.Field{Alias: "sku", Name: "sku"}}
	initFC := func(_ context.Context, f graphql.CollectedField) (*graphql.FieldContext, error) {
		return newScalarFieldContext("OrderLine", f, false, false, "String")
	}

	var middlewareSaw *graphql.FieldContext
	oc := &graphql.OperationContext{ResolverMiddleware: func(ctx context.Context, next graphql.Resolver) (any, error) {
		middlewareSaw = graphql.GetFieldContext(ctx)
		return next(context.WithValue(ctx, testCtxKey{}, "middleware"))
	}}
	var resolverSaw *graphql.FieldContext
	resolve := func(ctx context.Context) (any, error) {
		resolverSaw = graphql.GetFieldContext(ctx)
		if ctx.Value(testCtxKey{}) != "middleware" {
			t.Errorf("resolver context value %v", ctx.Value(testCtxKey{}))
		}
		if ctx.Done() != parentCtx.Done() {
			t.Error("the field's context does not pass on the parent's cancellation")
		}
		return "A-1", nil
	}
	marshal := func(ctx context.Context, _ ast.SelectionSet, v string) graphql.Marshaler {
		if ctx.Value(testCtxKey{}) != "middleware" {
			t.Errorf("children marshalled under %v, want the middleware's context", ctx.Value(testCtxKey{}))
		}
		return graphql.MarshalString(v)
	}
	got := resolveFieldInOrder(ctx, oc, field, initFC, resolve, nil, marshal, true, true)
	var buf bytes.Buffer
	got.MarshalGQL(&buf)
	if buf.String() != `"A-1"` {
		t.Fatalf("marshalled %s", buf.String())
	}
	if middlewareSaw == nil || middlewareSaw != resolverSaw || middlewareSaw.Parent != parent || middlewareSaw.Object != "OrderLine" {
		t.Fatalf("field contexts: middleware %+v, resolver %+v", middlewareSaw, resolverSaw)
	}
	if p := middlewareSaw.Path().String(); p != "order.sku" {
		t.Errorf("path %q, want order.sku", p)
	}
	if _, err := middlewareSaw.Child(ctx, field); err == nil || err.Error() != "field of type String does not have child fields" {
		t.Errorf("scalar Child: %v", err)
	}
	if graphql.GetFieldContext(ctx) != parent {
		t.Error("the parent's context changed")
	}

	// A middleware that hands on a context not derived from the field's.
	oc.ResolverMiddleware = func(ctx context.Context, next graphql.Resolver) (any, error) {
		return next(context.Background())
	}
	got = resolveFieldInOrder(ctx, oc, field, initFC, resolve, nil, marshal, true, false)
	if got != graphql.Null {
		t.Fatalf("dropped context: got %v, want null", got)
	}
	errs := graphql.GetErrors(ctx)
	if len(errs) != 1 || errs[0].Message != "field middleware did not pass on the field's context" || errs[0].Path.String() != "order.sku" {
		t.Fatalf("errors %v", errs)
	}

	// A middleware that hands on a context kept from an earlier field (its
	// chain done): an error, not the earlier field's resolver run again.
	var kept context.Context
	oc.ResolverMiddleware = func(ctx context.Context, next graphql.Resolver) (any, error) {
		if kept == nil {
			kept = ctx
		}
		return next(kept)
	}
	earlierRuns := 0
	earlier := func(ctx context.Context) (any, error) { earlierRuns++; return "EARLIER", nil }
	plain := func(_ context.Context, _ ast.SelectionSet, v string) graphql.Marshaler {
		return graphql.MarshalString(v)
	}
	got = resolveFieldInOrder(ctx, oc, field, initFC, earlier, nil, plain, true, false)
	buf.Reset()
	got.MarshalGQL(&buf)
	if buf.String() != `"EARLIER"` || earlierRuns != 1 {
		t.Fatalf("earlier field: %s after %d runs", buf.String(), earlierRuns)
	}
	later := graphql.CollectedField{Field: &ast.Field{Alias: "title", Name: "title"}}
	got = resolveFieldInOrder(ctx, oc, later, initFC, resolve, nil, plain, true, false)
	if got != graphql.Null || earlierRuns != 1 {
		t.Fatalf("kept context: got %v, earlier resolver ran %d times", got, earlierRuns)
	}
	errs = graphql.GetErrors(ctx)
	if len(errs) != 2 || errs[1].Message != "field middleware did not pass on the field's context" || errs[1].Path.String() != "order.title" {
		t.Fatalf("errors %v", errs)
	}
}

// TestMarshalResponse: the answer's buffer starts at the size the same
// operation's last answer had; another operation's does not.
func TestMarshalResponse(t *testing.T) {
	page := graphql.WriterFunc(func(w io.Writer) {
		chunk := bytes.Repeat([]byte("x"), 100)
		for range 400 {
			_, _ = w.Write(chunk)
		}
	})
	oc := &graphql.OperationContext{RawQuery: "{ page }", Operation: &ast.OperationDefinition{}}
	var first bytes.Buffer
	marshalResponse(oc, page, &first)
	if first.Len() != 40000 {
		t.Fatalf("wrote %d bytes", first.Len())
	}
	var again bytes.Buffer
	marshalResponse(oc, page, &again)
	if again.Len() != 40000 || again.Cap() > 40000*5/4 {
		t.Errorf("second answer: len %d cap %d, want a buffer of about 40000 from the start", again.Len(), again.Cap())
	}
	other := &graphql.OperationContext{RawQuery: "{ page }", Operation: &ast.OperationDefinition{}}
	var cold bytes.Buffer
	marshalResponse(other, graphql.WriterFunc(func(w io.Writer) { _, _ = io.WriteString(w, "{}") }), &cold)
	if cold.Cap() > 1024 {
		t.Errorf("another operation started from cap %d", cold.Cap())
	}
}

// TestPlainLeaf: a plain leaf field skips its field context only under
// classifyMiddleware, installed as NewHandler installs it, and only where
// that middleware would pass it on for every caller.
func TestPlainLeaf(t *testing.T) {
	var installed graphql.OperationContext
	if err := fieldMiddleware(classifyMiddleware).MutateOperationContext(context.Background(), &installed); err != nil {
		t.Fatal(err)
	}
	other := graphql.OperationContext{ResolverMiddleware: func(ctx context.Context, next graphql.Resolver) (any, error) {
		return next(ctx)
	}}
	for _, c := range []struct {
		oc            *graphql.OperationContext
		object, field string
		want          bool
	}{
		{&installed, "FulfillmentLog", "message", true},
		{&installed, "Order", "orderNumber", true},          // a SOURCE key reads it too
		{&installed, "Order", "paymentStatus", false},       // a SOURCE key may not: the middleware must see it
		{&installed, "OrderLine", "unitPrice", false},       // likewise
		{&installed, "OrderLine", "sku", true},              //
		{&other, "FulfillmentLog", "message", false},        // another middleware sees every field
		{&graphql.OperationContext{}, "Order", "id", false}, // no middleware set
	} {
		if got := plainLeaf(c.oc, c.object, c.field); got != c.want {
			t.Errorf("plainLeaf(%s.%s) = %v, want %v", c.object, c.field, got, c.want)
		}
	}
}

// TestPlainFieldOpen keeps plainFieldOpen in step with classifyMiddleware:
// for every field of every object of the schema, read as a plain field by
// each role, where plainFieldOpen says the middleware passes the field
// straight on, it must call the resolver with the context it was given and
// answer what the resolver answered.
func TestPlainFieldOpen(t *testing.T) {
	schema := NewSchema(&Resolver{}).Schema()
	open := 0
	for _, def := range schema.Types {
		if def.Kind != ast.Object || strings.HasPrefix(def.Name, "__") {
			continue
		}
		for _, f := range def.Fields {
			if !plainFieldOpen(def.Name, f.Name) {
				continue
			}
			open++
			for _, role := range []auth.Role{auth.RoleAdmin, auth.RoleReadOnly, auth.RoleSource} {
				ctx := auth.WithPrincipal(context.Background(), auth.Principal{AccountID: 1, KeyID: 1, Role: role, SourceID: new(int)})
				ctx = graphql.WithFieldContext(ctx, &graphql.FieldContext{Object: def.Name, Field: graphql.CollectedField{Field: &ast.Field{Name: f.Name, Alias: f.Name}}})
				called := false
				res, err := classifyMiddleware(ctx, func(got context.Context) (any, error) {
					called = got == ctx
					return "value", nil
				})
				if !called || err != nil || res != "value" {
					t.Errorf("%s.%s read by %s: resolver called with the field's context %v, answered %v, %v", def.Name, f.Name, role, called, res, err)
				}
			}
		}
	}
	if open == 0 {
		t.Fatal("no open field found")
	}
}

// TestOperationMemo: collected fields are gqlgen's, kept per selection set
// and type conditions; arguments are kept per field once valid.
func TestOperationMemo(t *testing.T) {
	doc, gerr := gqlparser.LoadQuery(NewSchema(&Resolver{}).Schema(), `query($skip: Boolean!) {
		orders { totalCount pageInfo @skip(if: $skip) { hasNextPage } }
		node(id: "1") { id ... on Order { orderNumber } } }`)
	if gerr != nil {
		t.Fatal(gerr)
	}
	ops := doc.Operations[0].SelectionSet
	orders := ops[0].(*ast.Field).SelectionSet
	node := ops[1].(*ast.Field).SelectionSet
	for _, skip := range []bool{true, false} {
		oc := &graphql.OperationContext{Doc: doc, Variables: map[string]any{"skip": skip}}
		var m operationMemo
		for _, c := range []struct {
			sel       ast.SelectionSet
			satisfies []string
		}{{orders, orderConnectionImplementors}, {node, orderImplementors}, {node, sourceImplementors}, {orders, orderConnectionImplementors}} {
			want := graphql.CollectFields(oc, c.sel, c.satisfies)
			got := m.collectFields(oc, c.sel, c.satisfies)
			if fmt.Sprint(names(got)) != fmt.Sprint(names(want)) {
				t.Errorf("skip %v, %v: collected %v, want %v", skip, c.satisfies, names(got), names(want))
			}
		}
		if len(m.collected) != 3 {
			t.Errorf("%d selections kept, want 3", len(m.collected))
		}
	}

	var m operationMemo
	f1 := graphql.CollectedField{Field: ops[0].(*ast.Field)}
	f2 := graphql.CollectedField{Field: ops[1].(*ast.Field)}
	if _, ok := m.args(f1); ok {
		t.Fatal("arguments found before any were kept")
	}
	m.keepArgs(f1, map[string]any{"first": 1})
	if a, ok := m.args(f1); !ok || a["first"] != 1 {
		t.Errorf("kept arguments: %v, %v", a, ok)
	}
	if _, ok := m.args(f2); ok {
		t.Error("another field's arguments found")
	}
}

func names(fields []graphql.CollectedField) []string {
	var n []string
	for _, f := range fields {
		n = append(n, f.Alias)
	}
	return n
}
