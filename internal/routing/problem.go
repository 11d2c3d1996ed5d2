package routing

import (
	"fmt"
	"sort"
	"strings"

	"github.com/frsvc/fulfillment/internal/money"
)

// problem is one group's routing problem in dense form: the lines to route,
// the SKUs they need, and the candidate sources sorted by ID (so that candidate
// index order is ID order).
type problem struct {
	w        *world
	group    *Group
	split    bool
	lines    []pline
	skus     []string
	demand   []int   // per SKU
	skuLines [][]int // per SKU, line indices
	cands    []cand
	cap      [][]int          // [cand][sku] available
	uc       [][]money.Amount // [cand][sku] unit cost
	c        [][]money.Amount // [cand][sku] unit cost + per-unit shipping
	act      []int            // candidates that can receive something
	opts     [][]lineOpt      // per line: candidates that can take it, by (cost, index)
	// Coverage, used for the "sources still needed" bound: with splitting,
	// per SKU (a source contributes its stock); without, per line (a source
	// contributes 1 if it can take the whole line).
	cov     [][]int // [cand][item]
	covNeed []int
	qtySum  int
	rank    [][]int // [sku][cand]: position by (unit cost + shipping, ID)
	ord     []int   // scratch for splitGreedy
	fbuf    []int   // scratch for splitGreedy
	// excluded are the members that would be candidates but for
	// regenerate's excludeSource, by ID.
	excluded []*Source
	// rangeErr is set when a cost of the group does not fit the engine's
	// range (see range.go); the problem is then not searched.
	rangeErr *rangeError
}

type pline struct {
	idx int // index into Order.Lines
	id  int
	sku int
	qty int
}

type cand struct {
	id      int
	prio    int
	src     *Source
	fixed   money.Amount // dropship fee + shipping base cost
	perUnit money.Amount
}

type lineOpt struct {
	cost money.Amount // the whole line at this candidate
	i    int
}

