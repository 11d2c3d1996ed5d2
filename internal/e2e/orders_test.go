package e2e

import (
	"strings"
	"sync"
	"testing"

	"github.com/frsvc/fulfillment/internal/app"
	"github.com/frsvc/fulfillment/internal/testdb"
)

// TestImportOrderReadBack imports an order and reads it back through the
// orders connection (with lines and logs) and through node(id:).
func TestImportOrderReadBack(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, a *app.App) {
		e := New(t, a)
		in := orderInput("1001")
		in["referenceNumber"] = "REF-7"
		in["orderedAt"] = "2024-03-01T10:00:00Z"
		o := e.importOrder(e.AdminKey, in)
		if o.ID == "" || o.Status != "OPEN" || o.OrderNumber != "1001" || o.Channel != "web" || o.PaymentStatus != "PAID" {
			t.Fatalf("imported order = %+v", o)
		}
		if o.ShipTo.Country != "US" || o.ShipTo.City != "Springfield" {
			t.Fatalf("shipTo = %+v", o.ShipTo)
		}

		const q = `query($id: ID!) {
  orders(first: 10) { totalCount edges { node {
    id orderNumber referenceNumber orderedAt status shipToCountry
    lines { position sku title quantity unitPrice unallocatedQuantity allocatedQuantity shippedQuantity killedQuantity order { id } }
    logs(first: 10) { totalCount edges { node { stage level message actor correlationID order { id } } } }
  } } }
  node(id: $id) { __typename id ... on Order { orderNumber lines { sku unitPrice } } }
}`
		var out struct {
			Orders struct {
				TotalCount int
				Edges      []struct {
					Node struct {
						ID, OrderNumber, ReferenceNumber, OrderedAt, Status, ShipToCountry string
						Lines                                                              []struct {
							Position                                                                int
							Sku                                                                     string
							Title                                                                   *string
							Quantity                                                                int
							UnitPrice                                                               string
							UnallocatedQuantity, AllocatedQuantity, ShippedQuantity, KilledQuantity int
							Order                                                                   struct{ ID string }
						}
						Logs struct {
							TotalCount int
							Edges      []struct {
								Node struct {
									Stage, Level, Message, Actor, CorrelationID string
									Order                                       struct{ ID string }
								}
							}
						}
					}
				}
			}
			Node struct {
				Typename    string `json:"__typename"`
				ID          string
				OrderNumber string
				Lines       []struct{ Sku, UnitPrice string }
			}
		}
		e.Query(q, map[string]any{"id": o.ID}, &out)

		if out.Orders.TotalCount != 1 || len(out.Orders.Edges) != 1 {
			t.Fatalf("orders = %+v", out.Orders)
		}
		n := out.Orders.Edges[0].Node
		if n.ID != o.ID || n.ReferenceNumber != "REF-7" || n.Status != "OPEN" || n.ShipToCountry != "US" ||
			!strings.HasPrefix(n.OrderedAt, "2024-03-01T10:00:00") {
			t.Errorf("order node = %+v", n)
		}
		type line struct {
			pos   int
			sku   string
			title string
			qty   int
			price string
		}
		want := []line{{1, "SKU-A", "Widget", 2, "9.99"}, {2, "SKU-B", "", 1, "120.50"}}
		if len(n.Lines) != len(want) {
			t.Fatalf("lines = %+v", n.Lines)
		}
		for i, l := range n.Lines {
			title := ""
			if l.Title != nil {
				title = *l.Title
			}
			got := line{l.Position, l.Sku, title, l.Quantity, l.UnitPrice}
			if got != want[i] {
				t.Errorf("line %d = %+v, want %+v", i, got, want[i])
			}
			// The ledger of a new line: everything unallocated.
			if l.UnallocatedQuantity != l.Quantity || l.AllocatedQuantity+l.ShippedQuantity+l.KilledQuantity != 0 {
				t.Errorf("line %d ledger = %+v", i, l)
			}
			if l.Order.ID != o.ID {
				t.Errorf("line %d order = %s, want %s", i, l.Order.ID, o.ID)
			}
		}
		if n.Logs.TotalCount != 1 || len(n.Logs.Edges) != 1 {
			t.Fatalf("logs = %+v", n.Logs)
		}
		lg := n.Logs.Edges[0].Node
		if lg.Stage != "import" || lg.Level != "INFO" || !strings.Contains(lg.Message, "1001") ||
			!strings.HasPrefix(lg.Actor, "apikey:") || lg.CorrelationID == "" || lg.Order.ID != o.ID {
			t.Errorf("import log = %+v", lg)
		}
		if strings.Contains(lg.Actor, "frk_") {
			t.Errorf("log actor shows the secret: %q", lg.Actor)
		}
		if out.Node.Typename != "Order" || out.Node.ID != o.ID || out.Node.OrderNumber != "1001" ||
			len(out.Node.Lines) != 2 || out.Node.Lines[1].UnitPrice != "120.50" {
			t.Errorf("node = %+v", out.Node)
		}
	})
}

