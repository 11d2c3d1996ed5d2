package routing

import (
	"fmt"
	"strings"

	"github.com/frsvc/fulfillment/internal/money"
)

// evaluateGroup runs one group: candidates, stock, the search, the plan and
// the explanation of what each rule eliminated.
func evaluateGroup(w *world, g *Group, bud *budget) (ev GroupEvaluation) {
	ev.GroupID = g.ID
	p := buildProblem(w, g)
	ev.CandidatesConsidered = len(p.cands)
	label := groupLabel(g)
	if len(p.cands) == 0 {
		rb := Roadblock{Code: CodeNoEligibleSource, GroupID: g.ID,
			Message: fmt.Sprintf("%s has no eligible, enabled source that ships to %s.", capitalize(label), orNone(w.order.Country))}
		if len(p.excluded) > 0 {
			names := make([]string, len(p.excluded))
			for i, src := range p.excluded {
				names[i] = sourceLabel(src)
			}
			rb.Code = CodeSourceExcluded
			rb.Message = fmt.Sprintf("%s has no eligible, enabled source that ships to %s other than %s, excluded from this regeneration.",
				capitalize(label), orNone(w.order.Country), strings.Join(names, ", "))
		}
		ev.Roadblocks = []Roadblock{rb}
		return ev
	}
	if p.rangeErr != nil {
		ev.Roadblocks = []Roadblock{p.rangeErr.rb}
		return ev
	}
	oos, fallback := p.outOfStock()
	if len(oos) > 0 {
		ev.Roadblocks = oos
		return ev
	}
	comps := make([]comp, len(g.Rules))
	required := false
	for x, r := range g.Rules {
		comps[x] = ruleComp(r)
		required = required || r == SingleRequestRequired
	}
	singleUnavailable := Roadblock{Code: CodeSingleSourceUnavailable, GroupID: g.ID,
		Message: fmt.Sprintf("%s requires a single source, but no source of it can ship the whole order alone.", capitalize(label))}
	if required {
		any := false
		for _, i := range p.act {
			any = any || p.singleOK(i)
		}
		if !any {
			ev.Roadblocks = []Roadblock{singleUnavailable}
			return ev
		}
	}

	cache := newEvalCache(p, bud)
	defer func() { ev.PlansExplored = cache.evals }()
	s := newSearcher(p, buildOrder(0, comps), cons{}, bud, cache)
	s.run()
	ev.SearchNodes += s.nodes
	if !s.have {
		if fallback == nil {
			ev.Roadblocks = []Roadblock{{Code: CodeBudgetExhausted, GroupID: g.ID,
				Message: fmt.Sprintf("The routing search for %s ran out of time before it found a plan; try again or route by hand.", label)}}
			return ev
		}
		plan := p.planFromLines(fallback)
		if plan == nil {
			ev.Roadblocks = []Roadblock{{Code: CodeBudgetExhausted, GroupID: g.ID,
				Message: fmt.Sprintf("The routing search for %s ran out of time before it found a plan; try again or route by hand.", label)}}
			return ev
		}
		plan.LowerBound = min(s.lowerBound(), plan.TotalCost)
		ev.Plan = plan
		return ev
	}
	if required && s.best.n > 1 {
		var before []string
		for _, r := range g.Rules {
			if r == SingleRequestRequired {
				break
			}
			before = append(before, string(r))
		}
		singleUnavailable.Message = fmt.Sprintf("%s requires a single source, but the rules before it (%s) keep only plans with several sources.",
			capitalize(label), strings.Join(before, ", "))
		ev.Roadblocks = []Roadblock{singleUnavailable}
		return ev
	}
	plan := p.buildPlan(s.bestSet, s.best.cost, nil)
	if plan == nil {
		ev.Roadblocks = []Roadblock{{Code: CodeBudgetExhausted, GroupID: g.ID,
			Message: fmt.Sprintf("The routing search for %s could not finish the plan in time; try again or route by hand.", label)}}
		return ev
	}
	plan.Optimal = !s.cut
	plan.LowerBound = s.lowerBound()
	ev.Plan = plan

	var known compSet
	for x, r := range g.Rules {
		c := comps[x]
		if c == compNone {
			continue
		}
		if known.implies(c) {
			known = known.with(c)
			continue // it cannot remove anything the rules before it kept
		}
		es := newSearcher(p, buildOrder(known, comps[x+1:]), cons{eq: known, gt: c, ref: s.best}, bud, cache)
		es.run()
		ev.SearchNodes += es.nodes
		known = known.with(c)
		if !es.have {
			continue
		}
		alt := p.buildPlan(es.bestSet, es.best.cost, bud)
		if alt == nil {
			continue
		}
		alt.Optimal = !es.cut
		alt.LowerBound = es.lowerBound()
		ev.Eliminated = append(ev.Eliminated, Elimination{Rule: r, Plan: *alt, CostDifference: alt.TotalCost - plan.TotalCost})
	}
	return ev
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// buildPlan turns the set U and the cost level of its chosen plan into the
// canonical plan: among U's assignments costing exactly level, the first in
// the assignment order — line by line in order-line order, each line's
// quantities by source ID ascending, a larger quantity at the lower ID first.
// level is U's cheapest cost, or (for an eliminated alternative under
// LOWEST_COST) the next level above it. The second case costs many flow
// solves on a large set, so it draws on the budget (bud) and gives up (nil)
// when that runs out; the chosen plan itself never needs it.
func (p *problem) buildPlan(U []int, level money.Amount, bud *budget) *Plan {
	x := make([][]int, len(p.lines))
	if p.split {
		sn := p.splitNet(U, nil)
		if !sn.g.solve(nil) {
			return nil
		}
		cmin := money.Amount(sn.g.total()) + p.fixedOf(U)
		if level == cmin {
			var pos []int
			for l := range p.lines {
				pos = append(pos, sn.pos[l]...)
			}
			sn.g.lexMax(pos)
			for l := range p.lines {
				x[l] = make([]int, len(U))
				for u, e := range sn.pos[l] {
					if e >= 0 {
						x[l][u] = sn.g.flow(e)
					}
				}
			}
		} else if x = p.splitAtLevel(U, level, cmin, bud); x == nil {
			return nil
		}
	} else {
		ns := newNSSolver(p, U, nil, true)
		ns.target = level
		ns.run()
		if !ns.found {
			return nil
		}
		for l := range p.lines {
			x[l] = make([]int, len(U))
			x[l][ns.bestAsg[l]] = p.lines[l].qty
		}
	}
	return p.planFrom(U, x)
}

// splitAtLevel finds the canonical split assignment of U among those costing
// exactly level > cmin (U's cheapest). Plans at a cost level that is not the
// minimum do not form a face of the flow polytope, so it fixes the quantities
// one by one in canonical order, largest first, keeping a value when some
// completion still costs exactly level: the completion's cheapest cost is
// level, or it is cmin and its next level is level (nothing lies between).
func (p *problem) splitAtLevel(U []int, level, cmin money.Amount, bud *budget) [][]int {
	m, nU := len(p.lines), len(U)
	fixed := make([][]int, m)
	for l := range fixed {
		fixed[l] = make([]int, nU)
		for u := range fixed[l] {
			fixed[l][u] = -1
		}
	}
	fu := p.fixedOf(U)
	for l, ln := range p.lines {
		left := ln.qty
		for u, i := range U {
			if !p.canTake(i, l) {
				continue
			}
			ok := false
			for v := min(left, p.cap[i][ln.sku]); v >= 0 && !ok; v-- {
				fixed[l][u] = v
				sn := p.splitNet(U, fixed)
				if !sn.g.solve(bud) {
					if bud != nil && bud.out || sn.g.tooBig {
						return nil
					}
					continue
				}
				c := money.Amount(sn.g.total()) + fu
				if c == level {
					ok = true
				} else if c == cmin {
					d, has := sn.g.minPositiveCycle(bud)
					ok = has && c+money.Amount(d) == level
				}
			}
			if !ok {
				return nil
			}
			left -= fixed[l][u]
		}
	}
	x := make([][]int, m)
	for l := range x {
		x[l] = make([]int, nU)
		for u, v := range fixed[l] {
			x[l][u] = max(v, 0)
		}
	}
	return x
}

// planFromLines builds the plan of a whole-line assignment (line → candidate).
func (p *problem) planFromLines(asg []int) *Plan {
	usedAt := map[int]bool{}
	for _, i := range asg {
		usedAt[i] = true
	}
	U := setOf(usedAt)
	pos := map[int]int{}
	for u, i := range U {
		pos[i] = u
	}
	x := make([][]int, len(p.lines))
	for l, i := range asg {
		x[l] = make([]int, len(U))
		x[l][pos[i]] = p.lines[l].qty
	}
	return p.planFrom(U, x)
}

// planFrom writes out the plan for quantities x[line][position in U]. Its
// sums are checked although the group's range check already bounds them: a
// plan leaves the engine as a cost snapshot, so it is nil rather than wrong.
func (p *problem) planFrom(U []int, x [][]int) *Plan {
	plan := &Plan{}
	ok := true
	add := func(a, b money.Amount) money.Amount {
		s, fits := money.Add(a, b)
		ok = ok && fits
		return s
	}
	mul := func(a money.Amount, q int) money.Amount {
		m, fits := money.MulChecked(a, q)
		ok = ok && fits
		return m
	}
	for u, i := range U {
		cd := p.cands[i]
		r := Request{SourceID: cd.id, Priority: cd.prio, DropshipFee: cd.src.DropshipFee}
		units := 0
		for l, ln := range p.lines {
			q := x[l][u]
			if q == 0 {
				continue
			}
			uc := p.uc[i][ln.sku]
			r.Items = append(r.Items, Item{LineID: ln.id, SKU: p.skus[ln.sku], Quantity: q, UnitCost: uc})
			r.ItemCost = add(r.ItemCost, mul(uc, q))
			units += q
		}
		r.ShippingCost = add(cd.src.ShippingBaseCost, mul(cd.perUnit, units))
		r.TotalCost = add(add(r.ItemCost, r.DropshipFee), r.ShippingCost)
		plan.TotalCost = add(plan.TotalCost, r.TotalCost)
		plan.Requests = append(plan.Requests, r)
	}
	if !ok {
		return nil
	}
	plan.LowerBound = plan.TotalCost
	return plan
}
