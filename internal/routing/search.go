package routing

import (
	"sort"

	"github.com/frsvc/fulfillment/internal/money"
)

// searcher finds the source set whose best plan has the smallest key under
// order, among the sets that satisfy cons. It is a depth-first branch and
// bound over the candidates: each node fixes some candidates open (in every set
// below it), some closed, and leaves the rest free. A node stands for the sets
// O ∪ A, A ⊆ free. The set O itself is evaluated when the node is entered;
// what is left are the strict supersets of O, bounded as a family.
//
// For a family the search bounds every key component at once (the number of
// sources, the single-source flag, the cost, the priority and ID lists) and
// compares the bounds lexicographically with the best key so far: if the
// bound is larger, no set in the family can win. Bounds are computed lazily
// in key order, so a search led by FEWEST_REQUESTS rarely computes a cost
// bound. Three refinements do most of the work:
//
//   - sets with at least two extra sources get their own bound; when it fails
//     to beat the incumbent only O ∪ {i} remain and are enumerated directly
//     (this is what makes a search led by the number of sources fast);
//   - "fixing": a free source whose forced inclusion already loses is closed
//     for the whole subtree, using the dual-ascent slack as its extra cost;
//   - a good incumbent early: before the search, single sources, the sources
//     the cheapest relaxed assignment uses and a drop/add local search; at
//     each node of a cost-led search, the sources the dual solution has no
//     slack left for.
type searcher struct {
	p         *problem
	order     []comp
	lead      comp
	cons      cons
	bud       *budget
	cache     *evalCache
	dominance bool
	maxSrc    int

	have    bool
	best    setKey
	bestSet []int

	st     []int8
	O      []int
	covO   []int
	covAll []int

	cut      bool // the budget ran out: the result is not proven
	havePend bool
	pendO    []int
	pendFree []int
	nodes    int
}

func newSearcher(p *problem, order []comp, c cons, bud *budget, cache *evalCache) *searcher {
	s := &searcher{p: p, order: order, cons: c, bud: bud, cache: cache, lead: compIDs}
	for _, x := range order {
		if x != compInd {
			s.lead = x
			break
		}
	}
	// A set whose cheapest relaxed assignment leaves a source empty is beaten
	// by the set of sources that assignment uses (no more cost, fewer
	// sources) unless the priority list, which can prefer a larger set, comes
	// before the number of sources. Constrained searches cannot use this: the
	// smaller set may break a constraint.
	if c.eq == 0 && c.gt == compNone {
		in, ip := -1, -1
		for x, cp := range order {
			switch cp {
			case compN:
				in = x
			case compPrio:
				ip = x
			}
		}
		s.dominance = in >= 0 && (ip < 0 || in < ip)
	}
	s.maxSrc = p.qtySum
	if !p.split {
		s.maxSrc = len(p.lines)
	}
	return s
}

// nodeData caches what a node computes lazily.
type nodeData struct {
	free   []int
	daDone bool
	da     daRes
	s1, s2 money.Amount // smallest and second smallest slack among free
	byPrio []int        // free sorted by (priority, index)
}

func (s *searcher) run() {
	p := s.p
	s.st = make([]int8, len(p.cands))
	s.covO = make([]int, len(p.covNeed))
	s.covAll = make([]int, len(p.covNeed))
	for _, i := range p.act {
		s.st[i] = stFree
		for x, v := range p.cov[i] {
			s.covAll[x] += v
		}
	}
	if !s.bud.out {
		s.heuristics()
	}
	if s.bud.out {
		s.cut = true
		s.pend(nil, p.act)
		return
	}
	if s.node(append([]int(nil), p.act...), false) {
		s.cut = true
	}
}

// pend records the family left unexplored when the budget ran out. Unwinding
// overwrites it on the way up wherever a node still had a branch to explore,
// so it ends as the shallowest such node, whose family contains all others.
func (s *searcher) pend(O, free []int) {
	s.havePend = true
	s.pendO = append(s.pendO[:0], O...)
	s.pendFree = append(s.pendFree[:0], free...)
}

// lowerBound is a proven lower bound on the cost of the best set's plan
// (see Plan.LowerBound).
func (s *searcher) lowerBound() money.Amount {
	if !s.cut {
		return s.best.cost
	}
	lb := maxAmount
	if s.havePend {
		st := make([]int8, len(s.p.cands))
		for _, i := range s.pendO {
			st[i] = stOpen
		}
		for _, i := range s.pendFree {
			st[i] = stFree
		}
		if da := s.p.dualAscent(st); da.ok {
			lb = da.base
			if s.cons.gt == compCost && lb <= s.cons.ref.cost {
				lb = s.cons.ref.cost + 1
			}
		}
	}
	if s.have && s.best.cost < lb {
		lb = s.best.cost
	}
	return lb
}

