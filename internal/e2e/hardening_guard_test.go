package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/frsvc/fulfillment/internal/app"
	"github.com/frsvc/fulfillment/internal/auth"
	"github.com/frsvc/fulfillment/internal/tenant"
	"github.com/frsvc/fulfillment/internal/testdb"
)

// TestHardeningRateLimit: with 5 requests a second and a burst of 5 per key,
// the 6th immediate request of a key answers 429 RATE_LIMITED with
// Retry-After and extensions.retryAfterSeconds, runs nothing, and leaves
// other keys, of the same account or another, unaffected.
func TestHardeningRateLimit(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, a *app.App) {
		s := a.Store
		h := hdNew(t, a, func(c *app.Config) { c.RateLimit = 5; c.RateBurst = 5 })
		// The other keys are made without a request, so that the tested
		// key's bucket is full when the burst starts.
		otherAccount := h.NewAccount("Other account")
		sameAccount, err := auth.NewSecret()
		testdb.Must(t, err)
		p := h.Principal(h.AdminKey)
		testdb.Must(t, s.Client.ApiKey.Create().SetAccountID(p.AccountID).SetName("second").SetRole(auth.RoleReadOnly).
			SetPrefix(auth.DisplayPrefix(sameAccount)).SetHash(auth.Hash(sameAccount)).
			Exec(tenant.WithAccount(context.Background(), p.AccountID)))

		viewer := Request{Key: h.AdminKey, Query: `{ viewer { role } }`}
		start := time.Now()
		for i := 1; i <= 5; i++ {
			if res := h.Do(viewer); res.Status != http.StatusOK || len(res.Errors) > 0 {
				t.Fatalf("request %d of the burst: HTTP %d %+v", i, res.Status, res.Errors)
			}
		}
		ops := h.operations()
		res := h.Do(Request{Key: h.AdminKey, Query: `mutation($in: ImportOrderInput!) { importOrder(input: $in) { id } }`,
			Variables: map[string]any{"in": hdOrderInput("RATE-1")}})
		if took := time.Since(start); res.Status == http.StatusOK && took > 150*time.Millisecond {
			t.Skipf("6 requests took %s: a token came back (one each 200 ms) before the 6th", took)
		}
		if res.Status != http.StatusTooManyRequests {
			t.Fatalf("6th request: HTTP %d %+v, want 429", res.Status, res.Errors)
		}
		er := h.Err(res, "RATE_LIMITED")
		retry, err := strconv.Atoi(res.Header.Get("Retry-After"))
		if err != nil || retry < 1 || retry > 1 {
			t.Errorf("Retry-After %q, want 1 (a token each 200 ms)", res.Header.Get("Retry-After"))
		}
		if secs, ok := er.Extensions["retryAfterSeconds"].(float64); !ok || int(secs) != retry {
			t.Errorf("extensions.retryAfterSeconds = %v, want %d", er.Extensions["retryAfterSeconds"], retry)
		}
		if n := h.operations() - ops; n != 0 {
			t.Errorf("%d operations ran while limited", n)
		}
		if n := hdOrders(t, s); n != 0 {
			t.Errorf("a limited importOrder wrote %d orders", n)
		}
		for _, key := range []string{sameAccount, otherAccount} {
			for i := 0; i < 5; i++ {
				if res := h.Do(Request{Key: key, Query: `{ viewer { role } }`}); res.Status != http.StatusOK || len(res.Errors) > 0 {
					t.Fatalf("another key, request %d: HTTP %d %+v", i+1, res.Status, res.Errors)
				}
			}
		}
		// Unauthenticated requests are refused before the limiter, 401 each.
		if res := h.Do(Request{Key: "frk_nobody", Query: `{ viewer { role } }`}); res.Status != http.StatusUnauthorized {
			t.Errorf("unknown key: HTTP %d", res.Status)
		}
		// After the Retry-After, the key works again.
		time.Sleep(time.Duration(retry) * time.Second)
		if res := h.Do(viewer); res.Status != http.StatusOK || len(res.Errors) > 0 {
			t.Errorf("after Retry-After: HTTP %d %+v", res.Status, res.Errors)
		}
	})
}

