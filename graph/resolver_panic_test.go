package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/frsvc/fulfillment/graph"
	"github.com/frsvc/fulfillment/internal/admin"
	"github.com/frsvc/fulfillment/internal/app"
	"github.com/frsvc/fulfillment/internal/auth"
	"github.com/frsvc/fulfillment/internal/tenant"
	"github.com/frsvc/fulfillment/internal/testdb"
)

// TestResolverPanic makes resolvers really panic: the Resolver's Admin
// service has a nil ent client, so viewer and createSource dereference nil.
// Each panic is one INTERNAL error in a well-formed GraphQL answer with no
// trace of the panic, it is logged, nothing is written, and the next
// requests (other resolvers, and the same one again) are served.
func TestResolverPanic(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, ap *app.App) {
		s := ap.Store
		ctx := context.Background()
		_, secret, err := auth.CreateAccount(ctx, s.Client, "Panic", "")
		testdb.Must(t, err)
		p, err := ap.Auth.Authenticate(ctx, secret)
		testdb.Must(t, err)

		// Wired by hand on purpose: the app's resolver with a broken Admin
		// service, which no configuration of the app can produce.
		r := *ap.Resolver
		r.Admin = &admin.Service{} // nil Client: a nil dereference inside the resolver
		logs := &testdb.Buffer{}
		gql := graph.NewHandler(&r, graph.Options{Logger: slog.New(slog.NewJSONHandler(logs, nil))})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			gql.ServeHTTP(w, req.WithContext(auth.WithPrincipal(req.Context(), p)))
		}))
		t.Cleanup(srv.Close)

		type answer struct {
			status int
			raw    string
			Data   json.RawMessage
			Errors []struct {
				Message    string
				Extensions map[string]any
			}
		}
		post := func(query string) answer {
			t.Helper()
			body, _ := json.Marshal(map[string]any{"query": query})
			resp, err := http.Post(srv.URL, "application/json", bytes.NewReader(body))
			testdb.Must(t, err)
			defer resp.Body.Close()
			raw, _ := io.ReadAll(resp.Body)
			a := answer{status: resp.StatusCode, raw: string(raw)}
			if err := json.Unmarshal(raw, &a); err != nil {
				t.Fatalf("HTTP %d, not JSON: %q", resp.StatusCode, raw)
			}
			return a
		}
		sources := func() int {
			n, err := s.Client.Source.Query().Count(tenant.WithSystem(ctx))
			testdb.Must(t, err)
			return n
		}

		for round := range 2 {
			for _, q := range []string{
				`{ viewer { role } }`,
				`mutation { createSource(input: {name: "P", code: "P"}) { id } }`,
			} {
				a := post(q)
				if a.status != http.StatusOK {
					t.Errorf("round %d %s: HTTP %d %s", round, q, a.status, a.raw)
				}
				if len(a.Errors) != 1 || a.Errors[0].Extensions["code"] != "INTERNAL" || a.Errors[0].Message == "" {
					t.Errorf("round %d %s: %s, want one INTERNAL error", round, q, a.raw)
				}
				if string(a.Data) != "null" {
					t.Errorf("round %d %s: data %s, want null", round, q, a.Data)
				}
				lower := strings.ToLower(a.raw)
				for _, leak := range []string{"panic", "nil pointer", "runtime error", "goroutine", ".go:", "invalid memory"} {
					if strings.Contains(lower, leak) {
						t.Errorf("round %d: the answer shows %q: %s", round, leak, a.raw)
					}
				}
			}
			// The process is alive and other resolvers work.
			if a := post(`{ orders { totalCount } sources { totalCount } }`); a.status != http.StatusOK || len(a.Errors) > 0 {
				t.Fatalf("round %d: after the panics: HTTP %d %s", round, a.status, a.raw)
			}
		}
		if n := sources(); n != 0 {
			t.Errorf("a panicking createSource left %d sources", n)
		}
		if got := strings.Count(logs.String(), `"msg":"panic in resolver"`); got != 4 {
			t.Errorf("%d panics logged, want 4:\n%s", got, logs.String())
		}
		if strings.Contains(logs.String(), secret) {
			t.Error("the log holds the API key")
		}
	})
}