func (s *searcher) heuristics() {
	p := s.p
	for _, i := range p.act {
		if p.singleOK(i) {
			s.consider([]int{i})
		}
	}
	// Everything, then the sources the cheapest relaxed assignment uses.
	used := map[int]bool{}
	if p.split {
		if f, _, ok := p.splitGreedy(p.act); ok {
			for x, q := range f {
				if q > 0 {
					used[p.act[x%len(p.act)]] = true
				}
			}
		}
	} else {
		for j := range p.lines {
			if len(p.opts[j]) > 0 {
				used[p.opts[j][0].i] = true
			}
		}
	}
	s.consider(setOf(used))
	if s.lead == compPrio {
		// Most preferred sources first, until they cover the order.
		byPrio := append([]int(nil), p.act...)
		sort.SliceStable(byPrio, func(a, b int) bool { return p.cands[byPrio[a]].prio < p.cands[byPrio[b]].prio })
		cov := make([]int, len(p.covNeed))
		var U []int
		for _, i := range byPrio {
			U = append(U, i)
			for x, v := range p.cov[i] {
				cov[x] += v
			}
			if covered(cov, p.covNeed) {
				break
			}
		}
		sort.Ints(U)
		s.consider(U)
	}
	if s.cons.eq == 0 && s.cons.gt == compNone {
		s.localSearch()
	}
}

// localSearch improves the incumbent by dropping or adding one source at a
// time (first improvement) until none helps or its allowance of
// evaluations is spent. A good incumbent early is what lets the bounds prune.
func (s *searcher) localSearch() {
	p := s.p
	allowance := 4*len(p.act) + 20
	try := func(U []int) bool {
		allowance--
		before := s.bestSet
		s.consider(U)
		return len(s.bestSet) != len(before) || len(before) > 0 && &s.bestSet[0] != &before[0]
	}
	for s.have && allowance > 0 && !s.bud.out {
		cur := s.bestSet
		in := make(map[int]bool, len(cur))
		for _, i := range cur {
			in[i] = true
		}
		improved := false
		for x := 0; x < len(cur) && len(cur) > 1 && !improved; x++ {
			improved = try(without(cur, x))
		}
		for _, i := range p.act {
			if improved || allowance <= 0 {
				break
			}
			if !in[i] {
				improved = try(withOne(cur, i))
			}
		}
		if !improved {
			return
		}
	}
}

func without(U []int, x int) []int {
	return append(append(make([]int, 0, len(U)-1), U[:x]...), U[x+1:]...)
}

func withOne(U []int, i int) []int {
	out := make([]int, 0, len(U)+1)
	for _, x := range U {
		if i >= 0 && i < x {
			out = append(out, i)
			i = -1
		}
		out = append(out, x)
	}
	if i >= 0 {
		out = append(out, i)
	}
	return out
}

func setOf(m map[int]bool) []int {
	U := make([]int, 0, len(m))
	for i := range m {
		U = append(U, i)
	}
	sort.Ints(U)
	return U
}

func covered(cov, need []int) bool {
	for x, n := range need {
		if cov[x] < n {
			return false
		}
	}
	return true
}

// consider evaluates the set U (sorted) and makes it the incumbent if it
// satisfies the constraints and beats the current one. It reports false if
// the budget ran out before U was settled.
func (s *searcher) consider(U []int) bool {
	if len(U) == 0 || len(U) > s.maxSrc {
		return true
	}
	k := s.p.keyOf(U)
	if !s.cons.setOK(&k) {
		return true
	}
	if s.have && s.worseBeforeCost(&k) {
		return true
	}
	r, ok := s.cache.get(U, s.dominance)
	if !ok {
		return false
	}
	if !r.feasible || !r.exact {
		return true // infeasible, or dominated by a smaller set
	}
	cost := r.min
	if s.cons.gt == compCost && cost <= s.cons.ref.cost {
		l2, found, ok := s.cache.level2(U, r.min)
		if !ok {
			return false
		}
		if !found || l2 <= s.cons.ref.cost {
			return true
		}
		cost = l2
	}
	if s.cons.eq.has(compCost) && cost != s.cons.ref.cost {
		return true
	}
	k.cost = cost
	if !s.have || cmpKey(&k, &s.best, s.order) < 0 {
		s.have, s.best, s.bestSet = true, k, k.ids
	}
	return true
}

