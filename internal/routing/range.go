package routing

import (
	"fmt"
	"math"

	"github.com/frsvc/fulfillment/internal/money"
)

// The engine's working range. Costs are int64 ten-thousandths and the search
// adds them up in its inner loops (a set's cheapest plan, a bound plus a
// dual slack, two levels' difference), so it checks once per group, with
// checked arithmetic, that nothing it can form leaves int64: a group whose
// numbers do not fit gets an OUT_OF_RANGE roadblock instead of a plan
// computed from wrapped sums. Everything inside the range is exact.
//
// Within the range, with B the group's bound below: a plan costs at most B;
// the assignment search's partial cost plus its bound is at most 2B; a cost
// bound plus three dual slacks stays below int64; the flows' distances and
// potentials are sums of per-unit costs along simple paths, at most
// MaxCost/2; the dual ascent multiplies costs by quantities in 128 bits and
// keeps Σ v below inf64 (dual.go). The entry bounds of the service
// (money.MaxUnitCost, money.MaxQuantity, 500 lines) keep every order inside
// it: their largest order costs 10^18 steps.
const (
	// MaxCost bounds what a group may cost: the sum, over its lines, of
	// each line's cost at its dearest candidate, plus every candidate's
	// fixed costs (dropship fee and shipping base cost), in absolute value.
	MaxCost = money.Amount(inf64 / 2)
	// maxUnitSum bounds the per-unit costs (unit cost plus per-unit
	// shipping) summed over every line's candidates, in absolute value: the
	// flows' path lengths.
	maxUnitSum = money.Amount(inf64 / 4)
	// MaxUnits bounds the units of an order that are routed at once.
	MaxUnits = math.MaxInt32
)

// CodeOutOfRange is the roadblock of an order or group whose quantities or
// costs are too large for the engine to add up exactly (see MaxCost).
const CodeOutOfRange = "OUT_OF_RANGE"

// unitsOutOfRange is the order-level check: the units to route.
func (w *world) unitsOutOfRange() *Roadblock {
	total := 0
	for _, l := range w.order.Lines {
		if l.Unallocated <= 0 {
			continue
		}
		if l.Unallocated > MaxUnits-total {
			return &Roadblock{Code: CodeOutOfRange, SKU: l.SKU, Message: fmt.Sprintf(
				"The order has more than %d units to route (line %d, SKU %s, brings it past that): more than routing can add up exactly.",
				MaxUnits, l.ID, l.SKU)}
		}
		total += l.Unallocated
	}
	return nil
}

// rangeError is the first number of a group found out of range.
type rangeError struct{ rb Roadblock }

func (p *problem) outOfRange(sku string, sourceID int, format string, args ...any) {
	if p.rangeErr == nil {
		p.rangeErr = &rangeError{Roadblock{Code: CodeOutOfRange, SKU: sku, SourceID: sourceID, GroupID: p.group.ID,
			Message: fmt.Sprintf(format, args...)}}
	}
}

func abs(a money.Amount) (money.Amount, bool) {
	if a == math.MinInt64 {
		return 0, false
	}
	return max(a, -a), true
}

// checkRange is the group-level check, run by buildProblem once the
// candidates' costs are known (each already computed with checked
// arithmetic): the group's bound B and the per-unit sum.
func (p *problem) checkRange() {
	if p.rangeErr != nil {
		return
	}
	label := groupLabel(p.group)
	var bound, unitSum money.Amount
	for j, l := range p.lines {
		var dearest money.Amount
		for _, o := range p.opts[j] {
			c, ok := abs(o.cost)
			if !ok || c > MaxCost {
				p.outOfRange(p.skus[l.sku], p.cands[o.i].id, "Line %d (SKU %s, %d units) at source %s costs more than routing can add up exactly (at most %s a group).",
					l.id, p.skus[l.sku], l.qty, sourceLabel(p.cands[o.i].src), MaxCost)
				return
			}
			dearest = max(dearest, c)
			u, ok := abs(p.c[o.i][l.sku])
			if unitSum, ok = money.Add(unitSum, u); !ok || unitSum > maxUnitSum {
				p.outOfRange(p.skus[l.sku], 0, "The per-unit costs of %s, summed over its lines' sources, pass %s: more than routing can add up exactly.", label, maxUnitSum)
				return
			}
		}
		var ok bool
		if bound, ok = money.Add(bound, dearest); !ok || bound > MaxCost {
			p.outOfRange("", 0, "The order's lines at their dearest sources of %s cost more than routing can add up exactly (at most %s).", label, MaxCost)
			return
		}
	}
	for _, cd := range p.cands {
		f, ok := abs(cd.fixed)
		if ok {
			bound, ok = money.Add(bound, f)
		}
		if !ok || bound > MaxCost {
			p.outOfRange("", cd.id, "The order at the dearest sources of %s, with the fees of every source (source %s brings it past), costs more than routing can add up exactly (at most %s).",
				label, sourceLabel(cd.src), MaxCost)
			return
		}
	}
}

// maxStock caps what the engine counts of one source's stock of a SKU: no
// plan takes more than the order's units (at most MaxUnits), far below it,
// and the stock of every candidate adds up within int64.
const maxStock = 1 << 40

// addStock adds stock quantities (each at most maxStock), saturating at
// maxStock.
func addStock(a, b int) int { return min(a+b, maxStock) }
