package routing

import (
	"context"
	"math/rand"
	"reflect"
	"strings"
	"testing"

	"github.com/frsvc/fulfillment/internal/money"
	"github.com/google/go-cmp/cmp"
)

// Helpers that keep the tables readable.

func amt(s string) money.Amount { return money.MustParse(s) }

func src(id int, code, base string, shipsTo ...string) Source {
	return Source{ID: id, Code: code, Enabled: true, ShippingBaseCost: amt(base), ShipsTo: shipsTo}
}

func stk(source int, sku string, avail int, cost string) Stock {
	return Stock{SourceID: source, SKU: sku, Available: avail, UnitCost: amt(cost)}
}

func grp(id int, rules ...Rule) Group {
	return Group{ID: id, Name: "G" + string(rune('0'+id%10)), Position: id, Rules: rules}
}

func (g Group) with(prio map[int]int) Group {
	ids := make([]int, 0, len(prio))
	for id := range prio {
		ids = append(ids, id)
	}
	for _, id := range sortedInts(ids) {
		g.Members = append(g.Members, Member{SourceID: id, Priority: prio[id], Eligible: true})
	}
	return g
}

func (g Group) split() Group { g.AllowLineSplit = true; return g }

func sortedInts(a []int) []int {
	for i := 1; i < len(a); i++ {
		for j := i; j > 0 && a[j] < a[j-1]; j-- {
			a[j], a[j-1] = a[j-1], a[j]
		}
	}
	return a
}

func order(lines ...Line) Order {
	return Order{Status: "OPEN", PaymentStatus: "PAID", Country: "US", Lines: lines}
}

func route(t *testing.T, s Snapshot, o Options) Decision {
	t.Helper()
	d := Route(context.Background(), s, o)
	checkPlanInvariants(t, s, d)
	return d
}

func codes(rbs []Roadblock) []string {
	var out []string
	for _, rb := range rbs {
		out = append(out, codeOf(rb))
	}
	return out
}

// sources of a plan, by ID, with the quantity of each item: "1:L1×2,L2×1".
func shape(p *Plan) string {
	if p == nil {
		return "<nil>"
	}
	var parts []string
	for _, r := range p.Requests {
		var items []string
		for _, it := range r.Items {
			items = append(items, "L"+itoa(int64(it.LineID))+"×"+itoa(int64(it.Quantity)))
		}
		parts = append(parts, itoa(int64(r.SourceID))+":"+strings.Join(items, ","))
	}
	return strings.Join(parts, " ")
}

// rulesWorld: each rule picks a different plan.
//
//	lines: L1 = 2 × A, L2 = 1 × B; every source has base shipping 5.00
//	S1 prio 3: A 10.00, B 10.00 → alone 20+10+5 = 35
//	S2 prio 1: A 4.00           ┐ together 8+5 + 4+5 = 22, the cheapest
//	S3 prio 2: B 4.00           ┘
//	S4 prio 1: A 6.00, B 6.00, base 20 → alone 12+6+20 = 38
func rulesWorld(rules ...Rule) Snapshot {
	s4 := src(4, "S4", "20")
	return Snapshot{
		Order:   order(Line{1, "A", 2}, Line{2, "B", 1}),
		Sources: []Source{src(1, "S1", "5"), src(2, "S2", "5"), src(3, "S3", "5"), s4},
		Inventory: []Stock{stk(1, "A", 5, "10"), stk(1, "B", 5, "10"), stk(2, "A", 5, "4"), stk(3, "B", 5, "4"),
			stk(4, "A", 5, "6"), stk(4, "B", 5, "6")},
		Groups: []Group{grp(1, rules...).with(map[int]int{1: 3, 2: 1, 3: 2, 4: 1})},
	}
}

