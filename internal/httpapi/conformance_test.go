package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/frsvc/fulfillment/internal/app"
	"github.com/frsvc/fulfillment/internal/auth"
	"github.com/frsvc/fulfillment/internal/testdb"
)

// The media types of GraphQL over HTTP.
const (
	gqlResp = "application/graphql-response+json"
	appJSON = "application/json"
)

// conformanceCase is one request and what the GraphQL-over-HTTP
// specification (graphql.github.io/graphql-over-http) asks of its answer.
type conformanceCase struct {
	name string
	// The request: GET puts query (and vars) in the URL; POST sends body.
	method      string
	accept      string // "-" for no Accept header
	contentType string // POST only; "-" for none
	body        string
	query       url.Values
	noKey       bool
	readOnly    bool // send a READ_ONLY key instead of the ADMIN one
	idemKey     string

	status int
	// mediaType is the Content-Type's media type (always with charset=utf-8).
	mediaType string
	// data: "present" (the operation ran), "absent" (a request error) or ""
	// (not checked); code is the first error's extensions.code ("" for no
	// error at all).
	data  string
	code  string
	allow string
}

const (
	present = "present"
	absent  = "absent"
)

func post(body string) conformanceCase {
	return conformanceCase{method: http.MethodPost, contentType: appJSON, body: body}
}

func get(v url.Values) conformanceCase { return conformanceCase{method: http.MethodGet, query: v} }

