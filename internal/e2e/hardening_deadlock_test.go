package e2e

import (
	"fmt"
	"testing"

	"github.com/frsvc/fulfillment/internal/app"
	"github.com/frsvc/fulfillment/internal/testdb"
)

// TestHardeningDeadlockSharedStock: generate, create and regenerate racing
// on stock two sources share never answer INTERNAL. Each round moves one
// request from S1 to S2 and another from S2 to S1 (regenerate with
// excludeSource releases at one source and reserves at the other), while a
// generation and two hand-made requests reserve at both: on PostgreSQL, row
// locks taken in the order each operation happened to touch the stock
// deadlocked (40P01), which surfaced as INTERNAL. Locks are now taken in one
// order and a transaction that still meets a deadlock or serialization
// failure is retried, then answered CONFLICT: every answer is a success or
// CONFLICT, and the ledger holds.
func TestHardeningDeadlockSharedStock(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, a *app.App) {
		k := newKit(t, a)
		s1 := k.source("S1", nil)
		s2 := k.source("S2", nil)
		for _, src := range []string{s1, s2} {
			for _, sku := range []string{"A", "B", "C"} {
				k.stock(src, sku, 100000, "1")
			}
		}
		k.group("G", []string{"LOWEST_COST"}, nil, s1, s2)
		lines := []kitLine{{"A", 1}, {"B", 1}, {"C", 1}}
		answers := map[string]int{}
		for round := range 12 {
			name := func(what string) string { return fmt.Sprintf("DL-%d-%s", round, what) }
			x := k.mustCreate(k.order(name("X"), "PAID", lines...).ID, s1, false)
			y := k.mustCreate(k.order(name("Y"), "PAID", lines...).ID, s2, false)
			z := k.order(name("Z"), "PAID", lines...)
			v := k.order(name("V"), "PAID", lines...)
			w := k.order(name("W"), "PAID", lines...)
			create := func(orderID, sourceID string) Request {
				return Request{Query: `mutation($in: CreateFulfillmentRequestInput!) { createFulfillmentRequest(input: $in) { id } }`,
					Variables: map[string]any{"in": map[string]any{"orderID": orderID, "sourceID": sourceID}}}
			}
			regen := func(frID string) Request {
				return Request{Query: kitRegenerateMutation, Variables: map[string]any{"id": frID, "reason": "move", "ex": true}}
			}
			res := k.concurrently(
				regen(x.ID), regen(y.ID),
				Request{Query: kitGenerateMutation, Variables: map[string]any{"id": z.ID}},
				create(v.ID, s1), create(w.ID, s2),
			)
			for i, r := range res {
				code := kitCode(t, r)
				answers[code]++
				if code != "" && code != "CONFLICT" {
					t.Errorf("round %d request %d: %+v", round, i, r.Errors)
				}
			}
		}
		k.checkLedger()
		t.Logf("answers: %v", answers)
	})
}

// TestHardeningOvercommitUnstockedRace: hand-made requests that overcommit a
// SKU the source never reported all reserve on one zero-quantity row, even
// when they race to create it. There is no row to lock before the first one
// exists, so two transactions inserting it at once met the unique index
// (source, sku), which surfaced as INTERNAL on PostgreSQL; the reservation
// is now an upsert that adds to the row whoever created it.
func TestHardeningOvercommitUnstockedRace(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, a *app.App) {
		k := newKit(t, a)
		src := k.source("S1", nil)
		const n = 8
		for round := range 3 {
			sku := fmt.Sprintf("NEVER-%d", round)
			reqs := make([]Request, n)
			for i := range reqs {
				o := k.order(fmt.Sprintf("UN-%d-%d", round, i), "PAID", kitLine{sku, 2})
				reqs[i] = Request{Query: `mutation($in: CreateFulfillmentRequestInput!) { createFulfillmentRequest(input: $in) { id } }`,
					Variables: map[string]any{"in": map[string]any{"orderID": o.ID, "sourceID": src, "allowOvercommit": true,
						"items": []any{map[string]any{"orderLineID": o.line(t, sku), "quantity": 2, "unitCost": "1"}}}}}
			}
			for i, r := range k.concurrently(reqs...) {
				if len(r.Errors) > 0 {
					t.Errorf("round %d request %d: %+v", round, i, r.Errors)
				}
			}
		}
		over := make([]string, 3)
		for round := range over {
			over[round] = fmt.Sprintf("S1/NEVER-%d", round)
		}
		l := k.checkLedger(over...)
		for round := range 3 {
			if got := l.Committed[over[round]]; got != 2*n {
				t.Errorf("committed %s = %d, want %d", over[round], got, 2*n)
			}
		}
	})
}
