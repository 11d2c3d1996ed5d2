package e2e

import (
	"encoding/json"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/frsvc/fulfillment/internal/app"
	"github.com/frsvc/fulfillment/internal/testdb"
)

// partnerWorld is an account with two sources, A and B, each with a SOURCE
// key, and orders that A has requests for, that only B has, that both share,
// and one nobody has.
type partnerWorld struct {
	*spKit
	a, b           string // source ids
	keyA, keyB     string
	keyAID         string
	group          string
	o1, o2, o3, o4 spOrder
	a1, a2         spFR // A's requests: o1 (all), o2 (SKU-A)
	b1, b2         spFR // B's: o2 (SKU-B), o3 (all)
	shipB          string
	invA           string // an inventory item of A
	logID          string
}

func newPartnerWorld(t *testing.T, a *app.App) *partnerWorld {
	t.Helper()
	w := &partnerWorld{spKit: spNew(t, a)}
	stock := map[string]int{"SKU-A": 50, "SKU-B": 50}
	w.a, w.b = w.source("PA", stock), w.source("PB", stock)
	var g struct{ CreateRoutingGroup struct{ ID string } }
	w.Query(`mutation($a: ID!, $b: ID!) { createRoutingGroup(input: {name: "Default", isDefault: true, rules: [LOWEST_COST],
		members: [{sourceID: $a, priority: 1}, {sourceID: $b, priority: 2}]}) { id } }`, map[string]any{"a": w.a, "b": w.b}, &g)
	w.group = g.CreateRoutingGroup.ID
	w.o1 = w.order("P-1", []string{"SKU-A", "SKU-B"}, 2, 1)
	w.o2 = w.order("P-2", []string{"SKU-A", "SKU-B"}, 1, 3)
	w.o3 = w.order("P-3", []string{"SKU-B"}, 4)
	w.o4 = w.order("P-4", []string{"SKU-A"}, 1)
	w.a1 = w.create(w.o1, w.a, nil)
	w.a2 = w.create(w.o2, w.a, map[string]int{"SKU-A": 1})
	w.b1 = w.create(w.o2, w.b, map[string]int{"SKU-B": 3})
	w.b2 = w.create(w.o3, w.b, nil)
	for _, fr := range []spFR{w.a1, w.a2, w.b1, w.b2} {
		w.markProcessed(fr.ID)
	}
	res := w.ship(w.AdminKey, w.b1.ID, "TB-1", map[string]int{w.b1.Items["SKU-B"]: 1})
	if len(res.Errors) > 0 {
		t.Fatalf("ship: %+v", res.Errors)
	}
	var sh struct{ CreateShipment struct{ ID string } }
	res.Decode(t, &sh)
	w.shipB = sh.CreateShipment.ID
	w.keyA, w.keyAID = w.sourceKey("partner A", w.a)
	w.keyB, _ = w.sourceKey("partner B", w.b)
	var inv struct {
		InventoryItems struct {
			Edges []struct{ Node struct{ ID string } }
		}
	}
	w.Query(`query($s: ID!) { inventoryItems(where: {sourceID: $s}) { edges { node { id } } } }`, map[string]any{"s": w.a}, &inv)
	w.invA = inv.InventoryItems.Edges[0].Node.ID
	var logs struct {
		FulfillmentLogs struct {
			Edges []struct{ Node struct{ ID string } }
		}
	}
	w.Query(`query($fr: ID!) { fulfillmentLogs(first: 1, where: {fulfillmentRequestID: $fr}) { edges { node { id } } } }`, map[string]any{"fr": w.a1.ID}, &logs)
	w.logID = logs.FulfillmentLogs.Edges[0].Node.ID
	return w
}

func (w *partnerWorld) with(t *testing.T) *partnerWorld {
	c := *w
	c.spKit = w.spKit.with(t)
	return &c
}

// sourceKey creates a SOURCE key for the source: its secret and id.
func (w *partnerWorld) sourceKey(name, sourceID string) (secret, id string) {
	w.T.Helper()
	k := w.SourceKey(name, sourceID)
	return k.Secret, k.APIKey.ID
}

// sendNamed is Do for an operation whose own name trips the harness's
// leak check (markFulfillmentRequestAcknowledged holds "stack"): the check
// runs on the answer with that name taken out of the messages.
func (w *partnerWorld) sendNamed(name string, r Request) *Result {
	w.T.Helper()
	res, err := w.Send(r)
	if err != nil {
		w.T.Fatal(err)
	}
	c := *res
	c.Errors = nil
	for _, e := range res.Errors {
		e.Message = strings.ReplaceAll(e.Message, name, "")
		c.Errors = append(c.Errors, e)
	}
	if err := CheckHygiene(&c); err != nil {
		w.T.Error(err)
	}
	return res
}