func (s *searcher) worseBeforeCost(k *setKey) bool {
	for _, c := range s.order {
		if c == compCost {
			return false
		}
		if d := cmpComp(c, k, &s.best); d != 0 {
			return d > 0
		}
	}
	return false
}

func (s *searcher) open(i int) {
	s.st[i] = stOpen
	s.O = append(s.O, i)
	for x, v := range s.p.cov[i] {
		s.covO[x] += v
	}
}

func (s *searcher) unopen(i int) {
	s.st[i] = stFree
	s.O = s.O[:len(s.O)-1]
	for x, v := range s.p.cov[i] {
		s.covO[x] -= v
	}
}

func (s *searcher) close(i int) {
	s.st[i] = stClosed
	for x, v := range s.p.cov[i] {
		s.covAll[x] -= v
	}
}

func (s *searcher) unclose(i int) {
	s.st[i] = stFree
	for x, v := range s.p.cov[i] {
		s.covAll[x] += v
	}
}

func (s *searcher) sortedO(extra int) []int {
	U := append([]int(nil), s.O...)
	if extra >= 0 {
		U = append(U, extra)
	}
	sort.Ints(U)
	return U
}

// node explores the family (O, free); it reports true if the budget ran out.
func (s *searcher) node(free []int, evalO bool) bool {
	if !s.bud.step() {
		s.pend(s.O, free)
		return true
	}
	s.nodes++
	if evalO && !s.consider(s.sortedO(-1)) {
		s.pend(s.O, free)
		return true
	}
	if len(free) == 0 || !covered(s.covAll, s.p.covNeed) {
		return false
	}
	nd := &nodeData{free: free}
	var closed []int
	defer func() {
		for x := len(closed) - 1; x >= 0; x-- {
			s.unclose(closed[x])
		}
	}()
	for iter := 0; ; iter++ {
		if s.lead == compCost {
			s.primal(nd)
		}
		if s.prune(nd, -1, 1) {
			return false
		}
		if s.prune(nd, -1, 2) {
			// Only O ∪ {i} can still win.
			for x, i := range nd.free {
				if x > 0 && !s.bud.step() {
					s.pend(s.O, nd.free[x:])
					return true
				}
				if s.prune(nd, i, 0) {
					continue
				}
				if !s.consider(s.sortedO(i)) {
					s.pend(s.O, nd.free[x:])
					return true
				}
			}
			return false
		}
		if iter == 2 {
			break
		}
		var kept, drop []int
		for _, i := range nd.free {
			if s.prune(nd, i, 0) {
				drop = append(drop, i)
			} else {
				kept = append(kept, i)
			}
		}
		if len(drop) == 0 {
			break
		}
		for _, i := range drop {
			s.close(i)
			closed = append(closed, i)
		}
		if len(kept) == 0 || !covered(s.covAll, s.p.covNeed) {
			return false
		}
		nd = &nodeData{free: kept}
	}
	i := s.branchOn(nd)
	rest := make([]int, 0, len(nd.free)-1)
	for _, x := range nd.free {
		if x != i {
			rest = append(rest, x)
		}
	}
	s.open(i)
	ab := s.node(rest, true)
	s.unopen(i)
	if ab {
		s.pend(s.O, nd.free)
		return true
	}
	s.close(i)
	ab = s.node(rest, false)
	s.unclose(i)
	return ab
}

func (s *searcher) daOf(nd *nodeData) *daRes {
	if !nd.daDone {
		nd.daDone = true
		nd.da = s.p.dualAscent(s.st)
		nd.s1, nd.s2 = maxAmount, maxAmount
		if nd.da.ok {
			for _, i := range nd.free {
				switch sl := nd.da.slack[i]; {
				case sl < nd.s1:
					nd.s1, nd.s2 = sl, nd.s1
				case sl < nd.s2:
					nd.s2 = sl
				}
			}
		}
	}
	return &nd.da
}

