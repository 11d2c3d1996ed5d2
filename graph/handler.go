package graph

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/frsvc/fulfillment/internal/apperr"
	"github.com/frsvc/fulfillment/internal/auth"
	"github.com/frsvc/fulfillment/internal/gqlhttp"
)

// Options tune the GraphQL handler.
type Options struct {
	Logger *slog.Logger
	// Introspection enables schema introspection (off in production unless asked for).
	Introspection bool
	// Production turns off field suggestions in validation errors, which
	// would otherwise describe the schema to a caller who cannot introspect.
	Production bool
	// Limits bound an operation's cost.
	Limits Limits
	// ObserveOperation, when set, hears of every operation: its label
	// (type and first root field, bounded by the schema), outcome and time.
	ObserveOperation func(operation string, ok bool, d time.Duration)
}

// NewSchema returns the executable schema over r.
func NewSchema(r *Resolver) graphql.ExecutableSchema {
	return NewExecutableSchema(Config{Resolvers: r})
}

// NewHandler returns the GraphQL HTTP handler: explicit transports, a query
// cache, the error presenter, panic recovery and the role check of mutations.
func NewHandler(r *Resolver, o Options) *handler.Server {
	logger := o.Logger
	if logger == nil {
		logger = slog.Default()
	}
	srv := handler.New(NewSchema(r))
	limits := o.Limits.withDefaults()
	// GraphQL over HTTP as its specification asks (see package gqlhttp):
	// GET for queries, POST with JSON, Accept negotiation between
	// application/graphql-response+json and application/json and the status
	// codes of each, in place of gqlgen's GET and POST transports.
	srv.AddTransport(transport.Options{})
	srv.AddTransport(gqlhttp.Transport{TokenLimit: limits.Tokens})
	srv.SetQueryCache(newPagingCache(1000))
	srv.SetParserTokenLimit(limits.Tokens)
	srv.SetDisableSuggestion(o.Production)
	if o.Introspection {
		srv.Use(extension.Introspection{})
	}
	srv.Use(limitsExtension{limits: limits})
	srv.SetErrorPresenter(errorPresenter(logger))
	srv.SetRecoverFunc(func(ctx context.Context, p any) error {
		logger.ErrorContext(ctx, "panic in resolver", "panic", fmt.Sprint(p))
		return &apperr.Error{Code: apperr.Internal, Message: "internal error", Err: fmt.Errorf("panic: %v", p)}
	})
	if o.ObserveOperation != nil {
		srv.AroundOperations(observeOperation(o.ObserveOperation))
	}
	srv.AroundRootFields(authorizeRootField)
	srv.AroundFields(classifyMiddleware)
	srv.AroundFields(partnerFields)
	return srv
}

// authorizeRootField refuses root fields the caller's role may not use,
// before their resolver runs.
func authorizeRootField(ctx context.Context, next graphql.RootResolver) graphql.Marshaler {
	// RootFieldContext.Object holds the field's name, not its parent type:
	// tell a mutation by its operation.
	fc := graphql.GetRootFieldContext(ctx)
	if fc == nil || !graphql.HasOperationContext(ctx) {
		return next(ctx)
	}
	op := graphql.GetOperationContext(ctx).Operation
	if op == nil {
		return next(ctx)
	}
	p, ok := auth.FromContext(ctx)
	if !ok {
		graphql.AddError(ctx, auth.ErrUnauthenticated)
		return graphql.Null
	}
	var err error
	switch op.Operation {
	case ast.Mutation:
		err = auth.AuthorizeMutation(p, fc.Field.Name)
	case ast.Query:
		err = auth.AuthorizeQuery(p, fc.Field.Name)
	}
	if err != nil {
		graphql.AddError(ctx, err)
		return graphql.Null
	}
	return next(ctx)
}

// partnerFields guards the fields a SOURCE key reaches through its own
// requests: of an order it sees what it needs to ship, not the merchant's
// prices, other requests or logs; and its filters may not reach through
// relations past its scope.
func partnerFields(ctx context.Context, next graphql.Resolver) (any, error) {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil {
		return next(ctx)
	}
	p, ok := auth.FromContext(ctx)
	if !ok || p.Role != auth.RoleSource {
		return next(ctx)
	}
	var err error
	switch fc.Object {
	case "Order":
		err = auth.AuthorizeOrderField(p, fc.Field.Name)
	case "OrderLine":
		err = auth.AuthorizeOrderLineField(p, fc.Field.Name)
	}
	if err == nil && fc.Field.Field != nil && fc.Field.Arguments.ForName("where") != nil && graphql.HasOperationContext(ctx) {
		args := fc.Field.ArgumentMap(graphql.GetOperationContext(ctx).Variables)
		err = auth.AuthorizeFilter(p, args["where"])
	}
	if err != nil {
		return nil, err
	}
	return next(ctx)
}

// observeOperation times each operation from the start of execution to its
// last response.
func observeOperation(observe func(string, bool, time.Duration)) graphql.OperationMiddleware {
	return func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		start := time.Now()
		label := operationLabel(graphql.GetOperationContext(ctx))
		h := next(ctx)
		return func(ctx context.Context) *graphql.Response {
			resp := h(ctx)
			if resp != nil {
				observe(label, len(resp.Errors) == 0, time.Since(start))
			}
			return resp
		}
	}
}

// operationLabel names an operation by its type and first root field, such
// as "mutation.importOrder": a caller-chosen operation name would make the
// label set unbounded.
func operationLabel(oc *graphql.OperationContext) string {
	if oc == nil || oc.Operation == nil {
		return "unknown"
	}
	for _, sel := range oc.Operation.SelectionSet {
		if f, ok := sel.(*ast.Field); ok && f.Definition != nil {
			return string(oc.Operation.Operation) + "." + f.Name
		}
	}
	return string(oc.Operation.Operation)
}