func q(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

// with returns c named name, with Accept accept, expecting status, media
// type, data and code.
func (c conformanceCase) with(name, accept string, status int, mediaType, data, code string) conformanceCase {
	c.name, c.accept, c.status, c.mediaType, c.data, c.code = name, accept, status, mediaType, data, code
	return c
}

func (c conformanceCase) ct(contentType string) conformanceCase {
	c.contentType = contentType
	return c
}

// both expands a case into one per response media type: gr is the status
// under application/graphql-response+json, js under application/json.
func both(name string, c conformanceCase, gr, js int, data, code string) []conformanceCase {
	return []conformanceCase{
		c.with(name+"/graphql-response+json", gqlResp, gr, gqlResp, data, code),
		c.with(name+"/json", appJSON, js, appJSON, data, code),
	}
}

func conformanceCases() []conformanceCase {
	const typename = `{"query":"{ __typename }"}`
	var cs []conformanceCase
	add := func(c ...conformanceCase) { cs = append(cs, c...) }

	// Good requests, and Accept negotiation.
	add(both("POST query", post(`{"query":"{ viewer { role } }"}`), 200, 200, present, "")...)
	add(post(typename).with("POST no Accept: legacy default", "-", 200, appJSON, present, ""))
	add(post(typename).with("POST Accept */*", "*/*", 200, appJSON, present, ""))
	add(post(typename).with("POST Accept application/*", "application/*", 200, appJSON, present, ""))
	add(post(typename).with("POST Accept recommended", gqlResp+"; charset=utf-8, "+appJSON+"; charset=utf-8", 200, gqlResp, present, ""))
	add(post(typename).with("POST Accept by quality", appJSON+";q=0.5, "+gqlResp, 200, gqlResp, present, ""))
	add(post(typename).with("POST Accept by order", appJSON+", "+gqlResp, 200, appJSON, present, ""))
	add(post(typename).with("POST Accept exact beats wildcard", "*/*, "+gqlResp, 200, gqlResp, present, ""))
	add(post(typename).with("POST Accept among others", "text/html, "+gqlResp+";q=0.1", 200, gqlResp, present, ""))
	add(post(typename).with("POST Accept wildcard minus one", "*/*;q=0.5, "+appJSON+";q=0", 200, gqlResp, present, ""))
	add(post(typename).ct("application/json; charset=utf-8").with("POST charset=utf-8", gqlResp, 200, gqlResp, present, ""))
	add(post(typename).ct("Application/JSON;Charset=UTF-8").with("POST media type case", gqlResp, 200, gqlResp, present, ""))
	add(both("POST null parameters", post(`{"query":"{ __typename }","operationName":null,"variables":null,"extensions":null}`), 200, 200, present, "")...)
	add(both("POST operationName", post(`{"query":"query A { __typename } query B { viewer { role } }","operationName":"B"}`), 200, 200, present, "")...)
	add(both("POST variables", post(`{"query":"query($n: Int!) { fulfillmentRequests(first: $n) { totalCount } }","variables":{"n":5}}`), 200, 200, present, "")...)
	add(both("GET query", get(q("query", "{ viewer { role } }")), 200, 200, present, "")...)
	add(get(q("query", "{ __typename }")).with("GET no Accept", "-", 200, appJSON, present, ""))
	add(both("GET variables", get(q("query", "query($n: Int!) { sources(first: $n) { totalCount } }", "variables", `{"n":3}`)), 200, 200, present, "")...)
	add(both("GET operationName", get(q("query", "query A { __typename } mutation B { runSendFulfillmentRequests { claimed } }", "operationName", "A")), 200, 200, present, "")...)

	// Field errors: the operation ran, data is present (null here).
	add(both("field error", post(`{"query":"{ fulfillmentPreview(orderID: \"999999\") { canRoute } }"}`), 200, 200, present, "NOT_FOUND")...)
	// A role refused a root field: decided during execution, so a field
	// error too (the specification leaves authorization to the schema).
	for _, c := range both("forbidden mutation", post(`{"query":"mutation { runSendFulfillmentRequests { claimed } }"}`), 200, 200, present, "FORBIDDEN") {
		c.readOnly = true
		add(c)
	}

	// Request errors: 400 under graphql-response+json, 200 under json; no data.
	add(both("parse error", post(`{"query":"{"}`), 400, 200, absent, "VALIDATION")...)
	add(both("empty document", post(`{"query":""}`), 400, 200, absent, "VALIDATION")...)
	add(both("validation error", post(`{"query":"{ nope }"}`), 400, 200, absent, "VALIDATION")...)
	add(both("GET validation error", get(q("query", "{ nope }")), 400, 200, absent, "VALIDATION")...)
	add(both("operation not determined", post(`{"query":"query A { __typename } query B { __typename }"}`), 400, 200, absent, "VALIDATION")...)
	add(both("operation not found", post(`{"query":"query A { __typename }","operationName":"C"}`), 400, 200, absent, "VALIDATION")...)
	add(both("variable coercion", post(`{"query":"query($id: ID!) { node(id: $id) { id } }","variables":{}}`), 400, 200, absent, "VALIDATION")...)
	add(both("limit exceeded", post(`{"query":"{ orders(first: 1000) { totalCount } }"}`), 400, 200, absent, "VALIDATION")...)

	// Not well-formed requests: 400 under both.
	add(both("non-JSON body", post(`NONSENSE`), 400, 400, absent, "VALIDATION")...)
	add(both("truncated JSON", post(`{"query":`), 400, 400, absent, "VALIDATION")...)
	add(both("JSON array body", post(`[{"query":"{ __typename }"}]`), 400, 400, absent, "VALIDATION")...)
	add(both("trailing data", post(typename+` {}`), 400, 400, absent, "VALIDATION")...)
	add(both("empty body", post(``), 400, 400, absent, "VALIDATION")...)
	add(both("missing query", post(`{"qeury":"{ __typename }"}`), 400, 400, absent, "VALIDATION")...)
	add(both("null query", post(`{"query":null}`), 400, 400, absent, "VALIDATION")...)
	for _, bad := range []string{`1`, `false`, `{"a":1}`, `["{ __typename }"]`} {
		add(both("query "+bad, post(`{"query":`+bad+`}`), 400, 400, absent, "VALIDATION")...)
		add(both("operationName "+bad, post(`{"query":"{ __typename }","operationName":`+bad+`}`), 400, 400, absent, "VALIDATION")...)
	}
	for _, bad := range []string{`"string"`, `0`, `false`, `[7]`} {
		add(both("variables "+bad, post(`{"query":"{ __typename }","variables":`+bad+`}`), 400, 400, absent, "VALIDATION")...)
		add(both("extensions "+bad, post(`{"query":"{ __typename }","extensions":`+bad+`}`), 400, 400, absent, "VALIDATION")...)
	}
	add(both("GET missing query", get(q("operationName", "A")), 400, 400, absent, "VALIDATION")...)
	add(both("GET variables not JSON", get(q("query", "{ __typename }", "variables", "{nope")), 400, 400, absent, "VALIDATION")...)
	add(both("GET variables not an object", get(q("query", "{ __typename }", "variables", "[1]")), 400, 400, absent, "VALIDATION")...)

	// Bodies that are not UTF-8 application/json: 415.
	for _, ct := range []string{"-", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
		"application/graphql", "application/json; charset=iso-8859-1", "application/json;;"} {
		add(both("POST Content-Type "+ct, post(typename).ct(ct), 415, 415, absent, "VALIDATION")...)
	}

	// Mutations over GET: 405, whatever the media type; nothing runs.
	mutation := "mutation { runSendFulfillmentRequests { claimed } }"
	for _, c := range both("GET mutation", get(q("query", mutation)), 405, 405, absent, "VALIDATION") {
		c.allow = "POST"
		add(c)
	}
	for _, c := range both("GET mutation by operationName", get(q("query", "query A { __typename } mutation B { runSendFulfillmentRequests { claimed } }", "operationName", "B")), 405, 405, absent, "VALIDATION") {
		c.allow = "POST"
		add(c)
	}
	for _, c := range both("GET invalid mutation", get(q("query", "mutation($x: Int!) { runSendFulfillmentRequests { claimed } }")), 405, 405, absent, "VALIDATION") {
		c.allow = "POST"
		add(c)
	}

	// Accept headers the server cannot satisfy: 406 (in application/json,
	// the one answer left), before authentication.
	for _, a := range []string{"text/html", "application/xml", "application/graphql+json", gqlResp + ";q=0, " + appJSON + ";q=0",
		appJSON + "; charset=iso-8859-1", "image/*"} {
		add(post(typename).with("POST Accept "+a, a, 406, appJSON, absent, "VALIDATION"))
	}
	add(get(q("query", "{ __typename }")).with("GET Accept text/html", "text/html", 406, appJSON, absent, "VALIDATION"))
	noKey := post(typename).with("406 before authentication", "text/html", 406, appJSON, absent, "VALIDATION")
	noKey.noKey = true
	add(noKey)

	// Authentication failures: 401 in the negotiated type.
	for _, c := range both("no key", post(typename), 401, 401, absent, "UNAUTHENTICATED") {
		c.noKey = true
		add(c)
	}
	for _, c := range both("GET no key", get(q("query", "{ __typename }")), 401, 401, absent, "UNAUTHENTICATED") {
		c.noKey = true
		add(c)
	}

	// Other methods.
	put := post(typename)
	put.method = http.MethodPut
	for _, c := range both("PUT", put, 405, 405, absent, "VALIDATION") {
		c.allow = "GET, POST, OPTIONS"
		add(c)
	}
	return cs
}

func TestGraphQLOverHTTP(t *testing.T) {
	a := testdb.App(t, testdb.SQLite, func(c *app.Config) { c.RateLimit = 0 })
	store := a.Store
	srv := httptest.NewServer(a.Handler)
	t.Cleanup(srv.Close)
	_, key, err := auth.CreateAccount(context.Background(), store.Client, "Conformance", "")
	if err != nil {
		t.Fatal(err)
	}
	created := send(t, srv, key, post(`{"query":"mutation { createApiKey(input: {name: \"reader\", role: READ_ONLY}) { secret } }"}`))
	var out struct {
		CreateAPIKey struct{ Secret string } `json:"createApiKey"`
	}
	if err := json.Unmarshal(created.body["data"], &out); err != nil || out.CreateAPIKey.Secret == "" {
		t.Fatalf("create a READ_ONLY key: %s", created.raw)
	}
	for _, c := range conformanceCases() {
		t.Run(c.name, func(t *testing.T) {
			k := key
			if c.readOnly {
				k = out.CreateAPIKey.Secret
			}
			check(t, c, send(t, srv, k, c))
		})
	}
}

// TestGraphQLOverHTTPReplay replays an Idempotency-Key under the other media
// type: the recorded status suits the media type it was recorded under, so
// it is adjusted, and an answer without data is never 2xx under
// application/graphql-response+json.
func TestGraphQLOverHTTPReplay(t *testing.T) {
	a := testdb.App(t, testdb.SQLite, func(c *app.Config) { c.RateLimit = 0 })
	store := a.Store
	srv := httptest.NewServer(a.Handler)
	t.Cleanup(srv.Close)
	_, key, err := auth.CreateAccount(context.Background(), store.Client, "Replay", "")
	if err != nil {
		t.Fatal(err)
	}
	invalid := post(`{"query":"mutation($id: ID!) { releaseOrder(id: $id) { id } }","variables":{}}`)
	invalid.idemKey = "invalid-mutation"
	first := invalid.with("first, json", appJSON, 200, appJSON, absent, "VALIDATION")
	check(t, first, send(t, srv, key, first))
	again := invalid.with("replayed, graphql-response+json", gqlResp, 400, gqlResp, absent, "VALIDATION")
	res := send(t, srv, key, again)
	check(t, again, res)
	if res.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("not a replay: %v", res.header)
	}

	ran := post(`{"query":"mutation { runSendFulfillmentRequests { claimed } }"}`)
	ran.idemKey = "send-run"
	check(t, ran.with("ran, graphql-response+json", gqlResp, 200, gqlResp, present, ""), send(t, srv, key, ran.with("", gqlResp, 0, "", "", "")))
	res = send(t, srv, key, ran.with("", appJSON, 0, "", "", ""))
	check(t, ran.with("replayed, json", appJSON, 200, appJSON, present, ""), res)
	if res.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("not a replay: %v", res.header)
	}
}

