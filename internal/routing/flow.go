package routing

import "math"

// mcf is a small min-cost flow solver with lower bounds (successive shortest
// paths with potentials). It serves the split case when a plan is built: the
// cheapest assignment of a source set with at least one unit per source, the
// canonical assignment among the cheapest ones, and the next cost level above
// the cheapest. The networks are a few hundred nodes at most.
//
// Edges come in pairs e (forward) and e^1 (residual back edge). Lower bounds
// are folded into node balances, so after solving, the residual graph of the
// real edges describes exactly the feasible changes of the flow: a cycle in it
// keeps every balance and bound.
type mcf struct {
	n    int // real nodes; the super source and sink come after them
	adj  [][]int
	to   []int
	cap  []int
	cost []int64
	lo   []int  // per pair
	aux  []bool // per pair: an edge of the super source or sink
	bal  []int  // supply (>0) or demand (<0) per real node
	pot  []int64
	base int64 // Σ lower bound × cost
	// tooBig: solve stopped because a potential would have left
	// [−inf64, inf64]. Potentials are path lengths, which the range check
	// keeps far below that, except those of nodes the source no longer
	// reaches, which grow by the largest distance each round; stopping
	// there reports no flow rather than a wrapped one.
	tooBig bool
}

const inf64 = math.MaxInt64 / 4

func newMCF(n int) *mcf {
	return &mcf{n: n, adj: make([][]int, n+2), bal: make([]int, n+2)}
}

func (g *mcf) addEdge(u, v, lo, hi int, c int64) int {
	e := len(g.to)
	g.to = append(g.to, v, u)
	g.cap = append(g.cap, hi-lo, 0)
	g.cost = append(g.cost, c, -c)
	g.adj[u] = append(g.adj[u], e)
	g.adj[v] = append(g.adj[v], e+1)
	g.lo = append(g.lo, lo)
	g.aux = append(g.aux, false)
	g.bal[u] -= lo
	g.bal[v] += lo
	g.base += int64(lo) * c
	return e
}

func (g *mcf) from(e int) int  { return g.to[e^1] }
func (g *mcf) flow(e int) int  { return g.lo[e>>1] + g.cap[e^1] }
func (g *mcf) rc(e int) int64  { return g.cost[e] + g.pot[g.from(e)] - g.pot[g.to[e]] }
func (g *mcf) real(e int) bool { return !g.aux[e>>1] }

// solve finds a min-cost flow meeting every balance; false if none exists,
// or if the budget ran out or tooBig was set.
func (g *mcf) solve(bud *budget) bool {
	if bud != nil && !bud.step() {
		return false
	}
	S, T := g.n, g.n+1
	need := 0
	for v := 0; v < g.n; v++ {
		switch b := g.bal[v]; {
		case b > 0:
			g.aux[g.addEdge(S, v, 0, b, 0)>>1] = true
			need += b
		case b < 0:
			g.aux[g.addEdge(v, T, 0, -b, 0)>>1] = true
		}
	}
	N := g.n + 2
	// Initial potentials: shortest distances from a virtual root joined to
	// every node at cost 0 (Bellman-Ford; costs may be negative, cycles not).
	g.pot = make([]int64, N)
	for round := 0; round < N; round++ {
		changed := false
		for e := range g.to {
			if g.cap[e] > 0 {
				u, v := g.from(e), g.to[e]
				if d := g.pot[u] + g.cost[e]; d < g.pot[v] {
					g.pot[v] = d
					changed = true
				}
			}
		}
		if !changed {
			break
		}
	}
	dist := make([]int64, N)
	prev := make([]int, N)
	done := make([]bool, N)
	flowed := 0
	var h distHeap
	for flowed < need {
		for v := range dist {
			dist[v], prev[v], done[v] = inf64, -1, false
		}
		dist[S] = 0
		h = h[:0]
		h.push(heapItem{0, S})
		for len(h) > 0 {
			it := h.pop()
			u := it.v
			if done[u] {
				continue
			}
			done[u] = true
			for _, e := range g.adj[u] {
				if g.cap[e] == 0 {
					continue
				}
				v := g.to[e]
				if d := dist[u] + g.rc(e); d < dist[v] {
					dist[v] = d
					prev[v] = e
					h.push(heapItem{d, v})
				}
			}
		}
		if dist[T] >= inf64 {
			break
		}
		var maxd int64
		for v := range dist {
			if dist[v] < inf64 && dist[v] > maxd {
				maxd = dist[v]
			}
		}
		for v := range dist {
			d := dist[v]
			if d >= inf64 {
				d = maxd
			}
			if g.pot[v] > inf64-d {
				g.tooBig = true
				return false
			}
			g.pot[v] += d
		}
		f := need - flowed
		for v := T; v != S; v = g.from(prev[v]) {
			if c := g.cap[prev[v]]; c < f {
				f = c
			}
		}
		for v := T; v != S; v = g.from(prev[v]) {
			g.cap[prev[v]] -= f
			g.cap[prev[v]^1] += f
		}
		flowed += f
	}
	return flowed == need
}

