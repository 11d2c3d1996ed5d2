package e2e

import (
	"strconv"
	"strings"
	"testing"

	"github.com/frsvc/fulfillment/internal/app"
	"github.com/frsvc/fulfillment/internal/testdb"
)

// TestAccountIsolation gives account A data of every kind and checks that
// account B sees none of it, cannot read it by id and cannot change it.
func TestAccountIsolation(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, ap *app.App) {
		e := New(t, ap)
		a := e.AdminKey
		order := e.importOrder(a, orderInput("ISO-1"))
		src := e.createSource(a, "A-SRC")
		e.Query(upsertInventoryMutation, map[string]any{"sourceID": src.ID, "items": []any{
			map[string]any{"sku": "SKU-A", "quantity": 5, "unitCost": "1.00"},
		}}, nil)
		group := e.createGroup(a, groupInput("A group", src.ID))
		aKeyID := strconv.Itoa(e.Principal(a).KeyID)
		var vA struct {
			Viewer struct{ Account struct{ ID string } }
		}
		e.Query(`{ viewer { account { id } } }`, nil, &vA)
		want := counts{Orders: 1, Sources: 1, InventoryItems: 1, RoutingGroups: 1, FulfillmentLogs: 1}
		e.assertCounts(t, a, want)

		b := e.NewAccount("Account B")
		// B has its own data too, so that "empty" is not just an empty database.
		bSrc := e.createSource(b, "B-SRC")

		t.Run("lists", func(t *testing.T) {
			e := e.WithT(t)
			var out struct {
				Orders          conn
				Sources         conn
				InventoryItems  conn
				RoutingGroups   conn
				FulfillmentLogs conn
				Shipments       conn
				FulfillmentReqs conn `json:"fulfillmentRequests"`
			}
			res := e.Do(Request{Key: b, Query: `{
				orders { totalCount edges { node { id } } }
				sources { totalCount edges { node { id } } }
				inventoryItems { totalCount edges { node { id } } }
				routingGroups { totalCount edges { node { id } } }
				fulfillmentLogs { totalCount edges { node { id } } }
				shipments { totalCount edges { node { id } } }
				fulfillmentRequests { totalCount edges { node { id } } }
			}`})
			if len(res.Errors) > 0 {
				t.Fatalf("errors: %+v", res.Errors)
			}
			res.Decode(t, &out)
			for name, c := range map[string]conn{
				"orders": out.Orders, "inventoryItems": out.InventoryItems, "routingGroups": out.RoutingGroups,
				"fulfillmentLogs": out.FulfillmentLogs, "shipments": out.Shipments, "fulfillmentRequests": out.FulfillmentReqs,
			} {
				if c.TotalCount != 0 || len(c.Edges) != 0 {
					t.Errorf("B sees %s: %+v", name, c)
				}
			}
			if out.Sources.TotalCount != 1 || len(out.Sources.Edges) != 1 || out.Sources.Edges[0].Node.ID != bSrc.ID {
				t.Errorf("B's sources = %+v, want only its own %s", out.Sources, bSrc.ID)
			}
			// Filters by A's ids find nothing either.
			var f struct{ Orders conn }
			e.QueryAs(b, `query($id: ID!) { orders(where: {id: $id}) { totalCount edges { node { id } } } }`, map[string]any{"id": order.ID}, &f)
			if f.Orders.TotalCount != 0 {
				t.Errorf("B finds A's order by where.id: %+v", f.Orders)
			}
			// And B's viewer is B's account.
			var v struct {
				Viewer struct{ Account struct{ ID, Name string } }
			}
			e.QueryAs(b, `{ viewer { account { id name } } }`, nil, &v)
			if v.Viewer.Account.Name != "Account B" || v.Viewer.Account.ID == vA.Viewer.Account.ID {
				t.Errorf("B's viewer = %+v", v.Viewer)
			}
		})

		t.Run("node", func(t *testing.T) {
			e := e.WithT(t)
			for name, id := range map[string]string{
				"order": order.ID, "source": src.ID, "routing group": group.ID, "api key": aKeyID, "account": vA.Viewer.Account.ID,
			} {
				res := e.Do(Request{Key: b, Query: `query($id: ID!) { node(id: $id) { __typename id } }`, Variables: map[string]any{"id": id}})
				assertNoLeak(t, res, order, src)
				if er := e.Err(res, "NOT_FOUND"); er.Message == "" {
					t.Errorf("node(%s): empty message", name)
				}
				var out struct{ Node *struct{ ID string } }
				res.Decode(t, &out)
				if out.Node != nil {
					t.Errorf("node(%s) answered %+v", name, out.Node)
				}
			}
		})

		t.Run("nodes", func(t *testing.T) {
			e := e.WithT(t)
			res := e.Do(Request{Key: b, Query: `query($ids: [ID!]!) { nodes(ids: $ids) { __typename id ... on Order { orderNumber } ... on Source { code } } }`,
				Variables: map[string]any{"ids": []string{order.ID, src.ID, bSrc.ID}}})
			assertNoLeak(t, res, order, src)
			var out struct{ Nodes []*struct{ ID, Code string } }
			res.Decode(t, &out)
			if len(out.Nodes) != 3 || out.Nodes[0] != nil || out.Nodes[1] != nil || out.Nodes[2] == nil || out.Nodes[2].Code != "B-SRC" {
				t.Fatalf("nodes = %s", res.Data)
			}
			if len(res.Errors) != 2 {
				t.Fatalf("want one error per hidden node, got %+v", res.Errors)
			}
			for _, er := range res.Errors {
				if er.Code() != "NOT_FOUND" {
					t.Errorf("nodes error code = %q, want NOT_FOUND: %+v", er.Code(), er)
				}
			}
			// Both ids of A alone.
			res = e.Do(Request{Key: b, Query: `query($ids: [ID!]!) { nodes(ids: $ids) { id } }`,
				Variables: map[string]any{"ids": []string{order.ID, src.ID}}})
			assertNoLeak(t, res, order, src)
			for _, er := range res.Errors {
				if er.Code() != "NOT_FOUND" {
					t.Errorf("nodes error code = %q, want NOT_FOUND", er.Code())
				}
			}
		})

		t.Run("mutations", func(t *testing.T) {
			cases := []struct {
				name  string
				query string
				vars  map[string]any
			}{
				{"updateSource", `mutation($id: ID!) { updateSource(id: $id, input: {name: "stolen", dropshipFee: "0"}) { id name } }`, map[string]any{"id": src.ID}},
				{"upsertInventory", upsertInventoryMutation, map[string]any{"sourceID": src.ID, "items": []any{map[string]any{"sku": "SKU-A", "quantity": 0, "unitCost": "0"}}}},
				{"holdOrder", `mutation($id: ID!) { holdOrder(id: $id, reason: "mine now") { id status } }`, map[string]any{"id": order.ID}},
				{"releaseOrder", `mutation($id: ID!) { releaseOrder(id: $id) { id status } }`, map[string]any{"id": order.ID}},
				{"updateRoutingGroup", updateGroupMutation, map[string]any{"id": group.ID, "input": map[string]any{"name": "stolen", "members": []any{}}}},
				{"revokeApiKey", `mutation($id: ID!) { revokeApiKey(id: $id) { id revokedAt } }`, map[string]any{"id": aKeyID}},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					e := e.WithT(t)
					res := e.Do(Request{Key: b, Query: c.query, Variables: c.vars})
					assertNoLeak(t, res, order, src)
					e.Err(res, "NOT_FOUND")
				})
			}
			// B may not borrow A's source for its own group or key either.
			e := e.WithT(t)
			res := e.Do(Request{Key: b, Query: createGroupMutation, Variables: map[string]any{"input": groupInput("B group", src.ID)}})
			if f := e.Err(res, "VALIDATION").Field(); f != "input.members[0].sourceID" {
				t.Errorf("group with A's source: field %q", f)
			}
			res = e.Do(Request{Key: b, Query: `mutation($s: ID!) { createApiKey(input: {name: "k", role: SOURCE, sourceID: $s}) { secret } }`,
				Variables: map[string]any{"s": src.ID}})
			if f := e.Err(res, "VALIDATION").Field(); f != "input.sourceID" {
				t.Errorf("key for A's source: field %q", f)
			}

			// A's data is as it was, and A's key still works.
			e.assertCounts(t, a, want)
			var out struct {
				Source struct {
					Name, DropshipFee string
					InventoryItems    struct {
						Edges []struct{ Node struct{ Quantity int } }
					}
				}
				Order struct{ Status string }
				Group struct {
					Name    string
					Members []struct{ Priority int }
				}
			}
			e.QueryAs(a, `query($s: ID!, $o: ID!, $g: ID!) {
				source: node(id: $s) { ... on Source { name dropshipFee inventoryItems { edges { node { quantity } } } } }
				order: node(id: $o) { ... on Order { status } }
				group: node(id: $g) { ... on RoutingGroup { name members { priority } } } }`,
				map[string]any{"s": src.ID, "o": order.ID, "g": group.ID}, &out)
			if out.Source.Name != "Source A-SRC" || out.Source.DropshipFee != "2.50" ||
				len(out.Source.InventoryItems.Edges) != 1 || out.Source.InventoryItems.Edges[0].Node.Quantity != 5 {
				t.Errorf("A's source changed: %+v", out.Source)
			}
			if out.Order.Status != "OPEN" {
				t.Errorf("A's order changed: %+v", out.Order)
			}
			if out.Group.Name != "A group" || len(out.Group.Members) != 1 {
				t.Errorf("A's group changed: %+v", out.Group)
			}
			// B's refused calls wrote no log into A's trail nor its own.
			e.assertCounts(t, b, counts{Sources: 1})
		})
	})
}

type conn struct {
	TotalCount int
	Edges      []struct{ Node struct{ ID string } }
}

// assertNoLeak fails when an answer to another account carries any of A's
// identifying values.
func assertNoLeak(t *testing.T, res *Result, o orderOut, s sourceOut) {
	t.Helper()
	body := string(res.Raw)
	for _, v := range []string{o.OrderNumber, s.Code, s.Name, "SKU-A", "Springfield"} {
		if strings.Contains(body, v) {
			t.Errorf("answer leaks %q: %s", v, body)
		}
	}
}
