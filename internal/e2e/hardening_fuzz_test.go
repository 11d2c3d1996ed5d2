package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/frsvc/fulfillment/internal/app"
	"github.com/frsvc/fulfillment/internal/auth"
	"github.com/frsvc/fulfillment/internal/testdb"
)

// hdFuzzLeaks are fragments of internal text that must never reach a client
// unless the request itself carried them (an error may quote the request).
var hdFuzzLeaks = []string{"sql", "pq:", "sqlite", "panic", "goroutine", "runtime error", "ent:", ".go:", "constraint"}

// hdFuzzSeeds are GraphQL requests for the corpus: ids, cursors, times,
// decimals and pages through variables, limits, fragments, bad shapes.
var hdFuzzSeeds = []struct{ query, variables, operationName string }{
	{`{ viewer { role account { name } } }`, `{}`, ""},
	{`query($id: ID!) { node(id: $id) { id ... on Order { orderNumber lines { sku unitPrice } } } }`, `{"id": "1"}`, ""},
	{`query($id: ID!) { node(id: $id) { id } }`, `{"id": "-1"}`, ""},
	{`query($id: ID!) { node(id: $id) { id } }`, `{"id": "99999999999999999999999"}`, ""},
	{`query($id: ID!) { node(id: $id) { id } }`, `{"id": 1.5}`, ""},
	{`query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, `{"ids": ["1", "2", "x"]}`, ""},
	{`query($c: Cursor) { orders(first: 2, after: $c) { edges { cursor node { id } } pageInfo { endCursor } } }`, `{"c": "gaFp"}`, ""},
	{`query($c: Cursor) { orders(last: 2, before: $c) { totalCount } }`, `{"c": "not base64 !"}`, ""},
	{`query($c: Cursor) { orders(after: $c) { totalCount } }`, `{"c": "g6FpzQPooXbAoWv/"}`, ""},
	{`query($c: Cursor) { orders(after: $c) { totalCount } }`, `{"c": "gaFpAQ"}`, ""},
	{`query($n: Int) { orders(first: $n) { totalCount } }`, `{"n": "101"}`, ""},
	{`query($n: Int) { orders(first: $n) { totalCount } }`, `{"n": 9223372036854775807}`, ""},
	{`query($n: Int) { orders(last: $n) { totalCount } }`, `{"n": -1}`, ""},
	{`query($t: Time) { fulfillmentLogs(where: {createdAtGT: $t}) { totalCount } }`, `{"t": "2024-02-30T25:61:00Z"}`, ""},
	{`query($t: Time) { orders(where: {orderedAtLT: $t}) { totalCount } }`, `{"t": "2024-01-01T00:00:00+14:00"}`, ""},
	{`mutation($in: ImportOrderInput!) { importOrder(input: $in) { id lines { unitPrice } } }`,
		`{"in": {"channel": "web", "orderNumber": "F-1", "paymentStatus": "PAID", "orderedAt": "2024-01-01T00:00:00Z",
		"shipTo": {"line1": "1", "city": "c", "postalCode": "1", "country": "US"},
		"lines": [{"sku": "A", "quantity": 1, "unitPrice": "1.23456"}]}}`, ""},
	{`mutation($in: ImportOrderInput!) { importOrder(input: $in) { id } }`,
		`{"in": {"channel": "web", "orderNumber": "F-2", "paymentStatus": "PAID", "orderedAt": "yesterday",
		"shipTo": {"line1": "1", "city": "c", "postalCode": "1", "country": "US"},
		"lines": [{"sku": "A", "quantity": 2147483648, "unitPrice": 1.5}]}}`, ""},
	{`mutation($s: ID!, $items: [InventoryInput!]!) { upsertInventory(sourceID: $s, items: $items) { id } }`,
		`{"s": "1", "items": [{"sku": "", "quantity": -1, "unitCost": "1e3"}]}`, ""},
	{`mutation { createSource(input: {name: "S", code: "S", dropshipFee: "-0.00001", shipsTo: ["ZZ"]}) { id } }`, `null`, ""},
	{`query A { viewer { role } } query B { orders { totalCount } }`, `{}`, "B"},
	{`query A { viewer { role } } query B { orders { totalCount } }`, `{}`, "C"},
	{`query A { viewer { role } } query B { orders { totalCount } }`, `{}`, ""},
	{`{ ...F } fragment F on Query { ...F }`, `{}`, ""},
	{`{ a: viewer { role } b: viewer { role } __typename }`, `[]`, ""},
	{`{ __schema { types { name fields { name type { name ofType { name } } } } } }`, `{}`, ""},
	{`{ orders(first: 1) { edges { node { fulfillmentRequests(first: 1) { edges { node { order { id } } } } } } } }`, `{}`, ""},
	{`mutation { revokeApiKey(id: "1") { id } }`, `{}`, ""},
	{`subscription { viewer { role } }`, `{}`, ""},
	{`{ orders(where: {orderNumberContains: "' OR 1=1 --"}) { totalCount } }`, `{}`, ""},
	{"{ viewer { role } }\x00", `{}`, ""},
	{`{ viewer { role }`, `{"a": {"b": [1, 2, {"c": null}]}}`, "\xff"},
	{`query($x: Decimal) { __typename }`, `{"x": "12.50"}`, ""},
	{`query($x: Map) { __typename }`, `{"x": {"k": [1]}}`, ""},
}

// FuzzGraphQLRequest sends arbitrary bytes as a POST /query body, and
// arbitrary query, variables and operationName as its fields, through the
// real handler over an SQLite store created once per fuzz process. Whatever
// comes in: no panic, never a 5xx, a JSON answer whose every error carries
// one of the contract's codes, and no SQL, driver, panic or stack text that
// the request did not carry itself.
func FuzzGraphQLRequest(f *testing.F) {
	for _, s := range hdFuzzSeeds {
		f.Add(hdFuzzBody(s.query, s.variables, s.operationName), s.query, s.variables, s.operationName)
	}
	f.Add([]byte(`{"query": 1}`), "", "", "")
	f.Add([]byte(`{"query": "{ viewer { role } }", "variables": "x"}`), "{", "{", "{")
	f.Add([]byte(`[{"query": "{ viewer { role } }"}]`), "", "not json", "")
	f.Add([]byte(`{"query": "{ viewer { role } }", "extensions": {"persistedQuery": {"version": 1, "sha256Hash": "x"}}}`), "", "", "")
	f.Add([]byte(`{"query": "{ viewer { role } }"`), "", "", "")
	f.Add([]byte("\xef\xbb\xbf{}"), "", "", "")
	f.Add([]byte(``), "", "", "")

	fuzzApp := testdb.App(f, testdb.SQLite, func(c *app.Config) {
		c.RateLimit, c.RequestTimeout = 0, 10*time.Second
	})
	store, handler := fuzzApp.Store, fuzzApp.Handler
	var mu sync.Mutex
	var key string
	accounts := 0
	// newKey makes a fresh account: the fuzzer may revoke its key.
	newKey := func() string {
		accounts++
		_, secret, err := auth.CreateAccount(context.Background(), store.Client, fmt.Sprintf("Fuzz %d", accounts), "")
		if err != nil {
			f.Fatal(err)
		}
		return secret
	}
	key = newKey()
	// Some data to find: a source and an order.
	for _, q := range []string{
		`mutation { createSource(input: {name: "Fuzz", code: "FZ", shipsTo: ["US"]}) { id } }`,
		`mutation { importOrder(input: {channel: "web", orderNumber: "FZ-1", paymentStatus: PAID,
			shipTo: {line1: "1", city: "c", postalCode: "1", country: "US"}, lines: [{sku: "A", quantity: 1, unitPrice: "1.00"}]}) { id } }`,
	} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, "/query", bytes.NewReader(Body(q, nil)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+key)
		handler.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || strings.Contains(rec.Body.String(), `"errors"`) {
			f.Fatalf("seed data: %d %s", rec.Code, rec.Body)
		}
	}

	f.Fuzz(func(t *testing.T, body []byte, query, variables, operationName string) {
		mu.Lock()
		k := key
		mu.Unlock()
		send := func(b []byte, inputs ...string) int {
			req := httptest.NewRequest(http.MethodPost, "/query", bytes.NewReader(b))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+k)
			rec := httptest.NewRecorder()
			handler.ServeHTTP(rec, req)
			if err := hdCheckAnswer(rec.Code, rec.Body.Bytes(), inputs...); err != nil {
				t.Fatalf("request %q: %v", b, err)
			}
			return rec.Code
		}
		codes := []int{send(body, string(body))}
		b := hdFuzzBody(query, variables, operationName)
		codes = append(codes, send(b, query, variables, operationName, string(b)))
		for _, c := range codes {
			if c == http.StatusUnauthorized {
				// The input revoked the key (revokeApiKey): carry on with another.
				mu.Lock()
				if key == k {
					key = newKey()
				}
				mu.Unlock()
			}
		}
	})
}

// hdFuzzBody is the POST body with these fields; variables go in as JSON
// when they are JSON, as a string otherwise.
func hdFuzzBody(query, variables, operationName string) []byte {
	fields := map[string]any{"query": query, "operationName": operationName}
	if json.Valid([]byte(variables)) {
		fields["variables"] = json.RawMessage(variables)
	} else {
		fields["variables"] = variables
	}
	b, err := json.Marshal(fields)
	if err != nil {
		panic(err)
	}
	return b
}

// hdCheckAnswer checks one answer of the fuzzer: not 5xx, JSON, every error
// with a code of the contract, no internal text the inputs did not carry.
func hdCheckAnswer(status int, body []byte, inputs ...string) error {
	if status >= 500 {
		return fmt.Errorf("HTTP %d: %s", status, body)
	}
	var res struct {
		Errors []struct {
			Message    string         `json:"message"`
			Extensions map[string]any `json:"extensions"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(body, &res); err != nil {
		return fmt.Errorf("HTTP %d, not JSON (%v): %q", status, err, body)
	}
	if status != http.StatusOK && len(res.Errors) == 0 {
		return fmt.Errorf("HTTP %d without an error: %s", status, body)
	}
	in := strings.ToLower(strings.Join(inputs, "\x00"))
	for _, e := range res.Errors {
		code, _ := e.Extensions["code"].(string)
		if !Codes[code] {
			return fmt.Errorf("error %q has no contract code: %v", e.Message, e.Extensions)
		}
		if code == "INTERNAL" {
			return fmt.Errorf("INTERNAL error (HTTP %d): %s", status, body)
		}
		text := strings.ToLower(e.Message + " " + fmt.Sprint(e.Extensions))
		for _, l := range hdFuzzLeaks {
			if strings.Contains(text, l) && !strings.Contains(in, l) {
				return fmt.Errorf("error leaks %q: %q %v", l, e.Message, e.Extensions)
			}
		}
	}
	return nil
}

// TestHardeningFuzzSeedsAnswer makes sure the fuzz seeds reach GraphQL: a
// seed corpus refused wholesale (by auth, say) would fuzz nothing.
func TestHardeningFuzzSeedsAnswer(t *testing.T) {
	t.Parallel()
	h := hdNew(t, testdb.App(t, testdb.SQLite), func(c *app.Config) { c.Introspection = true })
	ran := 0
	for _, s := range hdFuzzSeeds {
		if strings.Contains(s.query, "revokeApiKey") {
			continue
		}
		ops := h.operations()
		body := hdFuzzBody(s.query, s.variables, s.operationName)
		resp := h.raw(http.MethodPost, "/query", map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + h.AdminKey},
			bytes.NewReader(body))
		if err := hdCheckAnswer(resp.Status, resp.Body, string(body)); err != nil {
			t.Errorf("%s: %v", s.query, err)
		}
		ran += int(h.operations() - ops)
	}
	if ran < len(hdFuzzSeeds)/2 {
		t.Errorf("only %d of %d seeds ran an operation", ran, len(hdFuzzSeeds))
	}
}
