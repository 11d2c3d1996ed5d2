package graph

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/frsvc/fulfillment/internal/apperr"
	"github.com/frsvc/fulfillment/internal/auth"
)

// Authorization: who may use what is declared in the schema, on the fields
// (schema/authz.graphql defines the directives), and decided here, with
// internal/auth's predicates and wording. Nothing else in the GraphQL layer
// looks at a caller's role; the data layer narrows what a key sees to its
// scope (tenant, and a SOURCE key's source).
//
//   - @allow(roles:) on every root field: the roles that may use it,
//     checked before its resolver runs (allowDirective).
//   - @readableBy(roles:) on an object field: the roles that may read it,
//     checked row by row (readableByDirective) and, for a non-null field,
//     for the whole operation before it runs (fieldAccess).
//   - @filterRelations(roles:) on every field with a where argument: the
//     roles whose where may filter through relations
//     (filterRelationsDirective).
//
// Each directive fails closed: a caller without a principal, a role the
// directive does not list (an unknown one included), a directive where it
// does not belong, all are refused. A directive left without an
// implementation makes gqlgen's generated code refuse every call of the
// fields that carry it (TestAuthzDirectivesImplemented checks that
// authzDirectives implements every one).

// authzDirectives are the implementations of the schema's directives.
func authzDirectives() DirectiveRoot {
	return DirectiveRoot{
		Allow:           allowDirective,
		ReadableBy:      readableByDirective,
		FilterRelations: filterRelationsDirective,
	}
}

// errMisplaced answers a directive found on a field it does not apply to:
// a mistake in the schema, refused rather than ignored.
func errMisplaced(directive string, fc *graphql.FieldContext) error {
	return &apperr.Error{Code: apperr.Internal, Message: "internal error",
		Err: fmt.Errorf("@%s on %s.%s, where it does not apply", directive, fc.Object, fc.Field.Name)}
}

// principal is the caller, or the refusal of a call without one.
func principal(ctx context.Context) (auth.Principal, error) {
	p, ok := auth.FromContext(ctx)
	if !ok {
		return p, auth.ErrUnauthenticated
	}
	return p, nil
}

// allowDirective implements @allow on a root field: a role not listed is
// refused before the resolver runs. The refusal is the field's error, at
// its path (the field's arguments are coerced first: a call whose
// arguments are invalid is answered VALIDATION whatever the role).
func allowDirective(ctx context.Context, _ any, next graphql.Resolver, roles []auth.Role) (any, error) {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil {
		return nil, errors.New("@allow without a field context")
	}
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	switch fc.Object {
	case "Mutation":
		err = auth.AuthorizeMutation(p, fc.Field.Name, roles...)
	case "Query":
		err = auth.AuthorizeQuery(p, fc.Field.Name, roles...)
	default:
		err = errMisplaced("allow", fc)
	}
	if err != nil {
		return nil, err
	}
	return next(ctx)
}

// readableByDirective implements @readableBy on an object field, row by
// row: the field is null with FORBIDDEN in each row for a role not listed.
// A non-null field never gets here for such a role: fieldAccess refuses the
// operation first.
func readableByDirective(ctx context.Context, _ any, next graphql.Resolver, roles []auth.Role) (any, error) {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil {
		return nil, errors.New("@readableBy without a field context")
	}
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	if fc.Object == "Query" || fc.Object == "Mutation" {
		return nil, errMisplaced("readableBy", fc)
	}
	if err := auth.AuthorizeRead(p, fc.Object, fc.Field.Name, roles...); err != nil {
		return nil, err
	}
	return next(ctx)
}

