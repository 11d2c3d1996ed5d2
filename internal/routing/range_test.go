package routing

import (
	"context"
	"math"
	"math/big"
	"math/rand"
	"strings"
	"testing"

	"github.com/frsvc/fulfillment/internal/money"
)

// exactTotal is a plan's total cost recomputed in big integers from its
// items and the sources' cost model, so that a wrapped int64 cannot agree
// with itself.
func exactTotal(s Snapshot, p *Plan) *big.Int {
	src := map[int]Source{}
	for _, x := range s.Sources {
		src[x.ID] = x
	}
	total := new(big.Int)
	for _, rq := range p.Requests {
		sc := src[rq.SourceID]
		units := int64(0)
		for _, it := range rq.Items {
			total.Add(total, new(big.Int).Mul(big.NewInt(int64(it.UnitCost)), big.NewInt(int64(it.Quantity))))
			units += int64(it.Quantity)
		}
		total.Add(total, big.NewInt(int64(sc.DropshipFee)))
		total.Add(total, big.NewInt(int64(sc.ShippingBaseCost)))
		total.Add(total, new(big.Int).Mul(big.NewInt(int64(sc.ShippingPerUnitCost)), big.NewInt(units)))
	}
	return total
}

// overflowSnapshot is the order of the report: a unit cost of
// 999999999999.9999 and a line of 2,147,483,647 units, whose true cost is
// about 2.1 × 10^21, far past an int64 of ten-thousandths.
func overflowSnapshot(split bool) Snapshot {
	return Snapshot{
		Order:     Order{Status: "OPEN", PaymentStatus: "PAID", Country: "US", Lines: []Line{{ID: 1, SKU: "GOLD", Unallocated: 2147483647}}},
		Groups:    []Group{{ID: 1, Name: "All", IsDefault: true, Rules: []Rule{LowestCost}, AllowLineSplit: split, Members: []Member{{SourceID: 7, Priority: 1, Eligible: true}}}},
		Sources:   []Source{{ID: 7, Code: "FR", Enabled: true}},
		Inventory: []Stock{{SourceID: 7, SKU: "GOLD", Available: 2147483647, UnitCost: money.MustParse("999999999999.9999")}},
	}
}

// TestRouteNeverWrapsACost: an order whose costs do not fit the engine's
// range is not routed at all (an OUT_OF_RANGE roadblock naming the line and
// source) rather than routed at a wrapped cost.
func TestRouteNeverWrapsACost(t *testing.T) {
	outOfRange := func(t *testing.T, s Snapshot, sku string, words ...string) {
		t.Helper()
		d := Route(context.Background(), s, Options{})
		if d.Plan != nil {
			t.Fatalf("routed at %s, exactly %s", d.Plan.TotalCost, exactTotal(s, d.Plan))
		}
		if len(d.Roadblocks) != 1 || d.Roadblocks[0].Code != CodeOutOfRange || d.Roadblocks[0].SKU != sku {
			t.Fatalf("roadblocks %+v, want one %s for SKU %q", d.Roadblocks, CodeOutOfRange, sku)
		}
		for _, w := range words {
			if !strings.Contains(d.Roadblocks[0].Message, w) {
				t.Errorf("message %q does not name %q", d.Roadblocks[0].Message, w)
			}
		}
	}
	for _, split := range []bool{false, true} {
		outOfRange(t, overflowSnapshot(split), "GOLD", "GOLD", "FR", "2147483647 units")
	}
	// Every line fits, the order does not: lines at the top of the range.
	s := overflowSnapshot(false)
	s.Inventory[0].UnitCost = MaxCost / 15
	s.Order.Lines = []Line{{ID: 1, SKU: "GOLD", Unallocated: 4}, {ID: 2, SKU: "GOLD", Unallocated: 4},
		{ID: 3, SKU: "GOLD", Unallocated: 4}, {ID: 4, SKU: "GOLD", Unallocated: 4}, {ID: 5, SKU: "GOLD", Unallocated: 4}}
	outOfRange(t, s, "", "order", "dearest")
	// The same per unit on one line of each: the flows' path lengths.
	for i := range s.Order.Lines {
		s.Order.Lines[i].Unallocated = 1
	}
	s.Inventory[0].UnitCost = MaxCost / 8
	outOfRange(t, s, "GOLD", "per-unit")
	// The fees alone.
	s = overflowSnapshot(false)
	s.Order.Lines[0].Unallocated, s.Inventory[0].UnitCost = 1, 1
	s.Sources[0].DropshipFee, s.Sources[0].ShippingBaseCost = MaxCost, MaxCost
	outOfRange(t, s, "", "FR")
	s.Sources[0].DropshipFee, s.Sources[0].ShippingBaseCost = money.Amount(math.MaxInt64), 1
	outOfRange(t, s, "", "FR", "fees")
	// Unit cost plus per-unit shipping.
	s = overflowSnapshot(true)
	s.Inventory[0].UnitCost, s.Sources[0].ShippingPerUnitCost = money.Amount(math.MaxInt64), 1
	outOfRange(t, s, "GOLD", "GOLD", "FR")
	// Too many units: three lines of 2^30.
	s = overflowSnapshot(true)
	s.Inventory[0].UnitCost = 1
	s.Order.Lines = []Line{{ID: 1, SKU: "GOLD", Unallocated: 1 << 30}, {ID: 2, SKU: "GOLD", Unallocated: 1 << 30}, {ID: 3, SKU: "GOLD", Unallocated: 1 << 30}}
	outOfRange(t, s, "GOLD", "units")
	// Stock past int64 when duplicate rows add up still routes exactly.
	s = overflowSnapshot(true)
	s.Inventory[0].UnitCost, s.Order.Lines[0].Unallocated = 1, 3
	s.Inventory[0].Available = math.MaxInt64
	s.Inventory = append(s.Inventory, s.Inventory[0])
	if d := Route(context.Background(), s, Options{}); !d.CanRoute || d.Plan.TotalCost != 3 {
		t.Fatalf("huge duplicate stock: %+v", d)
	}
}

