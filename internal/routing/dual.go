package routing

import (
	"math/bits"

	"github.com/frsvc/fulfillment/internal/money"
)

// Candidate states during the search.
const (
	stClosed int8 = iota // excluded from every set in the subtree
	stOpen               // in every set of the subtree
	stFree               // undecided
)

// daRes is a dual-ascent solution of the facility-location relaxation:
// sources are facilities with their fixed cost (zero for open ones: already
// paid), lines are customers served in fractions z_ij by sources able to take
// them, at C_ij = q_j × unit cost per whole line. With splitting, a source
// holding a < q_j units can serve at most the fraction α_ij = a/q_j of the
// line: z_ij ≤ α_ij·y_i. Stock shared between lines of a SKU is not modelled,
// so this bounds the split and the no-split problems alike.
//
// The LP dual is: max Σ_j v_j − Σ_ij α_ij·u_ij subject to v_j ≤ C_ij + w_ij +
// u_ij and Σ_j α_ij·w_ij ≤ f_i, with w, u ≥ 0. For any plan using a set U with
// open ⊆ U ⊆ open ∪ free, weak duality gives
// cost ≥ base + Σ_{i ∈ U∖open} slack_i, slack_i = f_i − Σ_j α_ij·w_ij ≥ 0,
// so slack[i] is also the least extra cost of any plan that adds source i.
type daRes struct {
	ok    bool
	base  money.Amount // fixed costs of open sources + negative free ones + dual value
	v     []money.Amount
	slack []money.Amount // per candidate; meaningful for free ones
}

// dualAscent is Erlenkotter's procedure: raise each line's dual one cost level
// at a time, round-robin, until every line is blocked. Raising v_j by δ must be
// paid for at every covering source (C_ij ≤ v_j): from its slack at rate α_ij
// while it lasts, then from the objective at rate α_ij (u). A line is blocked
// once the exhausted covering sources can together serve all of it. Rounding
// is always towards a smaller bound (slack spent and objective lost round up),
// so the bound stays exact in integers. A negative fixed cost is taken out up
// front (it can only lower a plan's cost) so that facility costs are ≥ 0.
//
// The weights multiply a cost by a quantity (a raise of up to a line's cost
// times the units a source holds), which at the entry bounds passes int64:
// those products are taken in 128 bits (mulDivUp, mulDiv). Every dual
// solution on the way is feasible, so stopping a line early only weakens the
// bound: a raise that would take Σ v past inf64 stops the line instead, which
// keeps base, and every sum the search makes of it, within int64.
func (p *problem) dualAscent(st []int8) daRes {
	N, m := len(p.cands), len(p.lines)
	r := daRes{ok: true, v: make([]money.Amount, m), slack: make([]money.Amount, N)}
	for i := range p.cands {
		f := p.cands[i].fixed
		switch st[i] {
		case stOpen:
			r.base += f
		case stFree:
			if f < 0 {
				r.base += f
				f = 0
			}
			r.slack[i] = f
		}
	}
	ptr := make([]int, m)
	stuck := make([]bool, m)
	var sumV money.Amount // Σ v, kept ≤ inf64
	for j := range p.lines {
		o := p.opts[j]
		t := 0
		for t < len(o) && st[o[t].i] == stClosed {
			t++
		}
		if t == len(o) {
			return daRes{}
		}
		r.v[j] = o[t].cost
		sumV += r.v[j] // each line's cost is within CheckRange's bound
		for t < len(o) && o[t].cost <= r.v[j] {
			t++
		}
		ptr[j] = t
	}
	var lost money.Amount // Σ α·u
	for changed := true; changed; {
		changed = false
		for j, l := range p.lines {
			if stuck[j] {
				continue
			}
			o := p.opts[j]
			q := money.Amount(l.qty)
			var held money.Amount // units the exhausted covering sources can take
			delta := maxAmount
			for t := 0; t < ptr[j]; t++ {
				i := o[t].i
				if st[i] == stClosed {
					continue
				}
				a := money.Amount(min(p.cap[i][l.sku], l.qty))
				switch sl := r.slack[i]; {
				case sl == 0:
					held += a
				case a == q:
					delta = min(delta, sl)
				default:
					delta = min(delta, mulDiv(sl, q, a))
				}
			}
			if held >= q {
				stuck[j] = true
				continue
			}
			t := ptr[j]
			for t < len(o) && st[o[t].i] == stClosed {
				t++
			}
			inc, reach := delta, false
			if t < len(o) {
				if gap := o[t].cost - r.v[j]; gap <= delta {
					inc, reach = gap, true
				}
			}
			if inc == maxAmount {
				stuck[j] = true // cannot be served at all; the search sees it too
				continue
			}
			if inc > inf64-sumV {
				stuck[j] = true // a feasible dual; raising further would leave the range
				continue
			}
			for x := 0; x < ptr[j]; x++ {
				i := o[x].i
				if st[i] == stClosed || r.slack[i] == 0 {
					continue
				}
				a := money.Amount(min(p.cap[i][l.sku], l.qty))
				if inc == 0 && a < q && mulDiv(r.slack[i], q, a) == 0 {
					r.slack[i] = 0 // too little left to pay for one more step
					continue
				}
				r.slack[i] -= mulDivUp(inc, a, q)
			}
			r.v[j] += inc
			sumV += inc
			lost += mulDivUp(inc, held, q)
			if reach {
				for t < len(o) && o[t].cost <= r.v[j] {
					t++
				}
				ptr[j] = t
			}
			changed = true
		}
	}
	for _, v := range r.v {
		r.base += v
	}
	r.base -= lost
	return r
}

// mulDivUp is ⌈x·a/q⌉ for x, a ≥ 0 and q > 0 with a ≤ q (the result is then
// at most x), the product taken in 128 bits.
func mulDivUp(x, a, q money.Amount) money.Amount {
	hi, lo := bits.Mul64(uint64(x), uint64(a))
	lo, carry := bits.Add64(lo, uint64(q-1), 0)
	quo, _ := bits.Div64(hi+carry, lo, uint64(q))
	return money.Amount(quo)
}

// mulDiv is ⌊x·q/a⌋ for x, q ≥ 0 and a > 0, the product taken in 128 bits,
// and maxAmount when the quotient reaches it.
func mulDiv(x, q, a money.Amount) money.Amount {
	hi, lo := bits.Mul64(uint64(x), uint64(q))
	if hi >= uint64(a) {
		return maxAmount // the quotient needs more than 64 bits
	}
	quo, _ := bits.Div64(hi, lo, uint64(a))
	return money.Amount(min(quo, uint64(maxAmount)))
}
