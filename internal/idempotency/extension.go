package idempotency

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/frsvc/fulfillment/internal/apperr"
)

// Extension is the executor's side of Middleware, a gqlgen handler
// extension: it tells a keyed request's claim that its operation is a
// mutation from the document the executor parsed and validated, so that
// the document is parsed once per request, under the executor's token
// limit. Install it before the extensions that may refuse an operation
// (the cost limits, the field access check), so that their refusals are
// answers remembered under the key like any other.
//
// A mutation is claimed at the first of two points:
//
//   - MutateOperationContext: the document validated and the variables
//     coerced, before anything executes. When the key answers instead (a
//     replay, CONFLICT, …) the operation is refused here and never runs;
//     Middleware writes the key's answer in place of the refusal.
//   - InterceptResponse, for a request error the executor answers after it
//     chose the operation (a variable that cannot be coerced): nothing ran,
//     and the error is the request's answer, remembered or replayed as any
//     other.
//
// A document that does not parse or validate names no operation the
// executor keeps: it claims nothing and is answered as it is.
type Extension struct{}

var (
	_ graphql.HandlerExtension        = Extension{}
	_ graphql.OperationContextMutator = Extension{}
	_ graphql.ResponseInterceptor     = Extension{}
)

func (Extension) ExtensionName() string                   { return "IdempotencyKey" }
func (Extension) Validate(graphql.ExecutableSchema) error { return nil }

// errAnswered refuses an operation whose key answers for it. Middleware
// never sends it: it writes the key's answer instead.
func errAnswered() *gqlerror.Error {
	const msg = "answered by the Idempotency-Key"
	return &gqlerror.Error{Message: msg, Err: &apperr.Error{Code: apperr.Conflict, Message: msg}}
}

func (Extension) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if isMutation(oc) && !Claim(ctx) {
		return errAnswered()
	}
	return nil
}

func (Extension) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	if graphql.HasOperationContext(ctx) && isMutation(graphql.GetOperationContext(ctx)) && !Claim(ctx) {
		return &graphql.Response{Errors: gqlerror.List{errAnswered()}}
	}
	return next(ctx)
}

func isMutation(oc *graphql.OperationContext) bool {
	return oc != nil && oc.Operation != nil && oc.Operation.Operation == ast.Mutation
}
