package e2e

import (
	"context"
	"strings"
	"testing"

	"github.com/frsvc/fulfillment/ent/idempotencyrecord"
	"github.com/frsvc/fulfillment/internal/app"
	"github.com/frsvc/fulfillment/internal/tenant"
	"github.com/frsvc/fulfillment/internal/testdb"
)

// TestIdempotencyOneParse: the Idempotency-Key layer tells a mutation from
// the document the executor parsed, under the executor's token limit, not
// from a parse of its own. A mutation over the token limit sent with a key
// is refused by that limit and leaves no record under the key (a layer
// that parsed the document without the limit would have found a mutation,
// claimed the key and stored the refusal); the same mutation within the
// limit claims the key and is replayed.
func TestIdempotencyOneParse(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, a *app.App) {
		k := newKit(t, a)
		recorded := func(key string) bool {
			t.Helper()
			ok, err := a.Store.Client.IdempotencyRecord.Query().Where(idempotencyrecord.Key(key)).
				Exist(tenant.WithSystem(context.Background()))
			if err != nil {
				t.Fatal(err)
			}
			return ok
		}
		mutation := func(typenames int) string {
			return `mutation { runSendFulfillmentRequests { claimed ` + strings.Repeat("__typename ", typenames) + `} }`
		}

		over := mutation(10_000)
		for range 2 {
			res := k.send(kitWithKey("over-the-limit", over, nil))
			k.Err(res, "COMPLEXITY_LIMIT_EXCEEDED")
			if !strings.Contains(string(res.Raw), "token limit") || res.Header.Get(kitReplayedHeader) != "" {
				t.Fatalf("a mutation over the token limit under a key: %s (replayed %q), want the token limit's refusal",
					res.Raw, res.Header.Get(kitReplayedHeader))
			}
		}
		if recorded("over-the-limit") {
			t.Fatal("a mutation the executor refused at its token limit claimed its Idempotency-Key")
		}

		within := mutation(10)
		first := k.send(kitWithKey("within-the-limit", within, nil))
		if len(first.Errors) > 0 || !recorded("within-the-limit") {
			t.Fatalf("a mutation within the limit under a key: %s (recorded %v)", first.Raw, recorded("within-the-limit"))
		}
		if again := k.send(kitWithKey("within-the-limit", within, nil)); again.Header.Get(kitReplayedHeader) != "true" ||
			string(again.Raw) != string(first.Raw) {
			t.Fatalf("its repeat: %s, want %s replayed", again.Raw, first.Raw)
		}
	})
}