// worstOrder is the largest order the entry bounds admit: 500 lines of
// MaxQuantity units, each SKU at two sources priced at the top of the range
// (one of them ten steps cheaper), per-unit shipping and fees at the maximum
// too.
func worstOrder(split bool, rules []Rule) Snapshot {
	s := Snapshot{Order: Order{Status: "OPEN", PaymentStatus: "PAID", Country: "US"}}
	s.Sources = []Source{
		{ID: 1, Code: "A", Enabled: true, DropshipFee: money.MaxUnitCost, ShippingBaseCost: money.MaxUnitCost, ShippingPerUnitCost: money.MaxUnitCost},
		{ID: 2, Code: "B", Enabled: true, DropshipFee: money.MaxUnitCost, ShippingBaseCost: money.MaxUnitCost, ShippingPerUnitCost: money.MaxUnitCost},
		{ID: 3, Code: "C", Enabled: true, DropshipFee: money.MaxUnitCost, ShippingBaseCost: money.MaxUnitCost, ShippingPerUnitCost: money.MaxUnitCost},
	}
	for l := 0; l < 500; l++ {
		sku := "SKU-" + itoa(int64(l))
		s.Order.Lines = append(s.Order.Lines, Line{ID: l + 1, SKU: sku, Unallocated: money.MaxQuantity})
		// A holds the even lines, B the odd ones, C everything but dearer:
		// the cheapest plan is A and B, the fewest-sources plan is C.
		cheap := 1 + l%2
		s.Inventory = append(s.Inventory,
			Stock{SourceID: cheap, SKU: sku, Available: money.MaxQuantity, UnitCost: money.MaxUnitCost - 10},
			Stock{SourceID: 3, SKU: sku, Available: money.MaxQuantity, UnitCost: money.MaxUnitCost})
	}
	s.Groups = []Group{{ID: 1, Name: "All", IsDefault: true, Rules: rules, AllowLineSplit: split,
		Members: []Member{{SourceID: 1, Priority: 1, Eligible: true}, {SourceID: 2, Priority: 2, Eligible: true}, {SourceID: 3, Priority: 3, Eligible: true}}}}
	return s
}

