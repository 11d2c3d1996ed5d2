package e2e

import (
	"context"
	"slices"
	"strconv"
	"testing"

	"github.com/frsvc/fulfillment/ent/inventoryitem"
	"github.com/frsvc/fulfillment/internal/app"
	"github.com/frsvc/fulfillment/internal/tenant"
	"github.com/frsvc/fulfillment/internal/testdb"
)

// TestUpsertInventory upserts by SKU: a second call updates quantity and
// unit cost in place, keeps what is committed, and available is quantity −
// committed. Decimals travel as strings with at least two places.
func TestUpsertInventory(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, ap *app.App) {
		s := ap.Store
		e := New(t, ap)
		src := e.createSource(e.AdminKey, "WH")
		other := e.createSource(e.AdminKey, "DS")
		if src.DropshipFee != "2.50" {
			t.Errorf("dropshipFee = %q, want \"2.50\"", src.DropshipFee)
		}
		upsert := func(sourceID string, its ...any) []inventoryOut {
			t.Helper()
			var out struct{ UpsertInventory []inventoryOut }
			e.Query(upsertInventoryMutation, map[string]any{"sourceID": sourceID, "items": its}, &out)
			return out.UpsertInventory
		}
		first := upsert(src.ID,
			map[string]any{"sku": "A", "quantity": 10, "unitCost": "12.5"},
			map[string]any{"sku": "B", "quantity": 0, "unitCost": "0"},
		)
		if len(first) != 2 {
			t.Fatalf("first upsert = %+v", first)
		}
		if a := first[0]; a.Sku != "A" || a.Quantity != 10 || a.Committed != 0 || a.Available != 10 || a.UnitCost != "12.50" {
			t.Errorf("A = %+v", a)
		}
		if b := first[1]; b.Sku != "B" || b.UnitCost != "0.00" || b.Available != 0 {
			t.Errorf("B = %+v", b)
		}
		// The same SKU at another source is another item.
		upsert(other.ID, map[string]any{"sku": "A", "quantity": 1, "unitCost": "1.2345"})

		// Commit stock the way a fulfillment request will, then upsert again.
		aID, err := strconv.Atoi(first[0].ID)
		testdb.Must(t, err)
		ctx := tenant.WithAccount(context.Background(), e.Principal(e.AdminKey).AccountID)
		testdb.Must(t, s.Client.InventoryItem.UpdateOneID(aID).SetCommitted(3).Exec(ctx))

		// Returned in input order, the existing one updated in place.
		second := upsert(src.ID,
			map[string]any{"sku": "C", "quantity": 4, "unitCost": "0.5"},
			map[string]any{"sku": "A", "quantity": 7, "unitCost": "3"},
		)
		if len(second) != 2 || second[0].Sku != "C" || second[1].Sku != "A" {
			t.Fatalf("second upsert = %+v", second)
		}
		a := second[1]
		if a.ID != first[0].ID {
			t.Errorf("A got a new id %s, want %s", a.ID, first[0].ID)
		}
		if a.Quantity != 7 || a.UnitCost != "3.00" || a.Committed != 3 || a.Available != 4 {
			t.Errorf("A after update = %+v, want quantity 7, unitCost 3.00, committed 3, available 4", a)
		}
		if c := second[0]; c.UnitCost != "0.50" || c.Available != 4 {
			t.Errorf("C = %+v", c)
		}

		var out struct {
			InventoryItems struct {
				TotalCount int
				Edges      []struct {
					Node struct {
						Sku       string
						Quantity  int
						Available int
						UnitCost  string
						Source    struct{ Code string }
					}
				}
			}
			Sources struct {
				Edges []struct {
					Node struct {
						Code           string
						InventoryItems struct{ TotalCount int }
					}
				}
			}
		}
		e.Query(`{ inventoryItems(orderBy: {field: SKU}) { totalCount edges { node { sku quantity available unitCost source { code } } } }
			sources { edges { node { code inventoryItems { totalCount } } } } }`, nil, &out)
		if out.InventoryItems.TotalCount != 4 {
			t.Fatalf("inventoryItems totalCount = %d, want 4 (no duplicate)", out.InventoryItems.TotalCount)
		}
		type row struct {
			sku, cost, src string
			qty, avail     int
		}
		var got []row
		for _, ed := range out.InventoryItems.Edges {
			n := ed.Node
			got = append(got, row{n.Sku, n.UnitCost, n.Source.Code, n.Quantity, n.Available})
		}
		slices.SortFunc(got, func(x, y row) int {
			if x.sku != y.sku {
				return cmpString(x.sku, y.sku)
			}
			return cmpString(x.src, y.src)
		})
		want := []row{{"A", "1.2345", "DS", 1, 1}, {"A", "3.00", "WH", 7, 4}, {"B", "0.00", "WH", 0, 0}, {"C", "0.50", "WH", 4, 4}}
		if !slices.Equal(got, want) {
			t.Errorf("inventory = %+v\nwant %+v", got, want)
		}
		perSource := map[string]int{}
		for _, ed := range out.Sources.Edges {
			perSource[ed.Node.Code] = ed.Node.InventoryItems.TotalCount
		}
		if perSource["WH"] != 3 || perSource["DS"] != 1 {
			t.Errorf("per source = %v", perSource)
		}
		// The store holds exactly one row per (source, sku).
		n, err := s.Client.InventoryItem.Query().Where(inventoryitem.Sku("A")).Count(ctx)
		testdb.Must(t, err)
		if n != 2 {
			t.Errorf("rows with SKU A = %d, want 2 (one per source)", n)
		}
	})
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// TestRoutingGroups covers the default group (exactly one at every step),
// members replaced on update, and rules kept in order.
func TestRoutingGroups(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, ap *app.App) {
		e := New(t, ap)
		s1 := e.createSource(e.AdminKey, "S1")
		s2 := e.createSource(e.AdminKey, "S2")
		s3 := e.createSource(e.AdminKey, "S3")

		defaults := func() []string {
			t.Helper()
			var out struct {
				RoutingGroups struct {
					Edges []struct {
						Node struct {
							Name      string
							IsDefault bool
						}
					}
				}
			}
			e.Query(`{ routingGroups(first: 50) { edges { node { name isDefault } } } }`, nil, &out)
			var names []string
			for _, ed := range out.RoutingGroups.Edges {
				if ed.Node.IsDefault {
					names = append(names, ed.Node.Name)
				}
			}
			return names
		}
		assertDefault := func(step, want string) {
			t.Helper()
			if got := defaults(); len(got) != 1 || got[0] != want {
				t.Fatalf("%s: default groups = %v, want exactly [%s]", step, got, want)
			}
		}

		// The first group is the default even when it does not ask to be.
		in := groupInput("First", s1.ID, s2.ID)
		in["isDefault"] = false
		in["rules"] = []string{"SINGLE_REQUEST_PREFERRED", "LOWEST_COST", "SOURCE_PRIORITY"}
		in["shipToCountries"] = []string{"us", " ca ", "US"}
		g1 := e.createGroup(e.AdminKey, in)
		if !g1.IsDefault {
			t.Fatalf("first group is not the default: %+v", g1)
		}
		if !slices.Equal(g1.Rules, []string{"SINGLE_REQUEST_PREFERRED", "LOWEST_COST", "SOURCE_PRIORITY"}) {
			t.Errorf("rules = %v", g1.Rules)
		}
		if !slices.Equal(g1.ShipToCountries, []string{"CA", "US"}) {
			t.Errorf("shipToCountries = %v, want [CA US]", g1.ShipToCountries)
		}
		if len(g1.Members) != 2 || g1.Members[0].Source.Code != "S1" || g1.Members[0].Priority != 1 || !g1.Members[0].Eligible ||
			g1.Members[1].Source.Code != "S2" || g1.Members[1].Priority != 2 {
			t.Errorf("members = %+v", g1.Members)
		}
		assertDefault("after first", "First")

		// A second group without isDefault leaves the default alone.
		g2 := e.createGroup(e.AdminKey, groupInput("Second", s2.ID))
		if g2.IsDefault {
			t.Errorf("second group became the default")
		}
		assertDefault("after second", "First")

		// A third with isDefault:true takes the default over.
		in = groupInput("Third", s3.ID)
		in["isDefault"] = true
		g3 := e.createGroup(e.AdminKey, in)
		if !g3.IsDefault {
			t.Errorf("third group is not the default")
		}
		assertDefault("after third", "Third")

		// isDefault:false on the default is refused and changes nothing.
		res := e.Do(Request{Key: e.AdminKey, Query: updateGroupMutation, Variables: map[string]any{
			"id": g3.ID, "input": map[string]any{"isDefault": false, "name": "Renamed"},
		}})
		if f := e.Err(res, "VALIDATION").Field(); f != "input.isDefault" {
			t.Errorf("field = %q", f)
		}
		assertDefault("after refused un-default", "Third")

		// isDefault:false on a group that is not the default is harmless.
		var upd struct{ UpdateRoutingGroup groupOut }
		e.Query(updateGroupMutation, map[string]any{"id": g1.ID, "input": map[string]any{"isDefault": false}}, &upd)
		assertDefault("after no-op un-default", "Third")

		// updateRoutingGroup isDefault:true moves the default back.
		e.Query(updateGroupMutation, map[string]any{"id": g1.ID, "input": map[string]any{"isDefault": true}}, &upd)
		if !upd.UpdateRoutingGroup.IsDefault {
			t.Errorf("update isDefault:true answered %+v", upd.UpdateRoutingGroup)
		}
		assertDefault("after update to default", "First")

		// Members replace the old ones; rules keep the order given.
		e.Query(updateGroupMutation, map[string]any{"id": g1.ID, "input": map[string]any{
			"members": []any{
				map[string]any{"sourceID": s3.ID, "priority": 7, "eligible": false},
				map[string]any{"sourceID": s1.ID, "priority": 999},
			},
			"rules": []string{"SOURCE_PRIORITY", "FEWEST_REQUESTS", "LOWEST_COST", "SINGLE_REQUEST_REQUIRED"},
		}}, &upd)
		g := upd.UpdateRoutingGroup
		if g.Name != "First" || !g.IsDefault {
			t.Errorf("fields not given changed: %+v", g)
		}
		if !slices.Equal(g.Rules, []string{"SOURCE_PRIORITY", "FEWEST_REQUESTS", "LOWEST_COST", "SINGLE_REQUEST_REQUIRED"}) {
			t.Errorf("rules = %v", g.Rules)
		}
		type m struct {
			code     string
			prio     int
			eligible bool
		}
		var got []m
		for _, x := range g.Members {
			got = append(got, m{x.Source.Code, x.Priority, x.Eligible})
		}
		slices.SortFunc(got, func(a, b m) int { return cmpString(a.code, b.code) })
		if want := []m{{"S1", 999, true}, {"S3", 7, false}}; !slices.Equal(got, want) {
			t.Errorf("members after update = %+v, want %+v", got, want)
		}
		// Omitting members keeps them; an empty list clears them.
		e.Query(updateGroupMutation, map[string]any{"id": g1.ID, "input": map[string]any{"name": "Renamed"}}, &upd)
		if upd.UpdateRoutingGroup.Name != "Renamed" || len(upd.UpdateRoutingGroup.Members) != 2 {
			t.Errorf("update without members = %+v", upd.UpdateRoutingGroup)
		}
		e.Query(updateGroupMutation, map[string]any{"id": g2.ID, "input": map[string]any{"members": []any{}}}, &upd)
		if len(upd.UpdateRoutingGroup.Members) != 0 {
			t.Errorf("empty members kept %+v", upd.UpdateRoutingGroup.Members)
		}
		// A refused update (bad member priority) leaves members as they were.
		res = e.Do(Request{Key: e.AdminKey, Query: updateGroupMutation, Variables: map[string]any{
			"id": g1.ID, "input": map[string]any{"name": "Never", "members": []any{map[string]any{"sourceID": s2.ID, "priority": 0}}},
		}})
		if f := e.Err(res, "VALIDATION").Field(); f != "input.members[0].priority" {
			t.Errorf("field = %q", f)
		}
		var node struct {
			Node struct {
				Name    string
				Members []struct{ Source struct{ Code string } }
				Rules   []string
			}
		}
		e.Query(`query($id: ID!) { node(id: $id) { ... on RoutingGroup { name rules members { source { code } } } } }`, map[string]any{"id": g1.ID}, &node)
		if node.Node.Name != "Renamed" || len(node.Node.Members) != 2 || node.Node.Rules[0] != "SOURCE_PRIORITY" {
			t.Errorf("after refused update = %+v", node.Node)
		}
		if n := e.TotalCount(e.AdminKey, "routingGroups"); n != 3 {
			t.Errorf("routingGroups totalCount = %d, want 3", n)
		}
		// Unknown ids are NOT_FOUND.
		res = e.Do(Request{Key: e.AdminKey, Query: updateGroupMutation, Variables: map[string]any{"id": "999999", "input": map[string]any{"name": "x"}}})
		e.Err(res, "NOT_FOUND")
	})
}
