package e2e

// hardening_helpers_test.go is the toolbox of the hardening tests (limits,
// cross-site, CORS, roles, guards, fuzzing). Names carry an hd prefix so that
// they stay clear of the other test files of the package.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/frsvc/fulfillment/ent/migrate"
	"github.com/frsvc/fulfillment/internal/app"
	"github.com/frsvc/fulfillment/internal/db"
	"github.com/frsvc/fulfillment/internal/metrics"
	"github.com/frsvc/fulfillment/internal/tenant"
	"github.com/frsvc/fulfillment/internal/testdb"
)

// hdBuffer is a bytes.Buffer safe for the server's goroutines and the test.
type hdBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *hdBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *hdBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// hdEnv is an Env over a handler built from a chosen httpapi.Config, with
// its metrics (to tell whether an operation ran) and its log output.
type hdEnv struct {
	*Env
	Metrics *metrics.Metrics
	Logs    *hdBuffer
}

// hdNew builds an app over a's database with its configuration adjusted by
// configure, serves it and creates an account with an ADMIN key. The log
// goes to a buffer (JSON, debug level); unless configure says otherwise the
// per-key rate limit is off, as the tests send many requests.
func hdNew(t testing.TB, a *app.App, configure func(*app.Config)) *hdEnv {
	t.Helper()
	logs := &hdBuffer{}
	h := testdb.On(t, a.Config.DatabaseURL, func(c *app.Config) {
		c.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		// As the handler's zero configuration had it: no introspection or
		// playground unless asked for.
		c.RateLimit, c.Introspection, c.Playground = 0, false, false
		if configure != nil {
			configure(c)
		}
	})
	e := newAs(t, h, "Hardening account")
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

// hdFingerprint is every row of every table, as text: equal fingerprints
// mean nothing was written.
func hdFingerprint(t testing.TB, s *db.Store) string {
	t.Helper()
	var b strings.Builder
	names := make([]string, 0, len(migrate.Tables))
	for _, tb := range migrate.Tables {
		names = append(names, tb.Name)
	}
	sort.Strings(names)
	for _, name := range names {
		rows, err := s.DB.Query("SELECT * FROM " + name + " ORDER BY 1")
		testdb.Must(t, err)
		cols, err := rows.Columns()
		testdb.Must(t, err)
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			testdb.Must(t, rows.Scan(ptrs...))
			for i, c := range cols {
				if c == "last_used_at" {
					// A key's use is recorded, whatever the call did.
					vals[i] = nil
				}
			}
			fmt.Fprintf(&b, "%s %v\n", name, vals)
		}
		testdb.Must(t, rows.Err())
		rows.Close()
	}
	return b.String()
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

// hdBody is a GraphQL POST body.
func hdBody(query string, vars map[string]any) []byte {
	b, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	return b
}

// hdOrderInput is a valid ImportOrderInput with one line.
func hdOrderInput(number string) map[string]any {
	return map[string]any{
		"channel": "hardening", "orderNumber": number, "paymentStatus": "PAID",
		"shipTo": map[string]any{"line1": "1 Main St", "city": "Springfield", "postalCode": "12345", "country": "US"},
		"lines":  []any{map[string]any{"sku": "HD-1", "quantity": 1, "unitPrice": "9.99"}},
	}
}

// hdCodes are the error codes of res, or "HTTP <status> not JSON".
func hdCodes(res *Result) string {
	if res == nil {
		return "not JSON"
	}
	return strings.Join(res.Codes(), ",")
}
