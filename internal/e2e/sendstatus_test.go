package e2e

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/frsvc/fulfillment/internal/app"
	"github.com/frsvc/fulfillment/internal/tenant"
	"github.com/frsvc/fulfillment/internal/testdb"
)

// sendReportQuery asks for every count of a send run, the notices' too.
const sendReportQuery = `mutation { runSendFulfillmentRequests { claimed processed acknowledged failed retried notices noticesFailed complete } }`

type sendReport struct {
	Claimed, Processed, Acknowledged, Failed, Retried, Notices, NoticesFailed int
	Complete                                                                  bool
}

// ssRun runs the send run of h's account and returns its counts.
func ssRun(h *hdEnv) sendReport {
	h.T.Helper()
	var out struct{ RunSendFulfillmentRequests sendReport }
	h.Query(sendReportQuery, nil, &out)
	if !out.RunSendFulfillmentRequests.Complete {
		h.T.Fatalf("send run not complete: %+v", out.RunSendFulfillmentRequests)
	}
	return out.RunSendFulfillmentRequests
}

// ssFR is what the tests read of a request.
type ssFR struct {
	Status        string
	NextAttemptAt *string
	Logs          struct {
		Edges []struct {
			Node struct {
				Stage, Level, Message string
				Data                  map[string]any
			}
		}
	}
}

func ssGet(h *hdEnv, id string) ssFR {
	h.T.Helper()
	var out struct{ Node ssFR }
	h.Query(`query($id: ID!) { node(id: $id) { ... on FulfillmentRequest { status nextAttemptAt
		logs(first: 50) { edges { node { stage level message data } } } } } }`, map[string]any{"id": id}, &out)
	return out.Node
}

// ssProcessing is hdPartnerFR for the send status tests: order SS-<code>,
// a 10-second timeout and maxAttempts attempts.
func ssProcessing(h *hdEnv, code, url string, maxAttempts int) string {
	h.T.Helper()
	return hdPartnerFR(h, code, "SS-"+code, hdConnector{url, "whsec_status_0123456789", 10, maxAttempts})
}

func ssServer(t *testing.T, status int, body string) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestSendRunLastAttemptFails: the attempt that exhausts a request's
// attempts is logged as failed, not as a retry, is counted under the failed
// outcome of fulfillment_send_attempts_total, and leaves no next attempt on
// the FAILED request. An attempt with attempts left is logged and counted as
// a retry.
func TestSendRunLastAttemptFails(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, a *app.App) {
		h := hdNew(t, a, nil)
		down := ssServer(t, http.StatusServiceUnavailable, "down")
		last := ssProcessing(h, "ONCE", down, 1)
		again := ssProcessing(h, "TWICE", down, 2)

		if got := ssRun(h); got.Claimed != 2 || got.Failed != 1 || got.Retried != 1 {
			t.Errorf("send run = %+v, want 2 claimed, 1 failed, 1 retried", got)
		}
		fr := ssGet(h, last)
		if fr.Status != "FAILED" || fr.NextAttemptAt != nil {
			t.Errorf("exhausted request: status %s, nextAttemptAt %v; want FAILED and no next attempt", fr.Status, fr.NextAttemptAt)
		}
		var outcomes []any
		for _, e := range fr.Logs.Edges {
			if e.Node.Stage == "send" {
				outcomes = append(outcomes, e.Node.Data["outcome"])
			}
		}
		if len(outcomes) != 1 || outcomes[0] != "failed" {
			t.Errorf("send log outcomes of the exhausted request = %v, want [failed]", outcomes)
		}
		fr = ssGet(h, again)
		if fr.Status != "PROCESSING" || fr.NextAttemptAt == nil {
			t.Errorf("request with an attempt left: status %s, nextAttemptAt %v; want PROCESSING with a next attempt", fr.Status, fr.NextAttemptAt)
		}
		outcomes = nil
		for _, e := range fr.Logs.Edges {
			if e.Node.Stage == "send" {
				outcomes = append(outcomes, e.Node.Data["outcome"])
			}
		}
		if len(outcomes) != 1 || outcomes[0] != "retry" {
			t.Errorf("send log outcomes of the request with an attempt left = %v, want [retry]", outcomes)
		}
		if f, r := CounterValue(t, h.App, "fulfillment_send_attempts_total", map[string]string{"outcome": "failed"}), CounterValue(t, h.App, "fulfillment_send_attempts_total", map[string]string{"outcome": "retry"}); f != 1 || r != 1 {
			t.Errorf("fulfillment_send_attempts_total: failed %v, retry %v; want 1 and 1", f, r)
		}
	})
}

