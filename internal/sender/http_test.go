package sender_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/frsvc/fulfillment/internal/app"
	"github.com/frsvc/fulfillment/internal/e2e"
	"github.com/frsvc/fulfillment/internal/frstatus"
	"github.com/frsvc/fulfillment/internal/sender"
	"github.com/frsvc/fulfillment/internal/testdb"
)

const secret = "s3cret-of-at-least-16-chars"

// TestSendHTTP runs the HTTP connector against sources that acknowledge,
// accept, reject, fail for a while, hang and are gone, and checks statuses,
// attempts, backoff, logs, signatures and idempotency keys.
func TestSendHTTP(t *testing.T) {
	testdb.Each(t, func(t *testing.T, a *app.App) {
		env := e2e.New(t, a)

		t.Run("acknowledging 2xx", func(t *testing.T) {
			w := newWorld(t, env)
			rcv := newReceiver(t, secret, func(delivery) reply {
				return reply{status: http.StatusOK, body: `{"acknowledged": true, "confirmationNumber": "C-1"}`}
			})
			src := w.httpSource("ACK", rcv, nil)
			a, b := w.queued(src), w.queued(src)
			res := w.run(w.runner(newClock(), "t"))
			if res != (sender.Result{Claimed: 2, Acknowledged: 2}) {
				t.Errorf("result %+v", res)
			}
			for _, id := range []int{a, b} {
				fr := w.get(id)
				if fr.Status != frstatus.Acknowledged || fr.ConfirmationNumber == nil || *fr.ConfirmationNumber != "C-1" ||
					fr.Attempts != 1 || fr.AcknowledgedAt == nil || fr.LeaseHolder != nil || fr.LeaseExpiresAt != nil {
					t.Errorf("request %d: %s confirmation %v attempts %d acknowledgedAt %v lease %v",
						id, fr.Status, fr.ConfirmationNumber, fr.Attempts, fr.AcknowledgedAt, fr.LeaseHolder)
				}
				logs := w.logs(id, "send")
				if len(logs) != 1 {
					t.Fatalf("request %d: %d send logs, want 1", id, len(logs))
				}
				checkLog(t, logs[0], "HTTP", "acknowledged", 1, 200)
				tr := w.logs(id, "transition")
				if last := tr[len(tr)-1]; last.Data["from"] != "PROCESSING" || last.Data["to"] != "ACKNOWLEDGED" {
					t.Errorf("last transition %v", last.Data)
				}
			}
			got := rcv.deliveries()
			if len(got) != 2 {
				t.Fatalf("%d deliveries, want 2", len(got))
			}
			keys := map[string]bool{}
			for _, d := range got {
				keys[d.Key] = true
				fr := w.get(d.Doc.ID)
				if d.Key != sender.IdempotencyKey(fr.ID) || !strings.HasPrefix(d.Key, "fr-") {
					t.Errorf("key %q for request %d", d.Key, fr.ID)
				}
				checkDocument(t, d.Doc, w, fr.ID, "fulfillment_request")
			}
			if len(keys) != 2 {
				t.Errorf("two requests delivered under keys %v: want one key each", keys)
			}
			rcv.checkSigned(t)
		})

		t.Run("plain 2xx", func(t *testing.T) {
			w := newWorld(t, env)
			answers := map[string]reply{
				"O-1": {status: http.StatusOK, body: "ok"},
				"O-2": {status: http.StatusNoContent},
				"O-3": {status: http.StatusCreated, body: `{"acknowledged": false, "confirmationNumber": "X-9"}`},
			}
			rcv := newReceiver(t, secret, func(d delivery) reply { return answers[d.Doc.OrderNumber] })
			src := w.httpSource("PLAIN", rcv, nil)
			ids := []int{w.queued(src), w.queued(src), w.queued(src)}
			if res := w.run(w.runner(newClock(), "t")); res != (sender.Result{Claimed: 3, Processed: 3}) {
				t.Errorf("result %+v", res)
			}
			wantStatus := []int{200, 204, 201}
			for i, id := range ids {
				fr := w.get(id)
				if fr.Status != frstatus.Processed || fr.Attempts != 1 || fr.ProcessedAt == nil || fr.ConfirmationNumber != nil || fr.LeaseHolder != nil {
					t.Errorf("request %d: %s attempts %d processedAt %v confirmation %v", id, fr.Status, fr.Attempts, fr.ProcessedAt, fr.ConfirmationNumber)
				}
				logs := w.logs(id, "send")
				if len(logs) != 1 {
					t.Fatalf("%d send logs", len(logs))
				}
				checkLog(t, logs[0], "HTTP", "delivered", 1, wantStatus[i])
			}
			rcv.checkSigned(t)
		})

		t.Run("4xx fails at once", func(t *testing.T) {
			w := newWorld(t, env)
			answers := map[string]reply{
				"O-1": {status: http.StatusUnprocessableEntity, body: "  unknown sku SKU-A \n"},
				"O-2": {status: http.StatusBadRequest, body: strings.Repeat("x", 300)},
			}
			rcv := newReceiver(t, secret, func(d delivery) reply { return answers[d.Doc.OrderNumber] })
			src := w.httpSource("REJ", rcv, nil)
			a, b := w.queued(src), w.queued(src)
			clock := newClock()
			r := w.runner(clock, "t")
			if res := w.run(r); res != (sender.Result{Claimed: 2, Failed: 2}) {
				t.Errorf("result %+v", res)
			}
			fa, fb := w.get(a), w.get(b)
			if fa.Status != frstatus.Failed || fa.FailureReason == nil || *fa.FailureReason != "HTTP 422: unknown sku SKU-A" ||
				fa.Attempts != 1 || fa.FailedAt == nil || fa.LeaseHolder != nil {
				t.Errorf("422: %s reason %v attempts %d", fa.Status, fa.FailureReason, fa.Attempts)
			}
			if fb.Status != frstatus.Failed || fb.FailureReason == nil || !strings.HasPrefix(*fb.FailureReason, "HTTP 400: xxx") ||
				len(*fb.FailureReason) > 250 {
				t.Errorf("400: %s reason %v (the source's answer should be cut short)", fb.Status, fb.FailureReason)
			}
			logs := w.logs(a, "send")
			if len(logs) != 1 {
				t.Fatalf("%d send logs", len(logs))
			}
			checkLog(t, logs[0], "HTTP", "rejected", 1, 422)
			if logs[0].Data["reason"] != "HTTP 422: unknown sku SKU-A" {
				t.Errorf("log reason %v", logs[0].Data["reason"])
			}
			// Never retried, however long one waits.
			clock.Advance(time.Hour)
			if res := w.run(r); res.Claimed != 0 {
				t.Errorf("a rejected request was claimed again: %+v", res)
			}
			if n := len(rcv.deliveries()); n != 2 {
				t.Errorf("%d deliveries, want 2", n)
			}
			rcv.checkSigned(t)
		})

		t.Run("5xx then success", func(t *testing.T) {
			w := newWorld(t, env)
			rcv := newReceiver(t, secret, func(d delivery) reply {
				if d.Attempt == 1 {
					return reply{status: http.StatusServiceUnavailable, body: "busy"}
				}
				return reply{status: http.StatusOK}
			})
			src := w.httpSource("RETRY", rcv, nil)
			id := w.queued(src)
			clock := newClock()
			r := w.runner(clock, "t")
			at := clock.Now()
			if res := w.run(r); res != (sender.Result{Claimed: 1, Retried: 1}) {
				t.Errorf("first run %+v", res)
			}
			fr := w.get(id)
			if fr.Status != frstatus.Processing || fr.Attempts != 1 || fr.LeaseHolder != nil || fr.LeaseExpiresAt != nil || fr.FailureReason != nil {
				t.Errorf("after a 503: %s attempts %d lease %v reason %v", fr.Status, fr.Attempts, fr.LeaseHolder, fr.FailureReason)
			}
			checkBackoff(t, fr.NextAttemptAt, at, 1)
			logs := w.logs(id, "send")
			if len(logs) != 1 {
				t.Fatalf("%d send logs", len(logs))
			}
			checkLog(t, logs[0], "HTTP", "retry", 1, 503)
			if logs[0].Data["reason"] != "HTTP 503" || logs[0].Data["nextAttemptAt"] == nil {
				t.Errorf("retry log data %v", logs[0].Data)
			}
			// Not due before its time.
			if res := w.run(r); res.Claimed != 0 {
				t.Errorf("claimed before the backoff ran out: %+v", res)
			}
			clock.Advance(testBase)
			if res := w.run(r); res != (sender.Result{Claimed: 1, Processed: 1}) {
				t.Errorf("second run %+v", res)
			}
			fr = w.get(id)
			if fr.Status != frstatus.Processed || fr.Attempts != 2 {
				t.Errorf("after the retry: %s attempts %d", fr.Status, fr.Attempts)
			}
			logs = w.logs(id, "send")
			if len(logs) != 2 {
				t.Fatalf("%d send logs", len(logs))
			}
			checkLog(t, logs[1], "HTTP", "delivered", 2, 200)
			got := rcv.deliveries()
			if len(got) != 2 || got[0].Key != got[1].Key || got[0].Key != sender.IdempotencyKey(id) {
				t.Errorf("deliveries %d with keys %q, want 2 under %q", len(got), keysOf(got), sender.IdempotencyKey(id))
			}
			if string(got[0].Body) != string(got[1].Body) {
				t.Errorf("the retry sent another document:\n%s\n%s", got[0].Body, got[1].Body)
			}
			rcv.checkSigned(t)
		})

		t.Run("408 and 429 are retried", func(t *testing.T) {
			w := newWorld(t, env)
			rcv := newReceiver(t, secret, func(d delivery) reply {
				switch d.Attempt {
				case 1:
					return reply{status: http.StatusRequestTimeout}
				case 2:
					return reply{status: http.StatusTooManyRequests}
				}
				return reply{status: http.StatusOK, body: `{"acknowledged":true}`}
			})
			src := w.httpSource("SLOW", rcv, nil)
			id := w.queued(src)
			clock := newClock()
			r := w.runner(clock, "t")
			for attempt, status := range []int{408, 429} {
				at := clock.Now()
				if res := w.run(r); res != (sender.Result{Claimed: 1, Retried: 1}) {
					t.Errorf("attempt %d: %+v", attempt+1, res)
				}
				fr := w.get(id)
				if fr.Status != frstatus.Processing || fr.Attempts != attempt+1 {
					t.Errorf("after HTTP %d: %s attempts %d", status, fr.Status, fr.Attempts)
				}
				checkBackoff(t, fr.NextAttemptAt, at, attempt+1)
				clock.Advance(fr.NextAttemptAt.Sub(at))
			}
			if res := w.run(r); res != (sender.Result{Claimed: 1, Acknowledged: 1}) {
				t.Errorf("last run %+v", res)
			}
			fr := w.get(id)
			if fr.Status != frstatus.Acknowledged || fr.Attempts != 3 || fr.ConfirmationNumber != nil {
				t.Errorf("%s attempts %d confirmation %v", fr.Status, fr.Attempts, fr.ConfirmationNumber)
			}
			logs := w.logs(id, "send")
			if len(logs) != 3 {
				t.Fatalf("%d send logs", len(logs))
			}
			checkLog(t, logs[0], "HTTP", "retry", 1, 408)
			checkLog(t, logs[1], "HTTP", "retry", 2, 429)
			checkLog(t, logs[2], "HTTP", "acknowledged", 3, 200)
			if keys := keysOf(rcv.deliveries()); len(keys) != 3 || keys[0] != keys[1] || keys[1] != keys[2] {
				t.Errorf("keys %q", keys)
			}
			rcv.checkSigned(t)
		})

		t.Run("timeout is retried", func(t *testing.T) {
			w := newWorld(t, env)
			rcv := newReceiver(t, secret, func(d delivery) reply {
				if d.Attempt == 1 {
					return reply{status: http.StatusOK, wait: 5 * time.Second}
				}
				return reply{status: http.StatusOK}
			})
			src := w.httpSource("HANG", rcv, map[string]any{"timeoutSeconds": 1})
			id := w.queued(src)
			clock := newClock()
			r := w.runner(clock, "t")
			at, start := clock.Now(), time.Now()
			if res := w.run(r); res != (sender.Result{Claimed: 1, Retried: 1}) {
				t.Errorf("first run %+v", res)
			}
			if d := time.Since(start); d < time.Second || d > 4*time.Second {
				t.Errorf("the run took %s with a 1s timeout", d)
			}
			fr := w.get(id)
			if fr.Status != frstatus.Processing || fr.Attempts != 1 {
				t.Errorf("after a timeout: %s attempts %d", fr.Status, fr.Attempts)
			}
			checkBackoff(t, fr.NextAttemptAt, at, 1)
			logs := w.logs(id, "send")
			checkLog(t, logs[0], "HTTP", "retry", 1, 0)
			if reason, _ := logs[0].Data["reason"].(string); !strings.Contains(reason, "timed out after 1s") {
				t.Errorf("reason %q", reason)
			}
			if ms := num(logs[0].Data["durationMs"]); ms < 1000 {
				t.Errorf("duration %dms, want at least the timeout", ms)
			}
			clock.Advance(testBase)
			if res := w.run(r); res != (sender.Result{Claimed: 1, Processed: 1}) {
				t.Errorf("second run %+v", res)
			}
			if fr := w.get(id); fr.Status != frstatus.Processed || fr.Attempts != 2 {
				t.Errorf("%s attempts %d", fr.Status, fr.Attempts)
			}
			rcv.checkSigned(t)
		})

		t.Run("connection refused is retried, then fails", func(t *testing.T) {
			w := newWorld(t, env)
			gone := httptest.NewServer(http.NotFoundHandler())
			url := gone.URL
			gone.Close()
			var out struct{ CreateSource struct{ ID string } }
			w.q(`mutation($input: CreateSourceInput!) { createSource(input: $input) { id } }`, map[string]any{"input": map[string]any{
				"name": "Gone", "code": "GONE", "connector": map[string]any{"kind": "HTTP", "url": url, "secret": secret, "maxAttempts": 2},
			}}, &out)
			src := atoi(t, out.CreateSource.ID)
			w.q(`mutation($s: ID!) { upsertInventory(sourceID: $s, items: [{sku: "SKU-A", quantity: 10, unitCost: "1"}, {sku: "SKU-B", quantity: 10, unitCost: "1"}]) { id } }`,
				map[string]any{"s": src}, nil)
			id := w.queued(src)
			clock := newClock()
			r := w.runner(clock, "t")
			at := clock.Now()
			if res := w.run(r); res != (sender.Result{Claimed: 1, Retried: 1}) {
				t.Errorf("first run %+v", res)
			}
			fr := w.get(id)
			if fr.Status != frstatus.Processing || fr.Attempts != 1 {
				t.Errorf("%s attempts %d", fr.Status, fr.Attempts)
			}
			checkBackoff(t, fr.NextAttemptAt, at, 1)
			clock.Advance(testBase)
			if res := w.run(r); res != (sender.Result{Claimed: 1, Failed: 1}) {
				t.Errorf("second run %+v", res)
			}
			fr = w.get(id)
			if fr.Status != frstatus.Failed || fr.Attempts != 2 || fr.FailureReason == nil ||
				*fr.FailureReason != "gave up after 2 attempts: connection refused" {
				t.Errorf("%s attempts %d reason %v", fr.Status, fr.Attempts, fr.FailureReason)
			}
			logs := w.logs(id, "send")
			if len(logs) != 2 {
				t.Fatalf("%d send logs", len(logs))
			}
			checkLog(t, logs[0], "HTTP", "retry", 1, 0)
			checkLog(t, logs[1], "HTTP", "failed", 2, 0)
			if logs[0].Data["reason"] != "connection refused" || logs[1].Data["nextAttemptAt"] != nil {
				t.Errorf("logs %v / %v", logs[0].Data, logs[1].Data)
			}
		})

		t.Run("retries exhausted", func(t *testing.T) {
			w := newWorld(t, env)
			rcv := newReceiver(t, secret, func(d delivery) reply {
				if d.Attempt <= 3 {
					return reply{status: http.StatusInternalServerError, body: "boom"}
				}
				return reply{status: http.StatusOK}
			})
			src := w.httpSource("DOWN", rcv, map[string]any{"maxAttempts": 3})
			id, other := w.queued(src), w.queued(src)
			clock := newClock()
			r := w.runner(clock, "t")
			for attempt := 1; attempt <= 3; attempt++ {
				at := clock.Now()
				res := w.run(r)
				fr := w.get(id)
				if fr.Attempts != attempt {
					t.Fatalf("attempt %d: attempts %d", attempt, fr.Attempts)
				}
				if attempt < 3 {
					if res != (sender.Result{Claimed: 2, Retried: 2}) || fr.Status != frstatus.Processing {
						t.Errorf("attempt %d: %+v, %s", attempt, res, fr.Status)
					}
					checkBackoff(t, fr.NextAttemptAt, at, attempt)
					// Due once both requests' waits are over.
					clock.Advance(testBase << (attempt - 1))
					continue
				}
				if res != (sender.Result{Claimed: 2, Failed: 2}) || fr.Status != frstatus.Failed || fr.FailureReason == nil ||
					*fr.FailureReason != "gave up after 3 attempts: HTTP 500" || fr.FailedAt == nil {
					t.Errorf("last attempt: %+v, %s, reason %v", res, fr.Status, fr.FailureReason)
				}
			}
			logs := w.logs(id, "send")
			if len(logs) != 3 {
				t.Fatalf("%d send logs", len(logs))
			}
			for i, l := range logs {
				want := "retry"
				if i == len(logs)-1 {
					want = "failed" // the last attempt allowed
				}
				checkLog(t, l, "HTTP", want, i+1, 500)
				if num(l.Data["maxAttempts"]) != 3 {
					t.Errorf("maxAttempts %v", l.Data["maxAttempts"])
				}
			}
			if logs[2].Data["nextAttemptAt"] != nil || !strings.Contains(logs[2].Message, "failed") {
				t.Errorf("the last attempt announces another: %q %v", logs[2].Message, logs[2].Data)
			}
			if tr := w.logs(id, "transition"); tr[len(tr)-1].Data["to"] != "FAILED" {
				t.Errorf("no transition to FAILED logged: %v", tr[len(tr)-1].Data)
			}
			clock.Advance(time.Hour)
			if res := w.run(r); res.Claimed != 0 {
				t.Errorf("a failed request was claimed: %+v", res)
			}
			// An operator processes it again: attempts start over, same key.
			w.q(`mutation($ids: [ID!]!) { processFulfillmentRequests(ids: $ids) { id } }`, map[string]any{"ids": []int{id}}, nil)
			clock.Advance(time.Hour)
			if res := w.run(r); res != (sender.Result{Claimed: 1, Processed: 1}) {
				t.Errorf("after processing again: %+v", res)
			}
			if fr := w.get(id); fr.Status != frstatus.Processed || fr.Attempts != 1 || fr.FailureReason != nil {
				t.Errorf("%s attempts %d reason %v", fr.Status, fr.Attempts, fr.FailureReason)
			}
			perKey := map[string]int{}
			for _, d := range rcv.deliveries() {
				perKey[d.Key]++
			}
			if perKey[sender.IdempotencyKey(id)] != 4 || perKey[sender.IdempotencyKey(other)] != 3 || len(perKey) != 2 {
				t.Errorf("deliveries per key %v", perKey)
			}
			rcv.checkSigned(t)
		})
	})
}

