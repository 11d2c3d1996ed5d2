package idempotency_test

import (
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/lib/pq"

	"github.com/frsvc/fulfillment/ent"
	"github.com/frsvc/fulfillment/internal/app"
	"github.com/frsvc/fulfillment/internal/apperr"
	"github.com/frsvc/fulfillment/internal/db"
	"github.com/frsvc/fulfillment/internal/testdb"
)

// TestTransientConflictFreesKey: a keyed request whose transaction the
// database kept aborting (a deadlock on every attempt, so that db.InTx gave
// up with CONFLICT "try again") changed nothing; its answer is not one to
// replay. A retry with the same key runs the request again, as the answer
// told it to, instead of being handed the same CONFLICT for 24 hours. A
// CONFLICT of the request's own (a state it found) is still remembered.
func TestTransientConflictFreesKey(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, a *app.App) {
		w := newLeaseWorld(t, a)
		m := w.process("p")
		var runs atomic.Int32
		collide := func(rw http.ResponseWriter, r *http.Request) {
			n := runs.Add(1)
			err := db.InTx(r.Context(), w.client, func(*ent.Tx) error {
				if n == 1 {
					return &pq.Error{Code: "40P01", Message: "deadlock detected"}
				}
				return nil
			})
			if err != nil {
				_, _ = fmt.Fprintf(rw, `{"errors":[{"message":%q,"extensions":{"code":%q}}],"data":null}`,
					err.Error(), apperr.CodeOf(err))
				return
			}
			_, _ = fmt.Fprintf(rw, `{"data":{"run":%d}}`, n)
		}
		if rec := w.send(m, "collided", collide); code(rec) != "CONFLICT" {
			t.Fatalf("first: %s", rec.Body)
		}
		rec := w.send(m, "collided", collide)
		if runs.Load() != 2 || rec.Header().Get("Idempotent-Replayed") != "" || code(rec) != "" {
			t.Fatalf("the retry after a transient CONFLICT: %d runs, answer %s (replayed %q)",
				runs.Load(), rec.Body, rec.Header().Get("Idempotent-Replayed"))
		}
		if again := w.send(m, "collided", collide); runs.Load() != 2 || again.Body.String() != rec.Body.String() {
			t.Fatalf("the completed answer is not replayed: %d runs, %s", runs.Load(), again.Body)
		}

		// A CONFLICT the request found in the data is its answer.
		var own atomic.Int32
		found := func(rw http.ResponseWriter, _ *http.Request) {
			own.Add(1)
			_, _ = fmt.Fprint(rw, `{"errors":[{"message":"changed meanwhile","extensions":{"code":"CONFLICT"}}],"data":null}`)
		}
		w.send(m, "own", found)
		if rec := w.send(m, "own", found); own.Load() != 1 || rec.Header().Get("Idempotent-Replayed") != "true" {
			t.Fatalf("a CONFLICT of the request's own was not replayed: %d runs", own.Load())
		}
	})
}
