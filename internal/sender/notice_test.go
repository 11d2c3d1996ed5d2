package sender_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/frsvc/fulfillment/ent/fulfillmentlog"
	"github.com/frsvc/fulfillment/internal/app"
	"github.com/frsvc/fulfillment/internal/e2e"
	"github.com/frsvc/fulfillment/internal/frstatus"
	"github.com/frsvc/fulfillment/internal/sender"
	"github.com/frsvc/fulfillment/internal/testdb"
)

// TestCancellationNotice voids requests an HTTP source already had and
// checks that the next runs tell it, under a key of their own, until it
// hears; a request the source never had gets no notice.
func TestCancellationNotice(t *testing.T) {
	testdb.Each(t, func(t *testing.T, a *app.App) {
		env := e2e.New(t, a)
		w := newWorld(t, env)
		var cancelAttempts int
		rcv := newReceiver(t, secret, func(d delivery) reply {
			if d.Doc.Type == "cancellation" && d.Doc.OrderNumber == "O-1" {
				cancelAttempts++
				if cancelAttempts == 1 {
					return reply{status: http.StatusBadGateway}
				}
			}
			if d.Doc.OrderNumber == "O-2" && d.Doc.Type != "cancellation" {
				return reply{status: http.StatusOK, body: `{"acknowledged": true, "confirmationNumber": "C-2"}`}
			}
			return reply{status: http.StatusOK}
		})
		src := w.httpSource("NOTE", rcv, nil)
		processed, acked := w.queued(src), w.queued(src)
		never := w.fr(src) // UNPROCESSED: the source never had it
		clock := newClock()
		r := w.runner(clock, "t")
		if res := w.run(r); res != (sender.Result{Claimed: 2, Processed: 1, Acknowledged: 1}) {
			t.Fatalf("delivery run %+v", res)
		}

		void := func(id int, reason string) (status string, pending bool) {
			var out struct {
				VoidFulfillmentRequest struct {
					Status                    string
					CancellationNoticePending bool
				}
			}
			w.q(`mutation($id: ID!, $r: String!) { voidFulfillmentRequest(id: $id, reason: $r) { status cancellationNoticePending } }`,
				map[string]any{"id": id, "r": reason}, &out)
			return out.VoidFulfillmentRequest.Status, out.VoidFulfillmentRequest.CancellationNoticePending
		}
		if st, p := void(processed, "customer changed their mind"); st != "VOIDED" || !p {
			t.Errorf("void of a PROCESSED request: %s, notice pending %v", st, p)
		}
		if st, p := void(acked, "duplicate order"); st != "VOIDED" || !p {
			t.Errorf("void of an ACKNOWLEDGED request: %s, notice pending %v", st, p)
		}
		if st, p := void(never, "not needed"); st != "VOIDED" || p {
			t.Errorf("void of an UNPROCESSED request: %s, notice pending %v", st, p)
		}
		if q := w.logs(processed, "cancellation-notice"); len(q) != 1 || !strings.Contains(q[0].Message, "queued") {
			t.Errorf("the queued notice is not logged: %v", q)
		}

		at := clock.Now()
		res := w.run(r)
		if res.Claimed != 2 || res.Processed+res.Acknowledged+res.Failed+res.Retried != 0 {
			t.Errorf("notice run %+v: notices are not requests and count only as claimed", res)
		}
		notices := func() []delivery {
			var out []delivery
			for _, d := range rcv.deliveries() {
				if d.Doc.Type == "cancellation" {
					out = append(out, d)
				}
			}
			return out
		}
		if n := notices(); len(n) != 2 {
			t.Fatalf("%d notices, want 2", len(n))
		}
		for _, d := range notices() {
			id := d.Doc.ID
			if d.Key != sender.IdempotencyKey(id)+"-cancel" || d.Key != "fr-"+strconv.Itoa(id)+"-cancel" {
				t.Errorf("notice of %d under key %q", id, d.Key)
			}
			wantReason := map[int]string{processed: "customer changed their mind", acked: "duplicate order"}[id]
			if d.Doc.Reason != wantReason {
				t.Errorf("notice of %d gives reason %q, want %q", id, d.Doc.Reason, wantReason)
			}
			checkDocument(t, d.Doc, w, id, "cancellation")
		}
		// The acknowledged one was told at once; the other one is retried.
		if fr := w.get(acked); fr.CancellationNoticePending || fr.Status != frstatus.Voided {
			t.Errorf("acknowledged: %s, pending %v", fr.Status, fr.CancellationNoticePending)
		}
		fr := w.get(processed)
		if !fr.CancellationNoticePending || fr.Status != frstatus.Voided || fr.Attempts != 1 || fr.LeaseHolder != nil {
			t.Errorf("after a 502: %s, pending %v, attempts %d", fr.Status, fr.CancellationNoticePending, fr.Attempts)
		}
		checkBackoff(t, fr.NextAttemptAt, at, 1)
		clock.Advance(testBase)
		if res := w.run(r); res.Claimed != 1 {
			t.Errorf("retry run %+v", res)
		}
		if fr := w.get(processed); fr.CancellationNoticePending || fr.Status != frstatus.Voided || fr.Attempts != 2 {
			t.Errorf("after the retry: %s, pending %v, attempts %d", fr.Status, fr.CancellationNoticePending, fr.Attempts)
		}
		clock.Advance(24 * time.Hour)
		if res := w.run(r); res.Claimed != 0 {
			t.Errorf("a cleared notice was sent again: %+v", res)
		}
		perKey := map[string]int{}
		for _, d := range notices() {
			perKey[d.Key]++
		}
		if len(perKey) != 2 || perKey[sender.IdempotencyKey(processed)+"-cancel"] != 2 || perKey[sender.IdempotencyKey(acked)+"-cancel"] != 1 {
			t.Errorf("notices per key %v", perKey)
		}

		logs := w.logs(processed, "cancellation-notice")
		if len(logs) != 3 {
			t.Fatalf("%d cancellation-notice logs, want queued + 2 attempts", len(logs))
		}
		checkLog(t, logs[1], "HTTP", "retry", 1, 502)
		checkLog(t, logs[2], "HTTP", "delivered", 2, 200)
		if send := w.logs(processed, "send"); len(send) != 1 {
			t.Errorf("the notice was logged as a delivery: %d send logs", len(send))
		}
		if st := w.get(processed).Status; st != frstatus.Voided {
			t.Errorf("status %s", st)
		}
		for _, l := range logs {
			if l.Level == fulfillmentlog.LevelERROR {
				t.Errorf("error logged: %s", l.Message)
			}
		}
		rcv.checkSigned(t)
	})
}
