package graph

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/frsvc/fulfillment/internal/apperr"
	"github.com/frsvc/fulfillment/internal/auth"
)

// TestEveryRootFieldDeclaresItsRoles enumerates the executable schema: every
// field of Query and Mutation but the introspection ones carries @allow with
// roles of ApiKeyRole, as the directive gqlgen runs first; every field with
// a where argument carries @operatorRelationFilters; @allow is on root
// fields only and @operatorOnly on object fields only, run before
// @operatorRelationFilters.
func TestEveryRootFieldDeclaresItsRoles(t *testing.T) {
	schema := NewSchema(&Resolver{}).Schema()
	known := map[string]bool{}
	for _, v := range schema.Types["ApiKeyRole"].EnumValues {
		known[v.Name] = true
	}
	checkRoles := func(where string, d *ast.Directive) {
		roles := directiveRoles(d)
		if len(roles) == 0 {
			t.Errorf("%s: @%s lists no role", where, d.Name)
		}
		for _, r := range roles {
			if !known[string(r)] {
				t.Errorf("%s: @%s lists %q, not an ApiKeyRole", where, d.Name, r)
			}
		}
	}
	// last is the name of the directive gqlgen runs first (the outermost).
	last := func(f *ast.FieldDefinition) string {
		var names []string
		for _, d := range f.Directives {
			if d.Name != "goField" {
				names = append(names, d.Name)
			}
		}
		if len(names) == 0 {
			return ""
		}
		return names[len(names)-1]
	}
	roots := 0
	for _, root := range []*ast.Definition{schema.Query, schema.Mutation} {
		for _, f := range root.Fields {
			if strings.HasPrefix(f.Name, "__") {
				continue
			}
			roots++
			name := root.Name + "." + f.Name
			d := f.Directives.ForName("allow")
			if d == nil {
				t.Errorf("%s carries no @allow: declare the roles that may use it", name)
				continue
			}
			checkRoles(name, d)
			if last(f) != "allow" {
				t.Errorf("%s: @allow is not its last directive, so it would not run first", name)
			}
			if f.Directives.ForName("operatorOnly") != nil {
				t.Errorf("%s: @operatorOnly on a root field (use @allow)", name)
			}
		}
	}
	if err := checkDeclarations(schema); err != nil {
		t.Error(err)
	}
	if roots < 20 {
		t.Fatalf("only %d root fields found", roots)
	}
	wheres, operatorOnly := 0, 0
	for _, def := range schema.Types {
		if def.Kind != ast.Object || strings.HasPrefix(def.Name, "__") {
			continue
		}
		root := def.Name == "Query" || def.Name == "Mutation"
		for _, f := range def.Fields {
			name := def.Name + "." + f.Name
			if !root && f.Directives.ForName("allow") != nil {
				t.Errorf("%s: @allow on an object field (use @operatorOnly)", name)
			}
			if f.Directives.ForName("operatorOnly") != nil {
				operatorOnly++
				if last(f) != "operatorOnly" {
					t.Errorf("%s: @operatorOnly is not its last directive, so it would not run first", name)
				}
			}
			d := f.Directives.ForName("operatorRelationFilters")
			if f.Arguments.ForName("where") == nil {
				if d != nil {
					t.Errorf("%s: @operatorRelationFilters on a field without a where argument", name)
				}
				continue
			}
			wheres++
			if d == nil {
				t.Errorf("%s takes a where argument but carries no @operatorRelationFilters: declare who may filter it through relations", name)
			}
		}
	}
	if wheres == 0 || operatorOnly == 0 {
		t.Fatalf("%d fields with a where argument, %d @operatorOnly fields found", wheres, operatorOnly)
	}
}

// directiveRoles are the roles a directive of the schema lists (its roles
// argument); none for a directive without one.
func directiveRoles(d *ast.Directive) []auth.Role {
	arg := d.Arguments.ForName("roles")
	if arg == nil || arg.Value == nil {
		return nil
	}
	var roles []auth.Role
	for _, c := range arg.Value.Children {
		roles = append(roles, auth.Role(c.Value.Raw))
	}
	return roles
}

