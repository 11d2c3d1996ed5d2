package graph

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/frsvc/fulfillment/ent"
	"github.com/frsvc/fulfillment/internal/apperr"
	"github.com/frsvc/fulfillment/internal/reqid"
	"github.com/frsvc/fulfillment/internal/tenant"
)

// classify turns any error a resolver returned into an *apperr.Error. Errors
// the domain did not type (driver errors, bugs) become INTERNAL, keeping the
// cause for the log only.
func classify(err error) *apperr.Error {
	var ae *apperr.Error
	var gq *gqlerror.Error
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &gq) && gq.Extensions["code"] == "INVALID_PAGINATION":
		// A connection's first and last (ent's validatePaging, see
		// ent/template/paging.tmpl): a refused request.
		return &apperr.Error{Code: apperr.Validation, Message: gq.Message, Err: err}
	case ent.IsNotFound(err):
		return &apperr.Error{Code: apperr.NotFound, Message: "not found", Err: err}
	case ent.IsValidationError(err):
		var ve *ent.ValidationError
		errors.As(err, &ve)
		return &apperr.Error{Code: apperr.Validation, Field: ve.Name, Message: "invalid value", Err: err}
	case ent.IsConstraintError(err):
		return &apperr.Error{Code: apperr.Conflict, Message: "the change conflicts with existing data", Err: err}
	case errors.Is(err, tenant.ErrMissing):
		return &apperr.Error{Code: apperr.Unauthenticated, Message: "a valid API key is required", Err: err}
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return &apperr.Error{Code: apperr.Internal, Message: "the request took too long and was stopped", Err: err}
	case err.Error() == "introspection disabled":
		// gqlgen's own answer to __schema and __type with introspection
		// off (production): a refused request, not a failure of ours.
		return &apperr.Error{Code: apperr.Validation, Message: "introspection is disabled on this server", Err: err}
	}
	return &apperr.Error{Code: apperr.Internal, Message: "internal error", Err: err}
}

// classifyMiddleware types every resolver error at the resolver boundary, so
// that the presenter can tell the domain's errors from the GraphQL layer's
// own (parse, validation, input coercion), which carry no *apperr.Error.
// Authorization is not its business: the schema's directives decide it
// (graph/authz.go), inside this middleware.
//
// It runs around each of the thousands of fields of a page, so it does as
// little as it can: a plain struct field cannot fail and passes straight
// through with no context added.
func classifyMiddleware(ctx context.Context, next graphql.Resolver) (any, error) {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || !fc.IsMethod && !fc.IsResolver {
		return next(ctx)
	}
	res, err := next(context.WithValue(ctx, inResolverKey{}, fc))
	if err != nil {
		return res, classify(err)
	}
	return res, nil
}

// plainFieldOpen reports whether a plain field of the object (neither a
// method nor a resolver) is read by every caller with nothing but
// classifyMiddleware around it: every such field but those the schema
// restricts (@operatorOnly), whose directive must run. plainLeaf relies on
// it to skip the middleware; keep the two in step (TestPlainFieldOpen).
func plainFieldOpen(object, field string) bool {
	return !readRestricted()[object][field]
}

// errorPresenter gives every error one of the contract's codes. Internal
// errors are logged with their cause and the request id and reach the client
// as INTERNAL with no detail.
func errorPresenter(logger *slog.Logger) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		gerr := graphql.DefaultErrorPresenter(ctx, err)
		var ae *apperr.Error
		if !errors.As(err, &ae) && isNotFound(err) {
			// Added with graphql.AddError by a resolver instead of returned
			// (entgql's nodes(ids:), one per id it cannot show), so it
			// skipped classifyMiddleware.
			ae = &apperr.Error{Code: apperr.NotFound, Message: gerr.Message, Err: err}
		}
		if ae == nil && addedByResolver(ctx) {
			// Any other error a resolver added (nodes(ids:) passes on the
			// driver's): typed like a returned one, so never shown raw.
			ae = classify(err)
		}
		if ae == nil {
			// From the GraphQL layer: about the request's shape, safe to show.
			if gerr.Extensions == nil {
				gerr.Extensions = map[string]any{}
			}
			if f := fieldFromPath(gerr.Path); f != "" {
				gerr.Extensions["field"] = f
			}
			gerr.Extensions["code"] = string(apperr.Validation)
			if strings.Contains(gerr.Message, "token limit") {
				gerr.Extensions["code"] = string(apperr.ComplexityLimitExceeded)
			}
			return gerr
		}
		ext := map[string]any{"code": string(ae.Code)}
		msg := ae.Message
		if ae.Code == apperr.Internal {
			cause := ae.Error()
			if ae.Err != nil {
				cause = ae.Err.Error()
			}
			logger.ErrorContext(ctx, "internal error", "request_id", reqid.From(ctx), "path", gerr.Path.String(), "error", cause)
			ext["requestId"] = reqid.From(ctx)
		}
		if ae.Field != "" {
			ext["field"] = ae.Field
		}
		for k, v := range ae.Extra {
			ext[k] = v
		}
		return &gqlerror.Error{Message: msg, Path: gerr.Path, Locations: gerr.Locations, Extensions: ext}
	}
}

// inResolverKey marks the context a resolver runs with, holding its field.
type inResolverKey struct{}

// addedByResolver reports whether an error was added while a resolver ran,
// rather than by the GraphQL layer (coercion of the field's arguments
// happens before, and a child field's has a field context of its own).
func addedByResolver(ctx context.Context) bool {
	fc, _ := ctx.Value(inResolverKey{}).(*graphql.FieldContext)
	return fc != nil && fc == graphql.GetFieldContext(ctx)
}

// isNotFound reports an ent not-found error, or entgql's node-not-found
// error, which carries the code NOT_FOUND itself.
func isNotFound(err error) bool {
	var gq *gqlerror.Error
	return ent.IsNotFound(err) || (errors.As(err, &gq) && gq.Extensions["code"] == string(apperr.NotFound))
}

// fieldFromPath names the input field of a coercion error: the path below
// the root field, such as input.lines[0].unitPrice.
func fieldFromPath(p ast.Path) string {
	var b strings.Builder
	for i, el := range p {
		if i == 0 {
			continue
		}
		switch v := el.(type) {
		case ast.PathName:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(string(v))
		case ast.PathIndex:
			b.WriteString("[" + strconv.Itoa(int(v)) + "]")
		}
	}
	return b.String()
}
