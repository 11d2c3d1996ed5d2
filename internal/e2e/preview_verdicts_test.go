package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/frsvc/fulfillment/internal/app"
	"github.com/frsvc/fulfillment/internal/testdb"
)

// TestRegenerateExcludedNotOutOfStock: regenerating with excludeSource when
// the excluded source is the only one of its group with stock is refused, and
// the roadblock says the source was excluded, not that the SKU is out of
// stock; each roadblock names its group.
func TestRegenerateExcludedNotOutOfStock(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, ap *app.App) {
		k := newKit(t, ap)
		s1 := k.source("S1", nil)
		s2 := k.source("S2", nil)
		k.stock(s1, "A", 5, "1")
		k.stock(s2, "A", 0, "1")
		g := k.group("G", []string{"LOWEST_COST"}, nil, s1, s2)
		o := k.order("X1", "PAID", kitLine{"A", 2})
		fr := k.generate(o.ID).FulfillmentRequests[0]
		if fr.Source.Code != "S1" {
			t.Fatalf("generated at %s, want S1", fr.Source.Code)
		}
		res := k.try(kitRegenerateMutation, map[string]any{"id": fr.ID, "reason": "try elsewhere", "ex": true})
		e := k.Err(res, "ROUTING_FAILED")
		list, _ := e.Extensions["roadblocks"].([]any)
		if len(list) == 0 {
			t.Fatalf("no roadblocks in %+v", e)
		}
		for _, x := range list {
			rb := x.(map[string]any)
			if rb["code"] == "OUT_OF_STOCK" || strings.Contains(fmt.Sprint(rb["message"]), "in stock") && !strings.Contains(fmt.Sprint(rb["message"]), "excluded") {
				t.Errorf("the excluded source is reported as out of stock: %v", rb)
			}
			if fmt.Sprint(rb["groupID"]) != g {
				t.Errorf("roadblock %v does not name group %s", rb, g)
			}
		}
		codes := kitRoadblocks(e)
		if len(codes) != 1 || codes[0] != "SOURCE_EXCLUDED" || !strings.Contains(fmt.Sprint(list[0].(map[string]any)["message"]), "S1") {
			t.Errorf("roadblocks %v (%v), want one SOURCE_EXCLUDED naming S1", codes, list)
		}
		if !strings.Contains(e.Message, "excluded") {
			t.Errorf("error message %q does not say the source was excluded", e.Message)
		}
	})
}

const verdictPreviewQuery = `query($id: ID!, $group: ID) { fulfillmentPreview(orderID: $id, routingGroupID: $group) {
  canRoute
  roadblocks { code sku group { name } }
  groups { routingGroup { name } roadblocks { code group { name } }
    members { source { code } priority verdict sku available needed message } } } }`

type verdictMember struct {
	Source            struct{ Code string }
	Priority          int
	Verdict           string
	Sku               *string
	Available, Needed *int
	Message           string
}

type verdictPreview struct {
	CanRoute   bool
	Roadblocks []struct {
		Code  string
		Sku   *string
		Group *struct{ Name string }
	}
	Groups []struct {
		RoutingGroup struct{ Name string }
		Roadblocks   []struct {
			Code  string
			Group *struct{ Name string }
		}
		Members []verdictMember
	}
}

// verdicts renders a group's members as "CODE:VERDICT[:sku:available/needed]".
func verdicts(ms []verdictMember) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		s := m.Source.Code + ":" + m.Verdict
		if m.Sku != nil {
			s += ":" + *m.Sku
		}
		if m.Available != nil && m.Needed != nil {
			s += fmt.Sprintf(":%d/%d", *m.Available, *m.Needed)
		}
		if m.Message == "" {
			s += ":no message"
		}
		out[i] = s
	}
	return out
}

