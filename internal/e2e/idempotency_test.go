package e2e

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/frsvc/fulfillment/internal/app"
	"github.com/frsvc/fulfillment/internal/testdb"
)

const kitIdemHeader, kitReplayedHeader = "Idempotency-Key", "Idempotent-Replayed"

// kitWithKey is a request under an Idempotency-Key.
func kitWithKey(key, query string, vars map[string]any) Request {
	return Request{Query: query, Variables: vars, Header: map[string]string{kitIdemHeader: key}}
}

// send runs r with the ADMIN key unless it names another.
func (k *frKit) send(r Request) *Result {
	k.T.Helper()
	if r.Key == "" {
		r.Key = k.AdminKey
	}
	return k.Do(r)
}

// kitIdemSetup is one source carrying A and B and a default group.
func kitIdemSetup(k *frKit) string {
	k.T.Helper()
	src := k.source("S", nil)
	k.stock(src, "A", 100, "1")
	k.stock(src, "B", 100, "1")
	k.group("G", []string{"LOWEST_COST"}, nil, src)
	return src
}

// TestIdempotencyReplay: a repeat under the same key answers the first
// answer byte for byte, marked Idempotent-Replayed, and does nothing more;
// the same key with another request answers IDEMPOTENCY_KEY_REUSED and does
// nothing at all.
func TestIdempotencyReplay(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, a *app.App) {
		k := newKit(t, a)
		src := kitIdemSetup(k)
		o := k.order("I1", "PAID", kitLine{"A", 3}, kitLine{"B", 1})
		createQ := `mutation($in: CreateFulfillmentRequestInput!) { createFulfillmentRequest(input: $in) { id number status } }`
		in := map[string]any{"in": map[string]any{"orderID": o.ID, "sourceID": src,
			"items": []any{map[string]any{"orderLineID": o.line(t, "A"), "quantity": 1}}}}

		first := k.send(kitWithKey("create-1", createQ, in))
		if len(first.Errors) > 0 || first.Header.Get(kitReplayedHeader) != "" {
			t.Fatalf("first answer %s (replayed header %q)", first.Raw, first.Header.Get(kitReplayedHeader))
		}
		logs := k.logCount(map[string]any{"orderID": o.ID})
		for range 2 {
			again := k.send(kitWithKey("create-1", createQ, in))
			if !bytes.Equal(again.Raw, first.Raw) || again.Status != first.Status {
				t.Fatalf("replay %d %s, want %d %s", again.Status, again.Raw, first.Status, first.Raw)
			}
			if again.Header.Get(kitReplayedHeader) != "true" {
				t.Fatalf("replay without %s: true", kitReplayedHeader)
			}
		}
		k.expectFRs(o.ID, map[string]string{"I1-1": "UNPROCESSED"})
		if n := k.logCount(map[string]any{"orderID": o.ID}); n != logs {
			t.Fatalf("log entries %d → %d after replays", logs, n)
		}
		st := k.checkLedger()
		kitExpectStock(t, st, map[string]int{"S/A": 1})

		// Variables in another key order are the same request.
		reordered := map[string]any{"in": map[string]any{
			"items": []any{map[string]any{"quantity": 1, "orderLineID": o.line(t, "A")}}, "sourceID": src, "orderID": o.ID}}
		if again := k.send(kitWithKey("create-1", createQ, reordered)); !bytes.Equal(again.Raw, first.Raw) {
			t.Fatalf("reordered variables answered %s", again.Raw)
		}

		// The same key with another request: refused, nothing done.
		other := map[string]any{"in": map[string]any{"orderID": o.ID, "sourceID": src,
			"items": []any{map[string]any{"orderLineID": o.line(t, "A"), "quantity": 2}}}}
		k.Err(k.send(kitWithKey("create-1", createQ, other)), "IDEMPOTENCY_KEY_REUSED")
		k.Err(k.send(kitWithKey("create-1", kitGenerateMutation, map[string]any{"id": o.ID})), "IDEMPOTENCY_KEY_REUSED")
		k.expectFRs(o.ID, map[string]string{"I1-1": "UNPROCESSED"})
		if n := k.logCount(map[string]any{"orderID": o.ID}); n != logs {
			t.Fatalf("log entries %d → %d after a reused key", logs, n)
		}

		// Generate under a key: a second execution would be refused with
		// NOTHING_TO_ROUTE and log it; the replay does neither.
		g1 := k.send(kitWithKey("gen-1", kitGenerateMutation, map[string]any{"id": o.ID}))
		if len(g1.Errors) > 0 {
			t.Fatalf("generate: %+v", g1.Errors)
		}
		logs = k.logCount(map[string]any{"orderID": o.ID})
		g2 := k.send(kitWithKey("gen-1", kitGenerateMutation, map[string]any{"id": o.ID}))
		if !bytes.Equal(g2.Raw, g1.Raw) || g2.Header.Get(kitReplayedHeader) != "true" {
			t.Fatalf("generate replay %s", g2.Raw)
		}
		if n := k.logCount(map[string]any{"orderID": o.ID}); n != logs {
			t.Fatalf("log entries %d → %d after a generate replay", logs, n)
		}
		k.expectFRs(o.ID, map[string]string{"I1-1": "UNPROCESSED", "I1-2": "UNPROCESSED"})
		kitExpectStock(t, k.checkLedger(), map[string]int{"S/A": 3, "S/B": 1})

		// An error answer is an answer: replayed too, without running again.
		held := k.order("I2", "PAID", kitLine{"A", 1})
		k.Query(`mutation($id: ID!) { holdOrder(id: $id, reason: "fraud check") { id } }`, map[string]any{"id": held.ID}, nil)
		r1 := k.send(kitWithKey("gen-held", kitGenerateMutation, map[string]any{"id": held.ID}))
		k.Err(r1, "ROUTING_FAILED")
		warns := k.logCount(map[string]any{"orderID": held.ID, "level": "WARN"})
		r2 := k.send(kitWithKey("gen-held", kitGenerateMutation, map[string]any{"id": held.ID}))
		if !bytes.Equal(r2.Raw, r1.Raw) || r2.Header.Get(kitReplayedHeader) != "true" {
			t.Fatalf("error replay %s, want %s", r2.Raw, r1.Raw)
		}
		if n := k.logCount(map[string]any{"orderID": held.ID, "level": "WARN"}); n != warns || warns != 1 {
			t.Fatalf("WARN entries %d → %d", warns, n)
		}

		// Another API key of the account sending the same request under the
		// same Idempotency-Key is not handed the answer (its own role was
		// never checked for it): refused, nothing done.
		r := kitWithKey("create-1", createQ, in)
		r.Key = k.ReadOnlyKey("viewer")
		stolen := k.send(r)
		if stolen.Header.Get(kitReplayedHeader) != "" || bytes.Equal(stolen.Raw, first.Raw) {
			t.Fatalf("another API key was handed the first answer: %s", stolen.Raw)
		}
		if c := kitCode(t, stolen); c != "IDEMPOTENCY_KEY_REUSED" && c != "FORBIDDEN" {
			t.Fatalf("another API key under the same Idempotency-Key: %s", stolen.Raw)
		}
		k.expectFRs(o.ID, map[string]string{"I1-1": "UNPROCESSED", "I1-2": "UNPROCESSED"})

		// Queries are not guarded: a key on a query is ignored.
		q := k.send(kitWithKey("query-1", `{ orders { totalCount } }`, nil))
		if q.Header.Get(kitReplayedHeader) != "" || len(q.Errors) > 0 {
			t.Fatalf("query under a key: %s", q.Raw)
		}

		// Keys belong to an account: another account's "create-1" is its own.
		k2 := &frKit{Env: k.Env}
		otherKey := k.NewAccount("Other")
		src2 := func() string {
			var out struct{ CreateSource struct{ ID string } }
			k2.QueryAs(otherKey, `mutation { createSource(input: {name: "S", code: "S"}) { id } }`, nil, &out)
			return out.CreateSource.ID
		}()
		k2.QueryAs(otherKey, upsertInventoryMutation, map[string]any{"sourceID": src2,
			"items": []any{map[string]any{"sku": "A", "quantity": 5, "unitCost": "1"}}}, nil)
		var o2 struct{ ImportOrder kitOrder }
		k2.QueryAs(otherKey, `mutation($in: ImportOrderInput!) { importOrder(input: $in) { `+kitOrderFields+` } }`,
			map[string]any{"in": kitOrderInput("I1", "PAID", "US", kitLine{"A", 1})}, &o2)
		r = kitWithKey("create-1", createQ, map[string]any{"in": map[string]any{"orderID": o2.ImportOrder.ID, "sourceID": src2}})
		r.Key = otherKey
		if res := k.send(r); len(res.Errors) > 0 || res.Header.Get(kitReplayedHeader) != "" {
			t.Fatalf("another account's key: %s", res.Raw)
		}
	})
}