// total is the cost of the current flow.
func (g *mcf) total() int64 {
	c := g.base
	for e := 0; e < len(g.to); e += 2 {
		c += g.cost[e] * int64(g.cap[e^1])
	}
	return c
}

// minPositiveCycle returns the smallest positive cost of a cycle in the
// residual graph of the real edges, after solve. With optimal potentials every
// residual edge has reduced cost ≥ 0 and a cycle costs the sum of its reduced
// costs, so a positive cycle contains an edge a with rc(a) > 0, and the
// cheapest one through a is rc(a) plus the shortest path back from a's head to
// its tail. Any flow dearer than the optimum differs from it by cycles of
// non-negative cost, one of them positive, so this is exactly the gap to the
// next cost level.
func (g *mcf) minPositiveCycle(bud *budget) (int64, bool) {
	best := int64(inf64)
	heads := map[int]bool{}
	var order []int
	for e := range g.to {
		if g.cap[e] > 0 && g.real(e) && g.rc(e) > 0 && !heads[g.to[e]] {
			heads[g.to[e]] = true
			order = append(order, g.to[e])
		}
	}
	N := g.n + 2
	dist := make([]int64, N)
	done := make([]bool, N)
	var h distHeap
	for _, src := range order {
		if bud != nil && !bud.step() {
			return 0, false
		}
		for v := range dist {
			dist[v], done[v] = inf64, false
		}
		dist[src] = 0
		h = h[:0]
		h.push(heapItem{0, src})
		for len(h) > 0 {
			it := h.pop()
			u := it.v
			if done[u] {
				continue
			}
			done[u] = true
			for _, e := range g.adj[u] {
				if g.cap[e] == 0 || !g.real(e) {
					continue
				}
				if d := dist[u] + g.rc(e); d < dist[g.to[e]] {
					dist[g.to[e]] = d
					h.push(heapItem{d, g.to[e]})
				}
			}
		}
		for e := range g.to {
			if g.to[e] == src && g.cap[e] > 0 && g.real(e) {
				if r := g.rc(e); r > 0 && dist[g.from(e)] < inf64 && r+dist[g.from(e)] < best {
					best = r + dist[g.from(e)]
				}
			}
		}
	}
	return best, best < inf64
}

// lexMax pushes, for each edge of pos in turn, as much flow as possible onto it
// without changing the cost and without changing the edges before it: it
// follows cycles of reduced cost 0 in the residual graph, which are exactly the
// moves between optimal flows. The result is the lexicographically largest
// optimal flow over pos. Edges are then frozen.
func (g *mcf) lexMax(pos []int) {
	frozen := make([]bool, len(g.lo))
	N := g.n + 2
	prev := make([]int, N)
	queue := make([]int, 0, N)
	for _, e := range pos {
		if e < 0 {
			continue
		}
		for g.cap[e] > 0 && g.rc(e) == 0 {
			// Path from head(e) back to tail(e).
			for v := range prev {
				prev[v] = -2
			}
			start, goal := g.to[e], g.from(e)
			prev[start] = -1
			queue = append(queue[:0], start)
			for qi := 0; qi < len(queue) && prev[goal] == -2; qi++ {
				u := queue[qi]
				for _, x := range g.adj[u] {
					if g.cap[x] == 0 || !g.real(x) || frozen[x>>1] || x>>1 == e>>1 || g.rc(x) != 0 {
						continue
					}
					if v := g.to[x]; prev[v] == -2 {
						prev[v] = x
						queue = append(queue, v)
					}
				}
			}
			if prev[goal] == -2 {
				break
			}
			f := g.cap[e]
			for v := goal; v != start; v = g.from(prev[v]) {
				if c := g.cap[prev[v]]; c < f {
					f = c
				}
			}
			for v := goal; v != start; v = g.from(prev[v]) {
				g.cap[prev[v]] -= f
				g.cap[prev[v]^1] += f
			}
			g.cap[e] -= f
			g.cap[e^1] += f
		}
		frozen[e>>1] = true
	}
}

type heapItem struct {
	d int64
	v int
}

// distHeap is a binary min-heap; container/heap's interface calls cost more
// than the work here.
type distHeap []heapItem

func (h *distHeap) push(x heapItem) {
	*h = append(*h, x)
	a := *h
	i := len(a) - 1
	for i > 0 {
		p := (i - 1) / 2
		if a[p].d <= a[i].d {
			break
		}
		a[p], a[i] = a[i], a[p]
		i = p
	}
}

func (h *distHeap) pop() heapItem {
	a := *h
	top := a[0]
	n := len(a) - 1
	a[0] = a[n]
	a = a[:n]
	i := 0
	for {
		l, r, m := 2*i+1, 2*i+2, i
		if l < n && a[l].d < a[m].d {
			m = l
		}
		if r < n && a[r].d < a[m].d {
			m = r
		}
		if m == i {
			break
		}
		a[m], a[i] = a[i], a[m]
		i = m
	}
	*h = a
	return top
}
