// Package apperr holds the service's typed errors. Each carries one of the
// stable codes of the public contract; the GraphQL error presenter turns them
// into extensions.code. The list of codes is append-only: partners match on it.
package apperr

import (
	"errors"
	"fmt"
)

// Code is a stable error code of the public contract.
type Code string

// The codes of API.md. Append only.
const (
	Unauthenticated         Code = "UNAUTHENTICATED"
	Forbidden               Code = "FORBIDDEN"
	NotFound                Code = "NOT_FOUND"
	Validation              Code = "VALIDATION"
	InvalidTransition       Code = "INVALID_TRANSITION"
	Conflict                Code = "CONFLICT"
	RoutingFailed           Code = "ROUTING_FAILED"
	IdempotencyKeyReused    Code = "IDEMPOTENCY_KEY_REUSED"
	ComplexityLimitExceeded Code = "COMPLEXITY_LIMIT_EXCEEDED"
	RateLimited             Code = "RATE_LIMITED"
	Internal                Code = "INTERNAL"
)

// Error is a domain error with a code and what a client needs to act on it.
type Error struct {
	Code    Code
	Message string
	// Field is the input field at fault, for VALIDATION.
	Field string
	// Extra holds further extensions (from/to, roadblocks, retryAfter…).
	Extra map[string]any
	// Err is an underlying cause kept for logs, never shown to clients.
	Err error
}

func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: %s: %s", e.Code, e.Field, e.Message)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// CodeOf returns the code of err, or Internal when it carries none.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// Invalid reports a bad input field.
func Invalid(field, format string, args ...any) *Error {
	return &Error{Code: Validation, Field: field, Message: fmt.Sprintf(format, args...)}
}

// Missing reports an object that does not exist or that the caller may not see.
func Missing(what string, id any) *Error {
	return &Error{Code: NotFound, Message: fmt.Sprintf("%s %v not found", what, id)}
}

// Deny reports an operation the caller's role may not perform.
func Deny(format string, args ...any) *Error {
	return &Error{Code: Forbidden, Message: fmt.Sprintf(format, args...)}
}

// Clash reports a conflict with the current state or a concurrent change.
func Clash(format string, args ...any) *Error {
	return &Error{Code: Conflict, Message: fmt.Sprintf(format, args...)}
}

// Transition reports a status change the state machine refuses.
func Transition(from, to string) *Error {
	return &Error{
		Code:    InvalidTransition,
		Message: fmt.Sprintf("cannot move from %s to %s", from, to),
		Extra:   map[string]any{"from": from, "to": to},
	}
}