// primal tries the set the dual solution suggests: the open sources and the
// free ones without slack, each line at its cheapest; then the sources that
// actually get a line.
func (s *searcher) primal(nd *nodeData) {
	da := s.daOf(nd)
	if !da.ok {
		return
	}
	p := s.p
	used := map[int]bool{}
	if p.split {
		// Stock matters: fill greedily from the suggested sources.
		var H []int
		for i, st := range s.st {
			if st == stOpen || st == stFree && da.slack[i] == 0 {
				H = append(H, i)
			}
		}
		f, _, ok := p.splitGreedy(H)
		if !ok {
			return
		}
		for x, q := range f {
			if q > 0 {
				used[H[x%len(H)]] = true
			}
		}
	} else {
		for j := range p.lines {
			for _, o := range p.opts[j] {
				if st := s.st[o.i]; st == stOpen || st == stFree && da.slack[o.i] == 0 {
					used[o.i] = true
					break
				}
			}
		}
	}
	s.consider(setOf(used))
}

// prune reports whether no set of a family can satisfy the constraints and
// beat the incumbent. The family is O plus forced (if ≥ 0) plus at least e
// more of the node's other free candidates.
func (s *searcher) prune(nd *nodeData, forced, e int) bool {
	base, nfree := len(s.O), len(nd.free)
	if forced >= 0 {
		base++
		nfree--
	}
	nmax := base + nfree
	covers := s.baseCovers(forced)
	need := e
	if !covers && need < 1 {
		need = 1
	}
	nmin := max(base+need, 1)
	if nmin > nmax || nmin > s.maxSrc {
		return true
	}
	if c := &s.cons; c.eq != 0 || c.gt != compNone {
		if c.eq.has(compN) && (nmin > c.ref.n || nmax < c.ref.n) {
			return true
		}
		if c.eq.has(compInd) && (c.ref.ind == 0 && nmin >= 2 || c.ref.ind == 1 && nmax < 2) {
			return true
		}
		if c.gt == compInd && (nmax < 2 || c.ref.ind == 1) || c.gt == compN && nmax <= c.ref.n {
			return true
		}
		if c.eq.has(compPrio) && (!s.prioFits(forced) || cmpVec(s.prioLB(nd, forced, e), c.ref.prio) > 0) {
			return true
		}
		if c.eq.has(compCost) && s.costLB(nd, forced, e) > c.ref.cost {
			return true
		}
	}
	if !s.have {
		return false
	}
	for _, cp := range s.order {
		var d int
		switch cp {
		case compInd:
			d = cmpInt(min(nmin-1, 1), s.best.ind)
		case compN:
			d = cmpInt(nmin, s.best.n)
			if d < 0 && !covers {
				x := s.extraNeeded(nd, forced)
				if x < 0 {
					return true
				}
				d = cmpInt(base+max(e, x), s.best.n)
			}
		case compCost:
			d = cmpAmt(s.costLB(nd, forced, e), s.best.cost)
		case compPrio:
			d = cmpVec(s.prioLB(nd, forced, e), s.best.prio)
		case compIDs:
			d = cmpVec(s.idsLB(nd, forced, e), s.best.ids)
		}
		if d != 0 {
			return d > 0
		}
	}
	return false
}

func (s *searcher) baseCovers(forced int) bool {
	need := s.p.covNeed
	for x, v := range s.covO {
		if forced >= 0 {
			v += s.p.cov[forced][x]
		}
		if v < need[x] {
			return false
		}
	}
	return true
}

// extraNeeded bounds how many more sources the family needs to cover what the
// base leaves uncovered: each uncovered SKU (or line) needs a source that has
// some of it, and no source helps with more than the best one does. -1: the
// free sources cannot cover it at all.
func (s *searcher) extraNeeded(nd *nodeData, forced int) int {
	p := s.p
	var unc []int
	for x, v := range s.covO {
		if forced >= 0 {
			v += p.cov[forced][x]
		}
		if v < p.covNeed[x] {
			unc = append(unc, x)
		}
	}
	if len(unc) == 0 {
		return 0
	}
	best := 0
	hit := make([]bool, len(unc))
	for _, i := range nd.free {
		if i == forced {
			continue
		}
		n := 0
		for y, x := range unc {
			if p.cov[i][x] > 0 {
				n++
				hit[y] = true
			}
		}
		best = max(best, n)
	}
	for _, h := range hit {
		if !h {
			return -1
		}
	}
	return (len(unc) + best - 1) / best
}

func (s *searcher) costLB(nd *nodeData, forced, e int) money.Amount {
	da := s.daOf(nd)
	if !da.ok {
		return maxAmount
	}
	lb := da.base
	if forced >= 0 {
		lb += da.slack[forced]
	}
	switch {
	case e >= 2 && nd.s2 < maxAmount:
		lb += nd.s1 + nd.s2
	case e >= 1 && nd.s1 < maxAmount:
		lb += nd.s1
	}
	if s.cons.gt == compCost && lb <= s.cons.ref.cost {
		lb = s.cons.ref.cost + 1
	}
	return lb
}