// TestUndeclaredFieldRefused: a schema with a root field or a where that
// declares no rule does not pass the handler's check, so the server does
// not start with it.
func TestUndeclaredFieldRefused(t *testing.T) {
	s := gqlparser.MustLoadSchema(&ast.Source{Name: "t.graphql", Input: `
		directive @allow(roles: [String!]!) on FIELD_DEFINITION
		directive @operatorRelationFilters on FIELD_DEFINITION
		input W { a: Int }
		type T { id: ID!, children(where: W): [T!]! }
		type Query { open: T, t(where: W): T @operatorRelationFilters @allow(roles: ["ADMIN"]) }
		type Mutation { m: Int @allow(roles: ["ADMIN"]), n: Int }`})
	err := checkDeclarations(s)
	want := "authorization not declared: Mutation.n has no @allow; Query.open has no @allow; T.children takes a where without @operatorRelationFilters"
	if err == nil || err.Error() != want {
		t.Errorf("check: %v, want %s", err, want)
	}
}

// TestAuthzDirectivesImplemented: NewSchema implements every directive the
// schema declares beyond gqlgen's and entgql's own.
func TestAuthzDirectivesImplemented(t *testing.T) {
	v := reflect.ValueOf(authzDirectives())
	for i := range v.NumField() {
		if v.Field(i).IsNil() {
			t.Errorf("directive %s has no implementation", v.Type().Field(i).Name)
		}
	}
	if v.NumField() != 3 {
		t.Errorf("%d directives implemented, want allow, operatorOnly and operatorRelationFilters: check authzDirectives", v.NumField())
	}
}

// TestMissingDirectiveFailsClosed: a schema built without the directives'
// implementations refuses the fields that carry them, before any resolver
// runs (the resolver here has no services: it would panic).
func TestMissingDirectiveFailsClosed(t *testing.T) {
	srv := handler.New(NewExecutableSchema(Config{Resolvers: &Resolver{}}))
	srv.AddTransport(transport.POST{})
	srv.SetRecoverFunc(func(context.Context, any) error { return errors.New("a resolver ran") })
	req := httptest.NewRequest(http.MethodPost, "/query", strings.NewReader(`{"query": "{ viewer { role } }"}`))
	req.Header.Set("Content-Type", "application/json")
	req = req.WithContext(auth.WithPrincipal(req.Context(), auth.Principal{AccountID: 1, KeyID: 1, Role: auth.RoleAdmin}))
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	var resp struct {
		Data   json.RawMessage
		Errors []struct{ Message string }
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
		t.Fatalf("%v: %s", err, rec.Body)
	}
	if len(resp.Errors) != 1 || resp.Errors[0].Message != "directive allow is not implemented" || string(resp.Data) != "null" {
		t.Errorf("answer %s, want null data and the directive's refusal alone", rec.Body)
	}
}

