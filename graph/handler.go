package graph

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/frsvc/fulfillment/internal/apperr"
	"github.com/frsvc/fulfillment/internal/gqlhttp"
	"github.com/frsvc/fulfillment/internal/idempotency"
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
// Its directives decide who may use what (graph/authz.go).
func NewSchema(r *Resolver) graphql.ExecutableSchema {
	return NewExecutableSchema(Config{Resolvers: r, Directives: authzDirectives()})
}

// NewHandler returns the GraphQL HTTP handler: explicit transports, a query
// cache, the error presenter, panic recovery and the up-front check of the
// fields the caller's role may not read.
func NewHandler(r *Resolver, o Options) *handler.Server {
	logger := o.Logger
	if logger == nil {
		logger = slog.Default()
	}
	es := NewSchema(r)
	srv := handler.New(es)
	limits := o.Limits.withDefaults()
	// GraphQL over HTTP as its specification asks (see package gqlhttp):
	// GET for queries, POST with JSON, Accept negotiation between
	// application/graphql-response+json and application/json and the status
	// codes of each, in place of gqlgen's GET and POST transports.
	srv.AddTransport(transport.Options{})
	srv.AddTransport(gqlhttp.Transport{TokenLimit: limits.Tokens})
	srv.AddTransport(unsupported{})
	cache := newPagingCache(1000)
	srv.SetQueryCache(cache)
	srv.SetParserTokenLimit(limits.Tokens)
	srv.SetDisableSuggestion(o.Production)
	if o.Introspection {
		srv.Use(extension.Introspection{})
	}
	// Before parsing and validation: selection sets the validator would
	// take too long over.
	srv.Use(documentBounds{limits: limits, cache: cache, schema: es.Schema(), rules: validationRules(o.Production)})
	// Before the extensions that refuse operations: a keyed mutation claims
	// its key from the document parsed here (see idempotency.Extension).
	srv.Use(idempotency.Extension{})
	srv.Use(limitsExtension{limits: limits, schema: es.Schema()})
	srv.Use(fieldAccess{})
	srv.SetErrorPresenter(errorPresenter(logger))
	srv.SetRecoverFunc(func(ctx context.Context, p any) error {
		logger.ErrorContext(ctx, "panic in resolver", "panic", fmt.Sprint(p))
		return &apperr.Error{Code: apperr.Internal, Message: "internal error", Err: fmt.Errorf("panic: %v", p)}
	})
	if o.ObserveOperation != nil {
		srv.AroundOperations(observeOperation(o.ObserveOperation))
	}
	// The field middleware: classifyMiddleware, set as it is (see
	// fieldMiddleware). It must stay the only one: srv.AroundFields would be
	// overridden.
	srv.Use(fieldMiddleware(classifyMiddleware))
	return srv
}

// fieldMiddleware makes f the operation's field middleware. srv.AroundFields
// does the same through the executor's chain of interceptors, which wraps f
// in a closure allocated for every field of every response (thousands on a
// page); with one middleware the chain adds nothing else.
type fieldMiddleware graphql.FieldMiddleware

func (fieldMiddleware) ExtensionName() string                   { return "FieldMiddleware" }
func (fieldMiddleware) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationContext runs after the executor has set the operation's
// ResolverMiddleware to its chain (empty here) and replaces it.
func (f fieldMiddleware) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	oc.ResolverMiddleware = graphql.FieldMiddleware(f)
	return nil
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

// unsupported takes the requests no transport above does (an Upgrade
// header: no websocket here; another method), which gqlgen would answer
// "transport not supported" without a code: 400 with the code VALIDATION,
// through the error presenter like every other error.
type unsupported struct{}

func (unsupported) Supports(*http.Request) bool { return true }

func (unsupported) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	const msg = "use GET for queries or POST with application/json, without Upgrade"
	resp := exec.DispatchError(r.Context(), gqlerror.List{{Message: msg,
		Err: &apperr.Error{Code: apperr.Validation, Message: msg}}})
	w.Header().Set("Content-Type", gqlhttp.ContentType(gqlhttp.MediaTypeJSON))
	w.WriteHeader(http.StatusBadRequest)
	_ = json.NewEncoder(w).Encode(struct {
		Errors gqlerror.List `json:"errors"`
	}{resp.Errors})
}
