package apperr

import (
	"context"
	"sync/atomic"
)

// A transient failure is one that changed nothing and that the same request
// may well not meet again: a transaction the database kept aborting for
// concurrent ones (db.InTx). Its answer tells the client to try again, so a
// layer that remembers answers (the idempotency keys) must not replay it.

type transientKey struct{}

// WithTransientNote returns a context in which NoteTransient is heard, and
// a function telling whether it was.
func WithTransientNote(ctx context.Context) (context.Context, func() bool) {
	var noted atomic.Bool
	return context.WithValue(ctx, transientKey{}, &noted), noted.Load
}

// NoteTransient records, in a context of WithTransientNote, that the
// request met a transient failure. Elsewhere it does nothing.
func NoteTransient(ctx context.Context) {
	if noted, ok := ctx.Value(transientKey{}).(*atomic.Bool); ok {
		noted.Store(true)
	}
}
