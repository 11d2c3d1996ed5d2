package routing

import (
	"sort"

	"github.com/frsvc/fulfillment/internal/money"
)

// A plan "uses" a source only if the source ships something, so the best plan
// for a source set U is the cheapest assignment in which every source of U
// receives at least one unit (a lower bound of one per source). This file
// computes that cheapest cost for a set, and the next cost level above it.

const maxAmount = money.Amount(inf64)

// evalRes is what the engine knows about one source set.
type evalRes struct {
	feasible bool
	min      money.Amount // cheapest plan using exactly the set; valid when exact
	exact    bool
	// deficit: the cheapest assignment that may leave sources empty leaves
	// one empty. domOK: and every empty one has a non-negative fixed cost, so
	// the set of sources that assignment does use is at least as cheap, with
	// fewer sources.
	deficit, domOK bool
}

type l2Res struct {
	cost money.Amount
	ok   bool
}

// evalCache remembers set evaluations across the main search and the
// searches for eliminated alternatives, which meet many of the same sets.
type evalCache struct {
	p     *problem
	bud   *budget
	m     map[string]*evalRes
	l2    map[string]l2Res
	buf   []byte
	evals int
}

func newEvalCache(p *problem, bud *budget) *evalCache {
	return &evalCache{p: p, bud: bud, m: map[string]*evalRes{}, l2: map[string]l2Res{}}
}

func (c *evalCache) key(U []int) string {
	c.buf = c.buf[:0]
	for _, i := range U {
		c.buf = append(c.buf, byte(i), byte(i>>8), byte(i>>16))
	}
	return string(c.buf)
}

// get evaluates U (sorted). With allowDom, a dominated set may come back
// without its exact cost. ok is false if the budget ran out first.
func (c *evalCache) get(U []int, allowDom bool) (*evalRes, bool) {
	k := c.key(U)
	r := c.m[k]
	if r == nil {
		r = c.p.relaxed(U)
		c.m[k] = r
		c.evals++
	}
	if r.exact || allowDom && r.domOK {
		return r, true
	}
	min, feasible, ok := c.p.exactMin(U, c.bud)
	if !ok {
		return r, false
	}
	r.min, r.feasible, r.exact = min, feasible, true
	return r, true
}

// level2 is the cheapest cost above t among U's plans (t is U's cheapest).
func (c *evalCache) level2(U []int, t money.Amount) (money.Amount, bool, bool) {
	k := c.key(U) + "|" + itoa(int64(t))
	if r, ok := c.l2[k]; ok {
		return r.cost, r.ok, true
	}
	cost, found, ok := c.p.level2(U, t, c.bud)
	if !ok {
		return 0, false, false
	}
	c.l2[k] = l2Res{cost, found}
	return cost, found, true
}

func itoa(v int64) string {
	var b [24]byte
	i := len(b)
	neg := v < 0
	if neg {
		v = -v
	}
	for {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			break
		}
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}

// relaxed evaluates U ignoring the one-unit-per-source requirement, which is
// exact whenever the result happens to use every source.
func (p *problem) relaxed(U []int) *evalRes {
	r := &evalRes{exact: true}
	used := make([]bool, len(U))
	var cost money.Amount
	if p.split {
		f, v, ok := p.splitGreedy(U)
		if !ok {
			return r
		}
		cost = v
		for x, q := range f {
			if q > 0 {
				used[x%len(U)] = true
			}
		}
	} else {
		K := len(p.skus)
		load := make([]int, len(U)*K)
		conflict := false
		for j, l := range p.lines {
			bu, bc := -1, money.Amount(0)
			for u, i := range U {
				if p.canTake(i, j) {
					if c := p.c[i][l.sku].Mul(l.qty); bu < 0 || c < bc {
						bu, bc = u, c
					}
				}
			}
			if bu < 0 {
				return r // a line no source of U can take
			}
			used[bu] = true
			cost += bc
			load[bu*K+l.sku] += l.qty
			if load[bu*K+l.sku] > p.cap[U[bu]][l.sku] {
				conflict = true
			}
		}
		if conflict {
			r.feasible, r.exact = true, false // settled by exactMin
			return r
		}
	}
	r.feasible = true
	r.min = cost + p.fixedOf(U)
	for _, ok := range used {
		if !ok {
			r.deficit = true
			r.exact = false
		}
	}
	if r.deficit {
		r.domOK = true
		for u, ok := range used {
			if !ok && p.cands[U[u]].fixed < 0 {
				r.domOK = false
			}
		}
	}
	return r
}

