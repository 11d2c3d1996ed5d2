package main

import (
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/frsvc/fulfillment/internal/e2e"
	"github.com/frsvc/fulfillment/internal/testdb"
)

// TestMetricsMove drives the real server (run(), with the demo data set) —
// generate, process, a send run — then reads /metrics and finds every
// metric of the contract moved, with label values bounded by the schema
// and the domain's enums.
func TestMetricsMove(t *testing.T) {
	t.Parallel()
	for _, kind := range testdb.Kinds(t) {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			url := testdb.URL(t, kind)
			const key = "frk_metrics_test_key_0123456789abcdefghijk"
			srv := startRun(t, []string{"--addr", "127.0.0.1:0", "--database-url", url, "--send-interval", "0", "--demo"},
				map[string]string{"BOOTSTRAP_API_KEY": key}, 30*time.Second)
			t.Cleanup(func() {
				srv.cancel()
				if err := <-srv.done; err != nil {
					t.Errorf("run: %v", err)
				}
			})
			base := srv.url

			gql := func(query string, vars map[string]any) map[string]any {
				t.Helper()
				res, err := e2e.Post(nil, base, e2e.Request{Key: key, Query: query, Variables: vars})
				if err != nil {
					t.Fatal(err)
				}
				if len(res.Errors) > 0 {
					return nil
				}
				var data map[string]any
				res.Decode(t, &data)
				return data
			}

			var orders struct {
				Orders struct {
					Edges []struct{ Node struct{ ID string } }
				}
			}
			remarshal(t, gql(`{ orders(first: 50, where: {status: OPEN, paymentStatusIn: [PAID, DEFERRED]}) { edges { node { id } } } }`, nil), &orders)
			var frIDs []any
			for _, e := range orders.Orders.Edges {
				var res struct {
					GenerateFulfillmentRequests struct{ FulfillmentRequests []struct{ ID string } }
				}
				data := gql(`mutation($id: ID!) { generateFulfillmentRequests(orderID: $id) { fulfillmentRequests { id } } }`, map[string]any{"id": e.Node.ID})
				if data == nil {
					continue // a roadblock: the demo has some on purpose
				}
				remarshal(t, data, &res)
				for _, fr := range res.GenerateFulfillmentRequests.FulfillmentRequests {
					frIDs = append(frIDs, fr.ID)
				}
				if len(frIDs) >= 3 {
					break
				}
			}
			if len(frIDs) == 0 {
				t.Fatal("no demo order could be generated for")
			}
			if gql(`mutation($ids: [ID!]!) { processFulfillmentRequests(ids: $ids) { id } }`, map[string]any{"ids": frIDs}) == nil {
				t.Fatal("process failed")
			}
			if gql(`mutation { runSendFulfillmentRequests { claimed } }`, nil) == nil {
				t.Fatal("send run failed")
			}
			gql(`{ node(id: "999") { id } }`, nil) // an error outcome: NOT_FOUND

			resp, err := http.Get(base + "/metrics")
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			text := string(raw)
			for _, m := range []string{
				`fulfillment_graphql_duration_seconds_count{operation="mutation.generateFulfillmentRequests",outcome="ok"}`,
				`fulfillment_graphql_duration_seconds_count{operation="query.orders",outcome="ok"}`,
				`fulfillment_fr_transitions_total{from="UNPROCESSED",to="PROCESSING"}`,
				`fulfillment_routing_duration_seconds_count`,
				`fulfillment_db_statements_total`,
				`go_goroutines`,
				`process_cpu_seconds_total`,
			} {
				if v := metricValue(text, m); v <= 0 {
					t.Errorf("%s = %v, want > 0", m, v)
				}
			}
			if !regexp.MustCompile(`(?m)^fulfillment_send_attempts_total\{connector="(MANUAL|HTTP|FILE)",outcome="\w+"\} [1-9]`).MatchString(text) {
				t.Errorf("no send attempt counted:\n%s", grepLines(text, "fulfillment_send_attempts_total"))
			}
			if v := metricValue(text, `fulfillment_graphql_duration_seconds_count{operation="query.node",outcome="error"}`); v <= 0 {
				t.Errorf("no error outcome counted:\n%s", grepLines(text, "fulfillment_graphql_duration_seconds_count"))
			}
			// Bounded labels: operations are type.rootField, never an id or a client's name.
			for _, m := range regexp.MustCompile(`operation="([^"]*)"`).FindAllStringSubmatch(text, -1) {
				if !regexp.MustCompile(`^(query|mutation|subscription|unknown)(\.[A-Za-z_]+)?$`).MatchString(m[1]) {
					t.Errorf("unbounded operation label %q", m[1])
				}
			}
		})
	}
}

func remarshal(t *testing.T, in any, out any) {
	t.Helper()
	b, _ := json.Marshal(in)
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatal(err)
	}
}

// metricValue returns the value of the first sample line starting with
// name (a name with its labels, or a bare name), or -1.
func metricValue(text, name string) float64 {
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, name+" ") || (!strings.Contains(name, "{") && strings.HasPrefix(line, name+"{")) {
			f := strings.Fields(line)
			v, err := strconv.ParseFloat(f[len(f)-1], 64)
			if err == nil {
				return v
			}
		}
	}
	return -1
}

func grepLines(text, prefix string) string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, prefix) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