// TestHardeningLogScan runs a suite of requests (good, unauthenticated,
// revoked, a new key, a source with a signing secret, a send run to a
// failing partner, idempotent replays, internal errors) and scans
// everything httpapi.New's Logger wrote: no API key secret, no hash of one,
// no "Bearer" and no connector signing secret appears anywhere.
func TestHardeningLogScan(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, a *app.App) {
		s := a.Store
		var partnerCalls atomic.Int32
		partner := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			partnerCalls.Add(1)
			w.WriteHeader(http.StatusBadGateway)
			// An unfriendly partner echoes what it got.
			_ = json.NewEncoder(w).Encode(map[string]any{"headers": r.Header})
		}))
		t.Cleanup(partner.Close)
		h := hdNew(t, a, nil)
		const signing = "whsec_LOGSCAN_c0nnect0r_s1gning_secret"
		secrets := []string{h.AdminKey, signing}

		h.Query(`{ viewer { role } orders { totalCount } }`, nil, nil)
		for _, bad := range []string{"Bearer frk_not_a_key_LOGSCAN", "Basic " + h.AdminKey, "bearer " + h.AdminKey + "x", h.AdminKey} {
			res := h.raw(http.MethodPost, "/query", map[string]string{"Content-Type": "application/json", "Authorization": bad},
				bytes.NewReader(Body(`{ viewer { role } }`, nil)))
			if res.Status != http.StatusUnauthorized {
				t.Errorf("Authorization %q: HTTP %d", bad, res.Status)
			}
		}
		secrets = append(secrets, "frk_not_a_key_LOGSCAN")

		var key struct {
			CreateApiKey struct {
				Secret string
				APIKey struct{ ID string } `json:"apiKey"`
			}
		}
		h.Query(`mutation { createApiKey(input: {name: "scan", role: READ_ONLY}) { secret apiKey { id } } }`, nil, &key)
		secrets = append(secrets, key.CreateApiKey.Secret)
		h.QueryAs(key.CreateApiKey.Secret, `{ viewer { role } }`, nil, nil)
		h.Query(`mutation($id: ID!) { revokeApiKey(id: $id) { id } }`, map[string]any{"id": key.CreateApiKey.APIKey.ID}, nil)
		if res := h.Do(Request{Key: key.CreateApiKey.Secret, Query: `{ viewer { role } }`}); res.Status != http.StatusUnauthorized {
			t.Errorf("revoked key: HTTP %d", res.Status)
		}
		// A READ_ONLY key calling a mutation.
		var ro struct{ CreateApiKey struct{ Secret string } }
		h.Query(`mutation { createApiKey(input: {name: "ro", role: READ_ONLY}) { secret } }`, nil, &ro)
		secrets = append(secrets, ro.CreateApiKey.Secret)
		h.Do(Request{Key: ro.CreateApiKey.Secret, Query: `mutation { runSendFulfillmentRequests { claimed } }`})

		// A source with a signing secret, a request sent to a partner that fails.
		hdProcessingFR(h, "SCAN", partner.URL, signing)
		h.Query(`mutation { runSendFulfillmentRequests { claimed retried failed } }`, nil, nil)
		if partnerCalls.Load() == 0 {
			t.Error("the partner was never called")
		}
		h.Query(`mutation($id: ID!, $in: UpdateSourceInput!) { updateSource(id: $id, input: $in) { id } }`, map[string]any{
			"id": hdSourceID(h, "SCAN"), "in": map[string]any{"connector": map[string]any{"kind": "HTTP", "url": partner.URL, "secret": signing + "2"}},
		}, nil)
		secrets = append(secrets, signing+"2")

		// Idempotent replays and a reuse.
		idem := map[string]string{"Idempotency-Key": "scan-1"}
		imp := `mutation($in: ImportOrderInput!) { importOrder(input: $in) { id } }`
		h.Do(Request{Key: h.AdminKey, Query: imp, Variables: map[string]any{"in": hdOrderInput("SCAN-1")}, Header: idem})
		h.Do(Request{Key: h.AdminKey, Query: imp, Variables: map[string]any{"in": hdOrderInput("SCAN-1")}, Header: idem})
		h.Do(Request{Key: h.AdminKey, Query: imp, Variables: map[string]any{"in": hdOrderInput("SCAN-2")}, Header: idem})

		// Internal errors, logged with their cause: a table gone under a
		// query, and under a mutation carrying a signing secret.
		drop := func(table string) {
			stmt := "DROP TABLE " + table
			if s.Postgres() {
				stmt += " CASCADE"
			}
			if _, err := s.DB.Exec(stmt); err != nil {
				t.Fatal(err)
			}
		}
		drop("fulfillment_logs")
		res := h.Do(Request{Key: h.AdminKey, Query: `{ fulfillmentLogs { totalCount } }`})
		h.Err(res, "INTERNAL")
		res = h.Do(Request{Key: h.AdminKey, Query: imp, Variables: map[string]any{"in": hdOrderInput("SCAN-3")}})
		if hdCodes(res) != "INTERNAL" {
			t.Errorf("import without a log table: %s", hdCodes(res))
		}
		if _, err := s.DB.Exec("ALTER TABLE sources RENAME TO sources_gone"); err != nil {
			t.Fatal(err)
		}
		res = h.Do(Request{Key: h.AdminKey, Query: `mutation($in: CreateSourceInput!) { createSource(input: $in) { id } }`, Variables: map[string]any{
			"in": map[string]any{"name": "Gone", "code": "GONE", "connector": map[string]any{"kind": "HTTP", "url": partner.URL, "secret": signing + "3"}},
		}})
		secrets = append(secrets, signing+"3")
		if hdCodes(res) != "INTERNAL" {
			t.Errorf("createSource without a table: %s", hdCodes(res))
		}

		// Authentication itself failing: the database is gone.
		testdb.Must(t, h.Store.DB.Close()) // the server's own pool
		if res := h.Do(Request{Key: h.AdminKey, Query: `{ viewer { role } }`}); res.Status != http.StatusInternalServerError {
			t.Errorf("authentication without a database: HTTP %d", res.Status)
		}

		logs := h.Logs.String()
		if !strings.Contains(logs, `"msg":"authentication failed"`) {
			t.Errorf("the failed authentication was not logged")
		}
		if !strings.Contains(logs, `"msg":"internal error"`) || !strings.Contains(logs, `"msg":"request"`) {
			t.Fatalf("the log lacks the internal errors or the access lines:\n%s", logs)
		}
		lower := strings.ToLower(logs)
		for _, sec := range secrets {
			for _, leak := range []string{sec, auth.Hash(sec)} {
				if strings.Contains(logs, leak) {
					t.Errorf("the log holds %q (of secret %q)", leak, sec)
				}
			}
		}
		for _, word := range []string{"bearer", "authorization", "fulfillment-signature", "whsec_"} {
			if strings.Contains(lower, word) {
				t.Errorf("the log holds %q", word)
			}
		}
		if t.Failed() {
			t.Logf("log:\n%s", logs)
		}
	})
}