func TestRules(t *testing.T) {
	cases := []struct {
		name  string
		rules []Rule
		want  string
		cost  string
		elim  []string // rule: shape (cost difference)
	}{
		{"lowest cost", []Rule{LowestCost}, "2:L1×2 3:L2×1", "22",
			[]string{"LOWEST_COST: 1:L1×2,L2×1 (13.00)"}},
		{"single preferred, then cheapest single", []Rule{SingleRequestPreferred}, "1:L1×2,L2×1", "35",
			[]string{"SINGLE_REQUEST_PREFERRED: 2:L1×2 3:L2×1 (-13.00)"}},
		{"single required", []Rule{SingleRequestRequired}, "1:L1×2,L2×1", "35",
			[]string{"SINGLE_REQUEST_REQUIRED: 2:L1×2 3:L2×1 (-13.00)"}},
		{"fewest requests", []Rule{FewestRequests}, "1:L1×2,L2×1", "35",
			[]string{"FEWEST_REQUESTS: 2:L1×2 3:L2×1 (-13.00)"}},
		{"source priority: [1] beats [1 2]", []Rule{SourcePriority}, "4:L1×2,L2×1", "38",
			[]string{"SOURCE_PRIORITY: 1:L1×2,L2×1 (-3.00)"}},
		{"no rules: fewest sources, then cost", nil, "1:L1×2,L2×1", "35", nil},
		// What a rule eliminated is ranked by the rules after it.
		{"priority then cost", []Rule{SourcePriority, LowestCost}, "4:L1×2,L2×1", "38",
			[]string{"SOURCE_PRIORITY: 2:L1×2 3:L2×1 (-16.00)"}},
		{"cost then priority", []Rule{LowestCost, SourcePriority}, "2:L1×2 3:L2×1", "22",
			[]string{"LOWEST_COST: 4:L1×2,L2×1 (16.00)"}},
		{"single preferred then priority: [1 1] beats [1 2]", []Rule{SingleRequestPreferred, SourcePriority}, "4:L1×2,L2×1", "38",
			[]string{"SINGLE_REQUEST_PREFERRED: 2:L1×2 4:L2×1 (1.00)", "SOURCE_PRIORITY: 1:L1×2,L2×1 (-3.00)"}},
		{"a rule listed twice is harmless", []Rule{LowestCost, LowestCost, Rule("NOT_A_RULE")}, "2:L1×2 3:L2×1", "22",
			[]string{"LOWEST_COST: 1:L2×1 2:L1×2 (6.00)"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := route(t, rulesWorld(c.rules...), Options{})
			if !d.CanRoute || shape(d.Plan) != c.want || d.Plan.TotalCost != amt(c.cost) {
				t.Fatalf("plan %s cost %v, want %s cost %s (roadblocks %v)", shape(d.Plan), planCost(d.Plan), c.want, c.cost, d.Roadblocks)
			}
			if !d.Plan.Optimal || d.Plan.LowerBound != d.Plan.TotalCost {
				t.Errorf("plan not proven optimal")
			}
			var elim []string
			for _, e := range d.Groups[0].Eliminated {
				elim = append(elim, string(e.Rule)+": "+shape(&e.Plan)+" ("+e.CostDifference.String()+")")
			}
			if diff := cmp.Diff(c.elim, elim); diff != "" {
				t.Errorf("eliminated (-want +got):\n%s", diff)
			}
			if d.Groups[0].CandidatesConsidered != 4 || d.Groups[0].PlansExplored == 0 {
				t.Errorf("counters: %+v", d.Groups[0])
			}
		})
	}
}

func planCost(p *Plan) money.Amount {
	if p == nil {
		return -1
	}
	return p.TotalCost
}

func TestCostBreakdown(t *testing.T) {
	s := Snapshot{
		Order:     order(Line{7, "A", 3}),
		Sources:   []Source{{ID: 1, Code: "WH", Enabled: true, DropshipFee: amt("1.25"), ShippingBaseCost: amt("4"), ShippingPerUnitCost: amt("0.5")}},
		Inventory: []Stock{stk(1, "A", 10, "2.10")},
		Groups:    []Group{grp(1).with(map[int]int{1: 5})},
	}
	d := route(t, s, Options{LowStockThreshold: -1})
	want := &Plan{TotalCost: amt("13.05"), Optimal: true, LowerBound: amt("13.05"), Requests: []Request{{
		SourceID: 1, Priority: 5, Items: []Item{{LineID: 7, SKU: "A", Quantity: 3, UnitCost: amt("2.10")}},
		ItemCost: amt("6.30"), DropshipFee: amt("1.25"), ShippingCost: amt("5.50"), TotalCost: amt("13.05")}}}
	if diff := cmp.Diff(want, d.Plan); diff != "" {
		t.Fatalf("plan (-want +got):\n%s", diff)
	}
	if len(d.Warnings) != 0 {
		t.Errorf("warnings: %v", d.Warnings)
	}
}