func buildProblem(w *world, g *Group) *problem {
	p := &problem{w: w, group: g, split: g.AllowLineSplit}
	skuIdx := map[string]int{}
	for i, l := range w.order.Lines {
		if l.Unallocated <= 0 {
			continue
		}
		k, ok := skuIdx[l.SKU]
		if !ok {
			k = len(p.skus)
			skuIdx[l.SKU] = k
			p.skus = append(p.skus, l.SKU)
			p.demand = append(p.demand, 0)
			p.skuLines = append(p.skuLines, nil)
		}
		p.skuLines[k] = append(p.skuLines[k], len(p.lines))
		p.lines = append(p.lines, pline{idx: i, id: l.ID, sku: k, qty: l.Unallocated})
		p.demand[k] += l.Unallocated
		p.qtySum += l.Unallocated
	}

	// Members, merged per source.
	type mem struct {
		prio     int
		eligible bool
	}
	mems := map[int]*mem{}
	var ids []int
	for _, m := range g.Members {
		x, ok := mems[m.SourceID]
		if !ok {
			x = &mem{prio: m.Priority, eligible: m.Eligible}
			mems[m.SourceID] = x
			ids = append(ids, m.SourceID)
			continue
		}
		switch {
		case m.Eligible && !x.eligible:
			x.prio, x.eligible = m.Priority, true
		case m.Eligible == x.eligible && m.Priority < x.prio:
			x.prio = m.Priority
		}
	}
	sort.Ints(ids)
	for _, id := range ids {
		m := mems[id]
		src := w.sources[id]
		if !m.eligible || src == nil || !src.Enabled {
			continue
		}
		if len(src.ShipsTo) > 0 && !hasCountry(src.ShipsTo, w.order.Country) {
			continue
		}
		if src.Excluded {
			p.excluded = append(p.excluded, src)
			continue
		}
		fixed, ok := money.Add(src.DropshipFee, src.ShippingBaseCost)
		if !ok {
			p.outOfRange("", id, "The fees of source %s (dropship fee %s, shipping base cost %s) add up past what routing can hold.",
				sourceLabel(src), src.DropshipFee, src.ShippingBaseCost)
		}
		p.cands = append(p.cands, cand{id: id, prio: m.prio, src: src, fixed: fixed, perUnit: src.ShippingPerUnitCost})
	}

	K := len(p.skus)
	for i, cd := range p.cands {
		p.cap = append(p.cap, make([]int, K))
		p.uc = append(p.uc, make([]money.Amount, K))
		p.c = append(p.c, make([]money.Amount, K))
		for k, sku := range p.skus {
			if st, ok := w.stock[stockKey{cd.id, sku}]; ok {
				p.cap[i][k] = st.Available
				p.uc[i][k] = st.UnitCost
			}
			c, ok := money.Add(p.uc[i][k], cd.perUnit)
			if !ok && p.cap[i][k] > 0 {
				p.outOfRange(sku, cd.id, "SKU %s at source %s costs %s a unit plus %s shipping a unit: more than routing can hold.",
					sku, sourceLabel(cd.src), p.uc[i][k], cd.perUnit)
			}
			p.c[i][k] = c
		}
	}
	p.opts = make([][]lineOpt, len(p.lines))
	for j, l := range p.lines {
		for i := range p.cands {
			if p.canTake(i, j) {
				c, ok := money.MulChecked(p.c[i][l.sku], l.qty)
				if !ok {
					p.outOfRange(p.skus[l.sku], p.cands[i].id, "Line %d (SKU %s, %d units) at source %s, %s a unit with shipping, costs more than routing can add up exactly (at most %s a group).",
						l.id, p.skus[l.sku], l.qty, sourceLabel(p.cands[i].src), p.c[i][l.sku], MaxCost)
				}
				p.opts[j] = append(p.opts[j], lineOpt{c, i})
			}
		}
		sort.Slice(p.opts[j], func(a, b int) bool {
			x, y := p.opts[j][a], p.opts[j][b]
			if x.cost != y.cost {
				return x.cost < y.cost
			}
			return x.i < y.i
		})
	}
	if p.checkRange(); p.rangeErr != nil {
		return p
	}
	p.rank = make([][]int, K)
	byCost := make([]int, len(p.cands))
	for k := range p.skus {
		for i := range byCost {
			byCost[i] = i
		}
		sort.SliceStable(byCost, func(a, b int) bool { return p.c[byCost[a]][k] < p.c[byCost[b]][k] })
		p.rank[k] = make([]int, len(p.cands))
		for r, i := range byCost {
			p.rank[k][i] = r
		}
	}
	if p.split {
		p.covNeed = p.demand
	} else {
		p.covNeed = make([]int, len(p.lines))
		for j := range p.covNeed {
			p.covNeed[j] = 1
		}
	}
	for i := range p.cands {
		row := make([]int, len(p.covNeed))
		any := false
		for x := range row {
			if p.split {
				row[x] = p.cap[i][x]
			} else if p.canTake(i, x) {
				row[x] = 1
			}
			any = any || row[x] > 0
		}
		p.cov = append(p.cov, row)
		if any {
			p.act = append(p.act, i)
		}
	}
	return p
}

// canTake: can candidate i ship (part of, when splitting) line j?
func (p *problem) canTake(i, j int) bool {
	l := p.lines[j]
	if p.split {
		return p.cap[i][l.sku] > 0
	}
	return p.cap[i][l.sku] >= l.qty
}

func (p *problem) fixedOf(U []int) money.Amount {
	var f money.Amount
	for _, i := range U {
		f += p.cands[i].fixed
	}
	return f
}

// keyOf returns a set's key without its cost.
func (p *problem) keyOf(U []int) setKey {
	k := setKey{n: len(U), ind: 1, ids: append([]int(nil), U...)}
	if len(U) == 1 {
		k.ind = 0
	}
	k.prio = make([]int, len(U))
	for x, i := range U {
		k.prio[x] = p.cands[i].prio
	}
	sort.Ints(k.prio)
	return k
}

// singleOK: can candidate i ship the whole order alone?
func (p *problem) singleOK(i int) bool {
	for k, d := range p.demand {
		if p.cap[i][k] < d {
			return false
		}
	}
	return true
}