// TestDirectivesRefuseUnknownRoles: each directive lets a listed role
// through to the resolver and refuses, without calling it, a role not
// listed, an unknown one, a caller without a principal, and a field it
// does not belong on.
func TestDirectivesRefuseUnknownRoles(t *testing.T) {
	schema := NewSchema(&Resolver{}).Schema()
	doc, gerr := gqlparser.LoadQuery(schema, `mutation { importOrder(input: {channel: "c", orderNumber: "1", paymentStatus: PAID,
		shipTo: {line1: "1", city: "c", postalCode: "1", country: "US"}, lines: [{sku: "A", quantity: 1, unitPrice: "1"}]}) { id } }`)
	if gerr != nil {
		t.Fatal(gerr)
	}
	importOrder := doc.Operations[0].SelectionSet[0].(*ast.Field)
	doc, gerr = gqlparser.LoadQuery(schema, `{ orders(where: {hasLinesWith: {sku: "A"}}) { edges { node { status } } } }`)
	if gerr != nil {
		t.Fatal(gerr)
	}
	orders := doc.Operations[0].SelectionSet[0].(*ast.Field)
	status := orders.SelectionSet[0].(*ast.Field).SelectionSet[0].(*ast.Field).SelectionSet[0].(*ast.Field)
	fieldCtx := func(p *auth.Principal, object string, f *ast.Field) context.Context {
		ctx := context.Background()
		if p != nil {
			ctx = auth.WithPrincipal(ctx, *p)
		}
		ctx = graphql.WithOperationContext(ctx, &graphql.OperationContext{Doc: doc, Variables: map[string]any{}})
		return graphql.WithFieldContext(ctx, &graphql.FieldContext{Object: object, Field: graphql.CollectedField{Field: f}})
	}
	type directive func(context.Context, any, graphql.Resolver, []auth.Role) (any, error)
	noRoles := func(d func(context.Context, any, graphql.Resolver) (any, error)) directive {
		return func(ctx context.Context, obj any, next graphql.Resolver, _ []auth.Role) (any, error) {
			return d(ctx, obj, next)
		}
	}
	operatorOnly, relationFilters := noRoles(operatorOnlyDirective), noRoles(operatorRelationFiltersDirective)
	all := []auth.Role{auth.RoleAdmin, auth.RoleReadOnly, auth.RoleSource}
	for _, c := range []struct {
		name      string
		directive directive
		object    string
		field     *ast.Field
		roles     []auth.Role
		role      *auth.Role // nil: no principal
		want      apperr.Code
	}{
		{"allow: listed", allowDirective, "Mutation", importOrder, []auth.Role{auth.RoleAdmin}, new(auth.RoleAdmin), ""},
		{"allow: not listed", allowDirective, "Mutation", importOrder, []auth.Role{auth.RoleAdmin}, new(auth.RoleSource), apperr.Forbidden},
		{"allow: unknown role", allowDirective, "Mutation", importOrder, all, new(auth.Role("ROOT")), apperr.Forbidden},
		{"allow: unknown role, query", allowDirective, "Query", orders, all, new(auth.Role("ROOT")), apperr.Forbidden},
		{"allow: no principal", allowDirective, "Query", orders, all, nil, apperr.Unauthenticated},
		{"allow: on an object field", allowDirective, "Order", status, all, new(auth.RoleAdmin), apperr.Internal},
		{"allow: no role listed", allowDirective, "Query", orders, nil, new(auth.RoleAdmin), apperr.Forbidden},
		{"operatorOnly: ADMIN", operatorOnly, "Order", status, nil, new(auth.RoleAdmin), ""},
		{"operatorOnly: READ_ONLY", operatorOnly, "Order", status, nil, new(auth.RoleReadOnly), ""},
		{"operatorOnly: SOURCE", operatorOnly, "Order", status, nil, new(auth.RoleSource), apperr.Forbidden},
		{"operatorOnly: unknown role", operatorOnly, "Order", status, nil, new(auth.Role("ROOT")), apperr.Forbidden},
		{"operatorOnly: no principal", operatorOnly, "Order", status, nil, nil, apperr.Unauthenticated},
		{"operatorOnly: on a root field", operatorOnly, "Query", orders, nil, new(auth.RoleAdmin), apperr.Internal},
		{"operatorRelationFilters: ADMIN", relationFilters, "Query", orders, nil, new(auth.RoleAdmin), ""},
		{"operatorRelationFilters: READ_ONLY", relationFilters, "Query", orders, nil, new(auth.RoleReadOnly), ""},
		{"operatorRelationFilters: SOURCE", relationFilters, "Query", orders, nil, new(auth.RoleSource), apperr.Forbidden},
		{"operatorRelationFilters: unknown role", relationFilters, "Query", orders, nil, new(auth.Role("ROOT")), apperr.Forbidden},
		{"operatorRelationFilters: no principal", relationFilters, "Query", orders, nil, nil, apperr.Unauthenticated},
		{"operatorRelationFilters: without a where", relationFilters, "Order", status, nil, new(auth.RoleAdmin), apperr.Internal},
	} {
		var p *auth.Principal
		if c.role != nil {
			p = &auth.Principal{AccountID: 1, KeyID: 1, Role: *c.role, SourceID: new(int)}
		}
		called := false
		res, err := c.directive(fieldCtx(p, c.object, c.field), nil, func(context.Context) (any, error) {
			called = true
			return "value", nil
		}, c.roles)
		if c.want == "" {
			if err != nil || !called || res != "value" {
				t.Errorf("%s: %v, %v (resolver called %v), want the resolver's answer", c.name, res, err, called)
			}
			continue
		}
		if called || apperr.CodeOf(err) != c.want {
			t.Errorf("%s: %v (resolver called %v), want %s", c.name, err, called, c.want)
		}
	}
}
