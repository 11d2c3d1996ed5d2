package e2e

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/frsvc/fulfillment/internal/app"
	"github.com/frsvc/fulfillment/internal/testdb"
)

type opCost struct {
	Requested, Limit int
}

func opCostOf(t *testing.T, res *Result) *opCost {
	t.Helper()
	var body struct {
		Extensions struct{ Cost *opCost }
	}
	if err := json.Unmarshal(res.Raw, &body); err != nil {
		t.Fatalf("decode %s: %v", res.Raw, err)
	}
	return body.Extensions.Cost
}

// opOperatorPage is a realistic operator page: 50 orders with their lines,
// 5 requests each with items and 10 log entries.
const opOperatorPage = `{ orders(first: 50) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node {
  id orderNumber status paymentStatus holdReason
  lines { id sku title quantity unitPrice unallocatedQuantity }
  shipTo { name line1 city postalCode country }
  fulfillmentRequests(first: 5) { totalCount edges { node { id number status
    items { id quantity }
    logs(first: 10) { edges { node { id message createdAt } } } } } } } } } }`

// TestComplexityCostReported: every answer carries extensions.cost
// (requested and limit); a realistic operator page fits the default limit
// with room to spare; a refusal names the connections that cost most.
func TestComplexityCostReported(t *testing.T) {
	testdb.Each(t, func(t *testing.T, a *app.App) {
		env := New(t, a)
		env.importOrder(env.AdminKey, orderInput("COST-1"))

		res := env.Do(Request{Key: env.AdminKey, Query: `{ orders(first: 3) { totalCount edges { node { id orderNumber } } } }`})
		if c := opCostOf(t, res); len(res.Errors) > 0 || c == nil || *c != (opCost{Requested: 4, Limit: 10000}) {
			t.Errorf("cost %+v, errors %+v; want {4 10000}", c, res.Errors)
		}

		res = env.Do(Request{Key: env.AdminKey, Query: opOperatorPage})
		c := opCostOf(t, res)
		t.Logf("operator page: cost %+v", c)
		if len(res.Errors) > 0 || c == nil || c.Requested > c.Limit/2 {
			t.Errorf("operator page: cost %+v, errors %+v; want at most half the limit", c, res.Errors)
		}

		small := NewWith(t, a, func(c *app.Config) { c.Complexity = 1000 })
		res = small.Do(Request{Key: small.AdminKey, Query: `{ viewer { role } orders(first: 50) { edges { node { id lines { sku } logs { edges { node { message } } } } } } }`})
		e := small.Err(res, "COMPLEXITY_LIMIT_EXCEEDED")
		if !strings.Contains(e.Message, "orders(first: 50) × logs(first: 50, the default)") || !strings.Contains(e.Message, "2652") {
			t.Errorf("refusal %q does not name orders(first: 50) × logs(first: 50, the default) and its cost 2652", e.Message)
		}
		if c := opCostOf(t, res); c == nil || *c != (opCost{Requested: 2652, Limit: 1000}) {
			t.Errorf("refused: cost %+v, want {2652 1000}", c)
		}
	})
}
