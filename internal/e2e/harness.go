// Package e2e drives the service end to end through its HTTP handler, as a
// client would: real database (SQLite and PostgreSQL), real HTTP, real keys.
//
// harness.go is the set-up every test shares, here once: a server and an
// account over an app of testdb (New, NewWith, Serve), API keys per role
// (CreateKey, ReadOnlyKey, SourceKey), requests and their checks (Do, Send,
// Post, Query, Try, Err, ErrorOf), the database fingerprint that proves a
// call wrote nothing (Fingerprint, Unchanged), the metrics (CounterValue)
// and calls that race (AtOnce). The tests' own kits build on it:
// fixtures_test.go (operator data), frkit_test.go (fulfillment requests),
// shipment_fixtures_test.go (shipments and partners) and
// hardening_helpers_test.go (a server with chosen limits, raw HTTP).
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/frsvc/fulfillment/ent/migrate"
	"github.com/frsvc/fulfillment/internal/app"
	"github.com/frsvc/fulfillment/internal/apperr"
	"github.com/frsvc/fulfillment/internal/auth"
	"github.com/frsvc/fulfillment/internal/db"
	"github.com/frsvc/fulfillment/internal/testdb"
)

// Env is a running server over one fresh database, with one account.
type Env struct {
	T testing.TB
	// App is the app the server runs, built by app.New (through testdb).
	App      *app.App
	Store    *db.Store
	Server   *httptest.Server
	AdminKey string
}

// New serves a's handler and creates an account with an ADMIN key.
func New(t testing.TB, a *app.App) *Env {
	t.Helper()
	return NewAs(t, a, "Test account")
}

// NewAs is New with the account's name.
func NewAs(t testing.TB, a *app.App, account string) *Env {
	t.Helper()
	e := Serve(t, a, "")
	e.AdminKey = e.NewAccount(account)
	return e
}

// Serve serves a's handler for an account that exists already: adminKey is
// its ADMIN key (another server process on the same database, say).
func Serve(t testing.TB, a *app.App, adminKey string) *Env {
	t.Helper()
	srv := httptest.NewServer(a.Handler)
	t.Cleanup(srv.Close)
	return &Env{T: t, App: a, Store: a.Store, Server: srv, AdminKey: adminKey}
}

// NewWith is New over another app on a's database, built with the
// configuration adjusted by configure (limits, for instance).
func NewWith(t testing.TB, a *app.App, configure func(*app.Config)) *Env {
	t.Helper()
	return newWithAs(t, a, configure, "Test account")
}

func newWithAs(t testing.TB, a *app.App, configure func(*app.Config), account string) *Env {
	t.Helper()
	return NewAs(t, testdb.On(t, a.Config.DatabaseURL, configure), account)
}

// NewAccount creates another account and returns its ADMIN key.
func (e *Env) NewAccount(name string) string {
	e.T.Helper()
	// Account names are unique: a test asking for a name twice on one
	// database gets "name 2", "name 3"…
	_, secret, err := auth.CreateAccount(context.Background(), e.Store.Client, name, "")
	for n := 2; apperr.CodeOf(err) == apperr.Conflict && n < 100; n++ {
		_, secret, err = auth.CreateAccount(context.Background(), e.Store.Client, fmt.Sprintf("%s %d", name, n), "")
	}
	if err != nil {
		e.T.Fatalf("create account: %v", err)
	}
	return secret
}

// Error is one GraphQL error of a response.
type Error struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

// Code returns extensions.code.
func (e Error) Code() string { s, _ := e.Extensions["code"].(string); return s }

// Result is a GraphQL response.
type Result struct {
	Status int
	Data   json.RawMessage `json:"data"`
	Errors []Error         `json:"errors"`
	Header http.Header
	// Raw is the response body as received.
	Raw []byte `json:"-"`
}

// Decode unmarshals data into v.
func (r *Result) Decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Data, v); err != nil {
		t.Fatalf("decode %s: %v", r.Data, err)
	}
}

// Codes lists the errors' codes.
func (r *Result) Codes() []string {
	out := make([]string, len(r.Errors))
	for i, e := range r.Errors {
		out[i] = e.Code()
	}
	return out
}

// Request is one GraphQL call.
type Request struct {
	Key       string
	Query     string
	Variables map[string]any
	// Header adds request headers (Idempotency-Key, …).
	Header map[string]string
}

// Do sends a POST /query with a JSON body. Every answer is checked for
// error hygiene (see CheckHygiene), so that every test guards it.
func (e *Env) Do(r Request) *Result {
	e.T.Helper()
	res, err := e.Send(r)
	if err != nil {
		e.T.Fatal(err)
	}
	if err := CheckHygiene(res); err != nil {
		e.T.Error(err)
	}
	return res
}