func TestOrderRoadblocks(t *testing.T) {
	base := func() Snapshot {
		return Snapshot{
			Order:     order(Line{1, "A", 1}),
			Sources:   []Source{src(1, "S1", "0"), {ID: 2, Code: "OFF"}},
			Inventory: []Stock{stk(1, "A", 5, "1"), stk(2, "OFFONLY", 0, "1")},
			Groups:    []Group{grp(1).with(map[int]int{1: 1})},
		}
	}
	cases := []struct {
		name   string
		change func(*Snapshot)
		want   []string
	}{
		{"on hold", func(s *Snapshot) { s.Order.Status = "ON_HOLD" }, []string{CodeOrderOnHold}},
		{"canceled", func(s *Snapshot) { s.Order.Status = "CANCELED" }, []string{CodeOrderCanceled}},
		{"closed and pending", func(s *Snapshot) { s.Order.Status = "CLOSED"; s.Order.PaymentStatus = "PENDING" },
			[]string{CodeOrderClosed, CodeOrderNotPaid}},
		{"deferred payment is fine", func(s *Snapshot) { s.Order.PaymentStatus = "DEFERRED" }, nil},
		{"nothing left", func(s *Snapshot) { s.Order.Lines[0].Unallocated = 0 }, []string{CodeNothingToRoute}},
		{"SKUs no source carries, once each", func(s *Snapshot) {
			s.Order.Lines = append(s.Order.Lines, Line{2, "X", 1}, Line{3, "Y", 2}, Line{4, "X", 1}, Line{5, "Z", 0})
		}, []string{CodeSKUNotManaged + ":X", CodeSKUNotManaged + ":Y"}},
		{"a SKU with a zero-stock row at a disabled source is managed", func(s *Snapshot) {
			s.Order.Lines = append(s.Order.Lines, Line{2, "OFFONLY", 1})
		}, []string{CodeOutOfStock + ":OFFONLY"}},
		{"all at once", func(s *Snapshot) {
			s.Order.Status = "ON_HOLD"
			s.Order.PaymentStatus = ""
			s.Order.Lines = []Line{{1, "Q", 1}}
		}, []string{CodeOrderOnHold, CodeOrderNotPaid, CodeSKUNotManaged + ":Q"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := base()
			c.change(&s)
			d := route(t, s, Options{})
			if diff := cmp.Diff(c.want, codes(d.Roadblocks)); diff != "" {
				t.Fatalf("roadblocks (-want +got):\n%s\n%+v", diff, d.Roadblocks)
			}
			if d.CanRoute != (len(c.want) == 0) || (d.Plan == nil) == d.CanRoute {
				t.Fatalf("CanRoute %v with plan %v", d.CanRoute, d.Plan)
			}
			for _, rb := range d.Roadblocks {
				if rb.Message == "" || !strings.HasSuffix(rb.Message, ".") {
					t.Errorf("message %q is not a sentence", rb.Message)
				}
			}
		})
	}
}

