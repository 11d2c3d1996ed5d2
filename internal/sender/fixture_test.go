package sender_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/frsvc/fulfillment/ent"
	"github.com/frsvc/fulfillment/ent/fulfillmentlog"
	"github.com/frsvc/fulfillment/ent/fulfillmentrequest"
	"github.com/frsvc/fulfillment/internal/db"
	"github.com/frsvc/fulfillment/internal/e2e"
	"github.com/frsvc/fulfillment/internal/fulfillment"
	"github.com/frsvc/fulfillment/internal/sender"
	"github.com/frsvc/fulfillment/internal/tenant"
	"github.com/frsvc/fulfillment/internal/testdb"
)

// The tests of this package drive the send run against httptest sources
// and temporary drop directories. Data is set up through the GraphQL API as
// an operator would; each scenario works in an account of its own, and the
// runner is confined to that account, so scenarios sharing a database never
// send each other's requests.

// testBase is the backoff base of the tests: small, so that a retry's wait
// is short even on the real clock.
const testBase = 10 * time.Millisecond

// newClock is the runner's controllable clock. It starts a minute ahead of
// the wall clock (and on a whole millisecond), so that whatever the API
// stamped with the wall clock is already due for it.
func newClock() *testdb.Clock {
	return testdb.NewClock(time.Now().Add(time.Minute).Truncate(time.Millisecond))
}

// delivery is one POST a test source received.
type delivery struct {
	Key       string
	Signature string
	// SigOK says whether the signature verified with the source's secret.
	SigOK bool
	Body  []byte
	Doc   sender.Document
	// Attempt counts the deliveries under this key so far, from 1.
	Attempt int
}

// reply is how a test source answers one delivery.
type reply struct {
	status int
	body   string
	// wait delays the answer (until the client gives up, at most).
	wait time.Duration
	// location is the Location header of the answer.
	location string
}

// receiver is an HTTP source: it verifies and records every delivery and
// answers as the test's script says.
type receiver struct {
	secret string
	script func(d delivery) reply

	mu  sync.Mutex
	got []delivery
	srv *httptest.Server
}

func newReceiver(t testing.TB, secret string, script func(d delivery) reply) *receiver {
	r := &receiver{secret: secret, script: script}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	d := delivery{Key: req.Header.Get("Idempotency-Key"), Signature: req.Header.Get("Fulfillment-Signature"), Body: body}
	d.SigOK = req.Method == http.MethodPost && req.Header.Get("Content-Type") == "application/json" &&
		sender.Verify(r.secret, body, d.Signature)
	if err := json.Unmarshal(body, &d.Doc); err != nil {
		d.SigOK = false
	}
	r.mu.Lock()
	for _, g := range r.got {
		if g.Key == d.Key {
			d.Attempt++
		}
	}
	d.Attempt++
	r.got = append(r.got, d)
	r.mu.Unlock()
	rep := reply{status: http.StatusOK}
	if r.script != nil {
		rep = r.script(d)
	}
	if rep.wait > 0 {
		select {
		case <-time.After(rep.wait):
		case <-req.Context().Done():
			return
		}
	}
	if rep.location != "" {
		w.Header().Set("Location", rep.location)
	}
	w.WriteHeader(rep.status)
	_, _ = io.WriteString(w, rep.body)
}

// deliveries returns what arrived so far.
func (r *receiver) deliveries() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivery(nil), r.got...)
}

// checkSigned fails unless every delivery carried a valid signature, a
// JSON body and an idempotency key, and checks that a wrong secret does
// not verify.
func (r *receiver) checkSigned(t *testing.T) {
	t.Helper()
	for i, d := range r.deliveries() {
		if !d.SigOK {
			t.Errorf("delivery %d (key %q): signature %q does not verify with the source's secret", i, d.Key, d.Signature)
		}
		if d.Key == "" {
			t.Errorf("delivery %d has no Idempotency-Key", i)
		}
		if sender.Verify(r.secret+"x", d.Body, d.Signature) {
			t.Errorf("delivery %d verifies with a wrong secret", i)
		}
	}
}

// world is one account of a shared test database, set up through the API.
type world struct {
	t       *testing.T
	env     *e2e.Env
	store   *db.Store
	key     string // the account's ADMIN key
	account int
	ctx     context.Context // confined to the account
	orders  int
	// root is the app's drop root (FILE connectors).
	root string
}

