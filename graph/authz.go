package graph

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
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
//   - @operatorOnly on an object field only operator keys may read: checked
//     row by row (operatorOnlyDirective) and, for a non-null field, for the
//     whole operation before it runs (fieldAccess).
//   - @operatorRelationFilters on every field with a where argument: only
//     operator keys may filter through relations
//     (operatorRelationFiltersDirective).
//
// Each directive fails closed: a caller without a principal, a role not
// allowed (an unknown one included), a directive where it does not belong,
// all are refused. A directive left without an implementation makes
// gqlgen's generated code refuse every call of the fields that carry it
// (TestAuthzDirectivesImplemented checks that authzDirectives implements
// every one), and a field left without its directive stops NewHandler
// (checkDeclarations).

// authzDirectives are the implementations of the schema's directives.
func authzDirectives() DirectiveRoot {
	return DirectiveRoot{
		Allow:                   allowDirective,
		OperatorOnly:            operatorOnlyDirective,
		OperatorRelationFilters: operatorRelationFiltersDirective,
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
	if fc == nil || fc.Field.Field == nil {
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

// operatorOnlyDirective implements @operatorOnly, row by row: the field is
// null with FORBIDDEN in each row for a key that is not an operator's. A
// non-null field never gets here for such a key: fieldAccess refuses the
// operation first.
func operatorOnlyDirective(ctx context.Context, _ any, next graphql.Resolver) (any, error) {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || fc.Field.Field == nil {
		return nil, errors.New("@operatorOnly without a field context")
	}
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	if fc.Object == "Query" || fc.Object == "Mutation" {
		return nil, errMisplaced("operatorOnly", fc)
	}
	if err := auth.AuthorizeOperatorField(p, fc.Object, fc.Field.Name); err != nil {
		return nil, err
	}
	return next(ctx)
}

// operatorRelationFiltersDirective implements @operatorRelationFilters on a
// field with a where argument: a key that is not an operator's may filter
// by the type's own fields only (auth.AuthorizeFilter).
func operatorRelationFiltersDirective(ctx context.Context, _ any, next graphql.Resolver) (any, error) {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || fc.Field.Field == nil || !graphql.HasOperationContext(ctx) {
		return nil, errors.New("@operatorRelationFilters without a field or operation context")
	}
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	if fc.Field.Definition == nil || fc.Field.Definition.Arguments.ForName("where") == nil {
		return nil, errMisplaced("operatorRelationFilters", fc)
	}
	// The where argument is read only for a key that may not filter
	// through relations: a page holds one such field per row.
	if !auth.IsOperator(p) && fc.Field.Arguments.ForName("where") != nil {
		where := fc.Field.ArgumentMap(graphql.GetOperationContext(ctx).Variables)["where"]
		if err := auth.AuthorizeFilter(p, where); err != nil {
			return nil, err
		}
	}
	return next(ctx)
}

// readRestricted holds, per object, the fields that carry @operatorOnly.
var readRestricted = sync.OnceValue(func() map[string]map[string]bool {
	out := map[string]map[string]bool{}
	for _, def := range parsedSchema.Types {
		for _, f := range def.Fields {
			if f.Directives.ForName("operatorOnly") != nil {
				if out[def.Name] == nil {
					out[def.Name] = map[string]bool{}
				}
				out[def.Name][f.Name] = true
			}
		}
	}
	return out
})

// fieldAccess refuses, before any resolver runs, an operation of a key
// that is not an operator's which selects a non-null field only operator
// keys may read (@operatorOnly): refused while resolving, such a field's
// null would spread up to the nearest nullable parent and null every row
// of the page, with one error per row. Instead the answer is one FORBIDDEN
// per such field, at its path in the document (no list indices). A
// nullable such field is still refused where it is resolved
// (operatorOnlyDirective), leaving the rest of the row.
type fieldAccess struct{}

var (
	_ graphql.HandlerExtension     = fieldAccess{}
	_ graphql.OperationInterceptor = fieldAccess{}
)

func (fieldAccess) ExtensionName() string { return "FieldAccess" }

// Validate refuses, when the handler is built, a schema with a root field
// that declares no roles or a where without its rule: such a field would be
// open to every key. NewHandler panics on it; the server never starts.
func (fieldAccess) Validate(es graphql.ExecutableSchema) error { return checkDeclarations(es.Schema()) }

// checkDeclarations reports the fields of s that lack their authorization
// directive: a field of Query or Mutation (but the introspection fields)
// without @allow, a field with a where argument without
// @operatorRelationFilters.
func checkDeclarations(s *ast.Schema) error {
	var missing []string
	for _, def := range s.Types {
		if def.Kind != ast.Object || strings.HasPrefix(def.Name, "__") {
			continue
		}
		root := s.Query == def || s.Mutation == def
		for _, f := range def.Fields {
			if root && !strings.HasPrefix(f.Name, "__") && f.Directives.ForName("allow") == nil {
				missing = append(missing, def.Name+"."+f.Name+" has no @allow")
			}
			if f.Arguments.ForName("where") != nil && f.Directives.ForName("operatorRelationFilters") == nil {
				missing = append(missing, def.Name+"."+f.Name+" takes a where without @operatorRelationFilters")
			}
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return fmt.Errorf("authorization not declared: %s", strings.Join(missing, "; "))
	}
	return nil
}

func (fieldAccess) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	p, ok := auth.FromContext(ctx)
	if !ok || auth.IsOperator(p) || !graphql.HasOperationContext(ctx) {
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
		if f.Definition.Directives.ForName("operatorOnly") != nil {
			err := auth.AuthorizeOperatorField(w.p, f.ObjectDefinition.Name, f.Name)
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