func TestGroupSelection(t *testing.T) {
	s := Snapshot{
		Order:     order(Line{1, "A", 1}),
		Sources:   []Source{src(1, "US1", "0", "US"), src(2, "ANY", "0"), src(3, "CA1", "0", "CA")},
		Inventory: []Stock{stk(1, "A", 5, "1"), stk(2, "A", 5, "1"), stk(3, "A", 5, "1")},
	}
	only := func(g Group, countries ...string) Group { g.ShipToCountries = countries; return g }
	def := func(g Group) Group { g.IsDefault = true; return g }
	cases := []struct {
		name    string
		groups  []Group
		country string
		opt     Options
		tried   []int
		chosen  int
		codes   []string
	}{
		{"position order, first that routes wins",
			[]Group{grp(5).with(map[int]int{2: 1}), grp(3).with(map[int]int{3: 1})}, "US", Options{}, []int{3, 5}, 5, nil},
		{"default group last whatever its position",
			[]Group{def(grp(1)).with(map[int]int{2: 1}), grp(9).with(map[int]int{1: 1})}, "US", Options{}, []int{9}, 9, nil},
		{"falls through to the default group",
			[]Group{def(grp(1)).with(map[int]int{2: 1}), grp(9).with(map[int]int{3: 1})}, "US", Options{}, []int{9, 1}, 1, nil},
		{"country lists, case-insensitive",
			[]Group{only(grp(1), "ca").with(map[int]int{3: 1}), only(grp(2), "FR").with(map[int]int{2: 1})}, "CA", Options{}, []int{1}, 1, nil},
		{"no group for the country",
			[]Group{only(grp(1), "FR").with(map[int]int{2: 1})}, "US", Options{}, nil, 0, []string{CodeNoRoutingGroup}},
		{"explicit group ignores its countries but not the sources'",
			[]Group{only(grp(1), "FR").with(map[int]int{1: 1, 3: 2})}, "US", Options{GroupID: 1}, []int{1}, 1, nil},
		{"explicit group with no source shipping there",
			[]Group{grp(1).with(map[int]int{3: 1})}, "US", Options{GroupID: 1}, []int{1}, 0, []string{CodeNoEligibleSource}},
		{"unknown explicit group",
			[]Group{grp(1).with(map[int]int{2: 1})}, "US", Options{GroupID: 77}, nil, 0, []string{CodeNoRoutingGroup}},
		{"every group blocked: all roadblocks reported",
			[]Group{grp(1).with(map[int]int{3: 1}), grp(2)}, "US", Options{}, []int{1, 2}, 0, []string{CodeNoEligibleSource, CodeNoEligibleSource}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := s
			s.Groups = c.groups
			s.Order.Country = c.country
			d := route(t, s, c.opt)
			var tried []int
			for _, ev := range d.Groups {
				tried = append(tried, ev.GroupID)
			}
			if !reflect.DeepEqual(tried, c.tried) || d.GroupID != c.chosen || !reflect.DeepEqual(codes(d.Roadblocks), c.codes) {
				t.Fatalf("tried %v chose %d roadblocks %v; want %v, %d, %v", tried, d.GroupID, d.Roadblocks, c.tried, c.chosen, c.codes)
			}
		})
	}
}

func TestCandidates(t *testing.T) {
	off := src(2, "OFF", "0")
	off.Enabled = false
	s := Snapshot{
		Order:     order(Line{1, "A", 1}),
		Sources:   []Source{src(1, "CHEAP", "0"), off, src(3, "FR", "0", "FR"), src(4, "OK", "9")},
		Inventory: []Stock{stk(1, "A", 5, "1"), stk(2, "A", 5, "1"), stk(3, "A", 5, "1"), stk(4, "A", 5, "1")},
		Groups: []Group{{ID: 1, Rules: []Rule{LowestCost}, Members: []Member{
			{SourceID: 1, Priority: 1, Eligible: false}, // not eligible
			{SourceID: 2, Priority: 1, Eligible: true},  // disabled
			{SourceID: 3, Priority: 1, Eligible: true},  // does not ship to US
			{SourceID: 4, Priority: 2, Eligible: true},
			{SourceID: 99, Priority: 1, Eligible: true}, // unknown source
		}}},
	}
	d := route(t, s, Options{})
	if shape(d.Plan) != "4:L1×1" || d.Groups[0].CandidatesConsidered != 1 {
		t.Fatalf("plan %s, candidates %d", shape(d.Plan), d.Groups[0].CandidatesConsidered)
	}
	// A source listed twice counts once, eligible if any entry is.
	s.Groups[0].Members = append(s.Groups[0].Members, Member{SourceID: 1, Priority: 3, Eligible: true})
	d = route(t, s, Options{})
	if shape(d.Plan) != "1:L1×1" || d.Groups[0].CandidatesConsidered != 2 || d.Plan.Requests[0].Priority != 3 {
		t.Fatalf("plan %s, candidates %d", shape(d.Plan), d.Groups[0].CandidatesConsidered)
	}
}