// splitGreedy fills each SKU's demand from U's sources in order of unit cost
// (then ID): with linear costs and one demand per SKU this is optimal when
// sources may stay empty. f[k*len(U)+u] is SKU k's quantity at U[u]; f is
// scratch memory, valid until the next call (the search calls this for every
// set it evaluates, and allocating each time dominated its memory traffic).
func (p *problem) splitGreedy(U []int) ([]int, money.Amount, bool) {
	nU := len(U)
	if n := len(p.skus) * nU; cap(p.fbuf) < n {
		p.fbuf = make([]int, n)
	}
	f := p.fbuf[:len(p.skus)*nU]
	clear(f)
	var cost money.Amount
	ord := p.ord[:0]
	for k, d := range p.demand {
		rank := p.rank[k]
		ord = ord[:0]
		for u, i := range U {
			if p.cap[i][k] == 0 {
				continue
			}
			x := len(ord)
			ord = append(ord, u)
			for x > 0 && rank[U[ord[x-1]]] > rank[i] {
				ord[x] = ord[x-1]
				x--
			}
			ord[x] = u
		}
		for _, u := range ord {
			if d == 0 {
				break
			}
			q := min(d, p.cap[U[u]][k])
			f[k*nU+u] = q
			d -= q
			cost += p.c[U[u]][k].Mul(q)
		}
		if d > 0 {
			p.ord = ord
			return nil, 0, false
		}
	}
	p.ord = ord
	return f, cost, true
}

// exactMin is the cheapest plan in which every source of U ships something.
func (p *problem) exactMin(U []int, bud *budget) (money.Amount, bool, bool) {
	if p.split {
		c, feasible := p.splitExact(U)
		return c, feasible, true
	}
	ns := newNSSolver(p, U, bud, false)
	ns.run()
	if ns.aborted {
		return 0, false, false
	}
	return ns.best, ns.found, true
}

// splitExact starts from the greedy fill and, for each source left empty,
// sends one unit to it along a shortest augmenting path (Bellman-Ford: moving
// a unit away from a source has negative cost). Starting from a min-cost flow
// and augmenting along shortest paths keeps it min-cost at every step, which
// is successive shortest paths on this small network: SKU nodes, source nodes,
// T (units beyond a source's first) and Z (each source's first unit).
func (p *problem) splitExact(U []int) (money.Amount, bool) {
	f, cost, ok := p.splitGreedy(U)
	if !ok {
		return 0, false
	}
	K, nU := len(p.skus), len(U)
	tot := make([]int, nU)
	for x, q := range f {
		tot[x%nU] += q
	}
	z := make([]int, nU)     // first unit, 0 or 1
	overT := make([]int, nU) // units beyond the first
	missing := 0
	for u := range U {
		if tot[u] > 0 {
			z[u], overT[u] = 1, tot[u]-1
		} else {
			missing++
		}
	}
	if missing > p.qtySum-(nU-missing) {
		return 0, false
	}
	// Node numbering: SKU k → k, source u → K+u, T → K+nU, Z → K+nU+1.
	V := K + nU + 2
	T, Z := K+nU, K+nU+1
	dist := make([]int64, V)
	pred := make([]int, V)
	for ; missing > 0; missing-- {
		for v := range dist {
			dist[v], pred[v] = inf64, -1
		}
		dist[T] = 0
		for round := 0; round < V; round++ {
			changed := false
			relax := func(a, b int, c int64) {
				if dist[a] < inf64 && dist[a]+c < dist[b] {
					dist[b] = dist[a] + c
					pred[b] = a
					changed = true
				}
			}
			for u, i := range U {
				su := K + u
				if overT[u] > 0 {
					relax(T, su, 0)
				}
				for k := 0; k < K; k++ {
					c := int64(p.c[i][k])
					if f[k*nU+u] > 0 {
						relax(su, k, -c)
					}
					if f[k*nU+u] < p.cap[i][k] {
						relax(k, su, c)
					}
				}
				if z[u] == 0 {
					relax(su, Z, 0)
				}
			}
			if !changed {
				break
			}
		}
		if dist[Z] >= inf64 {
			return 0, false
		}
		cost += money.Amount(dist[Z])
		for v := Z; v != T; v = pred[v] {
			a := pred[v]
			switch {
			case v == Z: // a's first unit
				z[a-K] = 1
			case v < K: // source a gives up a unit of SKU v
				f[v*nU+a-K]--
			case a == T: // source v gives up a unit beyond its first
				overT[v-K]--
			default: // source v receives a unit of SKU a
				f[a*nU+v-K]++
			}
		}
	}
	return cost + p.fixedOf(U), true
}

