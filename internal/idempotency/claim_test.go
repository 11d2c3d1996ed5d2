package idempotency_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/frsvc/fulfillment/ent/idempotencyrecord"
	"github.com/frsvc/fulfillment/internal/app"
	"github.com/frsvc/fulfillment/internal/idempotency"
	"github.com/frsvc/fulfillment/internal/testdb"
)

// TestUnclaimedPassesThrough: a keyed request whose handler never claims
// the key (the executor found a query, or refused the document before it
// knew the operation) is answered as the handler wrote it, status and
// headers included, leaves no record, and runs again when repeated; the
// same request whose handler claims is remembered and replayed.
func TestUnclaimedPassesThrough(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, a *app.App) {
		w := newLeaseWorld(t, a)
		m := w.process("p")
		var runs atomic.Int32
		unclaimed := http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) {
			runs.Add(1)
			rw.Header().Set("X-Answer", "as written")
			rw.WriteHeader(http.StatusTeapot)
			_, _ = rw.Write([]byte(`{"data":{"run":"unclaimed"}}`))
		})
		for i := range 2 {
			r := httptest.NewRequest(http.MethodPost, "/query", strings.NewReader(leaseBody)).WithContext(w.ctx)
			r.Header.Set(idempotency.Header, "unclaimed")
			res := httptest.NewRecorder()
			m.Wrap(unclaimed).ServeHTTP(res, r)
			if res.Code != http.StatusTeapot || res.Header().Get("X-Answer") != "as written" ||
				res.Body.String() != `{"data":{"run":"unclaimed"}}` || res.Header().Get(idempotency.ReplayedHeader) != "" {
				t.Fatalf("unclaimed request %d: %d %v %s, want the handler's answer as written", i, res.Code, res.Header(), res.Body)
			}
		}
		if runs.Load() != 2 {
			t.Fatalf("%d runs of an unclaimed request sent twice, want 2", runs.Load())
		}
		if n, err := w.client.IdempotencyRecord.Query().Where(idempotencyrecord.Key("unclaimed")).Count(w.ctx); err != nil || n != 0 {
			t.Fatalf("%d records (%v) under a key no handler claimed", n, err)
		}

		w.send(m, "claimed", counting(&runs))
		if res := w.send(m, "claimed", counting(&runs)); res.Header().Get(idempotency.ReplayedHeader) != "true" || runs.Load() != 3 {
			t.Fatalf("claimed request repeated: %s (%d runs), want a replay", res.Body, runs.Load())
		}
	})
}