// prioFits: the priorities of the base are a sub-multiset of the required list.
func (s *searcher) prioFits(forced int) bool {
	b := s.basePrios(forced)
	ref := s.cons.ref.prio
	j := 0
	for _, x := range b {
		for j < len(ref) && ref[j] < x {
			j++
		}
		if j == len(ref) || ref[j] != x {
			return false
		}
		j++
	}
	return true
}

func (s *searcher) basePrios(forced int) []int {
	b := make([]int, 0, len(s.O)+1)
	for _, i := range s.O {
		b = append(b, s.p.cands[i].prio)
	}
	if forced >= 0 {
		b = append(b, s.p.cands[forced].prio)
	}
	sort.Ints(b)
	return b
}

// prioLB is the smallest priority list any set of the family can have: adding
// a source with a priority below the base's largest makes a list smaller,
// adding any other makes it larger (the base is then a proper prefix). So the
// minimum adds every free source below the base's maximum, or, when at least
// one must be added and none is below, the smallest free one.
func (s *searcher) prioLB(nd *nodeData, forced, e int) []int {
	p := s.p
	if nd.byPrio == nil {
		nd.byPrio = append([]int(nil), nd.free...)
		sort.Slice(nd.byPrio, func(a, b int) bool {
			x, y := nd.byPrio[a], nd.byPrio[b]
			if p.cands[x].prio != p.cands[y].prio {
				return p.cands[x].prio < p.cands[y].prio
			}
			return x < y
		})
	}
	base := s.basePrios(forced)
	return extendLB(base, nd.byPrio, forced, e, func(i int) int { return p.cands[i].prio })
}

// idsLB is prioLB for the list of candidate indices (ID order).
func (s *searcher) idsLB(nd *nodeData, forced, e int) []int {
	base := s.sortedO(forced)
	return extendLB(base, nd.free, forced, e, func(i int) int { return i })
}

// extendLB: base sorted, free sorted by val.
func extendLB(base, free []int, forced, e int, val func(int) int) []int {
	out := base
	added := false
	if len(base) == 0 {
		for _, i := range free {
			if i != forced {
				return []int{val(i)}
			}
		}
		return nil
	}
	mx := base[len(base)-1]
	for _, i := range free {
		if i == forced {
			continue
		}
		v := val(i)
		if v >= mx {
			if e >= 1 && !added {
				out = append(out, v)
				added = true
			}
			break
		}
		out = append(out, v)
		added = true
	}
	sort.Ints(out)
	return out
}

// branchOn picks the free candidate to branch on (included first), to reach a
// good incumbent early under the key's leading component.
func (s *searcher) branchOn(nd *nodeData) int {
	p := s.p
	switch s.lead {
	case compPrio:
		best := nd.free[0]
		for _, i := range nd.free {
			if p.cands[i].prio < p.cands[best].prio || p.cands[i].prio == p.cands[best].prio && i < best {
				best = i
			}
		}
		return best
	case compIDs:
		best := nd.free[0]
		for _, i := range nd.free {
			best = min(best, i)
		}
		return best
	case compN, compInd:
		if !covered(s.covO, p.covNeed) {
			best, bestN := -1, -1
			for _, i := range nd.free {
				n := 0
				for x, v := range s.covO {
					if v < p.covNeed[x] {
						n += min(p.cov[i][x], p.covNeed[x]-v)
					}
				}
				if n > bestN {
					best, bestN = i, n
				}
			}
			return best
		}
	}
	// Cost: the source the dual relies on most (largest total of
	// max(0, v_j − c_ij)), then the least slack.
	da := s.daOf(nd)
	if !da.ok {
		return nd.free[0]
	}
	score := make(map[int]money.Amount, len(nd.free))
	for j := range p.lines {
		for _, o := range p.opts[j] {
			if o.cost >= da.v[j] {
				break
			}
			if s.st[o.i] == stFree {
				score[o.i] += da.v[j] - o.cost
			}
		}
	}
	best := nd.free[0]
	for _, i := range nd.free[1:] {
		switch {
		case score[i] > score[best]:
			best = i
		case score[i] == score[best] && (da.slack[i] < da.slack[best] || da.slack[i] == da.slack[best] && i < best):
			best = i
		}
	}
	return best
}