// filterRelationsDirective implements @filterRelations on a field with a
// where argument: a role not listed may filter by the type's own fields
// only (auth.AuthorizeFilter).
func filterRelationsDirective(ctx context.Context, _ any, next graphql.Resolver, roles []auth.Role) (any, error) {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || !graphql.HasOperationContext(ctx) {
		return nil, errors.New("@filterRelations without a field or operation context")
	}
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	if fc.Field.Definition == nil || fc.Field.Definition.Arguments.ForName("where") == nil {
		return nil, errMisplaced("filterRelations", fc)
	}
	if fc.Field.Field != nil && fc.Field.Arguments.ForName("where") != nil {
		where := fc.Field.ArgumentMap(graphql.GetOperationContext(ctx).Variables)["where"]
		if err := auth.AuthorizeFilter(p, where, roles...); err != nil {
			return nil, err
		}
	}
	return next(ctx)
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

// readRestricted holds, per object, the fields that carry @readableBy.
var readRestricted = sync.OnceValue(func() map[string]map[string]bool {
	out := map[string]map[string]bool{}
	for _, def := range parsedSchema.Types {
		for _, f := range def.Fields {
			if f.Directives.ForName("readableBy") != nil {
				if out[def.Name] == nil {
					out[def.Name] = map[string]bool{}
				}
				out[def.Name][f.Name] = true
			}
		}
	}
	return out
})

// fieldAccess refuses, before any resolver runs, an operation that selects
// a non-null field the caller's role may not read (@readableBy): refused
// while resolving, such a field's null would spread up to the nearest
// nullable parent and null every row of the page, with one error per row.
// Instead the answer is one FORBIDDEN per such field, at its path in the
// document (no list indices). A nullable field the role may not read is
// still refused where it is resolved (readableByDirective), leaving the
// rest of the row.
type fieldAccess struct {
	// unrestricted are the roles every @readableBy of the schema lists,
	// whose operations need no walk.
	unrestricted map[auth.Role]bool
}

var (
	_ graphql.HandlerExtension     = fieldAccess{}
	_ graphql.OperationInterceptor = fieldAccess{}
)

// newFieldAccess reads the roles that may read every field from the schema:
// the values of ApiKeyRole that every @readableBy lists.
func newFieldAccess(schema *ast.Schema) fieldAccess {
	fa := fieldAccess{unrestricted: map[auth.Role]bool{}}
	if roles := schema.Types["ApiKeyRole"]; roles != nil {
		for _, v := range roles.EnumValues {
			fa.unrestricted[auth.Role(v.Name)] = true
		}
	}
	for _, def := range schema.Types {
		for _, f := range def.Fields {
			if d := f.Directives.ForName("readableBy"); d != nil {
				listed := map[auth.Role]bool{}
				for _, r := range directiveRoles(d) {
					listed[r] = true
				}
				for r := range fa.unrestricted {
					if !listed[r] {
						delete(fa.unrestricted, r)
					}
				}
			}
		}
	}
	return fa
}

func (fieldAccess) ExtensionName() string                   { return "FieldAccess" }
func (fieldAccess) Validate(graphql.ExecutableSchema) error { return nil }

func (fa fieldAccess) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	p, ok := auth.FromContext(ctx)
	if !ok || fa.unrestricted[p.Role] || !graphql.HasOperationContext(ctx) {
		// Without a principal every root field refuses the call (@allow).
		return next(ctx)
	}
	oc := graphql.GetOperationContext(ctx)
	if oc.Operation == nil {
		return next(ctx)
	}
	w := accessWalker{p: p, doc: oc.Doc, vars: oc.Variables, seen: map[string]bool{}}
	w.selection(oc.Operation.SelectionSet, nil)
	if len(w.errs) == 0 {
		return next(ctx)
	}
	return func(context.Context) *graphql.Response { return &graphql.Response{Errors: w.errs} }
}

type accessWalker struct {
	p    auth.Principal
	doc  *ast.QueryDocument
	vars map[string]any
	seen map[string]bool
	errs gqlerror.List
	// depth counts the fields on the path (fragments add none, as in the
	// operation's depth limit, which bounds it before this runs); expanding
	// are the fragments being walked, so that a fragment within itself is
	// not walked again (the validator refuses cycles; this keeps the walk
	// finite regardless).
	depth     int
	expanding map[string]bool
}

func (w *accessWalker) selection(set ast.SelectionSet, path ast.Path) {
	if w.depth > 64 {
		return
	}
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			if included(s.Directives, w.vars) {
				w.field(s, path)
			}
		case *ast.InlineFragment:
			if included(s.Directives, w.vars) {
				w.selection(s.SelectionSet, path)
			}
		case *ast.FragmentSpread:
			if f := w.doc.Fragments.ForName(s.Name); f != nil && !w.expanding[s.Name] && included(s.Directives, w.vars) {
				if w.expanding == nil {
					w.expanding = map[string]bool{}
				}
				w.expanding[s.Name] = true
				w.selection(f.SelectionSet, path)
				delete(w.expanding, s.Name)
			}
		}
	}
}

func (w *accessWalker) field(f *ast.Field, parent ast.Path) {
	path := append(append(ast.Path{}, parent...), ast.PathName(f.Alias))
	if f.ObjectDefinition != nil && f.Definition != nil && f.Definition.Type.NonNull {
		if d := f.Definition.Directives.ForName("readableBy"); d != nil {
			err := auth.AuthorizeRead(w.p, f.ObjectDefinition.Name, f.Name, directiveRoles(d)...)
			var ae *apperr.Error
			if errors.As(err, &ae) {
				if key := path.String(); !w.seen[key] {
					w.seen[key] = true
					w.errs = append(w.errs, &gqlerror.Error{
						Message:    ae.Message,
						Path:       path,
						Locations:  []gqlerror.Location{{Line: f.Position.Line, Column: f.Position.Column}},
						Extensions: map[string]any{"code": string(ae.Code)},
					})
				}
				return
			}
		}
	}
	w.depth++
	w.selection(f.SelectionSet, path)
	w.depth--
}

// included reports whether @skip and @include let a selection run.
func included(dirs ast.DirectiveList, vars map[string]any) bool {
	for _, d := range dirs {
		switch d.Name {
		case "skip":
			if skip, _ := d.ArgumentMap(vars)["if"].(bool); skip {
				return false
			}
		case "include":
			if include, _ := d.ArgumentMap(vars)["if"].(bool); !include {
				return false
			}
		}
	}
	return true
}