// hdSourceID is the id of the source with code, read through the API.
func hdSourceID(h *hdEnv, code string) string {
	h.T.Helper()
	var out struct {
		Sources struct {
			Edges []struct{ Node struct{ ID string } }
		}
	}
	h.Query(`query($c: String) { sources(where: {code: $c}) { edges { node { id } } } }`, map[string]any{"c": code}, &out)
	if len(out.Sources.Edges) != 1 {
		h.T.Fatalf("source %s: %+v", code, out)
	}
	return out.Sources.Edges[0].Node.ID
}

// hdHoldBySendRun starts a send run whose one delivery (to a source named
// code) its partner holds until release is called, and returns once the run
// is in the partner's hands: the request is then in flight, waiting for its
// run (it gave its execution slot back). first gets the run's answer.
func hdHoldBySendRun(t *testing.T, h *hdEnv, code string) (release func(), first <-chan *Result) {
	t.Helper()
	hit := make(chan struct{}, 1)
	held := make(chan struct{})
	partner := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hit <- struct{}{}
		select {
		case <-held:
		case <-r.Context().Done():
		}
		_, _ = w.Write([]byte(`{"acknowledged": true, "confirmationNumber": "C-1"}`))
	}))
	t.Cleanup(partner.Close)
	var once sync.Once
	release = func() { once.Do(func() { close(held) }) }
	t.Cleanup(release) // before the partner closes, should the test end early
	hdProcessingFR(h, code, partner.URL, "whsec_hold_0123456789")
	answer := make(chan *Result, 1)
	go func() {
		res, err := h.Send(Request{Key: h.AdminKey, Query: `mutation { runSendFulfillmentRequests { claimed acknowledged } }`})
		if err != nil {
			t.Error(err)
		}
		answer <- res
	}()
	select {
	case <-hit:
	case <-time.After(10 * time.Second):
		t.Fatal("the send run never reached the partner")
	}
	return release, answer
}