// TestWorstOrderRoutesExactly: the largest order the entry bounds admit is
// inside the engine's range and routes to the exact cheapest plan, its
// total and its eliminated alternatives' totals equal to the big-integer
// sums, with or without line splitting.
func TestWorstOrderRoutesExactly(t *testing.T) {
	for _, split := range []bool{false, true} {
		for _, rules := range [][]Rule{{LowestCost}, {FewestRequests, LowestCost}} {
			s := worstOrder(split, rules)
			d := Route(context.Background(), s, Options{})
			if !d.CanRoute {
				t.Fatalf("split %v %v: not routed: %+v", split, rules, d.Roadblocks)
			}
			checkPlanInvariants(t, s, d)
			// (2 × 10^9 − 10) per unit on 5 × 10^8 units, and each source's
			// fees: A and B save 5 × 10^9 on the units and pay 2 × 10^9 more
			// fees than C alone.
			perUnit := new(big.Int).Mul(big.NewInt(2*int64(money.MaxUnitCost)-10), big.NewInt(500*money.MaxQuantity))
			want := new(big.Int).Add(perUnit, big.NewInt(4*int64(money.MaxUnitCost))) // A and B
			if rules[0] == FewestRequests {
				want = new(big.Int).Add(new(big.Int).Mul(big.NewInt(2*int64(money.MaxUnitCost)), big.NewInt(500*money.MaxQuantity)),
					big.NewInt(2*int64(money.MaxUnitCost))) // C alone
			}
			if got := exactTotal(s, d.Plan); got.Cmp(want) != 0 || big.NewInt(int64(d.Plan.TotalCost)).Cmp(want) != 0 {
				t.Fatalf("split %v %v: total %d, items say %s, want %s", split, rules, d.Plan.TotalCost, got, want)
			}
			if !d.Plan.Optimal || d.Plan.LowerBound != d.Plan.TotalCost {
				t.Fatalf("split %v %v: optimal %v, lower bound %d", split, rules, d.Plan.Optimal, d.Plan.LowerBound)
			}
			for _, e := range d.Groups[0].Eliminated {
				if got := exactTotal(s, &e.Plan); big.NewInt(int64(e.Plan.TotalCost)).Cmp(got) != 0 {
					t.Fatalf("eliminated %s: total %d, items say %s", e.Rule, e.Plan.TotalCost, got)
				}
			}
		}
	}
}

// TestMatchesBruteForceAtTheBounds is the brute-force property test with the
// numbers at the top of the entry bounds: quantities and stock near
// MaxQuantity, unit costs, fees and per-unit shipping near MaxUnitCost. The
// engine's bounds multiply costs by quantities (the dual ascent weighs a
// line's cost by the share of it a source can hold), which at this scale
// passes int64 unless done in wider arithmetic. Lines are not split, so the
// brute force still enumerates whole-line assignments.
func TestMatchesBruteForceAtTheBounds(t *testing.T) {
	n := 3000
	if testing.Short() {
		n /= 10
	}
	r := rand.New(rand.NewSource(20250219))
	const qScale = 333_333 // line quantities are at most 3
	for done := 0; done < n; {
		s, o := randomSnapshot(r)
		if done%2 == 1 {
			s, o = focusedSnapshot(r)
		}
		for g := range s.Groups {
			s.Groups[g].AllowLineSplit = false
		}
		if enumerationSize(s) > 50000 {
			continue
		}
		done++
		for i := range s.Order.Lines {
			s.Order.Lines[i].Unallocated *= qScale
		}
		for i := range s.Inventory {
			s.Inventory[i].Available *= qScale
			s.Inventory[i].UnitCost = s.Inventory[i].UnitCost / 10000 * (money.MaxUnitCost / 4) // 1..4 → up to the maximum
		}
		for i := range s.Sources {
			sc := &s.Sources[i]
			sc.DropshipFee, sc.ShippingBaseCost = sc.DropshipFee*(money.MaxUnitCost/20000), sc.ShippingBaseCost*(money.MaxUnitCost/20000)
			sc.ShippingPerUnitCost *= money.MaxUnitCost / 10000
		}
		want := bruteRoute(s, o)
		got := Route(context.Background(), s, o)
		if msg := compareBrute(got, want); msg != "" {
			t.Fatalf("instance %d: %s\nsnapshot: %+v\noptions: %+v", done, msg, s, o)
		}
		if got.Plan != nil {
			if exact := exactTotal(s, got.Plan); big.NewInt(int64(got.Plan.TotalCost)).Cmp(exact) != 0 {
				t.Fatalf("instance %d: total %d, exactly %s", done, got.Plan.TotalCost, exact)
			}
		}
	}
}

// bestOfAllSets is the cheapest plan of the group by exhaustion: every set
// of candidates, each at its exact cheapest cost (the flow and assignment
// searches, which do not multiply costs by quantities beyond a plan's cost).
func bestOfAllSets(p *problem) (money.Amount, bool) {
	var best money.Amount
	found := false
	for mask := 1; mask < 1<<len(p.act); mask++ {
		var U []int
		for b, i := range p.act {
			if mask&(1<<b) != 0 {
				U = append(U, i)
			}
		}
		c, feasible, _ := p.exactMin(U, newBudget(context.Background(), 0))
		if feasible && (!found || c < best) {
			best, found = c, true
		}
	}
	return best, found
}

