package routing

import (
	"context"
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/frsvc/fulfillment/internal/money"
)

// The brute force below enumerates every feasible plan of every group and
// applies the rules literally, as filters over that list, the way DOMAIN.md
// words them. It shares no code with the engine beyond the public types.

type bfCand struct {
	id, prio int
	src      Source
}

type bfPlan struct {
	x     [][]int // [routed line][candidate]
	cost  money.Amount
	ids   []int // used source IDs, ascending
	prios []int // their priorities, ascending
}

type bfElim struct {
	rule Rule
	plan *bfPlan
	diff money.Amount
}

type bfGroup struct {
	id    int
	rows  map[int]int // line ID → row of bfPlan.x
	cands []bfCand
	codes []string // "CODE" or "CODE:SKU"
	plan  *bfPlan
	elim  []bfElim
}

type bfResult struct {
	codes   []string
	groups  []bfGroup
	groupID int
}

type bfLine struct {
	id  int
	sku string
	qty int
}

func bruteRoute(s Snapshot, o Options) bfResult {
	var res bfResult
	switch s.Order.Status {
	case "ON_HOLD":
		res.codes = append(res.codes, CodeOrderOnHold)
	case "CANCELED":
		res.codes = append(res.codes, CodeOrderCanceled)
	case "CLOSED":
		res.codes = append(res.codes, CodeOrderClosed)
	}
	if s.Order.PaymentStatus != "PAID" && s.Order.PaymentStatus != "DEFERRED" {
		res.codes = append(res.codes, CodeOrderNotPaid)
	}
	var lines []bfLine
	for _, l := range s.Order.Lines {
		if l.Unallocated > 0 {
			lines = append(lines, bfLine{l.ID, l.SKU, l.Unallocated})
		}
	}
	if len(lines) == 0 {
		res.codes = append(res.codes, CodeNothingToRoute)
	}
	srcByID := map[int]Source{}
	for _, x := range s.Sources {
		srcByID[x.ID] = x
	}
	avail := map[string]int{}
	unit := map[string]money.Amount{}
	carried := map[string]bool{}
	for _, st := range s.Inventory {
		if _, ok := srcByID[st.SourceID]; !ok {
			continue
		}
		k := fmt.Sprint(st.SourceID, "/", st.SKU)
		avail[k] += max(st.Available, 0)
		if u, ok := unit[k]; !ok || st.UnitCost > u {
			unit[k] = st.UnitCost
		}
		carried[st.SKU] = true
	}
	seen := map[string]bool{}
	for _, l := range lines {
		if !carried[l.sku] && !seen[l.sku] {
			seen[l.sku] = true
			res.codes = append(res.codes, CodeSKUNotManaged+":"+l.sku)
		}
	}
	if len(res.codes) > 0 {
		return res
	}
	var groups []Group
	if o.GroupID != 0 {
		for _, g := range s.Groups {
			if g.ID == o.GroupID {
				groups = append(groups, g)
			}
		}
	} else {
		for _, def := range []bool{false, true} {
			var part []Group
			for _, g := range s.Groups {
				if g.IsDefault != def {
					continue
				}
				ok := len(g.ShipToCountries) == 0
				for _, c := range g.ShipToCountries {
					ok = ok || strings.EqualFold(c, s.Order.Country)
				}
				if ok {
					part = append(part, g)
				}
			}
			sort.Slice(part, func(a, b int) bool {
				if part[a].Position != part[b].Position {
					return part[a].Position < part[b].Position
				}
				return part[a].ID < part[b].ID
			})
			groups = append(groups, part...)
		}
	}
	if len(groups) == 0 {
		res.codes = []string{CodeNoRoutingGroup}
		return res
	}
	for _, g := range groups {
		bg := bruteGroup(s, g, lines, srcByID, avail, unit)
		res.groups = append(res.groups, bg)
		if bg.plan != nil {
			res.groupID = g.ID
			return res
		}
	}
	for _, g := range res.groups {
		res.codes = append(res.codes, g.codes...)
	}
	return res
}