// TestSendRunNoticesAndNextAttempt: a request delivered is PROCESSED with no
// next attempt; one acknowledged, then voided, gets its cancellation notice
// sent by the next run, which reports the notice (not a bare claim), and the
// voided request keeps no next attempt once the notice is through.
func TestSendRunNoticesAndNextAttempt(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, a *app.App) {
		h := hdNew(t, a, nil)
		delivered := ssProcessing(h, "PLAIN", ssServer(t, http.StatusOK, `{}`), 3)
		acked := ssProcessing(h, "ACK", ssServer(t, http.StatusOK, `{"acknowledged": true, "confirmationNumber": "C-1"}`), 3)
		if got := ssRun(h); got.Claimed != 2 || got.Processed != 1 || got.Acknowledged != 1 || got.Notices != 0 {
			t.Errorf("first send run = %+v, want 2 claimed, 1 processed, 1 acknowledged", got)
		}
		if fr := ssGet(h, delivered); fr.Status != "PROCESSED" || fr.NextAttemptAt != nil {
			t.Errorf("delivered request: status %s, nextAttemptAt %v; want PROCESSED and no next attempt", fr.Status, fr.NextAttemptAt)
		}
		if fr := ssGet(h, acked); fr.Status != "ACKNOWLEDGED" || fr.NextAttemptAt != nil {
			t.Errorf("acknowledged request: status %s, nextAttemptAt %v; want ACKNOWLEDGED and no next attempt", fr.Status, fr.NextAttemptAt)
		}
		h.Query(`mutation($id: ID!) { voidFulfillmentRequest(id: $id, reason: "customer changed their mind") { id } }`,
			map[string]any{"id": acked}, nil)
		got := ssRun(h)
		if got != (sendReport{Claimed: 1, Notices: 1, Complete: true}) {
			t.Errorf("notice send run = %+v, want 1 claimed and 1 notice", got)
		}
		if fr := ssGet(h, acked); fr.Status != "VOIDED" || fr.NextAttemptAt != nil {
			t.Errorf("voided request after its notice: status %s, nextAttemptAt %v; want VOIDED and no next attempt", fr.Status, fr.NextAttemptAt)
		}
	})
}

const sendStatusQuery = `{ sendStatus { due sending waiting nextAttemptAt
	lastRun { startedAt finishedAt claimed processed acknowledged failed retried notices noticesFailed complete error } } }`

type sendStatusAnswer struct {
	SendStatus struct {
		Due, Sending, Waiting int
		NextAttemptAt         *string
		LastRun               *struct {
			StartedAt                                                                 string
			FinishedAt                                                                *string
			Claimed, Processed, Acknowledged, Failed, Retried, Notices, NoticesFailed int
			Complete                                                                  bool
			Error                                                                     *string
		}
	}
}

// TestSendStatus: sendStatus says what is due, what backs off and until
// when, and how the account's last run went; that run is kept in the
// database, so another server process on it reports the same, and another
// account sees none of it.
func TestSendStatus(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, a *app.App) {
		h := hdNew(t, a, nil)
		var st sendStatusAnswer
		h.Query(sendStatusQuery, nil, &st)
		if s := st.SendStatus; s.Due != 0 || s.Waiting != 0 || s.Sending != 0 || s.NextAttemptAt != nil || s.LastRun != nil {
			t.Errorf("send status of a new account = %+v, want nothing", s)
		}
		ssProcessing(h, "DOWN", ssServer(t, http.StatusServiceUnavailable, "down"), 3)
		ssProcessing(h, "UP", ssServer(t, http.StatusOK, `{"acknowledged": true}`), 3)
		h.Query(sendStatusQuery, nil, &st)
		if s := st.SendStatus; s.Due != 2 || s.Waiting != 0 || s.NextAttemptAt != nil || s.LastRun != nil {
			t.Errorf("send status before the run = %+v, want 2 due", s)
		}
		ssRun(h)
		h.Query(sendStatusQuery, nil, &st)
		s := st.SendStatus
		if s.Due != 0 || s.Sending != 0 || s.Waiting != 1 || s.NextAttemptAt == nil {
			t.Errorf("send status after the run = %+v, want 1 waiting with its next attempt", s)
		}
		if r := s.LastRun; r == nil || r.FinishedAt == nil || !r.Complete || r.StartedAt == "" || r.Error != nil ||
			r.Claimed != 2 || r.Acknowledged != 1 || r.Retried != 1 || r.Processed+r.Failed+r.Notices+r.NoticesFailed != 0 {
			t.Errorf("last run = %+v, want the finished run: 2 claimed, 1 acknowledged, 1 retried", r)
		}

		// Another server process on the same database reports the same run.
		other := NewAs(t, testdb.On(t, a.Config.DatabaseURL), "Other account")
		other.AdminKey = h.AdminKey
		var there sendStatusAnswer
		other.Query(sendStatusQuery, nil, &there)
		if r := there.SendStatus.LastRun; r == nil || r.StartedAt != s.LastRun.StartedAt || r.FinishedAt == nil ||
			*r.FinishedAt != *s.LastRun.FinishedAt || r.Claimed != 2 || r.Acknowledged != 1 || r.Retried != 1 ||
			there.SendStatus.Waiting != 1 || *there.SendStatus.NextAttemptAt != *s.NextAttemptAt {
			t.Errorf("send status from another process = %+v (last run %+v), want %+v (last run %+v)", there.SendStatus, r, s, s.LastRun)
		}
		// Another account has its own queue and runs.
		env := *h.Env
		env.AdminKey = h.NewAccount("Account B")
		var b sendStatusAnswer
		env.Query(sendStatusQuery, nil, &b)
		if s := b.SendStatus; s.Due != 0 || s.Waiting != 0 || s.LastRun != nil {
			t.Errorf("another account's send status = %+v, want nothing", s)
		}
	})
}