func newWorld(t *testing.T, env *e2e.Env) *world {
	t.Helper()
	env = env.WithT(t)
	key := env.NewAccount(t.Name())
	p := env.Principal(key)
	return &world{t: t, env: env, store: env.Store, key: key, account: p.AccountID,
		ctx: tenant.WithAccount(context.Background(), p.AccountID), root: env.App.Config.FileDropRoot}
}

func (w *world) q(query string, vars map[string]any, out any) {
	w.t.Helper()
	w.env.QueryAs(w.key, query, vars, out)
}

// source creates a source with the connector and stock of SKU-A and SKU-B.
func (w *world) source(code string, connector map[string]any) int {
	w.t.Helper()
	var out struct{ CreateSource struct{ ID string } }
	w.q(`mutation($input: CreateSourceInput!) { createSource(input: $input) { id } }`, map[string]any{"input": map[string]any{
		"name": "Source " + code, "code": code, "dropshipFee": "1.50", "connector": connector,
	}}, &out)
	w.q(`mutation($s: ID!, $items: [InventoryInput!]!) { upsertInventory(sourceID: $s, items: $items) { id } }`, map[string]any{
		"s": out.CreateSource.ID, "items": []any{
			map[string]any{"sku": "SKU-A", "quantity": 1000, "unitCost": "2.25"},
			map[string]any{"sku": "SKU-B", "quantity": 1000, "unitCost": "7"},
		}}, nil)
	return atoi(w.t, out.CreateSource.ID)
}

// httpSource creates a source whose HTTP connector points at r.
func (w *world) httpSource(code string, r *receiver, extra map[string]any) int {
	w.t.Helper()
	c := map[string]any{"kind": "HTTP", "url": r.srv.URL + "/orders", "secret": r.secret}
	for k, v := range extra {
		c[k] = v
	}
	return w.source(code, c)
}

// order imports an order with two lines (SKU-A ×2, SKU-B ×1).
func (w *world) order(number string) int {
	w.t.Helper()
	var out struct{ ImportOrder struct{ ID string } }
	w.q(`mutation($input: ImportOrderInput!) { importOrder(input: $input) { id } }`, map[string]any{"input": map[string]any{
		"channel": "web", "orderNumber": number, "referenceNumber": "REF-" + number, "paymentStatus": "PAID",
		"shipTo": map[string]any{"name": "Ada Lovelace", "line1": "1 Main St", "city": "Springfield", "postalCode": "12345", "country": "US"},
		"lines": []any{
			map[string]any{"sku": "SKU-A", "title": "Widget, large", "quantity": 2, "unitPrice": "9.99"},
			map[string]any{"sku": "SKU-B", "title": `Gadget "deluxe"`, "quantity": 1, "unitPrice": "20"},
		},
	}}, &out)
	return atoi(w.t, out.ImportOrder.ID)
}

// fr creates a request by hand for a new order on the source and returns
// its id, UNPROCESSED.
func (w *world) fr(sourceID int) int {
	w.t.Helper()
	w.orders++
	o := w.order(fmt.Sprintf("O-%d", w.orders))
	var out struct{ CreateFulfillmentRequest struct{ ID string } }
	w.q(`mutation($input: CreateFulfillmentRequestInput!) { createFulfillmentRequest(input: $input) { id } }`,
		map[string]any{"input": map[string]any{"orderID": o, "sourceID": sourceID}}, &out)
	return atoi(w.t, out.CreateFulfillmentRequest.ID)
}

// queued creates a request on the source and processes it: PROCESSING,
// due now.
func (w *world) queued(sourceID int) int {
	w.t.Helper()
	id := w.fr(sourceID)
	w.q(`mutation($ids: [ID!]!) { processFulfillmentRequests(ids: $ids) { id } }`, map[string]any{"ids": []int{id}}, nil)
	return id
}

// get reads a request as stored.
func (w *world) get(id int) *ent.FulfillmentRequest {
	w.t.Helper()
	fr, err := w.store.Client.FulfillmentRequest.Query().Where(fulfillmentrequest.ID(id)).
		WithItems().WithOrder().Only(w.ctx)
	if err != nil {
		w.t.Fatalf("read request %d: %v", id, err)
	}
	return fr
}

