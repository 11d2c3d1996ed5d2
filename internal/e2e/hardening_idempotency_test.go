package e2e

import (
	"testing"

	"github.com/frsvc/fulfillment/internal/app"
	"github.com/frsvc/fulfillment/internal/testdb"
)

// TestHardeningIdempotencyHashNumbers: two requests under one key that
// differ only in a number float64 cannot tell apart (2^53+1 and 2^53) are
// two requests: the second answers IDEMPOTENCY_KEY_REUSED, not the first's
// answer replayed. The hash is taken over the body before GraphQL coerces
// anything, so it holds whatever the server then makes of the quantity.
func TestHardeningIdempotencyHashNumbers(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, a *app.App) {
		k := newKit(t, a)
		importQ := `mutation($in: ImportOrderInput!) { importOrder(input: $in) { id lines { quantity } } }`
		in := func(qty int) map[string]any {
			return map[string]any{"in": kitOrderInput("HN-1", "PAID", "US", kitLine{"A", qty})}
		}
		first := k.send(kitWithKey("hash-numbers", importQ, in(9007199254740993)))
		if first.Header.Get(kitReplayedHeader) != "" {
			t.Fatalf("first answer replayed: %s", first.Raw)
		}
		again := k.send(kitWithKey("hash-numbers", importQ, in(9007199254740993)))
		if again.Header.Get(kitReplayedHeader) != "true" || string(again.Raw) != string(first.Raw) {
			t.Fatalf("the same request again: %s, want the first answer replayed", again.Raw)
		}
		other := k.send(kitWithKey("hash-numbers", importQ, in(9007199254740992)))
		if other.Header.Get(kitReplayedHeader) != "" {
			t.Fatalf("a request with quantity 9007199254740992 was given the answer of 9007199254740993: %s", other.Raw)
		}
		k.Err(other, "IDEMPOTENCY_KEY_REUSED")
	})
}
