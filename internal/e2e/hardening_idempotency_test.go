package e2e

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/frsvc/fulfillment/internal/app"
	"github.com/frsvc/fulfillment/internal/auth"
	"github.com/frsvc/fulfillment/internal/idempotency"
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

// TestHardeningIdempotencyCrashedKey: a keyed request whose server was
// killed while it ran leaves its key in progress under a lease of the
// request timeout (app.Config.RequestTimeout, 5 s here) and a margin. A
// retry while the lease is live answers CONFLICT with a Retry-After; once
// it has expired the retry runs the request (one request made, then
// replayed); ten retries at once run it once; a record left by a server
// from before leases (no holder, no expiry) is taken over one lease length
// after it was written, not after the 24 hours a key is kept.
func TestHardeningIdempotencyCrashedKey(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, a *app.App) {
		clk := testdb.NewClock(time.Now().Truncate(time.Microsecond))
		const timeout = 5 * time.Second
		lease := timeout + idempotency.LeaseMargin
		k := &frKit{Env: newWithAs(t, a, func(c *app.Config) {
			c.RateLimit, c.Now, c.RequestTimeout = 0, clk.Now, timeout
		}, "Crash account")}
		src := kitIdemSetup(k)
		o := k.order("CR-1", "PAID", kitLine{"A", 5})
		createQ := `mutation($in: CreateFulfillmentRequestInput!) { createFulfillmentRequest(input: $in) { id number } }`
		in := map[string]any{"in": map[string]any{"orderID": o.ID, "sourceID": src,
			"items": []any{map[string]any{"orderLineID": o.line(t, "A"), "quantity": 1}}}}

		// What a server killed mid-request leaves: the record of the
		// request in progress, under the dead process's lease.
		ctx := context.Background()
		p, err := k.App.Auth.Authenticate(ctx, k.AdminKey)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := json.Marshal(map[string]any{"query": createQ, "variables": in})
		reqHash, err := idempotency.RequestHash(body, p.KeyID)
		if err != nil {
			t.Fatal(err)
		}
		leave := func(key string, leased bool) {
			t.Helper()
			now := clk.Now()
			c := k.Store.Client.IdempotencyRecord.Create().SetKey(key).SetRequestHash(reqHash).
				SetCreatedAt(now).SetExpiresAt(now.Add(idempotency.Retention))
			if leased {
				c.SetLeaseHolder("killed-host:4242:0000/dead").SetLeaseExpiresAt(now.Add(lease))
			}
			if err := c.Exec(auth.WithPrincipal(ctx, p)); err != nil {
				t.Fatal(err)
			}
		}

		leave("crashed-1", true)
		clk.Advance(lease - time.Second)
		res := k.send(kitWithKey("crashed-1", createQ, in))
		k.Err(res, "CONFLICT")
		if res.Header.Get("Retry-After") != "1" {
			t.Fatalf("CONFLICT under a live lease with Retry-After %q, want 1", res.Header.Get("Retry-After"))
		}
		k.expectFRs(o.ID, map[string]string{})
		clk.Advance(time.Second)
		ran := k.send(kitWithKey("crashed-1", createQ, in))
		if len(ran.Errors) > 0 || ran.Header.Get(kitReplayedHeader) != "" {
			t.Fatalf("retry once the lease expired: %s, want the request run", ran.Raw)
		}
		if again := k.send(kitWithKey("crashed-1", createQ, in)); again.Header.Get(kitReplayedHeader) != "true" || string(again.Raw) != string(ran.Raw) {
			t.Fatalf("retry after the takeover: %s, want %s replayed", again.Raw, ran.Raw)
		}
		k.expectFRs(o.ID, map[string]string{"CR-1-1": "UNPROCESSED"})

		leave("crashed-2", true)
		clk.Advance(lease)
		reqs := make([]Request, 10)
		for i := range reqs {
			reqs[i] = kitWithKey("crashed-2", createQ, in)
		}
		kitOneRan(t, k.concurrently(reqs...))
		k.expectFRs(o.ID, map[string]string{"CR-1-1": "UNPROCESSED", "CR-1-2": "UNPROCESSED"})

		leave("crashed-3", false)
		clk.Advance(lease - time.Second)
		k.Err(k.send(kitWithKey("crashed-3", createQ, in)), "CONFLICT")
		clk.Advance(time.Second)
		if res := k.send(kitWithKey("crashed-3", createQ, in)); len(res.Errors) > 0 || res.Header.Get(kitReplayedHeader) != "" {
			t.Fatalf("retry of a record from before leases, a lease length on: %s", res.Raw)
		}
		k.expectFRs(o.ID, map[string]string{"CR-1-1": "UNPROCESSED", "CR-1-2": "UNPROCESSED", "CR-1-3": "UNPROCESSED"})
		kitExpectStock(t, k.checkLedger(), map[string]int{"S/A": 3})
	})
}

// TestHardeningIdempotencyTransientConflict: a keyed importOrder whose
// transaction PostgreSQL aborts with a serialization failure on every
// attempt (a trigger raising 40001 stands for a busy moment) answers
// CONFLICT "try again" and writes nothing. The retry under the same key,
// once the database lets it through, imports the order: the transient
// CONFLICT was not remembered as the key's answer. (SQLite has no
// statement-level way to fail a transaction as busy; the middleware's side
// is covered on both databases by internal/idempotency.)
func TestHardeningIdempotencyTransientConflict(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, a *app.App) {
		if !a.Store.Postgres() {
			t.Skip("PostgreSQL only: a trigger raising a serialization failure")
		}
		for _, stmt := range []string{
			`CREATE FUNCTION busy_orders() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'busy' USING ERRCODE = '40001'; END $$ LANGUAGE plpgsql`,
			`CREATE TRIGGER busy_orders BEFORE INSERT ON orders FOR EACH ROW EXECUTE FUNCTION busy_orders()`,
		} {
			if _, err := a.Store.DB.Exec(stmt); err != nil {
				t.Fatalf("%s: %v", stmt, err)
			}
		}
		k := newKit(t, a)
		importQ := `mutation($in: ImportOrderInput!) { importOrder(input: $in) { id orderNumber } }`
		vars := map[string]any{"in": kitOrderInput("TC-1", "PAID", "US", kitLine{"A", 1})}
		first := k.send(kitWithKey("transient", importQ, vars))
		k.Err(first, "CONFLICT")
		if _, err := a.Store.DB.Exec(`DROP TRIGGER busy_orders ON orders`); err != nil {
			t.Fatal(err)
		}
		again := k.send(kitWithKey("transient", importQ, vars))
		if again.Header.Get(kitReplayedHeader) != "" || len(again.Errors) > 0 {
			t.Fatalf("the retry under the key was handed the transient CONFLICT again: %s", again.Raw)
		}
		var out struct{ ImportOrder struct{ OrderNumber string } }
		if err := json.Unmarshal(again.Data, &out); err != nil || out.ImportOrder.OrderNumber != "TC-1" {
			t.Fatalf("the retry's answer: %s (%v)", again.Raw, err)
		}
	})
}