func keysOf(ds []delivery) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.Key
	}
	return out
}

// checkDocument compares a received document with the request it describes.
func checkDocument(t *testing.T, doc sender.Document, w *world, id int, typ string) {
	t.Helper()
	fr := w.get(id)
	o := fr.Edges.Order
	if doc.Type != typ || doc.ID != fr.ID || doc.Number != fr.Number || doc.OrderNumber != o.OrderNumber ||
		doc.ReferenceNumber != o.ReferenceNumber || doc.Channel != "web" || doc.ShipTo != o.ShipTo ||
		doc.TotalCost != fr.TotalCost.String() || doc.ItemCost != fr.ItemCost.String() ||
		doc.DropshipFee != "1.50" || doc.CreatedAt.IsZero() {
		t.Errorf("document %+v does not describe request %d (%s of order %s)", doc, id, fr.Number, o.OrderNumber)
	}
	if len(doc.Items) != len(fr.Edges.Items) || len(doc.Items) != 2 {
		t.Fatalf("document items %+v, want %d", doc.Items, len(fr.Edges.Items))
	}
	want := map[string]int{"SKU-A": 2, "SKU-B": 1}
	titles := map[string]string{"SKU-A": "Widget, large", "SKU-B": `Gadget "deluxe"`}
	for _, it := range doc.Items {
		if want[it.SKU] != it.Quantity || titles[it.SKU] != it.Title || it.ID == 0 || it.UnitCost == "" {
			t.Errorf("document item %+v", it)
		}
	}
}

