package graph

import (
	"context"
	"errors"

	"entgo.io/contrib/entgql"
	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/frsvc/fulfillment/ent"
	"github.com/frsvc/fulfillment/internal/apperr"
	"github.com/frsvc/fulfillment/internal/auth"
)

// fieldAccess refuses, before any resolver runs, an operation of a SOURCE
// key that selects a non-null Order, OrderLine or FulfillmentRequest field
// the key may not read: refused while resolving, such a field's null would spread up to
// the nearest nullable parent and null every row of the page, with one
// error per row. Instead the answer is one FORBIDDEN per such field, at its
// path in the document (no list indices). A nullable field the key may not
// read is still refused where it is resolved (classifyMiddleware), leaving
// the rest of the row.
type fieldAccess struct{}

var (
	_ graphql.HandlerExtension     = fieldAccess{}
	_ graphql.OperationInterceptor = fieldAccess{}
)

func (fieldAccess) ExtensionName() string                   { return "FieldAccess" }
func (fieldAccess) Validate(graphql.ExecutableSchema) error { return nil }

func (fieldAccess) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	p, ok := auth.FromContext(ctx)
	if !ok || p.Role != auth.RoleSource || !graphql.HasOperationContext(ctx) {
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
		var err error
		switch f.ObjectDefinition.Name {
		case "Order":
			err = auth.AuthorizeOrderField(w.p, f.Name)
		case "OrderLine":
			err = auth.AuthorizeOrderLineField(w.p, f.Name)
		case "FulfillmentRequest":
			err = auth.AuthorizeFulfillmentRequestField(w.p, f.Name)
		}
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

// hiddenNode reports whether node(id:) and nodes(ids:) answer n as not
// found: an API key other than the caller's own, for a caller that is not
// an ADMIN key (apiKeys refuses such callers the list; node must not give
// it one id at a time).
func hiddenNode(ctx context.Context, n ent.Noder) bool {
	k, ok := n.(*ent.ApiKey)
	if !ok {
		return false
	}
	p, ok := auth.FromContext(ctx)
	return ok && !auth.MayReadAPIKey(p, k.ID)
}

// errNodeHidden is node(id:)'s answer for a node hiddenNode hides: what it
// answers for an id that does not exist.
var errNodeHidden = &apperr.Error{Code: apperr.NotFound, Message: "not found"}

// hideNodes answers, in nodes(ids:), each node hiddenNode hides as not
// found, as entgql answers an id that does not exist.
func hideNodes(ctx context.Context, ids []int, ns []ent.Noder) {
	for i, n := range ns {
		if n != nil && hiddenNode(ctx, n) {
			ns[i] = nil
			graphql.AddError(graphql.WithPathContext(ctx, graphql.NewPathWithIndex(i)), entgql.ErrNodeNotFound(ids[i]))
		}
	}
}