// refused fails unless every error of res has one of the codes and the
// root fields named answer null.
func refused(t *testing.T, res *Result, codes []string, fields ...string) {
	t.Helper()
	if len(res.Errors) == 0 {
		t.Errorf("no error; data %s", res.Data)
	}
	for _, e := range res.Errors {
		if !slices.Contains(codes, e.Code()) {
			t.Errorf("error %s %q, want %v", e.Code(), e.Message, codes)
		}
	}
	var data map[string]json.RawMessage
	_ = json.Unmarshal(res.Data, &data)
	for _, f := range fields {
		if v, ok := data[f]; ok && string(v) != "null" {
			t.Errorf("%s answered %s", f, v)
		}
	}
}

// TestPartnerIsolation tries, with a SOURCE key, every query and mutation a
// partner could: it sees its own source's requests with their items,
// shipments and ship-to, and nothing else; it may acknowledge, cancel and
// ship its own requests, and nothing else.
func TestPartnerIsolation(t *testing.T) {
	testdb.Each(t, func(t *testing.T, a *app.App) {
		s := a.Store
		w := newPartnerWorld(t, a)

		t.Run("its own requests", func(t *testing.T) {
			w := w.with(t)
			var v struct {
				Viewer struct {
					Role   string
					Source struct {
						Code                string
						FulfillmentRequests struct{ TotalCount int }
					}
				}
			}
			w.QueryAs(w.keyA, `{ viewer { role source { code fulfillmentRequests { totalCount } } } }`, nil, &v)
			if v.Viewer.Role != "SOURCE" || v.Viewer.Source.Code != "PA" || v.Viewer.Source.FulfillmentRequests.TotalCount != 2 {
				t.Errorf("viewer %+v", v.Viewer)
			}
			type item struct {
				ID, Sku   string
				Quantity  int
				OrderLine struct {
					ID, Sku  string
					Quantity int
				}
			}
			var out struct {
				FulfillmentRequests struct {
					TotalCount int
					Edges      []struct {
						Node struct {
							ID, Number, Status string
							Source             struct{ Code string }
							Items              []item
							Shipments          []struct{ TrackingNumber string }
							Order              struct {
								ID, OrderNumber, ReferenceNumber, Channel string
								ShipTo                                    struct{ Name, Line1, City, PostalCode, Country string }
							}
						}
					}
				}
			}
			w.QueryAs(w.keyA, `{ fulfillmentRequests(orderBy: {field: NUMBER, direction: ASC}) { totalCount edges { node {
				id number status source { code } items { id sku quantity orderLine { id sku quantity } } shipments { trackingNumber }
				order { id orderNumber referenceNumber channel shipTo { name line1 city postalCode country } } } } } }`, nil, &out)
			c := out.FulfillmentRequests
			if c.TotalCount != 2 || len(c.Edges) != 2 || c.Edges[0].Node.ID != w.a1.ID || c.Edges[1].Node.ID != w.a2.ID {
				t.Fatalf("partner A sees %+v, want %s and %s", c, w.a1.ID, w.a2.ID)
			}
			n := c.Edges[1].Node
			if n.Source.Code != "PA" || len(n.Items) != 1 || n.Items[0].Sku != "SKU-A" || n.Items[0].OrderLine.ID != w.o2.Lines["SKU-A"] ||
				n.Order.ID != w.o2.ID || n.Order.OrderNumber != "P-2" || n.Order.ReferenceNumber != "REF-P-2" || n.Order.ShipTo.Country != "US" ||
				n.Order.ShipTo.Line1 != "1 Main St" {
				t.Errorf("A's request on the shared order: %+v", n)
			}
			if len(c.Edges[0].Node.Items) != 2 {
				t.Errorf("items of A's own order: %+v", c.Edges[0].Node.Items)
			}
			for _, q := range []struct{ name, where string }{
				{"by B's source", `{sourceID: "` + w.b + `"}`},
				{"by B's request id", `{id: "` + w.b1.ID + `"}`},
				{"by order P-3", `{orderID: "` + w.o3.ID + `"}`},
			} {
				var f struct{ FulfillmentRequests struct{ TotalCount int } }
				w.QueryAs(w.keyA, `{ fulfillmentRequests(where: `+q.where+`) { totalCount } }`, nil, &f)
				if f.FulfillmentRequests.TotalCount != 0 {
					t.Errorf("filtered %s, partner A finds %d requests", q.name, f.FulfillmentRequests.TotalCount)
				}
			}
			var p struct{ FulfillmentRequests struct{ TotalCount int } }
			w.QueryAs(w.keyA, `{ fulfillmentRequests(where: {status: PROCESSED}) { totalCount } }`, nil, &p)
			if p.FulfillmentRequests.TotalCount != 2 {
				t.Errorf("PROCESSED: %d", p.FulfillmentRequests.TotalCount)
			}
			// B sees B's, and its shipment; A sees none of B's shipments.
			if n := w.TotalCount(w.keyB, "fulfillmentRequests"); n != 2 {
				t.Errorf("partner B sees %d requests", n)
			}
			if n := w.TotalCount(w.keyA, "shipments"); n != 0 {
				t.Errorf("partner A sees %d shipments", n)
			}
			if n := w.TotalCount(w.keyB, "shipments"); n != 1 {
				t.Errorf("partner B sees %d shipments", n)
			}
		})

		t.Run("what a request leads to", func(t *testing.T) {
			w := w.with(t)
			// Fields of the request that lead elsewhere show nothing that is
			// not the partner's.
			res := w.Do(Request{Key: w.keyA, Query: `query($id: ID!) { node(id: $id) { ... on FulfillmentRequest {
				routingGroup { id name } logs { totalCount edges { node { message } } }
				supersededBy { id } items { orderLine { fulfillmentRequestItems { id } } } } } }`, Variables: map[string]any{"id": w.a2.ID}})
			for _, e := range res.Errors {
				if e.Code() != "NOT_FOUND" && e.Code() != "FORBIDDEN" {
					t.Errorf("error %+v", e)
				}
			}
			var out struct {
				Node struct {
					RoutingGroup *struct{ ID, Name string }
					Logs         *struct{ TotalCount int }
					SupersededBy []struct{ ID string }
					Items        []struct {
						OrderLine *struct{ FulfillmentRequestItems []struct{ ID string } }
					}
				}
			}
			_ = json.Unmarshal(res.Data, &out)
			if out.Node.RoutingGroup != nil || (out.Node.Logs != nil && out.Node.Logs.TotalCount != 0) || len(out.Node.SupersededBy) != 0 {
				t.Errorf("partner A reads %s", res.Data)
			}
			for _, it := range out.Node.Items {
				if it.OrderLine != nil && (len(it.OrderLine.FulfillmentRequestItems) != 1 || it.OrderLine.FulfillmentRequestItems[0].ID != w.a2.Items["SKU-A"]) {
					t.Errorf("through the order line partner A reads items %+v", it.OrderLine.FulfillmentRequestItems)
				}
			}
		})

		t.Run("order fields", func(t *testing.T) {
			w := w.with(t)
			allowed := map[string]bool{"id": true, "orderNumber": true, "referenceNumber": true, "channel": true,
				"shipTo": true, "orderedAt": true, "createdAt": true}
			for _, f := range w.typeFields(t, "Order") {
				sel := f.selection()
				res := w.Do(Request{Key: w.keyA, Query: `query($id: ID!) { node(id: $id) { ... on FulfillmentRequest { order { id ` + sel + ` } } } }`,
					Variables: map[string]any{"id": w.a2.ID}})
				if allowed[f.Name] {
					if len(res.Errors) > 0 {
						t.Errorf("Order.%s: %+v", f.Name, res.Errors)
					}
					continue
				}
				if len(res.Errors) != 1 || res.Errors[0].Code() != "FORBIDDEN" {
					t.Errorf("Order.%s answers %+v, want FORBIDDEN (data %s)", f.Name, res.Errors, res.Data)
				}
				if strings.Contains(string(res.Data), `"`+f.Name+`":`) && !strings.Contains(string(res.Data), `"`+f.Name+`":null`) {
					t.Errorf("Order.%s shows data: %s", f.Name, res.Data)
				}
			}
			// Of a line it carries, a partner reads what to ship, not the
			// merchant's price or the line's ledger.
			lineAllowed := map[string]bool{"id": true, "orderID": true, "position": true, "sku": true, "title": true,
				"quantity": true, "order": true, "fulfillmentRequestItems": true}
			for _, f := range w.typeFields(t, "OrderLine") {
				res := w.Do(Request{Key: w.keyA, Query: `query($id: ID!) { node(id: $id) { ... on FulfillmentRequest { items { orderLine { id ` +
					f.selection() + ` } } } } }`, Variables: map[string]any{"id": w.a2.ID}})
				if lineAllowed[f.Name] {
					if len(res.Errors) > 0 {
						t.Errorf("OrderLine.%s: %+v", f.Name, res.Errors)
					}
					continue
				}
				if len(res.Errors) != 1 || res.Errors[0].Code() != "FORBIDDEN" {
					t.Errorf("OrderLine.%s answers %+v, want FORBIDDEN (data %s)", f.Name, res.Errors, res.Data)
				}
			}
			// The same through node(id:) of the order.
			res := w.Do(Request{Key: w.keyA, Query: `query($id: ID!) { node(id: $id) { ... on Order { orderNumber lines { unitPrice } } } }`,
				Variables: map[string]any{"id": w.o2.ID}})
			refused(t, res, []string{"FORBIDDEN"})
			if strings.Contains(string(res.Data), "unitPrice") && !strings.Contains(string(res.Data), `"lines":null`) {
				t.Errorf("lines through node: %s", res.Data)
			}
		})

		t.Run("root queries", func(t *testing.T) {
			w := w.with(t)
			allowed := map[string]bool{"viewer": true, "fulfillmentRequests": true, "shipments": true, "node": true, "nodes": true}
			forbidden := map[string]string{
				"orders":             `{ orders { totalCount } }`,
				"sources":            `{ sources { totalCount } }`,
				"inventoryItems":     `{ inventoryItems { totalCount } }`,
				"routingGroups":      `{ routingGroups { totalCount } }`,
				"fulfillmentLogs":    `{ fulfillmentLogs { totalCount } }`,
				"apiKeys":            `{ apiKeys { totalCount } }`,
				"fulfillmentPreview": `{ fulfillmentPreview(orderID: "` + w.o2.ID + `") { canRoute } }`,
				// The account's whole send queue and its last run: the operator's.
				"sendStatus": `{ sendStatus { due } }`,
			}
			for _, f := range w.typeFields(t, "Query") {
				if allowed[f.Name] || strings.HasPrefix(f.Name, "__") {
					continue
				}
				q, ok := forbidden[f.Name]
				if !ok {
					t.Errorf("Query.%s is new: decide whether a SOURCE key may use it and add it to this test", f.Name)
					continue
				}
				refused(t, w.Do(Request{Key: w.keyA, Query: q}), []string{"FORBIDDEN"}, f.Name)
			}
			for name := range forbidden {
				if !slices.ContainsFunc(w.typeFields(t, "Query"), func(f typeField) bool { return f.Name == name }) {
					t.Errorf("Query.%s is gone", name)
				}
			}
		})

		t.Run("node and nodes", func(t *testing.T) {
			w := w.with(t)
			var keys struct {
				Viewer struct {
					APIKey struct{ ID string } `json:"apiKey"`
				}
			}
			w.Query(`{ viewer { apiKey { id } } }`, nil, &keys)
			var b1 struct {
				Node struct {
					Items []struct{ ID string }
				}
			}
			w.Query(`query($id: ID!) { node(id: $id) { ... on FulfillmentRequest { items { id } } } }`, map[string]any{"id": w.b1.ID}, &b1)
			var shipItems struct {
				Node struct {
					Items []struct{ ID string }
				}
			}
			w.Query(`query($id: ID!) { node(id: $id) { ... on Shipment { items { id } } } }`, map[string]any{"id": w.shipB}, &shipItems)
			hidden := map[string]string{
				"B's request":                           w.b1.ID,
				"B's other request":                     w.b2.ID,
				"B's request item":                      b1.Node.Items[0].ID,
				"B's shipment":                          w.shipB,
				"B's shipment item":                     shipItems.Node.Items[0].ID,
				"an order with no request of A":         w.o4.ID,
				"an order only B has":                   w.o3.ID,
				"a line of an order only B has":         w.o3.Lines["SKU-B"],
				"a line of a shared order that B ships": w.o2.Lines["SKU-B"],
				"a line of an order nobody has":         w.o4.Lines["SKU-A"],
				"source B":                              w.b,
				"an inventory item":                     w.invA,
				"a routing group":                       w.group,
				"the ADMIN key":                         keys.Viewer.APIKey.ID,
				"partner B's key":                       "",
				"a log entry":                           w.logID,
			}
			var bKey struct {
				Viewer struct {
					APIKey struct{ ID string } `json:"apiKey"`
				}
			}
			w.QueryAs(w.keyB, `{ viewer { apiKey { id } } }`, nil, &bKey)
			hidden["partner B's key"] = bKey.Viewer.APIKey.ID
			for what, id := range hidden {
				res := w.Do(Request{Key: w.keyA, Query: `query($id: ID!) { node(id: $id) { id __typename } }`, Variables: map[string]any{"id": id}})
				if string(res.Data) != `{"node":null}` {
					t.Errorf("node(%s) = %s", what, res.Data)
				}
				for _, e := range res.Errors {
					if e.Code() != "NOT_FOUND" {
						t.Errorf("node(%s): %s %q", what, e.Code(), e.Message)
					}
				}
			}
			// What is A's is there.
			for what, id := range map[string]string{"A's request": w.a1.ID, "A's order": w.o1.ID, "the shared order": w.o2.ID,
				"A's request item": w.a1.Items["SKU-A"], "A's line on the shared order": w.o2.Lines["SKU-A"], "its own key": w.keyAID} {
				res := w.Do(Request{Key: w.keyA, Query: `query($id: ID!) { node(id: $id) { id } }`, Variables: map[string]any{"id": id}})
				if len(res.Errors) > 0 || string(res.Data) != `{"node":{"id":"`+id+`"}}` {
					t.Errorf("node(%s) = %s %+v", what, res.Data, res.Errors)
				}
			}
			ids := []string{w.a1.ID, w.b1.ID, w.o4.ID, w.b, w.invA, w.o1.ID}
			res := w.Do(Request{Key: w.keyA, Query: `query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, Variables: map[string]any{"ids": ids}})
			var out struct{ Nodes []*struct{ ID string } }
			_ = json.Unmarshal(res.Data, &out)
			if len(out.Nodes) != len(ids) {
				t.Fatalf("nodes: %s %+v", res.Data, res.Errors)
			}
			for i, n := range out.Nodes {
				visible := i == 0 || i == 5
				if visible != (n != nil) || n != nil && n.ID != ids[i] {
					t.Errorf("nodes[%d] (%s) = %+v", i, ids[i], n)
				}
			}
			for _, e := range res.Errors {
				if e.Code() != "NOT_FOUND" {
					t.Errorf("nodes: %s %q", e.Code(), e.Message)
				}
			}
		})

		t.Run("filters do not reach past the scope", func(t *testing.T) {
			w := w.with(t)
			// Relation filters run as sub-queries; they must not answer
			// questions about what the partner may not read.
			for _, q := range []struct{ name, where string }{
				{"B's requests on A's orders", `{hasOrderWith: {hasFulfillmentRequestsWith: {sourceID: "` + w.b + `"}}}`},
				{"the order's status", `{hasOrderWith: {status: OPEN}}`},
				{"the order's lines", `{hasOrderWith: {hasLinesWith: {sku: "SKU-B"}}}`},
				{"the order's logs", `{hasOrderWith: {hasLogsWith: {stageNEQ: "x"}}}`},
				{"the request's logs", `{hasLogsWith: {stageNEQ: "x"}}`},
				{"the routing group", `{hasRoutingGroupWith: {nameNEQ: "x"}}`},
				{"a nested relation", `{or: [{status: CANCELED}, {not: {hasOrderWith: {status: CLOSED}}}]}`},
			} {
				res := w.Do(Request{Key: w.keyA, Query: `query($w: FulfillmentRequestWhereInput) { fulfillmentRequests(where: $w) { totalCount } }`,
					Variables: map[string]any{"w": json.RawMessage(q.where)}})
				if len(res.Errors) > 0 {
					refused(t, res, []string{"FORBIDDEN", "VALIDATION"}, "fulfillmentRequests")
					continue
				}
				var out struct{ FulfillmentRequests struct{ TotalCount int } }
				res.Decode(t, &out)
				if out.FulfillmentRequests.TotalCount != 0 {
					t.Errorf("filter on %s finds %d of A's requests: the filter reads past the partner's scope",
						q.name, out.FulfillmentRequests.TotalCount)
				}
			}
			// Also below the root, and with literal arguments.
			for _, q := range []string{
				`{ viewer { source { fulfillmentRequests(where: {hasOrderWith: {status: OPEN}}) { totalCount } } } }`,
				`{ shipments(where: {hasFulfillmentRequestWith: {hasOrderWith: {paymentStatus: PAID}}}) { totalCount } }`,
				`{ fulfillmentRequests(where: {hasLogsWith: {stage: "transition"}}) { totalCount } }`,
			} {
				res := w.Do(Request{Key: w.keyA, Query: q})
				if len(res.Errors) == 0 || strings.Contains(string(res.Data), `"totalCount"`) {
					t.Errorf("%s answers %s", q, res.Data)
				}
				refused(t, res, []string{"FORBIDDEN"})
			}
			// Filters on the partner's own fields work.
			var own struct{ FulfillmentRequests struct{ TotalCount int } }
			w.QueryAs(w.keyA, `{ fulfillmentRequests(where: {status: PROCESSED, numberHasPrefix: "P-"}) { totalCount } }`, nil, &own)
			if own.FulfillmentRequests.TotalCount != 2 {
				t.Errorf("own filter: %d", own.FulfillmentRequests.TotalCount)
			}
		})

		t.Run("mutations", func(t *testing.T) {
			w := w.with(t)
			forbidden := map[string]struct {
				query string
				vars  map[string]any
			}{
				"createSource": {`mutation { createSource(input: {name: "X", code: "X"}) { id } }`, nil},
				"updateSource": {`mutation($id: ID!) { updateSource(id: $id, input: {name: "Mine now", connector: {kind: MANUAL}}) { id } }`, map[string]any{"id": w.a}},
				"upsertInventory": {`mutation($id: ID!) { upsertInventory(sourceID: $id, items: [{sku: "SKU-A", quantity: 1, unitCost: "0.01"}]) { id } }`,
					map[string]any{"id": w.a}},
				"createRoutingGroup": {`mutation($s: ID!) { createRoutingGroup(input: {name: "G", rules: [LOWEST_COST], members: [{sourceID: $s, priority: 1}]}) { id } }`,
					map[string]any{"s": w.a}},
				"updateRoutingGroup":    {`mutation($id: ID!) { updateRoutingGroup(id: $id, input: {name: "G2"}) { id } }`, map[string]any{"id": w.group}},
				"createApiKey":          {`mutation($s: ID!) { createApiKey(input: {name: "more", role: SOURCE, sourceID: $s}) { secret } }`, map[string]any{"s": w.a}},
				"revokeApiKey":          {`mutation($id: ID!) { revokeApiKey(id: $id) { id } }`, map[string]any{"id": w.keyAID}},
				"updateAccountStrategy": {`mutation { updateAccountStrategy(input: {autoProcess: true}) { id } }`, nil},
				"updateAccountSettings": {`mutation { updateAccountSettings(input: {generateOnImport: true}) { id } }`, nil},
				"importOrder": {`mutation { importOrder(input: {channel: "web", orderNumber: "X-1", paymentStatus: PAID,
					shipTo: {line1: "1", city: "X", postalCode: "1", country: "US"}, lines: [{sku: "SKU-A", quantity: 1, unitPrice: "1"}]}) { id } }`, nil},
				"holdOrder":                          {`mutation($id: ID!) { holdOrder(id: $id, reason: "mine") { id } }`, map[string]any{"id": w.o1.ID}},
				"releaseOrder":                       {`mutation($id: ID!) { releaseOrder(id: $id) { id } }`, map[string]any{"id": w.o1.ID}},
				"updateOrderPayment":                 {`mutation($id: ID!) { updateOrderPayment(id: $id, paymentStatus: PENDING) { id } }`, map[string]any{"id": w.o1.ID}},
				"cancelOrder":                        {`mutation($id: ID!) { cancelOrder(id: $id, reason: "mine") { id } }`, map[string]any{"id": w.o1.ID}},
				"updateOrder":                        {`mutation($id: ID!) { updateOrder(id: $id, input: {referenceNumber: "mine"}) { id } }`, map[string]any{"id": w.o1.ID}},
				"createFulfillmentRequest":           {`mutation($o: ID!, $s: ID!) { createFulfillmentRequest(input: {orderID: $o, sourceID: $s}) { id } }`, map[string]any{"o": w.o4.ID, "s": w.a}},
				"generateFulfillmentRequests":        {`mutation($o: ID!) { generateFulfillmentRequests(orderID: $o) { correlationID } }`, map[string]any{"o": w.o4.ID}},
				"processFulfillmentRequests":         {`mutation($id: ID!) { processFulfillmentRequests(ids: [$id]) { id } }`, map[string]any{"id": w.a1.ID}},
				"markFulfillmentRequestProcessed":    {`mutation($id: ID!) { markFulfillmentRequestProcessed(id: $id) { id } }`, map[string]any{"id": w.a1.ID}},
				"markFulfillmentRequestAcknowledged": {`mutation($id: ID!) { markFulfillmentRequestAcknowledged(id: $id) { id } }`, map[string]any{"id": w.a1.ID}},
				"renumberFulfillmentRequest":         {`mutation($id: ID!) { renumberFulfillmentRequest(id: $id, number: "MINE") { id } }`, map[string]any{"id": w.a1.ID}},
				"voidFulfillmentRequest":             {`mutation($id: ID!) { voidFulfillmentRequest(id: $id, reason: "mine") { id } }`, map[string]any{"id": w.a1.ID}},
				"regenerateFulfillmentRequest":       {`mutation($id: ID!) { regenerateFulfillmentRequest(id: $id, reason: "mine") { correlationID } }`, map[string]any{"id": w.a1.ID}},
				"runSendFulfillmentRequests":         {`mutation { runSendFulfillmentRequests { claimed } }`, nil},
			}
			allowed := map[string]bool{"acknowledgeFulfillmentRequest": true, "cancelFulfillmentRequest": true, "createShipment": true}
			var names []string
			for _, f := range w.typeFields(t, "Mutation") {
				names = append(names, f.Name)
				if allowed[f.Name] {
					continue
				}
				c, ok := forbidden[f.Name]
				if !ok {
					t.Errorf("Mutation.%s is new: decide whether a SOURCE key may call it and add it to this test", f.Name)
					continue
				}
				Unchanged(t, s, "partner A calling "+f.Name, func() {
					refused(t, w.sendNamed(f.Name, Request{Key: w.keyA, Query: c.query, Variables: c.vars}), []string{"FORBIDDEN"}, f.Name)
				})
			}
			for name := range forbidden {
				if !slices.Contains(names, name) {
					t.Errorf("Mutation.%s is gone", name)
				}
			}
			// Several at once: none runs.
			Unchanged(t, s, "a batch of forbidden mutations", func() {
				res := w.Do(Request{Key: w.keyA, Query: `mutation($id: ID!) { a: acknowledgeFulfillmentRequest(id: $id) { id }
					b: voidFulfillmentRequest(id: $id, reason: "x") { id } }`, Variables: map[string]any{"id": w.b2.ID}})
				refused(t, res, []string{"FORBIDDEN", "NOT_FOUND"}, "a", "b")
			})
		})

		t.Run("source mutations on another source's request", func(t *testing.T) {
			w := w.with(t)
			for _, c := range []struct {
				name, query string
				vars        map[string]any
			}{
				{"acknowledge", `mutation($id: ID!) { acknowledgeFulfillmentRequest(id: $id, confirmationNumber: "X") { id } }`, map[string]any{"id": w.b2.ID}},
				{"cancel", `mutation($id: ID!) { cancelFulfillmentRequest(id: $id, reason: "not mine") { id } }`, map[string]any{"id": w.b2.ID}},
				{"cancel with items", spCancelMutation, map[string]any{"id": w.b1.ID, "reason": "x",
					"items": []any{map[string]any{"fulfillmentRequestItemID": w.b1.Items["SKU-B"], "quantity": 1, "mode": "KILL"}}}},
				{"ship", spShipMutation, map[string]any{"input": map[string]any{"fulfillmentRequestID": w.b2.ID, "trackingNumber": "TA-X",
					"items": []any{map[string]any{"fulfillmentRequestItemID": w.b2.Items["SKU-B"], "quantity": 1}}}}},
				{"ship on the shared order", spShipMutation, map[string]any{"input": map[string]any{"fulfillmentRequestID": w.b1.ID, "trackingNumber": "TA-X",
					"items": []any{map[string]any{"fulfillmentRequestItemID": w.b1.Items["SKU-B"], "quantity": 1}}}}},
			} {
				Unchanged(t, s, "partner A: "+c.name+" of B's request", func() {
					res := w.Do(Request{Key: w.keyA, Query: c.query, Variables: c.vars})
					refused(t, res, []string{"NOT_FOUND"})
					if raw := string(res.Raw); strings.Contains(raw, "P-3") || strings.Contains(raw, "PB") || strings.Contains(raw, "SKU-B") {
						t.Errorf("the answer tells about B's request: %s", res.Raw)
					}
				})
			}
			// B's item on A's own request is not an item of it.
			Unchanged(t, s, "partner A shipping B's item", func() {
				res := w.Do(Request{Key: w.keyA, Query: spShipMutation, Variables: map[string]any{"input": map[string]any{
					"fulfillmentRequestID": w.a2.ID, "trackingNumber": "TA-X",
					"items": []any{map[string]any{"fulfillmentRequestItemID": w.b1.Items["SKU-B"], "quantity": 1}}}}})
				refused(t, res, []string{"VALIDATION"})
			})
			// Tracking numbers are unique per source: whether B used a
			// number is none of A's business, so A's answer is the same
			// for B's number as for one nobody used (here, refused on the
			// quantity, which is more than is left).
			var answers []string
			for _, number := range []string{"TB-1", "T-NEVER-USED"} {
				Unchanged(t, s, "partner A shipping with tracking number "+number, func() {
					res := w.Do(Request{Key: w.keyA, Query: spShipMutation, Variables: map[string]any{"input": map[string]any{
						"fulfillmentRequestID": w.a2.ID, "trackingNumber": number,
						"items": []any{map[string]any{"fulfillmentRequestItemID": w.a2.Items["SKU-A"], "quantity": 99}}}}})
					refused(t, res, []string{"VALIDATION"})
					answers = append(answers, res.Errors[0].Field()+": "+res.Errors[0].Message)
				})
			}
			if len(answers) != 2 || answers[0] != answers[1] {
				t.Errorf("A's answers depend on B's tracking numbers: %q", answers)
			}
		})

		t.Run("source mutations on its own requests", func(t *testing.T) {
			w := w.with(t)
			var ack struct {
				AcknowledgeFulfillmentRequest struct{ Status, ConfirmationNumber string }
			}
			w.QueryAs(w.keyA, `mutation($id: ID!) { acknowledgeFulfillmentRequest(id: $id, confirmationNumber: "PA-1") { status confirmationNumber } }`,
				map[string]any{"id": w.a1.ID}, &ack)
			if ack.AcknowledgeFulfillmentRequest.Status != "ACKNOWLEDGED" || ack.AcknowledgeFulfillmentRequest.ConfirmationNumber != "PA-1" {
				t.Errorf("acknowledge: %+v", ack)
			}
			res := w.ship(w.keyA, w.a1.ID, "TA-1", map[string]int{w.a1.Items["SKU-A"]: 2, w.a1.Items["SKU-B"]: 1})
			if len(res.Errors) > 0 {
				t.Fatalf("ship: %+v", res.Errors)
			}
			var sh struct {
				CreateShipment struct {
					FulfillmentRequest struct{ ShipmentStatus string }
				}
			}
			res.Decode(t, &sh)
			if sh.CreateShipment.FulfillmentRequest.ShipmentStatus != "SHIPPED" {
				t.Errorf("ship: %+v", sh)
			}
			var c struct{ CancelFulfillmentRequest struct{ Status string } }
			w.QueryAs(w.keyA, spCancelMutation, map[string]any{"id": w.a2.ID, "reason": "out of stock", "items": []any{
				map[string]any{"fulfillmentRequestItemID": w.a2.Items["SKU-A"], "quantity": 1, "mode": "FILL"}}}, &c)
			if c.CancelFulfillmentRequest.Status != "CANCELED" {
				t.Errorf("cancel: %+v", c)
			}
			if n := w.TotalCount(w.keyA, "shipments"); n != 1 {
				t.Errorf("partner A sees %d shipments", n)
			}
			var mine struct {
				Node struct {
					ShipmentStatus string
					Shipments      []struct {
						TrackingNumber, Carrier string
						Items                   []struct {
							Quantity               int
							FulfillmentRequestItem struct{ Sku string }
						}
					}
				}
			}
			w.QueryAs(w.keyA, `query($id: ID!) { node(id: $id) { ... on FulfillmentRequest { shipmentStatus
				shipments { trackingNumber carrier items { quantity fulfillmentRequestItem { sku } } } } } }`, map[string]any{"id": w.a1.ID}, &mine)
			if sh := mine.Node.Shipments; mine.Node.ShipmentStatus != "SHIPPED" || len(sh) != 1 || sh[0].TrackingNumber != "TA-1" || len(sh[0].Items) != 2 {
				t.Errorf("partner A reads its shipments as %+v", mine.Node)
			}
			if n := w.TotalCount(w.keyB, "shipments"); n != 1 {
				t.Errorf("partner B sees %d shipments", n)
			}
			// The trail names the partner's key.
			var logs struct {
				Node struct {
					Logs struct {
						Edges []struct{ Node struct{ Stage, Actor string } }
					}
				}
			}
			w.Query(`query($id: ID!) { node(id: $id) { ... on FulfillmentRequest { logs(first: 50) { edges { node { stage actor } } } } } }`,
				map[string]any{"id": w.a1.ID}, &logs)
			actors := map[string]string{}
			for _, e := range logs.Node.Logs.Edges {
				if e.Node.Stage == "shipment" || strings.Contains(e.Node.Actor, "partner A") {
					actors[e.Node.Stage] = e.Node.Actor
				}
			}
			if !strings.Contains(actors["shipment"], "partner A") || !strings.Contains(actors["transition"], "partner A") {
				t.Errorf("log actors %v, want partner A's key", actors)
			}
			w.ledger(w.o1.ID)
			w.ledger(w.o2.ID)
		})
	})
}

// typeRef is a GraphQL type reference, from introspection.
type typeRef struct {
	Kind   string
	Name   *string
	OfType *typeRef
}

// typeField is a field of a GraphQL type, from introspection.
type typeField struct {
	Name string
	Type typeRef
}

// selection is a minimal valid selection of the field: a scalar as is, a
// connection by totalCount, an object or a list of them by __typename.
func (f typeField) selection() string {
	t := f.Type
	for (t.Kind == "NON_NULL" || t.Kind == "LIST") && t.OfType != nil {
		t = *t.OfType
	}
	switch {
	case t.Kind == "SCALAR" || t.Kind == "ENUM":
		return f.Name
	case t.Name != nil && strings.HasSuffix(*t.Name, "Connection"):
		return f.Name + " { totalCount }"
	default:
		return f.Name + " { __typename }"
	}
}

// typeFields lists a type's fields by introspection, sorted.
func (k *spKit) typeFields(t *testing.T, typ string) []typeField {
	t.Helper()
	var out struct {
		Type struct{ Fields []typeField } `json:"__type"`
	}
	k.Query(`query($n: String!) { __type(name: $n) { fields { name
		type { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } }`, map[string]any{"n": typ}, &out)
	f := out.Type.Fields
	sort.Slice(f, func(i, j int) bool { return f[i].Name < f[j].Name })
	if len(f) == 0 {
		t.Fatalf("no fields of %s", typ)
	}
	return f
}