// TestSendFailureReasonBounded: what a source answers reaches
// failureReason only as the HTTP status and a short excerpt of printable
// characters: no control or format characters (terminal escapes, NUL, line
// breaks, bidirectional overrides), at most 64 of the answer's. Before, the
// first 200 characters came back as they were.
func TestSendFailureReasonBounded(t *testing.T) {
	testdb.Each(t, func(t *testing.T, a *app.App) {
		env := e2e.New(t, a)
		w := newWorld(t, env)
		body := "\x1b[31mDENIED\x1b[0m\r\n\x00\u202egnp.\u200b " + strings.Repeat("secret-", 100)
		loc := "https://elsewhere.example.com/\u202e" + strings.Repeat("long/", 60)
		rcv := newReceiver(t, secret, func(d delivery) reply {
			if d.Doc.OrderNumber == "O-2" {
				return reply{status: http.StatusMovedPermanently, location: loc}
			}
			return reply{status: http.StatusBadRequest, body: body}
		})
		src := w.httpSource("RSN", rcv, nil)
		rejected, moved := w.queued(src), w.queued(src)
		if res := w.run(w.runner(newClock(), "t")); res.Failed != 2 {
			t.Fatalf("result %+v", res)
		}
		for _, c := range []struct {
			id     int
			prefix string
		}{{rejected, "HTTP 400: [31mDENIED[0m gnp. secret-secret-"}, {moved, "HTTP 301: the connector URL redirects to "}} {
			fr := w.get(c.id)
			if fr.FailureReason == nil {
				t.Fatalf("request %d has no failure reason", c.id)
			}
			reason := *fr.FailureReason
			if !strings.HasPrefix(reason, c.prefix) {
				t.Errorf("reason %q, want it to start %q", reason, c.prefix)
			}
			if n := utf8.RuneCountInString(reason); n > 160 {
				t.Errorf("reason of %d characters: %q", n, reason)
			}
			for _, r := range reason {
				if !unicode.IsGraphic(r) {
					t.Errorf("reason %q holds %U", reason, r)
				}
			}
		}
		if r := *w.get(rejected).FailureReason; utf8.RuneCountInString(strings.TrimPrefix(r, "HTTP 400: ")) > 65 || !strings.HasSuffix(r, "…") {
			t.Errorf("excerpt %q: want at most 64 characters and an ellipsis", r)
		}
	})
}
