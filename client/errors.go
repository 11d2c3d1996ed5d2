package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/Khan/genqlient/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Error is the service's answer when an operation fails: the first GraphQL
// error of the answer, with its code and message, whether the server
// answered it with 200 (a field error: NOT_FOUND, INVALID_TRANSITION, …) or
// with a 4xx or 5xx status (a request error: VALIDATION of a variable,
// UNAUTHENTICATED, RATE_LIMITED, COMPLEXITY_LIMIT_EXCEEDED, …). Every
// operation of a client made by New returns it; take it out with errors.As:
//
//	var e *client.Error
//	if errors.As(err, &e) && e.Code == "VALIDATION" {
//		log.Printf("%s: %s", e.Field, e.Message)
//	}
//
// Network errors, and answers that are not GraphQL at all, are returned as
// they are. An answer with data and errors (a partial answer) returns the
// data too.
type Error struct {
	// Code is extensions.code (see API.md), "" when the error has none.
	Code string
	// Message says what is wrong, in the API's words.
	Message string
	// Field is extensions.field: the input field a VALIDATION error is about.
	Field string
	// Path is where in the answer a field error arose, such as
	// "voidFulfillmentRequest" or "orders.edges[0].node"; "" for a request
	// error.
	Path string
	// Extensions are all of the error's extensions (code and field too):
	// from and to of INVALID_TRANSITION, say.
	Extensions map[string]any
	// StatusCode is the HTTP status of the answer: 200 for field errors.
	StatusCode int
	// Errors are every GraphQL error of the answer, this one first.
	Errors gqlerror.List

	err error
}

// Error is "CODE: message", with the field and the path when there are,
// and how many errors more the answer carries.
func (e *Error) Error() string {
	var b strings.Builder
	if e.Code != "" {
		b.WriteString(e.Code)
	} else {
		fmt.Fprintf(&b, "HTTP %d", e.StatusCode)
	}
	b.WriteString(": ")
	b.WriteString(e.Message)
	if e.Field != "" {
		fmt.Fprintf(&b, " (field %s)", e.Field)
	}
	if e.Path != "" {
		fmt.Fprintf(&b, " (at %s)", e.Path)
	}
	if n := len(e.Errors) - 1; n > 0 {
		fmt.Fprintf(&b, " (and %d more)", n)
	}
	return b.String()
}

// Unwrap returns the errors genqlient returned: the gqlerror.List of the
// answer, and the *graphql.HTTPError of an answer that was not 200, so
// errors.As finds either.
func (e *Error) Unwrap() []error {
	if _, ok := e.err.(gqlerror.List); ok {
		return []error{e.err}
	}
	return []error{e.Errors, e.err}
}

// AsError returns the *Error err carries, or nil when it carries none (a
// network error, say).
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// toError turns what genqlient returned into an *Error when it carries
// GraphQL errors, and returns it unchanged otherwise.
func toError(err error) error {
	if err == nil {
		return nil
	}
	var already *Error
	if errors.As(err, &already) {
		return err
	}
	status := http.StatusOK
	var list gqlerror.List
	var httpErr *graphql.HTTPError
	switch {
	case errors.As(err, &httpErr):
		status, list = httpErr.StatusCode, httpErr.Response.Errors
	case errors.As(err, &list):
	default:
		return err
	}
	if len(list) == 0 || list[0] == nil {
		return err
	}
	first := list[0]
	e := &Error{Message: first.Message, Extensions: first.Extensions, StatusCode: status, Errors: list, err: err}
	e.Code, _ = first.Extensions["code"].(string)
	e.Field, _ = first.Extensions["field"].(string)
	if len(first.Path) > 0 {
		e.Path = first.Path.String()
	}
	return e
}

// errorClient makes every operation's error an *Error.
type errorClient struct{ next graphql.Client }

func (c errorClient) MakeRequest(ctx context.Context, req *graphql.Request, resp *graphql.Response) error {
	return toError(c.next.MakeRequest(ctx, req, resp))
}
