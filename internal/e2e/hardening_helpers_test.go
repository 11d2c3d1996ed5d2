package e2e

// hardening_helpers_test.go is the toolbox of the hardening tests (limits,
// cross-site, CORS, roles, guards, fuzzing). Names carry an hd prefix so that
// they stay clear of the other test files of the package.

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/frsvc/fulfillment/internal/app"
	"github.com/frsvc/fulfillment/internal/db"
	"github.com/frsvc/fulfillment/internal/metrics"
	"github.com/frsvc/fulfillment/internal/tenant"
	"github.com/frsvc/fulfillment/internal/testdb"
)

// hdEnv is an Env over a handler built from a chosen httpapi.Config, with
// its metrics (to tell whether an operation ran) and its log output.
type hdEnv struct {
	*Env
	Metrics *metrics.Metrics
	Logs    *testdb.Buffer
}

// hdNew builds an app over a's database with its configuration adjusted by
// configure, serves it and creates an account with an ADMIN key. The log
// goes to a buffer (JSON, debug level); unless configure says otherwise the
// per-key rate limit is off, as the tests send many requests.
func hdNew(t testing.TB, a *app.App, configure func(*app.Config)) *hdEnv {
	t.Helper()
	logs := &testdb.Buffer{}
	h := testdb.On(t, a.Config.DatabaseURL, func(c *app.Config) {
		c.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		// As the handler's zero configuration had it: no introspection or
		// playground unless asked for.
		c.RateLimit, c.Introspection, c.Playground = 0, false, false
		if configure != nil {
			configure(c)
		}
	})
	e := NewAs(t, h, "Hardening account")
	return &hdEnv{Env: e, Metrics: h.Metrics, Logs: logs}
}

// with returns h reporting to t.
func (h *hdEnv) with(t testing.TB) *hdEnv {
	return &hdEnv{Env: h.WithT(t), Metrics: h.Metrics, Logs: h.Logs}
}

// operations is how many GraphQL operations have been executed so far: the
// sample count of the operation histogram, which hears of every operation
// that got past parsing, validation and the limits.
func (h *hdEnv) operations() uint64 {
	h.T.Helper()
	mfs, err := h.Metrics.Registry.Gather()
	if err != nil {
		h.T.Fatalf("gather metrics: %v", err)
	}
	var n uint64
	for _, mf := range mfs {
		if mf.GetName() != "fulfillment_graphql_duration_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			n += m.GetHistogram().GetSampleCount()
		}
	}
	return n
}

// hdOrders counts the orders of every account, straight from the database.
func hdOrders(t testing.TB, s *db.Store) int {
	t.Helper()
	n, err := s.Client.Order.Query().Count(tenant.WithSystem(context.Background()))
	testdb.Must(t, err)
	return n
}

// hdResponse is a raw HTTP answer.
type hdResponse struct {
	Status int
	Header http.Header
	Body   []byte
}

// result decodes the answer as a GraphQL response (nil when it is not JSON).
func (r *hdResponse) result() *Result {
	res := &Result{Status: r.Status, Header: r.Header, Raw: r.Body}
	if json.Unmarshal(r.Body, res) != nil {
		return nil
	}
	return res
}

// raw sends any request to path with the headers given (nothing is added).
func (h *hdEnv) raw(method, path string, header map[string]string, body io.Reader) *hdResponse {
	h.T.Helper()
	req, err := http.NewRequest(method, h.Server.URL+path, body)
	if err != nil {
		h.T.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := h.Server.Client().Do(req)
	if err != nil {
		h.T.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.T.Fatal(err)
	}
	return &hdResponse{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// hdOrderInput is a valid paid ImportOrderInput of the hardening channel
// with one line.
func hdOrderInput(number string) map[string]any {
	return importInput("hardening", number, "PAID", "US", []any{map[string]any{"sku": "HD-1", "quantity": 1, "unitPrice": "9.99"}})
}

// hdCodes are the error codes of res, or "HTTP <status> not JSON".
func hdCodes(res *Result) string {
	if res == nil {
		return "not JSON"
	}
	return strings.Join(res.Codes(), ",")
}

// hdConnector is the HTTP connector of a partner source.
type hdConnector struct {
	url, secret                 string
	timeoutSeconds, maxAttempts int
}

// hdPartnerFR creates a source "Partner <code>" that keeps no stock, with
// the HTTP connector c, an order numbered orderNumber (hdOrderInput), and a
// fulfillment request at that source for the order's line, processed so
// that the send run takes it; it returns the request's id.
func hdPartnerFR(h *hdEnv, code, orderNumber string, c hdConnector) string {
	h.T.Helper()
	var src struct{ CreateSource struct{ ID string } }
	h.Query(`mutation($in: CreateSourceInput!) { createSource(input: $in) { id } }`, map[string]any{"in": map[string]any{
		"name": "Partner " + code, "code": code, "commitStock": false,
		"connector": map[string]any{"kind": "HTTP", "url": c.url, "secret": c.secret, "timeoutSeconds": c.timeoutSeconds, "maxAttempts": c.maxAttempts},
	}}, &src)
	var o struct {
		ImportOrder struct {
			ID    string
			Lines []struct{ ID string }
		}
	}
	h.Query(`mutation($in: ImportOrderInput!) { importOrder(input: $in) { id lines { id } } }`, map[string]any{"in": hdOrderInput(orderNumber)}, &o)
	var fr struct{ CreateFulfillmentRequest struct{ ID string } }
	// The partner keeps no inventory here: the item says what it costs.
	h.Query(`mutation($in: CreateFulfillmentRequestInput!) { createFulfillmentRequest(input: $in) { id } }`, map[string]any{"in": map[string]any{
		"orderID": o.ImportOrder.ID, "sourceID": src.CreateSource.ID, "allowOvercommit": true,
		"items": []any{map[string]any{"orderLineID": o.ImportOrder.Lines[0].ID, "quantity": 1, "unitCost": "5"}},
	}}, &fr)
	var p struct {
		ProcessFulfillmentRequests []struct{ ID, Status string }
	}
	h.Query(`mutation($id: ID!) { processFulfillmentRequests(ids: [$id]) { id status } }`, map[string]any{"id": fr.CreateFulfillmentRequest.ID}, &p)
	if len(p.ProcessFulfillmentRequests) != 1 || p.ProcessFulfillmentRequests[0].Status != "PROCESSING" {
		h.T.Fatalf("process: %+v", p)
	}
	return fr.CreateFulfillmentRequest.ID
}

// hdProcessingFR is hdPartnerFR with order FR-<code>, the connector signed
// with secret, a 30-second timeout and 5 attempts.
func hdProcessingFR(h *hdEnv, code, url, secret string) string {
	h.T.Helper()
	return hdPartnerFR(h, code, "FR-"+code, hdConnector{url, secret, 30, 5})
}