// level2 returns the cheapest cost strictly above t among the plans that use
// exactly U (found=false if there is none). t must be U's cheapest cost.
func (p *problem) level2(U []int, t money.Amount, bud *budget) (cost money.Amount, found, ok bool) {
	if !p.split {
		ns := newNSSolver(p, U, bud, false)
		ns.lo, ns.hasLo = t, true
		ns.run()
		if ns.aborted {
			return 0, false, false
		}
		return ns.best, ns.found, true
	}
	sn := p.splitNet(U, nil)
	if !sn.g.solve(bud) {
		if bud.out || sn.g.tooBig {
			return 0, false, false
		}
		return 0, false, true
	}
	base := money.Amount(sn.g.total()) + p.fixedOf(U)
	if base > t {
		return base, true, true
	}
	d, has := sn.g.minPositiveCycle(bud)
	if bud.out {
		return 0, false, false
	}
	if !has {
		return 0, false, true
	}
	return base + money.Amount(d), true, true
}

// splitNetwork is the flow network of a source set with line nodes, used to
// build split plans: line l → (source, SKU) → source → T, with a lower bound
// of one unit on source → T. Lines whose SKU is on no other line go straight
// to the source (their capacity is on that edge).
type splitNetwork struct {
	g   *mcf
	pos [][]int // [line][position in U]: edge, or -1
}

// splitNet builds U's network; fixed, if not nil, pins quantities: fixed[l][u]
// ≥ 0 forces that quantity of line l onto U[u].
func (p *problem) splitNet(U []int, fixed [][]int) *splitNetwork {
	m, nU := len(p.lines), len(U)
	T := m + nU
	n := T + 1
	skNode := make([][]int, nU)
	for u, i := range U {
		skNode[u] = make([]int, len(p.skus))
		for k := range p.skus {
			skNode[u][k] = -1
			if len(p.skuLines[k]) > 1 && p.cap[i][k] > 0 {
				skNode[u][k] = n
				n++
			}
		}
	}
	g := newMCF(n)
	sn := &splitNetwork{g: g, pos: make([][]int, m)}
	for u, i := range U {
		for k := range p.skus {
			if w := skNode[u][k]; w >= 0 {
				g.addEdge(w, m+u, 0, p.cap[i][k], 0)
			}
		}
	}
	for l, ln := range p.lines {
		sn.pos[l] = make([]int, nU)
		for u, i := range U {
			sn.pos[l][u] = -1
			if !p.canTake(i, l) {
				continue
			}
			lo, hi := 0, ln.qty
			to := skNode[u][ln.sku]
			if to < 0 {
				to = m + u
				hi = min(hi, p.cap[i][ln.sku])
			}
			if fixed != nil && fixed[l][u] >= 0 {
				lo, hi = fixed[l][u], fixed[l][u]
			}
			sn.pos[l][u] = g.addEdge(l, to, lo, hi, int64(p.c[i][ln.sku]))
		}
		g.bal[l] += ln.qty
	}
	for u := range U {
		g.addEdge(m+u, T, 1, p.qtySum+1, 0)
	}
	g.bal[T] -= p.qtySum
	return sn
}

// nsSolver is the assignment search without line splitting: each line goes
// whole to one source of U, shared stock of a SKU must suffice, and every
// source of U must get a line. Depth-first with a bound: the cheapest option of
// every remaining line given the stock left, plus, for each source still
// empty, the least extra cost of moving some remaining line to it (distinct
// lines for distinct sources, so the sum is a valid bound).
type nsSolver struct {
	p      *problem
	U      []int
	bud    *budget
	canon  bool // find the first assignment in canonical order costing target
	limit  int  // step limit when canon (it runs after the budget is spent)
	steps  int
	target money.Amount
	lo     money.Amount // with hasLo: only plans costing more than lo count
	hasLo  bool

	order   []int
	opts    [][]nsOpt
	rem     [][]int // [u][sku]
	used    []int
	empty   int
	asg     []int
	fixed   money.Amount
	mins    []money.Amount
	found   bool
	aborted bool
	best    money.Amount
	bestAsg []int
}