func TestOutOfStock(t *testing.T) {
	s := Snapshot{
		Order:   order(Line{1, "A", 5}, Line{2, "B", 2}, Line{3, "B", 2}, Line{4, "C", 1}),
		Sources: []Source{src(1, "WH1", "0"), src(2, "WH2", "0")},
		Inventory: []Stock{stk(1, "A", 3, "1"), stk(2, "A", 3, "1"), stk(1, "B", 3, "1"), stk(2, "B", 1, "1"),
			stk(1, "C", 0, "1"), stk(2, "C", -4, "1")},
		Groups: []Group{grp(1).with(map[int]int{1: 1, 2: 2})},
	}
	d := route(t, s, Options{})
	want := []string{CodeOutOfStock + ":A", CodeOutOfStock + ":B", CodeOutOfStock + ":C"}
	if diff := cmp.Diff(want, codes(d.Roadblocks)); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
	msgs := []string{"5 needed, at most 3 at one source", "need 2 + 2 units", "No source of routing group \"G1\" has SKU C in stock"}
	for x, m := range msgs {
		if !strings.Contains(d.Roadblocks[x].Message, m) {
			t.Errorf("message %q lacks %q", d.Roadblocks[x].Message, m)
		}
	}
	// Splitting fixes A (3 + 3 ≥ 5) and B (3 + 1 ≥ 4), not C.
	s.Groups[0] = s.Groups[0].split()
	d = route(t, s, Options{})
	if diff := cmp.Diff([]string{CodeOutOfStock + ":C"}, codes(d.Roadblocks)); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
	s.Inventory = append(s.Inventory, stk(2, "C", 1, "1")) // merged with the -4 row
	d = route(t, s, Options{})
	if !d.CanRoute || d.Groups[0].Roadblocks != nil {
		t.Fatalf("roadblocks %v", d.Roadblocks)
	}
}

func TestSingleSourceRequired(t *testing.T) {
	s := rulesWorld(SingleRequestRequired)
	s.Inventory = s.Inventory[2:4] // only S2 (A) and S3 (B): no single source
	s.Groups = append(s.Groups, func() Group { g := grp(2).with(map[int]int{2: 1, 3: 1}); g.IsDefault = true; return g }())
	d := route(t, s, Options{})
	if d.GroupID != 2 || codeOf(d.Groups[0].Roadblocks[0]) != CodeSingleSourceUnavailable {
		t.Fatalf("got %+v", d)
	}
	// After LOWEST_COST only the two-source plan is left, though S1 alone
	// could ship everything: the rules are filters in order.
	s = rulesWorld(LowestCost, SingleRequestRequired)
	d = route(t, s, Options{})
	if d.CanRoute || !strings.Contains(d.Roadblocks[0].Message, "LOWEST_COST") {
		t.Fatalf("got %+v", d.Roadblocks)
	}
}

