// Package e2e drives the service end to end through its HTTP handler, as a
// client would: real database (SQLite and PostgreSQL), real HTTP, real keys.
// harness.go is the small client the tests share.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/frsvc/fulfillment/internal/auth"
	"github.com/frsvc/fulfillment/internal/db"
	"github.com/frsvc/fulfillment/internal/httpapi"
)

// Env is a running server over one fresh database, with one account.
type Env struct {
	T        testing.TB
	Store    *db.Store
	Server   *httptest.Server
	AdminKey string
}

// New starts the HTTP handler over store and creates an account with an
// ADMIN key.
func New(t testing.TB, store *db.Store) *Env {
	t.Helper()
	h := httpapi.New(httpapi.Config{
		Store:         store,
		Logger:        slog.New(slog.NewJSONHandler(io.Discard, nil)),
		Playground:    true,
		Introspection: true,
	})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	e := &Env{T: t, Store: store, Server: srv}
	e.AdminKey = e.NewAccount("Test account")
	return e
}

// NewAccount creates another account and returns its ADMIN key.
func (e *Env) NewAccount(name string) string {
	e.T.Helper()
	_, secret, err := auth.CreateAccount(context.Background(), e.Store.Client, name, "")
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

// Do sends a POST /query with a JSON body.
func (e *Env) Do(r Request) *Result {
	e.T.Helper()
	body, _ := json.Marshal(map[string]any{"query": r.Query, "variables": r.Variables})
	req, err := http.NewRequest(http.MethodPost, e.Server.URL+"/query", bytes.NewReader(body))
	if err != nil {
		e.T.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if r.Key != "" {
		req.Header.Set("Authorization", "Bearer "+r.Key)
	}
	for k, v := range r.Header {
		req.Header.Set(k, v)
	}
	resp, err := e.Server.Client().Do(req)
	if err != nil {
		e.T.Fatal(err)
	}
	defer resp.Body.Close()
	res := &Result{Status: resp.StatusCode, Header: resp.Header}
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, res); err != nil {
		e.T.Fatalf("response is not JSON (%d): %s", resp.StatusCode, raw)
	}
	return res
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