// Send is Do without a testing.TB: it may be called from any goroutine.
func (e *Env) Send(r Request) (*Result, error) {
	return Post(e.Server.Client(), e.Server.URL, r)
}

// Post sends r as a POST /query with a JSON body to the server at baseURL
// (http://host:port: this Env's, or a server process a test started)
// through client, http.DefaultClient when nil, and decodes the answer.
func Post(client *http.Client, baseURL string, r Request) (*Result, error) {
	if client == nil {
		client = http.DefaultClient
	}
	req, err := http.NewRequest(http.MethodPost, baseURL+"/query", bytes.NewReader(Body(r.Query, r.Variables)))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if r.Key != "" {
		req.Header.Set("Authorization", "Bearer "+r.Key)
	}
	for k, v := range r.Header {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	res := &Result{Status: resp.StatusCode, Header: resp.Header}
	raw, _ := io.ReadAll(resp.Body)
	res.Raw = raw
	if err := json.Unmarshal(raw, res); err != nil {
		return nil, fmt.Errorf("response is not JSON (%d): %s", resp.StatusCode, raw)
	}
	return res, nil
}

// Codes of the public contract (API.md).
var Codes = map[string]bool{
	"UNAUTHENTICATED": true, "FORBIDDEN": true, "NOT_FOUND": true, "VALIDATION": true,
	"INVALID_TRANSITION": true, "CONFLICT": true, "ROUTING_FAILED": true,
	"IDEMPOTENCY_KEY_REUSED": true, "COMPLEXITY_LIMIT_EXCEEDED": true,
	"RATE_LIMITED": true, "INTERNAL": true,
}

// leaks are fragments of SQL, driver, ORM and runtime text that must never
// reach a client (compared case-insensitively).
var leaks = []string{"sql", "pq:", "ent:", "constraint", "duplicate key", "violates",
	"goroutine ", ".go:", "panic", "runtime error", "stack trace"}

// CheckHygiene reports an error of res that carries no code of the contract
// or whose text shows SQL, driver text or a stack trace.
func CheckHygiene(res *Result) error {
	for _, e := range res.Errors {
		if !Codes[e.Code()] {
			return fmt.Errorf("error %q has no contract code: %v", e.Message, e.Extensions)
		}
		text := strings.ToLower(e.Message + " " + fmt.Sprint(e.Extensions))
		for _, l := range leaks {
			if strings.Contains(text, l) {
				return fmt.Errorf("error leaks %q to the client: %q %v", l, e.Message, e.Extensions)
			}
		}
	}
	return nil
}

// Query runs a request with the account's ADMIN key and fails the test on
// any error; it decodes data into out when out is not nil.
func (e *Env) Query(query string, vars map[string]any, out any) {
	e.T.Helper()
	e.QueryAs(e.AdminKey, query, vars, out)
}

// QueryAs is Query with another key.
func (e *Env) QueryAs(key, query string, vars map[string]any, out any) {
	e.T.Helper()
	res := e.Do(Request{Key: key, Query: query, Variables: vars})
	if len(res.Errors) > 0 {
		e.T.Fatalf("unexpected errors: %+v", res.Errors)
	}
	if out != nil {
		res.Decode(e.T, out)
	}
}

// Try sends a request with key and returns the answer, errors and all.
func (e *Env) Try(key, query string, vars map[string]any) *Result {
	e.T.Helper()
	return e.Do(Request{Key: key, Query: query, Variables: vars})
}

// WithT returns a copy of e that reports to t (for subtests).
func (e *Env) WithT(t testing.TB) *Env {
	c := *e
	c.T = t
	return &c
}

// Principal returns the principal of a key (its account id, key id, role).
func (e *Env) Principal(key string) auth.Principal {
	e.T.Helper()
	p, err := e.App.Auth.Authenticate(context.Background(), key)
	if err != nil {
		e.T.Fatalf("authenticate: %v", err)
	}
	return p
}

// Err returns the only error of res, failing the test unless there is
// exactly one and its code is code.
func (e *Env) Err(res *Result, code string) Error {
	e.T.Helper()
	return ErrorOf(e.T, res, code)
}

// Field returns extensions.field of an error.
func (e Error) Field() string { s, _ := e.Extensions["field"].(string); return s }

// TotalCount runs `{ <conn> { totalCount } }` with key and returns the count.
func (e *Env) TotalCount(key, conn string) int {
	e.T.Helper()
	var out map[string]struct{ TotalCount int }
	e.QueryAs(key, "{ "+conn+" { totalCount } }", nil, &out)
	c, ok := out[conn]
	if !ok {
		e.T.Fatalf("no %s in answer", conn)
	}
	return c.TotalCount
}

// Body is the JSON body of a GraphQL POST.
func Body(query string, vars map[string]any) []byte {
	b, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	return b
}

// ErrorOf returns the only error of res, failing t unless there is exactly
// one and its code is code (Env.Err for a t of the caller's choosing).
func ErrorOf(t testing.TB, res *Result, code string) Error {
	t.Helper()
	if len(res.Errors) != 1 {
		t.Fatalf("want one %s error, got %d: %+v (data %s)", code, len(res.Errors), res.Errors, res.Data)
	}
	if got := res.Errors[0].Code(); got != code {
		t.Fatalf("want code %s, got %s: %+v", code, got, res.Errors[0])
	}
	return res.Errors[0]
}

// CreateKeyMutation creates an API key and reads all of it back.
const CreateKeyMutation = `mutation($input: CreateApiKeyInput!) {
  createApiKey(input: $input) { secret apiKey { id name role prefix revokedAt sourceID source { code } } } }`

// CreatedKey is what CreateKeyMutation answers.
type CreatedKey struct {
	Secret string
	APIKey struct {
		ID, Name, Role, Prefix string
		RevokedAt              *string
		SourceID               *string
		Source                 *struct{ Code string }
	} `json:"apiKey"`
}

// CreateKey creates an API key in the account with its ADMIN key; input is
// a CreateApiKeyInput ({"name", "role"[, "sourceID"]}).
func (e *Env) CreateKey(input map[string]any) CreatedKey {
	e.T.Helper()
	return e.CreateKeyAs(e.AdminKey, input)
}

// CreateKeyAs is CreateKey with another (ADMIN) key: of another account.
func (e *Env) CreateKeyAs(key string, input map[string]any) CreatedKey {
	e.T.Helper()
	var out struct{ CreateApiKey CreatedKey }
	e.QueryAs(key, CreateKeyMutation, map[string]any{"input": input}, &out)
	return out.CreateApiKey
}

// ReadOnlyKey creates a READ_ONLY key named name and returns its secret.
func (e *Env) ReadOnlyKey(name string) string {
	e.T.Helper()
	return e.CreateKey(map[string]any{"name": name, "role": "READ_ONLY"}).Secret
}

// SourceKey creates a SOURCE key named name for the source and returns it.
func (e *Env) SourceKey(name, sourceID string) CreatedKey {
	e.T.Helper()
	return e.CreateKey(map[string]any{"name": name, "role": "SOURCE", "sourceID": sourceID})
}

// Fingerprint is every row of every table, as text (tables by name, a key's
// last use left out: every call records it). Equal fingerprints mean
// nothing was written in between.
func Fingerprint(t testing.TB, s *db.Store) string {
	t.Helper()
	fp, _ := FingerprintRows(t, s)
	return fp
}

// FingerprintRows is Fingerprint with the number of rows of each table.
func FingerprintRows(t testing.TB, s *db.Store) (string, map[string]int) {
	t.Helper()
	var b strings.Builder
	counts := map[string]int{}
	names := make([]string, 0, len(migrate.Tables))
	for _, tb := range migrate.Tables {
		names = append(names, tb.Name)
	}
	sort.Strings(names)
	for _, name := range names {
		rows, err := s.DB.Query("SELECT * FROM " + name + " ORDER BY 1")
		if err != nil {
			t.Fatalf("read %s: %v", name, err)
		}
		cols, err := rows.Columns()
		if err != nil {
			t.Fatalf("read %s: %v", name, err)
		}
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatalf("scan %s: %v", name, err)
			}
			counts[name]++
			for i, c := range cols {
				if c == "last_used_at" {
					vals[i] = nil
				}
				if b, ok := vals[i].([]byte); ok {
					vals[i] = string(b)
				}
			}
			fmt.Fprintf(&b, "%s %v\n", name, vals)
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("read %s: %v", name, err)
		}
		_ = rows.Close()
	}
	return b.String(), counts
}

// Unchanged runs fn and fails t if it wrote anything to s.
func Unchanged(t testing.TB, s *db.Store, what string, fn func()) {
	t.Helper()
	before := Fingerprint(t, s)
	fn()
	if after := Fingerprint(t, s); after != before {
		t.Errorf("%s changed the database", what)
	}
}

// CounterValue sums the counter name of the app's metrics over the series
// whose labels include labels.
func CounterValue(t testing.TB, a *app.App, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := a.Metrics.Registry.Gather()
	if err != nil {
		t.Fatalf("gather metrics: %v", err)
	}
	var n float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for k, v := range labels {
				if have[k] != v {
					continue series
				}
			}
			n += m.GetCounter().GetValue()
		}
	}
	return n
}

// AtOnce runs fn(0) … fn(n-1) in n goroutines released together by one
// barrier, so that they race, and returns when all have returned.
func AtOnce(n int, fn func(i int)) {
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			fn(i)
		}()
	}
	close(start)
	wg.Wait()
}