func bruteGroup(s Snapshot, g Group, lines []bfLine, srcByID map[int]Source, avail map[string]int, unit map[string]money.Amount) bfGroup {
	bg := bfGroup{id: g.ID, rows: map[int]int{}}
	for row, l := range lines {
		bg.rows[l.id] = row
	}
	best := map[int]*Member{}
	for x := range g.Members {
		m := g.Members[x]
		b := best[m.SourceID]
		if b == nil || m.Eligible && !b.Eligible || m.Eligible == b.Eligible && m.Priority < b.Priority {
			best[m.SourceID] = &m
		}
	}
	for id, m := range best {
		src, ok := srcByID[id]
		if !ok || !m.Eligible || !src.Enabled {
			continue
		}
		ships := len(src.ShipsTo) == 0
		for _, c := range src.ShipsTo {
			ships = ships || strings.EqualFold(c, s.Order.Country)
		}
		if ships {
			bg.cands = append(bg.cands, bfCand{id, m.Priority, src})
		}
	}
	sort.Slice(bg.cands, func(a, b int) bool { return bg.cands[a].id < bg.cands[b].id })
	if len(bg.cands) == 0 {
		bg.codes = []string{CodeNoEligibleSource}
		return bg
	}
	plans := enumeratePlans(bg.cands, lines, g.AllowLineSplit, avail, unit)
	if len(plans) == 0 {
		var skus []string
		seen := map[string]bool{}
		for _, l := range lines {
			if !seen[l.sku] {
				seen[l.sku] = true
				skus = append(skus, l.sku)
			}
		}
		for _, sku := range skus {
			var only []bfLine
			for _, l := range lines {
				if l.sku == sku {
					only = append(only, l)
				}
			}
			if len(enumeratePlans(bg.cands, only, g.AllowLineSplit, avail, unit)) == 0 {
				bg.codes = append(bg.codes, CodeOutOfStock+":"+sku)
			}
		}
		return bg
	}
	surv := plans
	type removal struct {
		at      int
		removed []*bfPlan
	}
	var removals []removal
	for i, r := range g.Rules {
		var next []*bfPlan
		switch r {
		case SingleRequestRequired, SingleRequestPreferred:
			for _, p := range surv {
				if len(p.ids) == 1 {
					next = append(next, p)
				}
			}
			if len(next) == 0 {
				if r == SingleRequestRequired {
					bg.codes = []string{CodeSingleSourceUnavailable}
					return bg
				}
				next = surv
			}
		case FewestRequests, LowestCost, SourcePriority:
			bestP := surv[0]
			for _, p := range surv {
				if ruleCmp(r, p, bestP) < 0 {
					bestP = p
				}
			}
			for _, p := range surv {
				if ruleCmp(r, p, bestP) == 0 {
					next = append(next, p)
				}
			}
		default:
			next = surv
		}
		if len(next) < len(surv) {
			keep := map[*bfPlan]bool{}
			for _, p := range next {
				keep[p] = true
			}
			var rem []*bfPlan
			for _, p := range surv {
				if !keep[p] {
					rem = append(rem, p)
				}
			}
			removals = append(removals, removal{i, rem})
		}
		surv = next
	}
	bg.plan = bruteBest(surv, nil)
	for _, rm := range removals {
		alt := bruteBest(rm.removed, g.Rules[rm.at+1:])
		bg.elim = append(bg.elim, bfElim{g.Rules[rm.at], alt, alt.cost - bg.plan.cost})
	}
	return bg
}

func ruleCmp(r Rule, a, b *bfPlan) int {
	switch r {
	case SingleRequestRequired, SingleRequestPreferred:
		return bfCmpInt(bfSingle(a), bfSingle(b))
	case FewestRequests:
		return bfCmpInt(len(a.ids), len(b.ids))
	case LowestCost:
		return bfCmpInt(int(a.cost), int(b.cost))
	case SourcePriority:
		return bfCmpList(a.prios, b.prios)
	}
	return 0
}

func bfSingle(p *bfPlan) int {
	if len(p.ids) == 1 {
		return 0
	}
	return 1
}

func bfCmpInt(a, b int) int {
	if a < b {
		return -1
	}
	if a > b {
		return 1
	}
	return 0
}

