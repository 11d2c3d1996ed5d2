package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/frsvc/fulfillment/internal/app"
	"github.com/frsvc/fulfillment/internal/reqid"
	"github.com/frsvc/fulfillment/internal/testdb"
)

// TestErrorHygiene checks the codes of the GraphQL layer's own errors and
// that database failures reach the client as INTERNAL with a request id and
// no SQL, driver text or stack trace. (Every answer of every test is also
// checked by CheckHygiene in Do.)
func TestErrorHygiene(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, a *app.App) {
		s := a.Store
		e := New(t, a)
		o := e.importOrder(e.AdminKey, orderInput("E-1"))

		cases := []struct {
			name  string
			query string
			vars  map[string]any
			code  string
			field string
		}{
			{"unknown field", `{ orders { edges { node { id secretColumn } } } }`, nil, "VALIDATION", ""},
			{"unknown root field", `{ accounts { id } }`, nil, "VALIDATION", ""},
			{"unknown argument", `{ orders(limit: 3) { totalCount } }`, nil, "VALIDATION", ""},
			{"parse error", `{ orders { totalCount `, nil, "VALIDATION", ""},
			{"unknown enum value", `{ orders(where: {status: LOST}) { totalCount } }`, nil, "VALIDATION", ""},
			{"missing variable", `query($id: ID!) { node(id: $id) { id } }`, nil, "VALIDATION", ""},
			{"wrong variable type", `query($n: Int) { orders(first: $n) { totalCount } }`, map[string]any{"n": "many"}, "VALIDATION", ""},
			{"id not a number", `{ node(id: "abc") { id } }`, nil, "VALIDATION", ""},
			{"decimal as number", `mutation($in: ImportOrderInput!) { importOrder(input: $in) { id } }`,
				map[string]any{"in": orderInput("E-2", map[string]any{"sku": "A", "quantity": 1, "unitPrice": 9.99})}, "VALIDATION", "input.lines[0].unitPrice"},
			{"bad scalar in an argument", `{ orders(where: {createdAtGT: "yesterday"}) { totalCount } }`, nil, "VALIDATION", ""},
			{"bad scalar in a nested argument", `{ orders { edges { node { logs(where: {createdAtGT: "yesterday"}) { totalCount } } } } }`, nil, "VALIDATION", ""},
			{"SQL in a string is data", `query($n: String) { orders(where: {orderNumber: $n}) { totalCount } }`,
				map[string]any{"n": "1' OR '1'='1"}, "", ""},
			{"unknown id", `{ node(id: 999999) { id } }`, nil, "NOT_FOUND", ""},
			{"id of an unknown type", `{ node(id: "999999999999999") { id } }`, nil, "NOT_FOUND", ""},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				e := e.WithT(t)
				res := e.Do(Request{Key: e.AdminKey, Query: c.query, Variables: c.vars})
				if c.code == "" {
					if len(res.Errors) > 0 {
						t.Fatalf("errors: %+v", res.Errors)
					}
					return
				}
				er := e.Err(res, c.code)
				if c.field != "" && er.Field() != c.field {
					t.Errorf("field = %q, want %q", er.Field(), c.field)
				}
				if er.Message == "" {
					t.Error("empty message")
				}
			})
		}
		// The SQL-looking string was only data: the order is still there.
		if n := e.TotalCount(e.AdminKey, "orders"); n != 1 {
			t.Fatalf("orders = %d", n)
		}

		var logs struct {
			FulfillmentLogs struct {
				Edges []struct{ Node struct{ ID string } }
			}
		}
		e.Query(`{ fulfillmentLogs { edges { node { id } } } }`, nil, &logs)
		if len(logs.FulfillmentLogs.Edges) == 0 {
			t.Fatal("no log")
		}
		logID := logs.FulfillmentLogs.Edges[0].Node.ID

		// A database failure inside a resolver: the table is gone.
		drop := "DROP TABLE fulfillment_logs"
		if s.Postgres() {
			drop += " CASCADE"
		}
		if _, err := s.DB.Exec(drop); err != nil {
			t.Fatal(err)
		}
		for _, q := range []struct {
			query string
			vars  map[string]any
		}{
			{`{ fulfillmentLogs { totalCount } }`, nil},
			{`query($id: ID!) { node(id: $id) { ... on Order { logs { edges { node { message } } } } } }`, map[string]any{"id": o.ID}},
			{importOrderMutation, map[string]any{"input": orderInput("E-3")}},
		} {
			res := e.Do(Request{Key: e.AdminKey, Query: q.query, Variables: q.vars})
			if len(res.Errors) == 0 {
				t.Fatalf("no error without the table: %s", res.Data)
			}
			for _, er := range res.Errors {
				if er.Code() != "INTERNAL" || er.Message == "" {
					t.Errorf("database failure answered %+v", er)
				}
				id, _ := er.Extensions["requestId"].(string)
				if id == "" || id != res.Header.Get(reqid.Header) {
					t.Errorf("requestId %q, header %q", id, res.Header.Get(reqid.Header))
				}
			}
		}
		// nodes(ids:) adds its errors instead of returning them: the same
		// hygiene, and the ids it could read are still answered.
		res := e.Do(Request{Key: e.AdminKey, Query: `query($ids: [ID!]!) { nodes(ids: $ids) { id } }`,
			Variables: map[string]any{"ids": []string{logID, o.ID}}})
		var nodes struct{ Nodes []*struct{ ID string } }
		res.Decode(t, &nodes)
		if len(nodes.Nodes) != 2 || nodes.Nodes[0] != nil || nodes.Nodes[1] == nil || nodes.Nodes[1].ID != o.ID {
			t.Errorf("nodes = %s", res.Data)
		}
		if er := e.Err(res, "INTERNAL"); er.Extensions["requestId"] == nil || er.Extensions["field"] != nil {
			t.Errorf("nodes error = %+v", er)
		}

		// The import's transaction rolled back with its log.
		if n := e.TotalCount(e.AdminKey, "orders"); n != 1 {
			t.Errorf("failed import left an order: %d", n)
		}

		// Authentication itself failing on the database: 500, INTERNAL, no detail.
		testdb.Must(t, s.DB.Close())
		res = e.Do(Request{Key: e.AdminKey, Query: `{ viewer { role } }`})
		if res.Status != http.StatusInternalServerError {
			t.Errorf("status %d, want 500", res.Status)
		}
		if er := e.Err(res, "INTERNAL"); !strings.Contains(strings.ToLower(er.Message), "internal") {
			t.Errorf("message %q", er.Message)
		}
	})
}