// TestHardeningInFlightCap: with MaxInFlight 1, a request arriving while
// another runs is answered 503 RATE_LIMITED with Retry-After at once, runs
// nothing, and the health check is not capped; once the first ends, the
// next is served.
func TestHardeningInFlightCap(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, a *app.App) {
		h := hdNew(t, a, func(c *app.Config) { c.MaxInFlight = 1 })
		release, first := hdHoldBySendRun(t, h, "CAP")
		ops := h.operations()
		res := h.Do(Request{Key: h.AdminKey, Query: `{ viewer { role } }`})
		if res.Status != http.StatusServiceUnavailable {
			t.Errorf("second request: HTTP %d, want 503", res.Status)
		}
		if er := h.Err(res, "RATE_LIMITED"); er.Extensions["retryAfterSeconds"] == nil || res.Header.Get("Retry-After") == "" {
			t.Errorf("503 without Retry-After: %v %q", er.Extensions, res.Header.Get("Retry-After"))
		}
		if n := h.operations() - ops; n != 0 {
			t.Errorf("%d operations ran beyond the cap", n)
		}
		if resp := h.raw(http.MethodGet, "/healthz", nil, nil); resp.Status != http.StatusOK {
			t.Errorf("/healthz under the cap: HTTP %d", resp.Status)
		}
		release()
		if res := <-first; res == nil || res.Status != http.StatusOK || len(res.Errors) > 0 {
			t.Fatalf("first request: %+v", res)
		}
		if res := h.Do(Request{Key: h.AdminKey, Query: `{ viewer { role } }`}); res.Status != http.StatusOK || len(res.Errors) > 0 {
			t.Errorf("after the first ended: HTTP %d %+v", res.Status, res.Errors)
		}
	})
}

// TestHardeningExecutionQueue: with MaxExecuting 1, a request arriving
// while another runs waits its turn instead of being refused, and is served
// once the first ends (the deadline of a waiting request is tested on
// executing itself, in internal/httpapi). The first request executes
// markFulfillmentRequestProcessed with the use cases' clock stalled (a send
// run would not do: runSendFulfillmentRequests gives its slot back while
// it waits for its run).
func TestHardeningExecutionQueue(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, a *app.App) {
		var stall atomic.Bool
		hit, held := make(chan struct{}, 1), make(chan struct{})
		h := hdNew(t, a, func(c *app.Config) {
			c.MaxExecuting = 1
			c.Now = func() time.Time {
				if stall.CompareAndSwap(true, false) {
					hit <- struct{}{}
					<-held
				}
				return time.Now()
			}
		})
		var once sync.Once
		release := func() { once.Do(func() { close(held) }) }
		t.Cleanup(release)
		frID := hdProcessingFR(h, "QUEUE", "http://127.0.0.1:1/unused", "whsec_queue_0123456789")
		stall.Store(true)
		first := make(chan *Result, 1)
		go func() {
			res, err := h.Send(Request{Key: h.AdminKey, Query: `mutation($id: ID!) { markFulfillmentRequestProcessed(id: $id) { status } }`,
				Variables: map[string]any{"id": frID}})
			if err != nil {
				t.Error(err)
			}
			first <- res
		}()
		select {
		case <-hit:
		case <-time.After(10 * time.Second):
			t.Fatal("the first request never reached the clock")
		}
		ops := h.operations()
		second := make(chan *Result, 1)
		go func() {
			res, err := h.Send(Request{Key: h.AdminKey, Query: `{ viewer { role } }`})
			if err != nil {
				t.Error(err)
			}
			second <- res
		}()
		select {
		case res := <-second:
			t.Fatalf("the second request did not wait for the slot: HTTP %d", res.Status)
		case <-time.After(300 * time.Millisecond):
		}
		if n := h.operations() - ops; n != 0 {
			t.Errorf("%d operations ran beside the one executing", n)
		}
		release()
		if res := <-first; res == nil || res.Status != http.StatusOK || len(res.Errors) > 0 {
			t.Fatalf("first request: %+v", res)
		}
		if res := <-second; res == nil || res.Status != http.StatusOK || len(res.Errors) > 0 {
			t.Fatalf("queued request: %+v", res)
		}

	})
}