func bfCmpList(a, b []int) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if c := bfCmpInt(a[i], b[i]); c != 0 {
			return c
		}
	}
	return bfCmpInt(len(a), len(b))
}

// bruteLess orders plans by the given rules, then the documented tie-breaks.
func bruteLess(a, b *bfPlan, rules []Rule) bool {
	for _, r := range rules {
		if c := ruleCmp(r, a, b); c != 0 {
			return c < 0
		}
	}
	for _, r := range []Rule{FewestRequests, LowestCost, SourcePriority} {
		if c := ruleCmp(r, a, b); c != 0 {
			return c < 0
		}
	}
	if c := bfCmpList(a.ids, b.ids); c != 0 {
		return c < 0
	}
	for l := range a.x {
		for c := range a.x[l] {
			if a.x[l][c] != b.x[l][c] {
				return a.x[l][c] > b.x[l][c]
			}
		}
	}
	return false
}

func bruteBest(ps []*bfPlan, rules []Rule) *bfPlan {
	best := ps[0]
	for _, p := range ps[1:] {
		if bruteLess(p, best, rules) {
			best = p
		}
	}
	return best
}

// enumeratePlans lists every assignment of the lines' quantities to the
// candidates within stock, each as a plan with its cost.
func enumeratePlans(cands []bfCand, lines []bfLine, split bool, avail map[string]int, unit map[string]money.Amount) []*bfPlan {
	// Stock and prices per (candidate, line); lines of one SKU share a
	// stock counter.
	left := map[string]*int{}
	stock := make([][]*int, len(cands))
	price := make([][]money.Amount, len(cands))
	for c, cd := range cands {
		stock[c] = make([]*int, len(lines))
		price[c] = make([]money.Amount, len(lines))
		for l, ln := range lines {
			k := fmt.Sprint(cd.id, "/", ln.sku)
			if left[k] == nil {
				v := avail[k]
				left[k] = &v
			}
			stock[c][l] = left[k]
			price[c][l] = unit[k]
		}
	}
	x := make([][]int, len(lines))
	for l := range x {
		x[l] = make([]int, len(cands))
	}
	var out []*bfPlan
	var line func(l int)
	var part func(l, c, rem int)
	line = func(l int) {
		if l == len(lines) {
			out = append(out, brutePlan(cands, price, x))
			return
		}
		if split {
			part(l, 0, lines[l].qty)
			return
		}
		for c := range cands {
			if st := stock[c][l]; *st >= lines[l].qty {
				*st -= lines[l].qty
				x[l][c] = lines[l].qty
				line(l + 1)
				x[l][c] = 0
				*st += lines[l].qty
			}
		}
	}
	part = func(l, c, rem int) {
		if c == len(cands) {
			if rem == 0 {
				line(l + 1)
			}
			return
		}
		st := stock[c][l]
		for q := 0; q <= rem && q <= *st; q++ {
			*st -= q
			x[l][c] = q
			part(l, c+1, rem-q)
			x[l][c] = 0
			*st += q
		}
	}
	line(0)
	return out
}

func brutePlan(cands []bfCand, price [][]money.Amount, x [][]int) *bfPlan {
	p := &bfPlan{x: make([][]int, len(x))}
	for l := range x {
		p.x[l] = append([]int(nil), x[l]...)
	}
	for c, cd := range cands {
		units := 0
		for l := range x {
			if q := x[l][c]; q > 0 {
				units += q
				p.cost += price[c][l].Mul(q)
			}
		}
		if units > 0 {
			p.cost += cd.src.DropshipFee + cd.src.ShippingBaseCost + cd.src.ShippingPerUnitCost.Mul(units)
			p.ids = append(p.ids, cd.id)
			p.prios = append(p.prios, cd.prio)
		}
	}
	sort.Ints(p.prios)
	return p
}