func TestTiesAndCanonicalAssignment(t *testing.T) {
	// One source for everything saves a base cost; when both are needed,
	// the lower ID takes as much as it can, line by line.
	s := Snapshot{
		Order:     order(Line{1, "A", 3}, Line{2, "A", 2}),
		Sources:   []Source{src(8, "B", "1"), src(5, "A", "1")},
		Inventory: []Stock{stk(8, "A", 9, "2"), stk(5, "A", 4, "2")},
		Groups:    []Group{grp(1, LowestCost).with(map[int]int{5: 1, 8: 1})},
	}
	d := route(t, s, Options{})
	if got := shape(d.Plan); got != "8:L1×3,L2×2" {
		t.Fatalf("no split: %s", got)
	}
	s.Inventory[0].Available = 3
	d = route(t, s, Options{})
	if got := shape(d.Plan); got != "5:L1×3 8:L2×2" {
		t.Fatalf("no split, both needed: %s", got) // 5 cannot take both lines
	}
	s.Groups[0] = s.Groups[0].split()
	d = route(t, s, Options{})
	if got := shape(d.Plan); got != "5:L1×3,L2×1 8:L2×1" {
		t.Fatalf("split, both needed: %s", got)
	}
	s.Inventory[0].Available, s.Inventory[1].Available = 9, 9
	d = route(t, s, Options{})
	if got := shape(d.Plan); got != "5:L1×3,L2×2" {
		t.Fatalf("identical sources: %s", got)
	}
	// Equal cost and count: lower priorities, then lower IDs.
	s = Snapshot{
		Order:     order(Line{1, "A", 1}),
		Sources:   []Source{src(1, "X", "1"), src(2, "Y", "1"), src(3, "Z", "1")},
		Inventory: []Stock{stk(1, "A", 1, "1"), stk(2, "A", 1, "1"), stk(3, "A", 1, "1")},
		Groups:    []Group{grp(1, LowestCost).with(map[int]int{1: 2, 2: 1, 3: 1})},
	}
	if got := shape(route(t, s, Options{}).Plan); got != "2:L1×1" {
		t.Fatalf("priority tie-break: %s", got)
	}
}

func TestSourcePriorityUsesEveryChosenSource(t *testing.T) {
	// [1 2] beats [2]: the priority-1 source must ship something, even if
	// only one unit at a high price.
	s := Snapshot{
		Order:     order(Line{1, "A", 2}),
		Sources:   []Source{src(1, "PREF", "0"), src(2, "CHEAP", "0")},
		Inventory: []Stock{stk(1, "A", 1, "10"), stk(2, "A", 5, "1")},
		Groups:    []Group{grp(1, SourcePriority).with(map[int]int{1: 1, 2: 2}).split()},
	}
	d := route(t, s, Options{})
	if got := shape(d.Plan); got != "1:L1×1 2:L1×1" || d.Plan.TotalCost != amt("11") {
		t.Fatalf("got %s %v", got, d.Plan.TotalCost)
	}
	if e := d.Groups[0].Eliminated; len(e) != 1 || shape(&e[0].Plan) != "2:L1×2" || e[0].CostDifference != amt("-9") {
		t.Fatalf("eliminated %+v", e)
	}
}

func TestEliminatedSameSourcesDearerSplit(t *testing.T) {
	// No single source can ship all; the cheapest plan sends both X lines to
	// S1. LOWEST_COST's best eliminated plan uses the same two sources with
	// one X line at S2 (one more) — canonical: the first line stays at S1.
	s := Snapshot{
		Order:     order(Line{1, "X", 1}, Line{2, "X", 1}, Line{3, "Y", 1}),
		Sources:   []Source{src(1, "S1", "0"), src(2, "S2", "0")},
		Inventory: []Stock{stk(1, "X", 5, "1"), stk(2, "X", 1, "2"), stk(2, "Y", 5, "1")},
	}
	for _, split := range []bool{false, true} {
		g := grp(1, LowestCost).with(map[int]int{1: 1, 2: 1})
		g.AllowLineSplit = split
		s.Groups = []Group{g}
		d := route(t, s, Options{})
		if got := shape(d.Plan); got != "1:L1×1,L2×1 2:L3×1" {
			t.Fatalf("split %v: plan %s", split, got)
		}
		e := d.Groups[0].Eliminated
		if len(e) != 1 || shape(&e[0].Plan) != "1:L1×1 2:L2×1,L3×1" || e[0].CostDifference != amt("1") {
			t.Fatalf("split %v: eliminated %+v", split, e)
		}
	}
}