// TestDualBoundAtTheBounds: the dual-ascent bound, which prunes the search
// and is reported as LowerBound when the budget runs out, never exceeds the
// cost of the best plan, also with quantities and costs at the top of the
// entry bounds. Raising a line's dual past sources that hold only part of it
// weighs the raise by the units they hold: a cost of up to 10^15 times up to
// 10^6 units, which wraps an int64.
func TestDualBoundAtTheBounds(t *testing.T) {
	// The smallest case: half the line at a free source, the rest only at
	// the dearest price. The best plan costs 500,000 × MaxUnitCost.
	s := Snapshot{
		Order:   Order{Status: "OPEN", PaymentStatus: "PAID", Country: "US", Lines: []Line{{ID: 1, SKU: "X", Unallocated: money.MaxQuantity}}},
		Sources: []Source{{ID: 1, Code: "A", Enabled: true}, {ID: 2, Code: "B", Enabled: true}},
		Inventory: []Stock{{SourceID: 1, SKU: "X", Available: money.MaxQuantity / 2, UnitCost: 0},
			{SourceID: 2, SKU: "X", Available: money.MaxQuantity, UnitCost: money.MaxUnitCost}},
		Groups: []Group{{ID: 1, IsDefault: true, Rules: []Rule{LowestCost}, AllowLineSplit: true,
			Members: []Member{{SourceID: 1, Priority: 1, Eligible: true}, {SourceID: 2, Priority: 1, Eligible: true}}}},
	}
	checkDual := func(t *testing.T, s Snapshot) {
		t.Helper()
		p := buildProblem(newWorld(s), &s.Groups[0])
		best, ok := bestOfAllSets(p)
		if !ok {
			return
		}
		st := make([]int8, len(p.cands))
		for _, i := range p.act {
			st[i] = stFree
		}
		if da := p.dualAscent(st); da.ok && da.base > best {
			t.Fatalf("dual bound %d above the best plan %d\nsnapshot %+v", da.base, best, s)
		}
		// With a tiny budget, the reported lower bound must still be one.
		d := Route(context.Background(), s, Options{MaxNodes: 3})
		if d.Plan != nil && d.GroupID == s.Groups[0].ID && d.Plan.LowerBound > best {
			t.Fatalf("LowerBound %d above the best plan %d\nsnapshot %+v", d.Plan.LowerBound, best, s)
		}
	}
	checkDual(t, s)

	// Random split instances at the bounds: a few sources holding parts of
	// lines of up to MaxQuantity units, at costs up to MaxUnitCost.
	r := rand.New(rand.NewSource(4242))
	for n := 0; n < 300; n++ {
		s := Snapshot{Order: Order{Status: "OPEN", PaymentStatus: "PAID", Country: "US"}}
		g := Group{ID: 1, IsDefault: true, Rules: []Rule{LowestCost}, AllowLineSplit: true}
		skus := []string{"A", "B", "C"}[:1+r.Intn(3)]
		for i := 1; i <= 2+r.Intn(4); i++ {
			s.Sources = append(s.Sources, Source{ID: i, Enabled: true,
				DropshipFee:         money.Amount(r.Int63n(int64(money.MaxUnitCost) + 1)),
				ShippingBaseCost:    money.Amount(r.Int63n(int64(money.MaxUnitCost)+1)) * money.Amount(r.Intn(2)),
				ShippingPerUnitCost: money.Amount(r.Int63n(int64(money.MaxUnitCost)+1)) * money.Amount(r.Intn(2))})
			g.Members = append(g.Members, Member{SourceID: i, Priority: 1, Eligible: true})
			for _, sku := range skus {
				s.Inventory = append(s.Inventory, Stock{SourceID: i, SKU: sku, Available: 1 + r.Intn(money.MaxQuantity),
					UnitCost: money.Amount(r.Int63n(int64(money.MaxUnitCost) + 1))})
			}
		}
		for l := 0; l < 1+r.Intn(4); l++ {
			s.Order.Lines = append(s.Order.Lines, Line{ID: l + 1, SKU: skus[r.Intn(len(skus))], Unallocated: 1 + r.Intn(money.MaxQuantity)})
		}
		s.Groups = []Group{g}
		checkDual(t, s)
	}
}