// logs returns a request's log entries of one stage, oldest first.
func (w *world) logs(id int, stage string) []*ent.FulfillmentLog {
	w.t.Helper()
	l, err := w.store.Client.FulfillmentLog.Query().
		Where(fulfillmentlog.FulfillmentRequestID(id), fulfillmentlog.Stage(stage)).
		Order(ent.Asc(fulfillmentlog.FieldID)).All(w.ctx)
	if err != nil {
		w.t.Fatalf("read logs: %v", err)
	}
	return l
}

// runner returns a send runner over the world's store on the clock, with
// the app's drop root.
func (w *world) runner(clock *testdb.Clock, holder string) *sender.Runner {
	r := newRunner(w.store, clock, holder)
	r.FileDropRoot = w.root
	return r
}

// dropDir is where a directory of one of the world's FILE sources lies.
func (w *world) dropDir(dir string) string {
	return filepath.Join(w.root, fmt.Sprintf("account-%d", w.account), filepath.FromSlash(dir))
}

// newRunner wires a runner by hand on purpose: these tests run several
// runners (replicas, a crashed one) over one app's store, each with its own
// holder, fake clock and backoff, which one app.New does not make.
func newRunner(store *db.Store, clock *testdb.Clock, holder string) *sender.Runner {
	r := &sender.Runner{
		Store:       store,
		Fulfillment: &fulfillment.Service{Store: store},
		Logger:      slog.New(slog.NewJSONHandler(io.Discard, nil)),
		Holder:      holder,
		BackoffBase: testBase,
		BackoffMax:  time.Minute,
	}
	if clock != nil {
		r.Now = clock.Now
	}
	return r
}

// run runs the send run once for the world's account.
func (w *world) run(r *sender.Runner) sender.Result {
	w.t.Helper()
	res, err := r.RunOnce(w.ctx)
	if err != nil {
		w.t.Fatalf("RunOnce: %v", err)
	}
	return res
}

// checkBackoff fails unless next is within the backoff bounds of the
// attempt that just failed: between half and all of base·2^(attempt-1)
// after at.
func checkBackoff(t *testing.T, next *time.Time, at time.Time, attempt int) {
	t.Helper()
	if next == nil {
		t.Fatalf("no nextAttemptAt after attempt %d", attempt)
	}
	full := testBase << (attempt - 1)
	wait := next.Sub(at)
	if wait < full/2 || wait > full {
		t.Errorf("after attempt %d the next attempt is %s later, want between %s and %s", attempt, wait, full/2, full)
	}
}

// checkLog fails unless a send log entry carries the attempt's facts.
func checkLog(t *testing.T, l *ent.FulfillmentLog, connector, outcome string, attempt, httpStatus int) {
	t.Helper()
	d := l.Data
	if d["connector"] != connector || d["outcome"] != outcome || num(d["attempt"]) != attempt {
		t.Errorf("log %q data = %v, want connector %s, outcome %s, attempt %d", l.Message, d, connector, outcome, attempt)
	}
	if httpStatus != 0 && num(d["httpStatus"]) != httpStatus {
		t.Errorf("log %q httpStatus = %v, want %d", l.Message, d["httpStatus"], httpStatus)
	}
	if httpStatus == 0 && d["httpStatus"] != nil {
		t.Errorf("log %q has httpStatus %v without an HTTP answer", l.Message, d["httpStatus"])
	}
	if ms, ok := d["durationMs"].(float64); !ok || ms < 0 {
		t.Errorf("log %q has no duration: %v", l.Message, d)
	}
	wantLevel := fulfillmentlog.LevelINFO
	if outcome == "retry" || outcome == "rejected" || outcome == "failed" {
		wantLevel = fulfillmentlog.LevelWARN
	}
	if l.Level != wantLevel {
		t.Errorf("log %q level %s, want %s", l.Message, l.Level, wantLevel)
	}
	if l.Actor != "system" {
		t.Errorf("log %q actor %q, want system", l.Message, l.Actor)
	}
}

// num reads a JSON number of a log's data.
func num(v any) int {
	f, ok := v.(float64)
	if !ok {
		return -1
	}
	return int(f)
}

func atoi(t testing.TB, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("id %q: %v", s, err)
	}
	return n
}