// TestImportOrderIdempotent imports the same channel+orderNumber again, in
// sequence and concurrently: one order, one id, one import log.
func TestImportOrderIdempotent(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, a *app.App) {
		e := New(t, a)
		first := e.importOrder(e.AdminKey, orderInput("A-1"))

		// An identical repeat answers the existing order untouched (one
		// with other content is a CONFLICT: TestReimportWithOtherContent).
		again := e.importOrder(e.AdminKey, orderInput("A-1"))
		if again.ID != first.ID {
			t.Fatalf("repeat import id = %s, want %s", again.ID, first.ID)
		}
		if len(again.Lines) != 2 || again.Lines[0].Sku != "SKU-A" {
			t.Fatalf("repeat import changed the lines: %+v", again.Lines)
		}
		// Same number on another channel is another order.
		other := orderInput("A-1")
		other["channel"] = "marketplace"
		if o := e.importOrder(e.AdminKey, other); o.ID == first.ID {
			t.Fatalf("another channel answered the same order %s", o.ID)
		}
		e.assertCounts(t, e.AdminKey, counts{Orders: 2, FulfillmentLogs: 2})

		// Concurrently: ten clients import the same new order at once.
		const n = 10
		var wg sync.WaitGroup
		ids := make([]string, n)
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := e.Send(Request{Key: e.AdminKey, Query: importOrderMutation, Variables: map[string]any{"input": orderInput("RACE-1")}})
				if err != nil {
					errs[i] = err
					return
				}
				if err := CheckHygiene(res); err != nil {
					errs[i] = err
					return
				}
				if len(res.Errors) > 0 {
					errs[i] = &resultError{res}
					return
				}
				var out struct{ ImportOrder orderOut }
				if err := jsonUnmarshal(res.Data, &out); err != nil {
					errs[i] = err
					return
				}
				ids[i] = out.ImportOrder.ID
			}()
		}
		wg.Wait()
		for i := range n {
			if errs[i] != nil {
				t.Errorf("concurrent import %d: %v", i, errs[i])
			}
		}
		for i := 1; i < n; i++ {
			if ids[i] != ids[0] {
				t.Errorf("concurrent imports answered different ids: %v", ids)
				break
			}
		}
		var out struct {
			Orders struct {
				TotalCount int
				Edges      []struct {
					Node struct {
						ID    string
						Lines []struct{ Sku string }
						Logs  struct{ TotalCount int }
					}
				}
			}
		}
		e.Query(`{ orders(where: {orderNumber: "RACE-1"}) { totalCount edges { node { id lines { sku } logs { totalCount } } } } }`, nil, &out)
		if out.Orders.TotalCount != 1 {
			t.Fatalf("concurrent import made %d orders", out.Orders.TotalCount)
		}
		got := out.Orders.Edges[0].Node
		if got.ID != ids[0] || len(got.Lines) != 2 || got.Logs.TotalCount != 1 {
			t.Fatalf("concurrently imported order = %+v (ids %v)", got, ids)
		}
		e.assertCounts(t, e.AdminKey, counts{Orders: 3, FulfillmentLogs: 3})
	})
}