type answer struct {
	status int
	header http.Header
	body   map[string]json.RawMessage
	raw    []byte
}

func send(t *testing.T, srv *httptest.Server, key string, c conformanceCase) answer {
	t.Helper()
	target := srv.URL + "/query"
	var body io.Reader
	if c.method == http.MethodGet {
		target += "?" + c.query.Encode()
	} else {
		body = strings.NewReader(c.body)
	}
	req, err := http.NewRequest(c.method, target, body)
	if err != nil {
		t.Fatal(err)
	}
	if c.contentType != "" && c.contentType != "-" {
		req.Header.Set("Content-Type", c.contentType)
	}
	if c.accept != "-" {
		req.Header.Set("Accept", c.accept)
	}
	if !c.noKey {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if c.idemKey != "" {
		req.Header.Set("Idempotency-Key", c.idemKey)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	a := answer{status: resp.StatusCode, header: resp.Header}
	a.raw, _ = io.ReadAll(resp.Body)
	if err := json.Unmarshal(a.raw, &a.body); err != nil {
		t.Fatalf("%d: the body is not a JSON object: %q", resp.StatusCode, a.raw)
	}
	return a
}

func check(t *testing.T, c conformanceCase, a answer) {
	t.Helper()
	if a.status != c.status {
		t.Errorf("status %d, want %d: %s", a.status, c.status, a.raw)
	}
	mt, params, err := mime.ParseMediaType(a.header.Get("Content-Type"))
	if err != nil || mt != c.mediaType {
		t.Errorf("Content-Type %q, want %s", a.header.Get("Content-Type"), c.mediaType)
	} else if cs := params["charset"]; c.status != 406 && !strings.EqualFold(cs, "utf-8") {
		t.Errorf("Content-Type %q: no charset=utf-8", a.header.Get("Content-Type"))
	}
	if c.status != 406 && !strings.Contains(strings.Join(a.header.Values("Vary"), ","), "Accept") {
		t.Errorf("Vary %q does not name Accept", a.header.Values("Vary"))
	}
	_, hasData := a.body["data"]
	switch c.data {
	case present:
		if !hasData {
			t.Errorf("no data: %s", a.raw)
		}
	case absent:
		if hasData {
			t.Errorf("a request error has data: %s", a.raw)
		}
	}
	// Every answer is a GraphQL response: data and/or errors, nothing else
	// but extensions.
	for k := range a.body {
		if k != "data" && k != "errors" && k != "extensions" {
			t.Errorf("unexpected entry %q: %s", k, a.raw)
		}
	}
	var errs []struct {
		Message    string         `json:"message"`
		Extensions map[string]any `json:"extensions"`
	}
	if raw, ok := a.body["errors"]; ok {
		if err := json.Unmarshal(raw, &errs); err != nil || len(errs) == 0 {
			t.Errorf("errors is not a non-empty list: %s", raw)
		}
	}
	if !hasData && len(errs) == 0 {
		t.Errorf("neither data nor errors: %s", a.raw)
	}
	switch {
	case c.code == "" && len(errs) > 0:
		t.Errorf("unexpected errors: %s", a.raw)
	case c.code != "" && (len(errs) == 0 || errs[0].Extensions["code"] != c.code):
		t.Errorf("want code %s: %s", c.code, a.raw)
	}
	for _, e := range errs {
		if e.Message == "" || e.Extensions["code"] == nil {
			t.Errorf("an error without message or code: %s", a.raw)
		}
	}
	if c.allow != "" && a.header.Get("Allow") != c.allow {
		t.Errorf("Allow %q, want %q", a.header.Get("Allow"), c.allow)
	}
	if c.status == http.StatusUnauthorized && a.header.Get("WWW-Authenticate") == "" {
		t.Errorf("401 without WWW-Authenticate")
	}
}