// randomSnapshot makes a small instance; the caller keeps only those whose
// plans can be enumerated quickly.
func randomSnapshot(r *rand.Rand) (Snapshot, Options) {
	var s Snapshot
	amounts := func(n int, step money.Amount) money.Amount { return money.Amount(r.Intn(n)) * step }
	nSrc := 1 + r.Intn(6)
	if nSrc == 1 && r.Intn(2) == 0 {
		nSrc = 2 + r.Intn(5)
	}
	ids := r.Perm(40)[:nSrc]
	for _, id := range ids {
		src := Source{ID: id + 1, Code: fmt.Sprintf("S%d", id+1), Enabled: r.Intn(12) > 0,
			DropshipFee: amounts(3, 5000), ShippingBaseCost: amounts(4, 5000), ShippingPerUnitCost: amounts(3, 2500)}
		switch r.Intn(8) {
		case 0:
			src.ShipsTo = []string{"US"}
		case 1:
			src.ShipsTo = []string{"CA"}
		case 2:
			src.ShipsTo = []string{"CA", "us"}
		}
		if r.Intn(30) == 0 {
			src.DropshipFee = -5000 // odd data must still be handled exactly
		}
		s.Sources = append(s.Sources, src)
	}
	skus := []string{"A", "B", "C", "D"}[:1+r.Intn(4)]
	stockRange := 12 // plenty: mostly single-source plans
	if r.Intn(2) == 0 {
		stockRange = 7 // scarce: several sources needed
	}
	for _, src := range s.Sources {
		for _, sku := range skus {
			if r.Intn(8) == 0 {
				continue
			}
			s.Inventory = append(s.Inventory, Stock{SourceID: src.ID, SKU: sku, Available: r.Intn(stockRange) - 1,
				UnitCost: money.Amount(1+r.Intn(4)) * 10000})
			if r.Intn(25) == 0 {
				s.Inventory = append(s.Inventory, Stock{SourceID: src.ID, SKU: sku, Available: r.Intn(3),
					UnitCost: money.Amount(1+r.Intn(4)) * 10000})
			}
		}
	}
	if r.Intn(40) == 0 {
		s.Inventory = append(s.Inventory, Stock{SourceID: 999, SKU: "Z", Available: 5})
	}
	nLines := 1 + r.Intn(6)
	for l := 0; l < nLines; l++ {
		q := 1 + r.Intn(3)
		if r.Intn(12) == 0 {
			q = 0
		}
		sku := skus[r.Intn(len(skus))]
		if r.Intn(60) == 0 {
			sku = "UNKNOWN"
		}
		s.Order.Lines = append(s.Order.Lines, Line{ID: 100 + l, SKU: sku, Unallocated: q})
	}
	s.Order.Country = "US"
	if r.Intn(10) == 0 {
		s.Order.Country = "CA"
	}
	s.Order.Status = "OPEN"
	if r.Intn(40) == 0 {
		s.Order.Status = []string{"ON_HOLD", "CANCELED", "CLOSED"}[r.Intn(3)]
	}
	s.Order.PaymentStatus = "PAID"
	switch r.Intn(20) {
	case 0, 1, 2:
		s.Order.PaymentStatus = "DEFERRED"
	case 3:
		s.Order.PaymentStatus = "PENDING"
	}
	all := []Rule{SingleRequestRequired, SingleRequestPreferred, FewestRequests, LowestCost, SourcePriority}
	nGroups := 1 + r.Intn(3)
	for gi := 0; gi < nGroups; gi++ {
		g := Group{ID: 10 + gi*7 + r.Intn(5), Name: fmt.Sprintf("G%d", gi), Position: r.Intn(3),
			IsDefault: gi == 0, AllowLineSplit: r.Intn(2) == 0}
		perm := r.Perm(len(all))
		n := r.Intn(len(all) + 1)
		if r.Intn(3) == 0 && n > 0 {
			// SINGLE_REQUEST_REQUIRED as a rule is rare and very
			// restrictive; keep most groups routable.
			perm = perm[:n]
		}
		for _, x := range perm[:n] {
			if all[x] == SingleRequestRequired && r.Intn(3) > 0 {
				continue
			}
			g.Rules = append(g.Rules, all[x])
		}
		if len(g.Rules) > 0 && r.Intn(6) == 0 {
			g.Rules = append(g.Rules, g.Rules[r.Intn(len(g.Rules))])
		}
		if r.Intn(40) == 0 {
			g.Rules = append(g.Rules, Rule("CHEAPEST_FIRST"))
		}
		switch r.Intn(10) {
		case 0, 1:
			g.ShipToCountries = []string{"US"}
		case 2:
			g.ShipToCountries = []string{"CA"}
		}
		for _, src := range s.Sources {
			if r.Intn(6) == 0 {
				continue
			}
			g.Members = append(g.Members, Member{SourceID: src.ID, Priority: 1 + r.Intn(4), Eligible: r.Intn(10) > 0})
			if r.Intn(30) == 0 {
				g.Members = append(g.Members, Member{SourceID: src.ID, Priority: 1 + r.Intn(4), Eligible: r.Intn(2) == 0})
			}
		}
		s.Groups = append(s.Groups, g)
	}
	var o Options
	switch r.Intn(30) {
	case 0, 1:
		o.GroupID = s.Groups[r.Intn(len(s.Groups))].ID
	case 2:
		o.GroupID = 999
	}
	return s, o
}