// TestHoldRelease walks an order through hold and release, with the refusals
// and the log entries of each change.
func TestHoldRelease(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, a *app.App) {
		e := New(t, a)
		o := e.importOrder(e.AdminKey, orderInput("H-1"))
		const hold = `mutation($id: ID!, $reason: String!) { holdOrder(id: $id, reason: $reason) { id status holdReason } }`
		const release = `mutation($id: ID!) { releaseOrder(id: $id) { id status holdReason } }`
		type statusOut struct {
			ID         string
			Status     string
			HoldReason *string
		}
		state := func() statusOut {
			t.Helper()
			var out struct{ Node statusOut }
			e.Query(`query($id: ID!) { node(id: $id) { ... on Order { id status holdReason } } }`, map[string]any{"id": o.ID}, &out)
			return out.Node
		}
		logCount := func() int {
			t.Helper()
			var out struct {
				Node struct{ Logs struct{ TotalCount int } }
			}
			e.Query(`query($id: ID!) { node(id: $id) { ... on Order { logs { totalCount } } } }`, map[string]any{"id": o.ID}, &out)
			return out.Node.Logs.TotalCount
		}

		// A reason is required: blank is refused and changes nothing.
		for _, reason := range []string{"", "   "} {
			res := e.Do(Request{Key: e.AdminKey, Query: hold, Variables: map[string]any{"id": o.ID, "reason": reason}})
			if f := e.Err(res, "VALIDATION").Field(); f != "reason" {
				t.Errorf("hold with reason %q: field = %q, want reason", reason, f)
			}
		}
		if st := state(); st.Status != "OPEN" || st.HoldReason != nil {
			t.Fatalf("after refused hold: %+v", st)
		}
		if n := logCount(); n != 1 {
			t.Fatalf("refused holds wrote logs: %d entries", n)
		}

		// Release of an OPEN order is an invalid transition.
		res := e.Do(Request{Key: e.AdminKey, Query: release, Variables: map[string]any{"id": o.ID}})
		er := e.Err(res, "INVALID_TRANSITION")
		if er.Extensions["from"] != "OPEN" || er.Extensions["to"] != "OPEN" {
			t.Errorf("release of OPEN: extensions = %v", er.Extensions)
		}

		var h struct{ HoldOrder statusOut }
		e.Query(hold, map[string]any{"id": o.ID, "reason": "address check"}, &h)
		if h.HoldOrder.Status != "ON_HOLD" || h.HoldOrder.HoldReason == nil || *h.HoldOrder.HoldReason != "address check" {
			t.Fatalf("hold = %+v", h.HoldOrder)
		}
		// Holding a held order updates the reason.
		e.Query(hold, map[string]any{"id": o.ID, "reason": "fraud review"}, &h)
		if h.HoldOrder.Status != "ON_HOLD" || *h.HoldOrder.HoldReason != "fraud review" {
			t.Fatalf("second hold = %+v", h.HoldOrder)
		}
		var r struct{ ReleaseOrder statusOut }
		e.Query(release, map[string]any{"id": o.ID}, &r)
		if r.ReleaseOrder.Status != "OPEN" || r.ReleaseOrder.HoldReason != nil {
			t.Fatalf("release = %+v", r.ReleaseOrder)
		}
		if st := state(); st.Status != "OPEN" || st.HoldReason != nil {
			t.Fatalf("after release: %+v", st)
		}
		// Released again: refused, from ON_HOLD is the only way.
		res = e.Do(Request{Key: e.AdminKey, Query: release, Variables: map[string]any{"id": o.ID}})
		er = e.Err(res, "INVALID_TRANSITION")
		if er.Extensions["from"] != "OPEN" || er.Extensions["to"] != "OPEN" {
			t.Errorf("second release: extensions = %v", er.Extensions)
		}

		var logs struct {
			Node struct {
				Logs struct {
					Edges []struct {
						Node struct {
							Stage, Message, Actor, CorrelationID string
							Data                                 map[string]any
						}
					}
				}
			}
		}
		e.Query(`query($id: ID!) { node(id: $id) { ... on Order {
			logs(first: 20, orderBy: {field: CREATED_AT}) { edges { node { stage message actor correlationID data } } } } } }`,
			map[string]any{"id": o.ID}, &logs)
		edges := logs.Node.Logs.Edges
		// import, hold, hold again, release: the refusals wrote nothing.
		if len(edges) != 4 {
			t.Fatalf("logs = %+v", edges)
		}
		wantStage := []string{"import", "order-status", "order-status", "order-status"}
		wantMsg := []string{"imported", "address check", "fraud review", "ON_HOLD to OPEN"}
		seen := map[string]bool{}
		for i, ed := range edges {
			l := ed.Node
			if l.Stage != wantStage[i] || !strings.Contains(l.Message, wantMsg[i]) {
				t.Errorf("log %d = %q %q, want stage %q containing %q", i, l.Stage, l.Message, wantStage[i], wantMsg[i])
			}
			if !strings.HasPrefix(l.Actor, "apikey:") {
				t.Errorf("log %d actor = %q", i, l.Actor)
			}
			if seen[l.CorrelationID] {
				t.Errorf("log %d reuses correlation id %s", i, l.CorrelationID)
			}
			seen[l.CorrelationID] = true
		}
		if d := edges[3].Node.Data; d["from"] != "ON_HOLD" || d["to"] != "OPEN" {
			t.Errorf("release log data = %v", d)
		}
		if d := edges[1].Node.Data; d["reason"] != "address check" || d["to"] != "ON_HOLD" {
			t.Errorf("hold log data = %v", d)
		}

		// Unknown ids are NOT_FOUND.
		for _, q := range []struct {
			query string
			vars  map[string]any
		}{
			{hold, map[string]any{"id": "999999", "reason": "x"}},
			{release, map[string]any{"id": "999999"}},
		} {
			e.Err(e.Do(Request{Key: e.AdminKey, Query: q.query, Variables: q.vars}), "NOT_FOUND")
		}
	})
}
