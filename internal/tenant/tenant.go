// Package tenant carries the caller's account through a context. The data
// layer reads it to confine every query and mutation to one account; a context
// with neither an account nor the system marker is refused, so forgetting to
// set it fails closed instead of leaking rows.
package tenant

import (
	"context"
	"errors"
)

// ErrMissing is returned by the data layer when a context names no account.
var ErrMissing = errors.New("tenant: no account in context")

type accountKey struct{}
type systemKey struct{}

// WithAccount returns a context confined to the account id.
func WithAccount(ctx context.Context, accountID int) context.Context {
	return context.WithValue(ctx, accountKey{}, accountID)
}

// AccountID returns the account a context is confined to.
func AccountID(ctx context.Context) (int, bool) {
	id, ok := ctx.Value(accountKey{}).(int)
	return id, ok
}

// WithSystem marks a context as the system's own: background work that spans
// accounts (the send run, start-up, the accounts command). It is never derived
// from a request.
func WithSystem(ctx context.Context) context.Context {
	return context.WithValue(ctx, systemKey{}, true)
}

// IsSystem reports whether ctx was marked by WithSystem and names no account.
func IsSystem(ctx context.Context) bool {
	if _, ok := AccountID(ctx); ok {
		return false
	}
	v, _ := ctx.Value(systemKey{}).(bool)
	return v
}

type sourceKey struct{}

// WithSource narrows a context further to one source of the account: a
// partner's view, which sees only what concerns its own requests.
func WithSource(ctx context.Context, sourceID int) context.Context {
	return context.WithValue(ctx, sourceKey{}, sourceID)
}

// WithoutSource lifts a partner's narrowing for the service's own
// bookkeeping inside an operation the partner may perform (recomputing an
// order's status needs all of its lines, not only the partner's). The
// account confinement stays.
func WithoutSource(ctx context.Context) context.Context {
	return context.WithValue(ctx, sourceKey{}, nil)
}

// SourceID returns the source a context is narrowed to.
func SourceID(ctx context.Context) (int, bool) {
	id, ok := ctx.Value(sourceKey{}).(int)
	return id, ok
}