// focusedSnapshot makes a small instance that always reaches the search:
// one or two groups whose sources all ship to the order, tight stock, shared
// SKUs, cheap ties and rules in random order, SOURCE_PRIORITY included often.
func focusedSnapshot(r *rand.Rand) (Snapshot, Options) {
	var s Snapshot
	s.Order = Order{Status: "OPEN", PaymentStatus: "PAID", Country: "US"}
	nSrc := 2 + r.Intn(5)
	skus := []string{"A", "B", "C"}[:1+r.Intn(3)]
	for x, id := range r.Perm(30)[:nSrc] {
		src := Source{ID: id + 1, Enabled: true, DropshipFee: money.Amount(r.Intn(3)) * 5000,
			ShippingBaseCost: money.Amount(r.Intn(3)) * 5000, ShippingPerUnitCost: money.Amount(r.Intn(2)) * 5000}
		if x == 0 && r.Intn(10) == 0 {
			src.ShippingBaseCost = -10000
		}
		s.Sources = append(s.Sources, src)
		for _, sku := range skus {
			if r.Intn(5) > 0 {
				s.Inventory = append(s.Inventory, Stock{SourceID: id + 1, SKU: sku, Available: r.Intn(7),
					UnitCost: money.Amount(1+r.Intn(3)) * 10000})
			}
		}
	}
	for l := 0; l < 2+r.Intn(4); l++ {
		s.Order.Lines = append(s.Order.Lines, Line{ID: 100 + l, SKU: skus[r.Intn(len(skus))], Unallocated: 1 + r.Intn(3)})
	}
	all := []Rule{SingleRequestPreferred, FewestRequests, LowestCost, SourcePriority, SourcePriority, SingleRequestRequired}
	for gi := 0; gi < 1+r.Intn(2); gi++ {
		g := Group{ID: gi + 1, Position: gi, IsDefault: gi == 1, AllowLineSplit: r.Intn(2) == 0}
		for _, x := range r.Perm(len(all))[:r.Intn(4)] {
			if all[x] != SingleRequestRequired || r.Intn(4) == 0 {
				g.Rules = append(g.Rules, all[x])
			}
		}
		for _, src := range s.Sources {
			g.Members = append(g.Members, Member{SourceID: src.ID, Priority: 1 + r.Intn(3), Eligible: r.Intn(12) > 0})
		}
		s.Groups = append(s.Groups, g)
	}
	return s, Options{}
}

// enumerationSize bounds the number of assignments the brute force visits:
// per line, the members that have enough of its SKU.
func enumerationSize(s Snapshot) int {
	avail := map[string]int{}
	for _, st := range s.Inventory {
		avail[fmt.Sprint(st.SourceID, "/", st.SKU)] += max(st.Available, 0)
	}
	total := 0
	for _, g := range s.Groups {
		size := 1
		for _, l := range s.Order.Lines {
			if l.Unallocated <= 0 {
				continue
			}
			n := 0
			for _, m := range g.Members {
				if a := avail[fmt.Sprint(m.SourceID, "/", l.SKU)]; a >= l.Unallocated || g.AllowLineSplit && a > 0 {
					n++
				}
			}
			ways := n
			if g.AllowLineSplit {
				ways = binom(l.Unallocated+n-1, n-1)
			}
			size *= max(ways, 1)
			if size > 1<<30 {
				return size
			}
		}
		total += size
	}
	return total
}

