// Package admission lets an operation give back, early, the execution slot
// the HTTP layer admitted it with (see httpapi's executing guard). An
// operation that goes on to wait for work detached from it (a send run
// delivering to partners over the network) calls Release before it waits, so
// that its wait does not keep another request from executing.
package admission

import "context"

// Slot is an execution slot held by a request.
type Slot interface {
	// Release gives the slot back. Calls after the first do nothing.
	Release()
}

type slotKey struct{}

// WithSlot returns ctx carrying the slot its request holds.
func WithSlot(ctx context.Context, s Slot) context.Context {
	return context.WithValue(ctx, slotKey{}, s)
}

// Release gives back the execution slot ctx's request holds, if any, for the
// rest of the request: from then on the request only waits and then reports.
// It is safe to call more than once, and without a slot.
func Release(ctx context.Context) {
	if s, ok := ctx.Value(slotKey{}).(Slot); ok {
		s.Release()
	}
}