// outOfStock returns one roadblock per SKU that the group's candidates cannot
// cover, and, when every SKU can be covered, one feasible assignment (line →
// candidate) for the no-split case, which the search keeps as a last resort.
func (p *problem) outOfStock() ([]Roadblock, []int) {
	var rb []Roadblock
	var fallback []int
	noFallback := false
	if !p.split {
		fallback = make([]int, len(p.lines))
	}
	label := groupLabel(p.group)
	for k, sku := range p.skus {
		total, best := 0, 0
		for i := range p.cands {
			total += p.cap[i][k]
			if p.cap[i][k] > best {
				best = p.cap[i][k]
			}
		}
		d := p.demand[k]
		r := Roadblock{Code: CodeOutOfStock, SKU: sku, GroupID: p.group.ID}
		switch {
		case total == 0:
			r.Message = fmt.Sprintf("No source of %s has SKU %s in stock: %d needed.", label, sku, d)
		case p.split && total < d:
			r.Message = fmt.Sprintf("Not enough of SKU %s in %s: %d needed, %d available across its sources.", sku, label, d, total)
		case p.split:
			continue
		default:
			need := 0
			for _, j := range p.skuLines[k] {
				if q := p.lines[j].qty; q > need {
					need = q
				}
			}
			if need > best {
				r.Message = fmt.Sprintf("No source has enough of SKU %s: %d needed, at most %d at one source (%s does not split lines).", sku, need, best, label)
				break
			}
			if asg, ok := p.pack(k); ok {
				if asg == nil {
					noFallback = true
				}
				for x, j := range p.skuLines[k] {
					if asg != nil {
						fallback[j] = asg[x]
					}
				}
				continue
			}
			var qs, av []string
			for _, j := range p.skuLines[k] {
				qs = append(qs, fmt.Sprint(p.lines[j].qty))
			}
			for i := range p.cands {
				if p.cap[i][k] > 0 {
					av = append(av, fmt.Sprintf("%d at %s", p.cap[i][k], sourceLabel(p.cands[i].src)))
				}
			}
			r.Message = fmt.Sprintf("SKU %s: the lines need %s units and, without splitting a line (%s does not), they do not fit the stock available (%s).",
				sku, strings.Join(qs, " + "), label, strings.Join(av, ", "))
		}
		p.blameExcluded(&r, k)
		rb = append(rb, r)
	}
	if rb != nil || noFallback {
		fallback = nil
	}
	return rb, fallback
}

// blameExcluded turns an out-of-stock roadblock on SKU k into
// SOURCE_EXCLUDED when an excluded source has some of it, so that the
// roadblock does not read as if the SKU were out of stock.
func (p *problem) blameExcluded(r *Roadblock, k int) {
	var has []string
	for _, src := range p.excluded {
		if st, ok := p.w.stock[stockKey{src.ID, p.skus[k]}]; ok && st.Available > 0 {
			has = append(has, fmt.Sprintf("%s has %d", sourceLabel(src), st.Available))
		}
	}
	if len(has) == 0 {
		return
	}
	r.Code = CodeSourceExcluded
	r.Message = fmt.Sprintf("SKU %s: %s but is excluded from this regeneration; without it: %s", p.skus[k], strings.Join(has, ", "), r.Message)
}

// packLimit caps the bin-packing check below. Past it the SKU is assumed to
// fit and the search decides; only orders with many lines of one SKU and tight
// stock at many sources can get there.
const packLimit = 1 << 20

// pack fits the lines of SKU k, whole, into the candidates' stock. It is a
// bin-packing question, answered by a depth-first search that places the
// largest lines first and skips sources whose remaining stock equals one
// already tried for the same line.
func (p *problem) pack(k int) ([]int, bool) {
	ls := append([]int(nil), p.skuLines[k]...)
	order := make([]int, len(ls))
	for x := range order {
		order[x] = x
	}
	sort.SliceStable(order, func(a, b int) bool { return p.lines[ls[order[a]]].qty > p.lines[ls[order[b]]].qty })
	rem := make([]int, len(p.cands))
	for i := range p.cands {
		rem[i] = p.cap[i][k]
	}
	asg := make([]int, len(ls))
	steps := 0
	var rec func(d int) bool
	rec = func(d int) bool {
		if d == len(order) {
			return true
		}
		steps++
		if steps > packLimit {
			return false
		}
		q := p.lines[ls[order[d]]].qty
		tried := map[int]bool{}
		for i := range p.cands {
			if rem[i] < q || tried[rem[i]] {
				continue
			}
			tried[rem[i]] = true
			rem[i] -= q
			asg[order[d]] = i
			if rec(d + 1) {
				return true
			}
			rem[i] += q
		}
		return false
	}
	if rec(0) {
		return asg, true
	}
	if steps > packLimit {
		// Undecided: report it as fitting and let the search, which has the
		// budget, find out; there is no fallback assignment then.
		return nil, true
	}
	return nil, false
}