// TestPreviewMemberVerdicts: for each group tried, the preview lists every
// member source with its verdict (used, or why not), and each roadblock
// names its group; a successful regeneration with excludeSource shows the
// excluded source as EXCLUDED.
func TestPreviewMemberVerdicts(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, ap *app.App) {
		k := newKit(t, ap)
		cheap := k.source("CHEAP", nil)
		dear := k.source("DEAR", nil)
		off := k.source("OFF", map[string]any{"enabled": false})
		inel := k.source("INEL", nil)
		ca := k.source("CA", map[string]any{"shipsTo": []string{"CA"}})
		nob := k.source("NOB", nil)
		low := k.source("LOW", nil)
		for _, s := range []string{cheap, off, inel, ca, low} {
			k.stock(s, "A", 5, "1")
			k.stock(s, "B", 5, "1")
		}
		k.stock(dear, "A", 5, "3")
		k.stock(dear, "B", 5, "3")
		k.stock(nob, "A", 5, "1")
		k.stock(low, "B", 1, "1")
		in := groupInput("Main", cheap, dear, off, inel, ca, nob, low)
		in["members"].([]any)[3].(map[string]any)["eligible"] = false
		var out struct{ CreateRoutingGroup struct{ ID string } }
		k.Query(`mutation($in: CreateRoutingGroupInput!) { createRoutingGroup(input: $in) { id } }`, map[string]any{"in": in}, &out)
		// A group tried first that cannot route: its roadblock names it.
		k.group("First", []string{"LOWEST_COST"}, map[string]any{"position": 0}, nob)

		o := k.order("V1", "PAID", kitLine{"A", 2}, kitLine{"B", 3})
		var p struct{ FulfillmentPreview verdictPreview }
		k.Query(verdictPreviewQuery, map[string]any{"id": o.ID}, &p)
		pv := p.FulfillmentPreview
		if !pv.CanRoute || len(pv.Groups) != 2 {
			t.Fatalf("preview: %+v", pv)
		}
		first, main := pv.Groups[0], pv.Groups[1]
		if first.RoutingGroup.Name != "First" || main.RoutingGroup.Name != "Main" {
			t.Fatalf("groups %s, %s", first.RoutingGroup.Name, main.RoutingGroup.Name)
		}
		if len(first.Roadblocks) == 0 || first.Roadblocks[0].Group == nil || first.Roadblocks[0].Group.Name != "First" {
			t.Errorf("the first group's roadblocks do not name it: %+v", first.Roadblocks)
		}
		if got, want := fmt.Sprint(verdicts(first.Members)), "[NOB:DOES_NOT_CARRY:B]"; got != want {
			t.Errorf("First members %s, want %s", got, want)
		}
		want := "[CHEAP:USED DEAR:NOT_CHOSEN OFF:DISABLED INEL:NOT_ELIGIBLE CA:DOES_NOT_SHIP_TO NOB:DOES_NOT_CARRY:B LOW:LACKS_STOCK:B:1/3]"
		if got := fmt.Sprint(verdicts(main.Members)); got != want {
			t.Errorf("Main members\n %s, want\n %s", got, want)
		}
		for i, m := range main.Members {
			if m.Priority != i+1 {
				t.Errorf("member %s priority %d, want %d", m.Source.Code, m.Priority, i+1)
			}
		}

		// The order that cannot route at all: each order-level roadblock
		// names its group.
		short := k.order("V2", "PAID", kitLine{"B", 50})
		k.Query(verdictPreviewQuery, map[string]any{"id": short.ID}, &p)
		pv = p.FulfillmentPreview
		if pv.CanRoute || len(pv.Roadblocks) == 0 {
			t.Fatalf("preview of V2: %+v", pv)
		}
		for _, rb := range pv.Roadblocks {
			if rb.Group == nil {
				t.Errorf("roadblock %s names no group", rb.Code)
			}
		}

		// Regenerate with excludeSource: the answer's preview says CHEAP was
		// excluded; DEAR ships B and NOB, cheaper, ships A.
		fr := k.generate(o.ID).FulfillmentRequests[0]
		var rg struct {
			RegenerateFulfillmentRequest struct {
				Preview struct {
					Groups []struct {
						RoutingGroup struct{ Name string }
						Members      []verdictMember
					}
				}
			}
		}
		k.Query(`mutation($id: ID!) { regenerateFulfillmentRequest(id: $id, reason: "elsewhere", excludeSource: true) {
  preview { groups { routingGroup { name } members { source { code } priority verdict sku available needed message } } } } }`,
			map[string]any{"id": fr.ID}, &rg)
		gs := rg.RegenerateFulfillmentRequest.Preview.Groups
		if len(gs) != 2 {
			t.Fatalf("regenerate preview groups: %+v", gs)
		}
		want = "[CHEAP:EXCLUDED DEAR:USED OFF:DISABLED INEL:NOT_ELIGIBLE CA:DOES_NOT_SHIP_TO NOB:USED LOW:LACKS_STOCK:B:1/3]"
		if got := fmt.Sprint(verdicts(gs[1].Members)); got != want {
			t.Errorf("Main members after excluding CHEAP\n %s, want\n %s", got, want)
		}
	})
}