// TestMigrateClearsStaleNextAttempts: a request left PROCESSED with a next
// attempt by an earlier version has it cleared when the schema is migrated;
// a PROCESSING one keeps its own.
func TestMigrateClearsStaleNextAttempts(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, a *app.App) {
		h := hdNew(t, a, nil)
		sent := ssProcessing(h, "SENT", ssServer(t, http.StatusOK, `{}`), 3)
		ssRun(h)
		queued := ssProcessing(h, "QUEUED", ssServer(t, http.StatusOK, `{}`), 3)
		ctx := tenant.WithSystem(context.Background())
		testdb.Must(t, a.Store.Client.FulfillmentRequest.UpdateOneID(kitAtoi(t, sent)).SetNextAttemptAt(time.Now()).Exec(ctx))
		testdb.Must(t, a.Store.Migrate(ctx))
		if fr := ssGet(h, sent); fr.Status != "PROCESSED" || fr.NextAttemptAt != nil {
			t.Errorf("PROCESSED request after migrating: nextAttemptAt %v, want none", fr.NextAttemptAt)
		}
		if fr := ssGet(h, queued); fr.Status != "PROCESSING" || fr.NextAttemptAt == nil {
			t.Errorf("PROCESSING request after migrating: nextAttemptAt %v, want its own", fr.NextAttemptAt)
		}
	})
}

// TestSendStatusRunErrorWording: a run that ends on a database error says
// so in sendStatus.lastRun.error without the driver's words (table names,
// SQL): they are for the server's log, as an INTERNAL error's cause is.
func TestSendStatusRunErrorWording(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, a *app.App) {
		h := hdNew(t, a, nil)
		ssProcessing(h, "UP", ssServer(t, http.StatusOK, `{"acknowledged": true}`), 3)
		ctx := context.Background()
		// The claim loads the requests' items: without their table it fails.
		if _, err := a.Store.DB.ExecContext(ctx, `ALTER TABLE fulfillment_request_items RENAME TO fri_away`); err != nil {
			t.Fatal(err)
		}
		res := h.Do(Request{Key: h.AdminKey, Query: sendReportQuery})
		if _, err := a.Store.DB.ExecContext(ctx, `ALTER TABLE fri_away RENAME TO fulfillment_request_items`); err != nil {
			t.Fatal(err)
		}
		for _, e := range res.Errors {
			if strings.Contains(e.Message, "fri_away") {
				t.Errorf("runSendFulfillmentRequests shows the driver's error: %q", e.Message)
			}
		}
		var st sendStatusAnswer
		h.Query(sendStatusQuery, nil, &st)
		r := st.SendStatus.LastRun
		if r == nil || r.Error == nil || *r.Error == "" {
			t.Fatalf("last run = %+v, want it to tell of its error", r)
		}
		if strings.Contains(*r.Error, "fri_away") || strings.Contains(*r.Error, "fulfillment_request_items") {
			t.Errorf("lastRun.error shows the driver's error: %q", *r.Error)
		}
	})
}
