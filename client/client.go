// Package client is the typed Go client of the fulfillment service.
//
// The operations under operations/ are what partners, scripts and operators
// do (operator.graphql: void, regenerate, mark, renumber, hold and release,
// create by hand, list orders and the log either way); genqlient
// turns each into a function of generated.go, with Go types for its
// variables and answer, from the committed schema (../schema). Regenerate
// with `make generate` at the root of the repository after changing either.
//
//	c := client.New("https://fulfillment.example.com", apiKey)
//	ctx = client.WithIdempotencyKey(ctx, "order-1001-generate")
//	res, err := client.GenerateFulfillmentRequests(ctx, c, orderID, nil)
//	if client.ErrorCode(err) == "ROUTING_FAILED" { … }
//
// An operation's error is an *Error, with the service's code and message
// (see Error); ErrorCode is its code.
package client

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/Khan/genqlient/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Accept is the Accept header the client sends: the GraphQL response media
// type first (its status codes tell request errors from field errors), plain
// JSON for servers that predate it.
const Accept = "application/graphql-response+json, application/json;q=0.9"

// IdempotencyKeyHeader is the request header that carries an idempotency key.
const IdempotencyKeyHeader = "Idempotency-Key"

// Option tunes New.
type Option func(*options)

type options struct {
	doer graphql.Doer
}

// WithHTTPClient sends the requests through d (an *http.Client with its own
// timeout or transport, say) instead of http.DefaultClient.
func WithHTTPClient(d graphql.Doer) Option {
	return func(o *options) { o.doer = d }
}

// New returns a client of the service at baseURL (such as
// https://fulfillment.example.com; its /query endpoint is used, and a URL
// already ending in /query is used as it is) that authenticates every
// request with apiKey as a bearer token. An operation's error is an *Error
// when the service answered one.
func New(baseURL, apiKey string, opts ...Option) graphql.Client {
	o := options{doer: http.DefaultClient}
	for _, opt := range opts {
		opt(&o)
	}
	endpoint := strings.TrimRight(baseURL, "/")
	if !strings.HasSuffix(endpoint, "/query") {
		endpoint += "/query"
	}
	return errorClient{next: graphql.NewClient(endpoint, &doer{next: o.doer, apiKey: apiKey})}
}

type idempotencyKey struct{}

// WithIdempotencyKey returns a context under which a call sends key as its
// Idempotency-Key header: the server runs a mutation once per key, answers a
// repeat of the same request with the first answer, and refuses the key for a
// different request (IDEMPOTENCY_KEY_REUSED). Use a fresh key per logical
// request, and the same key when retrying it.
func WithIdempotencyKey(ctx context.Context, key string) context.Context {
	return context.WithValue(ctx, idempotencyKey{}, key)
}

// IdempotencyKey returns the key WithIdempotencyKey put in ctx, if any.
func IdempotencyKey(ctx context.Context) (string, bool) {
	k, ok := ctx.Value(idempotencyKey{}).(string)
	return k, ok && k != ""
}

// doer adds the service's headers to each request genqlient makes.
type doer struct {
	next   graphql.Doer
	apiKey string
}

func (d *doer) Do(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Header.Set("Authorization", "Bearer "+d.apiKey)
	req.Header.Set("Accept", Accept)
	if key, ok := IdempotencyKey(req.Context()); ok {
		req.Header.Set(IdempotencyKeyHeader, key)
	}
	return d.next.Do(req)
}

// Errors returns the GraphQL errors an operation's err carries, whether the
// server answered them with 200 (field errors) or with a 4xx or 5xx status
// (request errors, authentication, rate limits), or nil when err carries none.
func Errors(err error) gqlerror.List {
	var list gqlerror.List
	if errors.As(err, &list) {
		return list
	}
	var httpErr *graphql.HTTPError
	if errors.As(err, &httpErr) {
		return httpErr.Response.Errors
	}
	var one *gqlerror.Error
	if errors.As(err, &one) {
		return gqlerror.List{one}
	}
	return nil
}

// ErrorCode returns extensions.code of the first GraphQL error err carries
// (UNAUTHENTICATED, VALIDATION, INVALID_TRANSITION, …; see API.md), or ""
// when it carries none, such as a network error.
func ErrorCode(err error) string {
	if e := AsError(err); e != nil && e.Code != "" {
		return e.Code
	}
	for _, e := range Errors(err) {
		if code, ok := e.Extensions["code"].(string); ok {
			return code
		}
	}
	return ""
}
