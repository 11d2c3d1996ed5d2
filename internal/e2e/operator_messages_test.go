package e2e

import (
	"strings"
	"testing"

	"github.com/frsvc/fulfillment/internal/app"
	"github.com/frsvc/fulfillment/internal/testdb"
)

// TestMessagesInTheAPIsWords: a bad id, a decimal sent as a number, and a
// refused routing's log entry say what is wrong in the API's words, never
// Go's (strconv.Atoi, float64, a printed slice of codes).
func TestMessagesInTheAPIsWords(t *testing.T) {
	testdb.Each(t, func(t *testing.T, a *app.App) {
		k := newKit(t, a)
		goWords := func(where, msg string) {
			t.Helper()
			for _, w := range []string{"strconv", "Atoi", "parsing", "float64", "int64", "json.Number", "[", "%!"} {
				if strings.Contains(msg, w) {
					t.Errorf("%s: message %q has Go's %q", where, msg, w)
				}
			}
		}

		for _, q := range []struct{ query, want string }{
			{`{ node(id: "abc") { id } }`, `"abc" is not an id`},
			{`query($id: ID!) { node(id: $id) { id } }`, `"abc" is not an id`},
			{`{ nodes(ids: [1, "x1"]) { id } }`, `"x1" is not an id`},
		} {
			res := k.Do(Request{Key: k.AdminKey, Query: q.query, Variables: map[string]any{"id": "abc"}})
			e := k.Err(res, "VALIDATION")
			goWords(q.query, e.Message)
			if !strings.Contains(e.Message, q.want) {
				t.Errorf("%s: message %q, want it to say %s", q.query, e.Message, q.want)
			}
		}

		in := kitOrderInput("MSG-1", "PAID", "US", kitLine{"SKU-A", 1})
		in["lines"].([]any)[0].(map[string]any)["unitPrice"] = 12.5
		res := k.Do(Request{Key: k.AdminKey, Query: importOrderMutation, Variables: map[string]any{"input": in}})
		e := k.Err(res, "VALIDATION")
		goWords("unitPrice as a number", e.Message)
		if !strings.Contains(e.Message, `a Decimal is sent as a string such as "12.50"`) || !strings.Contains(e.Message, "12.5") {
			t.Errorf("unitPrice as a number: message %q", e.Message)
		}

		// Routing refused: two lines out of stock at the only source.
		src := k.source("MSG", nil)
		k.stock(src, "SKU-A", 0, "1.00")
		k.stock(src, "SKU-B", 0, "1.00")
		k.group("Default", []string{"LOWEST_COST"}, map[string]any{"isDefault": true}, src)
		o := k.order("MSG-2", "PAID", kitLine{"SKU-A", 1}, kitLine{"SKU-B", 2})
		k.Err(k.try(kitGenerateMutation, map[string]any{"id": o.ID}), "ROUTING_FAILED")
		var out struct {
			FulfillmentLogs struct {
				Edges []struct {
					Node struct{ Stage, Message string }
				}
			}
		}
		k.Query(`query($o: ID!) { fulfillmentLogs(where: {orderID: $o, stage: "routing"}) { edges { node { stage message } } } }`,
			map[string]any{"o": o.ID}, &out)
		if len(out.FulfillmentLogs.Edges) == 0 {
			t.Fatalf("no routing entry")
		}
		for _, l := range out.FulfillmentLogs.Edges {
			goWords("routing log", l.Node.Message)
			if strings.Contains(l.Node.Message, "OUT_OF_STOCK") || !strings.Contains(l.Node.Message, "SKU-A") || !strings.Contains(l.Node.Message, "SKU-B") {
				t.Errorf("routing log %q: want the reasons in words, naming SKU-A and SKU-B", l.Node.Message)
			}
		}
	})
}
