package graph

import (
	"context"

	"entgo.io/contrib/entgql"
	"github.com/99designs/gqlgen/graphql"

	"github.com/frsvc/fulfillment/ent"
	"github.com/frsvc/fulfillment/internal/apperr"
	"github.com/frsvc/fulfillment/internal/auth"
)

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