func binom(n, k int) int {
	if k < 0 || k > n {
		return 0
	}
	r := 1
	for i := 1; i <= k; i++ {
		r = r * (n - k + i) / i
	}
	return r
}

// propertyInstances is the number of random instances the property test
// checks; -short checks a tenth of them.
const propertyInstances = 10000

func TestMatchesBruteForce(t *testing.T) {
	n := propertyInstances
	if testing.Short() {
		n /= 10
	}
	r := rand.New(rand.NewSource(20240611))
	start := time.Now()
	stats := map[string]int{}
	for done := 0; done < n; {
		s, o := randomSnapshot(r)
		if done%2 == 1 {
			s, o = focusedSnapshot(r)
		}
		if enumerationSize(s) > 50000 {
			continue
		}
		done++
		want := bruteRoute(s, o)
		got := Route(context.Background(), s, o)
		if msg := compareBrute(got, want); msg != "" {
			t.Fatalf("instance %d: %s\nsnapshot: %+v\noptions: %+v", done, msg, s, o)
		}
		switch {
		case got.CanRoute && len(got.Plan.Requests) > 1:
			stats["routed, several sources"]++
		case got.CanRoute:
			stats["routed, one source"]++
		default:
			stats["blocked: "+got.Roadblocks[0].Code]++
		}
		for _, ev := range got.Groups {
			stats["eliminated entries"] += len(ev.Eliminated)
		}
	}
	t.Logf("%d instances match the brute force in %v (%v)", n, time.Since(start).Round(time.Millisecond), stats)
}

func compareBrute(got Decision, want bfResult) string {
	var codes []string
	for _, rb := range got.Roadblocks {
		codes = append(codes, codeOf(rb))
	}
	if fmt.Sprint(codes) != fmt.Sprint(want.codes) {
		return fmt.Sprintf("roadblocks %v, want %v (%+v)", codes, want.codes, got.Roadblocks)
	}
	if got.CanRoute != (want.groupID != 0) || got.GroupID != want.groupID {
		return fmt.Sprintf("routed to group %d (%v), want %d", got.GroupID, got.CanRoute, want.groupID)
	}
	if len(got.Groups) != len(want.groups) {
		return fmt.Sprintf("%d groups tried, want %d", len(got.Groups), len(want.groups))
	}
	for x, ev := range got.Groups {
		wg := want.groups[x]
		if ev.GroupID != wg.id {
			return fmt.Sprintf("group #%d is %d, want %d", x, ev.GroupID, wg.id)
		}
		var gc []string
		for _, rb := range ev.Roadblocks {
			gc = append(gc, codeOf(rb))
		}
		if fmt.Sprint(gc) != fmt.Sprint(wg.codes) {
			return fmt.Sprintf("group %d roadblocks %v, want %v", wg.id, gc, wg.codes)
		}
		if (ev.Plan == nil) != (wg.plan == nil) {
			return fmt.Sprintf("group %d plan %v, want %v", wg.id, ev.Plan != nil, wg.plan != nil)
		}
		if ev.Plan == nil {
			continue
		}
		if msg := samePlan(ev.Plan, wg.plan, wg); msg != "" {
			return fmt.Sprintf("group %d chosen plan: %s", wg.id, msg)
		}
		if !ev.Plan.Optimal || ev.Plan.LowerBound != ev.Plan.TotalCost {
			return fmt.Sprintf("group %d plan not proven optimal without a budget", wg.id)
		}
		if len(ev.Eliminated) != len(wg.elim) {
			return fmt.Sprintf("group %d: %d eliminated entries %v, want %d %v", wg.id, len(ev.Eliminated), elimRules(ev.Eliminated), len(wg.elim), wg.elim)
		}
		for y, e := range ev.Eliminated {
			we := wg.elim[y]
			if e.Rule != we.rule || e.CostDifference != we.diff {
				return fmt.Sprintf("group %d eliminated #%d: %s %v, want %s %v", wg.id, y, e.Rule, e.CostDifference, we.rule, we.diff)
			}
			if msg := samePlan(&e.Plan, we.plan, wg); msg != "" {
				return fmt.Sprintf("group %d eliminated #%d (%s): %s", wg.id, y, e.Rule, msg)
			}
		}
	}
	return ""
}