// TestIdempotencyConcurrent: ten requests under one key sent at once run
// once; the others get the first answer replayed or CONFLICT while it is
// still running. Counted by what they would have done: requests, log
// entries, reservations.
func TestIdempotencyConcurrent(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, a *app.App) {
		k := newKit(t, a)
		src := kitIdemSetup(k)
		for round := range 2 {
			number := fmt.Sprintf("IC-%d", round)
			o := k.order(number, "PAID", kitLine{"A", 4}, kitLine{"B", 2})
			key := "concurrent-" + number

			// createFulfillmentRequest of one unit: each execution would make a request.
			createQ := `mutation($in: CreateFulfillmentRequestInput!) { createFulfillmentRequest(input: $in) { id number } }`
			in := map[string]any{"in": map[string]any{"orderID": o.ID, "sourceID": src,
				"items": []any{map[string]any{"orderLineID": o.line(t, "A"), "quantity": 1}}}}
			reqs := make([]Request, 10)
			for i := range reqs {
				reqs[i] = kitWithKey(key+"-create", createQ, in)
			}
			kitOneRan(t, k.concurrently(reqs...))
			k.expectFRs(o.ID, map[string]string{number + "-1": "UNPROCESSED"})
			if n := k.logCount(map[string]any{"orderID": o.ID, "stage": "attach"}); n != 1 {
				t.Fatalf("%d attach entries, want 1", n)
			}

			// generateFulfillmentRequests: each execution after the first
			// would log a refusal.
			for i := range reqs {
				reqs[i] = kitWithKey(key+"-generate", kitGenerateMutation, map[string]any{"id": o.ID})
			}
			kitOneRan(t, k.concurrently(reqs...))
			k.expectFRs(o.ID, map[string]string{number + "-1": "UNPROCESSED", number + "-2": "UNPROCESSED"})
			if n := k.logCount(map[string]any{"orderID": o.ID, "stage": "routing"}); n != 1 {
				t.Fatalf("%d routing entries, want 1 (one generation, no refusal)", n)
			}
			st := k.checkLedger()
			kitExpectStock(t, st, map[string]int{"S/A": 4 * (round + 1), "S/B": 2 * (round + 1)})
		}
	})
}

// kitOneRan checks the answers of concurrent requests under one key:
// one ran (no replay header), every other one is a byte-identical replay
// of it or CONFLICT.
func kitOneRan(t *testing.T, answers []*Result) {
	t.Helper()
	var ran *Result
	replays, conflicts := 0, 0
	for _, res := range answers {
		if res.Header.Get(kitReplayedHeader) == "" && len(res.Errors) == 0 {
			if ran != nil {
				t.Fatalf("two requests under one key ran: %s and %s", ran.Raw, res.Raw)
			}
			ran = res
		}
	}
	if ran == nil {
		t.Fatal("no request ran")
	}
	for _, res := range answers {
		switch {
		case res == ran:
		case res.Header.Get(kitReplayedHeader) == "true":
			if !bytes.Equal(res.Raw, ran.Raw) {
				t.Fatalf("replay %s differs from %s", res.Raw, ran.Raw)
			}
			replays++
		case len(res.Errors) == 1 && res.Errors[0].Code() == "CONFLICT":
			conflicts++
		default:
			t.Fatalf("unexpected answer %d %s", res.Status, res.Raw)
		}
	}
	t.Logf("1 ran, %d replays, %d conflicts", replays, conflicts)
}