type nsOpt struct {
	u    int
	cost money.Amount
}

func newNSSolver(p *problem, U []int, bud *budget, canon bool) *nsSolver {
	s := &nsSolver{p: p, U: U, bud: bud, canon: canon, limit: 1 << 24, fixed: p.fixedOf(U)}
	m := len(p.lines)
	s.opts = make([][]nsOpt, m)
	for j, l := range p.lines {
		for u, i := range U {
			if p.canTake(i, j) {
				s.opts[j] = append(s.opts[j], nsOpt{u, p.c[i][l.sku].Mul(l.qty)})
			}
		}
		if !canon {
			sort.SliceStable(s.opts[j], func(a, b int) bool { return s.opts[j][a].cost < s.opts[j][b].cost })
		}
	}
	s.order = make([]int, m)
	for j := range s.order {
		s.order[j] = j
	}
	if !canon {
		// Most constrained lines first: dead ends show up early.
		sort.SliceStable(s.order, func(a, b int) bool { return len(s.opts[s.order[a]]) < len(s.opts[s.order[b]]) })
	}
	s.rem = make([][]int, len(U))
	for u, i := range U {
		s.rem[u] = append([]int(nil), p.cap[i]...)
	}
	s.used = make([]int, len(U))
	s.empty = len(U)
	s.asg = make([]int, m)
	s.mins = make([]money.Amount, m)
	return s
}

func (s *nsSolver) run() {
	s.dfs(0, 0)
}

func (s *nsSolver) bound(d int) money.Amount {
	p := s.p
	var lb money.Amount
	for t := d; t < len(s.order); t++ {
		j := s.order[t]
		l := p.lines[j]
		m := maxAmount
		for _, o := range s.opts[j] {
			if s.rem[o.u][l.sku] >= l.qty && o.cost < m {
				m = o.cost
			}
		}
		if m == maxAmount {
			return maxAmount
		}
		s.mins[j] = m
		lb += m
	}
	if s.empty == 0 {
		return lb
	}
	if s.empty > len(s.order)-d {
		return maxAmount
	}
	for u, i := range s.U {
		if s.used[u] > 0 {
			continue
		}
		best := maxAmount
		for t := d; t < len(s.order); t++ {
			j := s.order[t]
			l := p.lines[j]
			if p.canTake(i, j) && s.rem[u][l.sku] >= l.qty {
				if x := p.c[i][l.sku].Mul(l.qty) - s.mins[j]; x < best {
					best = x
				}
			}
		}
		if best == maxAmount {
			return maxAmount
		}
		lb += best
	}
	return lb
}

func (s *nsSolver) dfs(d int, partial money.Amount) {
	if s.canon {
		s.steps++
		if s.steps > s.limit {
			s.aborted = true
			return
		}
	} else if !s.bud.step() {
		s.aborted = true
		return
	}
	if d == len(s.order) {
		if s.empty > 0 {
			return
		}
		c := partial + s.fixed
		if s.hasLo && c <= s.lo {
			return
		}
		if s.canon {
			if c == s.target {
				s.found = true
				s.bestAsg = append([]int(nil), s.asg...)
			}
			return
		}
		if !s.found || c < s.best {
			s.found, s.best = true, c
			s.bestAsg = append(s.bestAsg[:0], s.asg...)
		}
		return
	}
	lb := s.bound(d)
	if lb == maxAmount {
		return
	}
	tot := partial + lb + s.fixed
	if s.canon && tot > s.target || !s.canon && s.found && tot >= s.best {
		return
	}
	j := s.order[d]
	l := s.p.lines[j]
	for _, o := range s.opts[j] {
		if s.rem[o.u][l.sku] < l.qty {
			continue
		}
		s.rem[o.u][l.sku] -= l.qty
		s.used[o.u]++
		if s.used[o.u] == 1 {
			s.empty--
		}
		s.asg[j] = o.u
		s.dfs(d+1, partial+o.cost)
		s.used[o.u]--
		if s.used[o.u] == 0 {
			s.empty++
		}
		s.rem[o.u][l.sku] += l.qty
		if s.aborted || s.canon && s.found {
			return
		}
	}
}