func elimRules(es []Elimination) []Rule {
	var out []Rule
	for _, e := range es {
		out = append(out, e.Rule)
	}
	return out
}

func codeOf(rb Roadblock) string {
	if rb.SKU != "" && rb.Code != CodeLineSplit {
		return rb.Code + ":" + rb.SKU
	}
	return rb.Code
}

// samePlan compares an engine plan with a brute-force one, quantity by
// quantity, and checks the engine's cost breakdown adds up.
func samePlan(p *Plan, w *bfPlan, g bfGroup) string {
	cands := g.cands
	col := map[int]int{}
	for c, cd := range cands {
		col[cd.id] = c
	}
	x := make([][]int, len(w.x))
	for l := range x {
		x[l] = make([]int, len(cands))
	}
	var sum money.Amount
	for _, rq := range p.Requests {
		c, ok := col[rq.SourceID]
		if !ok {
			return fmt.Sprintf("source %d is not a candidate", rq.SourceID)
		}
		var items money.Amount
		for _, it := range rq.Items {
			x[g.rows[it.LineID]][c] += it.Quantity
			items += it.UnitCost.Mul(it.Quantity)
		}
		if items != rq.ItemCost || rq.ItemCost+rq.DropshipFee+rq.ShippingCost != rq.TotalCost {
			return fmt.Sprintf("request %d costs do not add up: %+v", rq.SourceID, rq)
		}
		sum += rq.TotalCost
	}
	if sum != p.TotalCost {
		return fmt.Sprintf("total %v, requests add up to %v", p.TotalCost, sum)
	}
	if p.TotalCost != w.cost || fmt.Sprint(x) != fmt.Sprint(w.x) {
		return fmt.Sprintf("got %v cost %v, want %v cost %v", x, p.TotalCost, w.x, w.cost)
	}
	return ""
}

// TestTinyBudget cuts the search short with a deterministic node budget: the
// answer must still be a valid plan, never claimed optimal without proof, and
// its LowerBound must really be a lower bound on the best plan's cost.
func TestTinyBudget(t *testing.T) {
	r := rand.New(rand.NewSource(7))
	cut, checked := 0, 0
	for checked < 600 {
		s, _ := focusedSnapshot(r)
		if enumerationSize(s) > 50000 {
			continue
		}
		rules := [][]Rule{{LowestCost}, nil, {SourcePriority}, {FewestRequests, LowestCost}}[checked%4]
		for x := range s.Groups {
			s.Groups[x].Rules = rules
		}
		want := bruteRoute(s, Options{})
		if want.groupID == 0 {
			continue
		}
		checked++
		var best *bfPlan
		for _, g := range want.groups {
			if g.plan != nil {
				best = g.plan
			}
		}
		for _, maxNodes := range []int{1, 2, 3, 5, 8, 13, 40} {
			d := Route(context.Background(), s, Options{MaxNodes: maxNodes})
			if d.Plan == nil {
				t.Fatalf("MaxNodes %d: no plan: %+v", maxNodes, d.Roadblocks)
			}
			checkPlanInvariants(t, s, d)
			wg := want.groups[len(want.groups)-1]
			ev := d.Groups[len(d.Groups)-1]
			for _, e := range ev.Eliminated {
				for _, we := range wg.elim {
					if we.rule != e.Rule {
						continue
					}
					if e.Plan.Optimal {
						if msg := samePlan(&e.Plan, we.plan, wg); msg != "" {
							t.Fatalf("MaxNodes %d: eliminated %s claims optimal but %s", maxNodes, e.Rule, msg)
						}
					} else if e.Plan.LowerBound > we.plan.cost {
						t.Fatalf("MaxNodes %d: eliminated %s lower bound %v above %v", maxNodes, e.Rule, e.Plan.LowerBound, we.plan.cost)
					}
				}
			}
			if d.Plan.Optimal {
				if d.GroupID != want.groupID {
					t.Fatalf("MaxNodes %d: optimal plan in group %d, want %d", maxNodes, d.GroupID, want.groupID)
				}
				if msg := samePlan(d.Plan, wg.plan, wg); msg != "" {
					t.Fatalf("MaxNodes %d: claims optimal but %s", maxNodes, msg)
				}
				continue
			}
			cut++
			if d.GroupID == want.groupID && d.Plan.LowerBound > best.cost {
				t.Fatalf("MaxNodes %d: lower bound %v above the best plan's cost %v", maxNodes, d.Plan.LowerBound, best.cost)
			}
			if d.Plan.LowerBound > d.Plan.TotalCost {
				t.Fatalf("MaxNodes %d: lower bound %v above the plan's own cost %v", maxNodes, d.Plan.LowerBound, d.Plan.TotalCost)
			}
			if rules != nil && rules[0] == LowestCost && d.GroupID == want.groupID && d.Plan.TotalCost < best.cost {
				t.Fatalf("MaxNodes %d: cost %v below the optimum %v", maxNodes, d.Plan.TotalCost, best.cost)
			}
		}
	}
	if cut == 0 {
		t.Fatal("no search was cut short; the test proves nothing")
	}
	t.Logf("%d instances, %d answers cut short by the node budget", checked, cut)
}