// TestHardeningSlowClientsHoldNoSlot: with MaxExecuting 1, clients that
// send their headers but not their body hold no execution slot: a normal
// request is served at once while they dawdle.
func TestHardeningSlowClientsHoldNoSlot(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, a *app.App) {
		h := hdNew(t, a, func(c *app.Config) { c.MaxExecuting = 1 })
		addr := strings.TrimPrefix(h.Server.URL, "http://")
		for range 3 {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = c.Close() })
			_, err = fmt.Fprintf(c, "POST /query HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{", addr, h.AdminKey)
			if err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(100 * time.Millisecond) // the server has the three requests' headers
		start := time.Now()
		res := h.Do(Request{Key: h.AdminKey, Query: `{ viewer { role } }`})
		if res.Status != http.StatusOK || len(res.Errors) > 0 {
			t.Fatalf("request beside slow clients: HTTP %d %+v", res.Status, res.Errors)
		}
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("served after %s", took)
		}
	})
}

// TestHardeningProduction: in production (introspection and playground
// off, as server.go sets them), the schema cannot be read through
// introspection, errors suggest no field names, and there is no playground.
func TestHardeningProduction(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, a *app.App) {
		prod := hdNew(t, a, func(c *app.Config) { c.Production = true })
		dev := hdNew(t, a, func(c *app.Config) { c.Introspection = true; c.Playground = true })
		for _, q := range []string{`{ __schema { types { name } } }`, `{ __type(name: "Order") { fields { name } } }`} {
			res := prod.Do(Request{Key: prod.AdminKey, Query: q})
			if len(res.Errors) == 0 || hdCodes(res) != "VALIDATION" || strings.Contains(string(res.Data), "Order") {
				t.Errorf("production introspection %s: %s %s", q, hdCodes(res), res.Data)
			}
			if res := dev.Do(Request{Key: dev.AdminKey, Query: q}); len(res.Errors) > 0 {
				t.Errorf("development introspection %s: %+v", q, res.Errors)
			}
		}
		// __typename is not introspection of the schema.
		prod.Query(`{ __typename viewer { __typename } }`, nil, nil)
		typo := `{ orders { totalCont } }`
		if res := prod.Do(Request{Key: prod.AdminKey, Query: typo}); hdCodes(res) != "VALIDATION" || strings.Contains(res.Errors[0].Message, "totalCount") {
			t.Errorf("production suggests: %+v", res.Errors)
		}
		if res := dev.Do(Request{Key: dev.AdminKey, Query: typo}); hdCodes(res) != "VALIDATION" || !strings.Contains(res.Errors[0].Message, "totalCount") {
			t.Logf("development does not suggest either: %+v", res.Errors)
		}
		if strings.Contains(prod.Logs.String(), "internal error") {
			t.Errorf("a refused introspection was logged as an internal error:\n%s", prod.Logs)
		}
		if resp := prod.raw(http.MethodGet, "/", nil, nil); resp.Status != http.StatusNotFound {
			t.Errorf("production GET /: HTTP %d", resp.Status)
		}
		if resp := dev.raw(http.MethodGet, "/", nil, nil); resp.Status != http.StatusOK {
			t.Errorf("development GET /: HTTP %d", resp.Status)
		}
	})
}