func TestWarnings(t *testing.T) {
	s := Snapshot{
		Order:     order(Line{1, "A", 5}, Line{2, "B", 1}),
		Sources:   []Source{src(1, "WH1", "0"), src(2, "WH2", "0")},
		Inventory: []Stock{stk(1, "A", 3, "1"), stk(2, "A", 3, "1"), stk(2, "B", 4, "1")},
		Groups:    []Group{grp(1, LowestCost).with(map[int]int{1: 1, 2: 1}).split()},
	}
	d := route(t, s, Options{LowStockThreshold: 1})
	if got := shape(d.Plan); got != "1:L1×3 2:L1×2,L2×1" {
		t.Fatalf("plan %s", got)
	}
	type w struct {
		code, sku string
		source    int
	}
	var got []w
	for _, x := range d.Warnings {
		got = append(got, w{x.Code, x.SKU, x.SourceID})
	}
	want := []w{{CodeMultipleRequests, "", 0}, {CodeLineSplit, "A", 0}, {CodeLowStock, "A", 1}, {CodeLowStock, "A", 2}}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(w{})); diff != "" {
		t.Fatalf("warnings (-want +got):\n%s\n%v", diff, d.Warnings)
	}
	for _, x := range d.Warnings {
		t.Log(x.Message)
	}
	if d := route(t, s, Options{LowStockThreshold: -1}); len(d.Warnings) != 2 {
		t.Fatalf("negative threshold: %v", d.Warnings)
	}
}

// TestDeterminism: the order of slices in the snapshot never changes the
// decision (maps are never iterated to decide anything).
func TestDeterminism(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	for x := 0; x < 300; x++ {
		var s Snapshot
		if x%3 == 0 {
			s = benchSnapshot(r, 6, 12, []Rule{SingleRequestPreferred, LowestCost}, x%2 == 0)
			s.Groups[0].Members[0].Priority = s.Groups[0].Members[1].Priority
		} else {
			s, _ = focusedSnapshot(r)
		}
		want := Route(context.Background(), s, Options{})
		for k := 0; k < 3; k++ {
			c := shuffled(r, s)
			got := Route(context.Background(), c, Options{})
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("instance %d, shuffle %d (-want +got):\n%s", x, k, diff)
			}
		}
	}
}

func shuffled(r *rand.Rand, s Snapshot) Snapshot {
	c := s
	c.Sources = append([]Source(nil), s.Sources...)
	c.Inventory = append([]Stock(nil), s.Inventory...)
	c.Groups = append([]Group(nil), s.Groups...)
	for x := range c.Groups {
		c.Groups[x].Members = append([]Member(nil), c.Groups[x].Members...)
		r.Shuffle(len(c.Groups[x].Members), func(i, j int) {
			c.Groups[x].Members[i], c.Groups[x].Members[j] = c.Groups[x].Members[j], c.Groups[x].Members[i]
		})
	}
	r.Shuffle(len(c.Sources), func(i, j int) { c.Sources[i], c.Sources[j] = c.Sources[j], c.Sources[i] })
	r.Shuffle(len(c.Inventory), func(i, j int) { c.Inventory[i], c.Inventory[j] = c.Inventory[j], c.Inventory[i] })
	r.Shuffle(len(c.Groups), func(i, j int) { c.Groups[i], c.Groups[j] = c.Groups[j], c.Groups[i] })
	return c
}

// TestLargeInstance checks a benchmark-sized order end to end: a proven
// optimum that respects stock, and explanations that are worse than it.
func TestLargeInstance(t *testing.T) {
	r := rand.New(rand.NewSource(11))
	for _, split := range []bool{false, true} {
		s := benchSnapshot(r, 20, 50, []Rule{SingleRequestPreferred, LowestCost}, split)
		d := route(t, s, Options{})
		if !d.Plan.Optimal {
			t.Fatalf("split %v: not proven optimal", split)
		}
		for _, e := range d.Groups[0].Eliminated {
			if e.Rule == LowestCost && e.CostDifference <= 0 {
				t.Errorf("LOWEST_COST eliminated a plan no dearer: %v", e.CostDifference)
			}
		}
	}
}