// checkPlanInvariants: the decision is consistent, and its plans (chosen
// and eliminated) cover every line exactly, within stock.
func checkPlanInvariants(t *testing.T, s Snapshot, d Decision) {
	t.Helper()
	if d.CanRoute != (d.Plan != nil) || d.CanRoute == (len(d.Roadblocks) > 0) {
		t.Fatalf("CanRoute %v, plan %v, roadblocks %v", d.CanRoute, d.Plan != nil, d.Roadblocks)
	}
	if d.Plan == nil {
		return
	}
	checkPlan(t, s, d.Plan)
	for _, ev := range d.Groups {
		for _, e := range ev.Eliminated {
			checkPlan(t, s, &e.Plan)
			if e.CostDifference != e.Plan.TotalCost-d.Plan.TotalCost {
				t.Fatalf("cost difference %v", e.CostDifference)
			}
		}
	}
}

func checkPlan(t *testing.T, s Snapshot, p *Plan) {
	t.Helper()
	if p.LowerBound > p.TotalCost || p.Optimal && p.LowerBound != p.TotalCost {
		t.Fatalf("lower bound %v, cost %v, optimal %v", p.LowerBound, p.TotalCost, p.Optimal)
	}
	for x := 1; x < len(p.Requests); x++ {
		if p.Requests[x-1].SourceID >= p.Requests[x].SourceID {
			t.Fatalf("requests not sorted by source ID")
		}
	}
	avail := map[string]int{}
	for _, st := range s.Inventory {
		avail[fmt.Sprint(st.SourceID, "/", st.SKU)] += max(st.Available, 0)
	}
	got := map[int]int{}
	var total money.Amount
	for _, rq := range p.Requests {
		var items money.Amount
		for _, it := range rq.Items {
			got[it.LineID] += it.Quantity
			avail[fmt.Sprint(rq.SourceID, "/", it.SKU)] -= it.Quantity
			items += it.UnitCost.Mul(it.Quantity)
			if it.Quantity <= 0 {
				t.Fatalf("item with quantity %d", it.Quantity)
			}
		}
		if len(rq.Items) == 0 || items != rq.ItemCost || rq.ItemCost+rq.DropshipFee+rq.ShippingCost != rq.TotalCost {
			t.Fatalf("request %+v does not add up", rq)
		}
		total += rq.TotalCost
	}
	if total != p.TotalCost {
		t.Fatalf("plan total %v, requests %v", p.TotalCost, total)
	}
	for k, v := range avail {
		if v < 0 {
			t.Fatalf("stock %s overdrawn by %d", k, -v)
		}
	}
	want := map[int]int{} // line IDs may repeat in fuzzed input
	for _, l := range s.Order.Lines {
		want[l.ID] += max(l.Unallocated, 0)
	}
	for _, l := range s.Order.Lines {
		if got[l.ID] != want[l.ID] {
			t.Fatalf("line %d gets %d, wants %d", l.ID, got[l.ID], want[l.ID])
		}
	}
}
