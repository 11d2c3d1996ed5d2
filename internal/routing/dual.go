package routing

import "github.com/frsvc/fulfillment/internal/money"

// Candidate states during the search.
const (
	stClosed int8 = iota // excluded from every set in the subtree
	stOpen               // in every set of the subtree
	stFree               // undecided
)

// daRes is a dual-ascent solution of the facility-location relaxation:
// sources are facilities with their fixed cost (zero for open ones: already
// paid), lines are customers that may be served by any source able to take
// them at q × unit cost. Capacities and "whole line" are dropped, so this
// bounds the split and the no-split problems alike.
//
// Any plan using a set U with open ⊆ U ⊆ open ∪ free costs at least
// base + Σ_{i ∈ U∖open} slack[i]: with duals v_j and slack_i = f_i −
// Σ_j max(0, v_j − c_ij) ≥ 0, LP duality gives Σ_j v_j ≤ Σ_j c_{σ(j)j} +
// Σ_{i∈U} (f_i − slack_i). So slack[i] is also the least extra cost of any
// plan that adds source i.
type daRes struct {
	ok    bool
	base  money.Amount // fixed costs of open sources + negative free ones + Σ v
	v     []money.Amount
	slack []money.Amount // per candidate; meaningful for free ones
}

// dualAscent is Erlenkotter's procedure: raise each line's dual one cost level
// at a time, round-robin, until every line is blocked by a source without
// slack. A negative fixed cost is taken out up front (it can only lower a
// plan's cost) so that the facility costs in the relaxation are ≥ 0.
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
		for t < len(o) && o[t].cost <= r.v[j] {
			t++
		}
		ptr[j] = t
	}
	for changed := true; changed; {
		changed = false
		for j := range p.lines {
			if stuck[j] {
				continue
			}
			o := p.opts[j]
			delta := maxAmount
			for t := 0; t < ptr[j]; t++ {
				if i := o[t].i; st[i] != stClosed && r.slack[i] < delta {
					delta = r.slack[i]
				}
			}
			if delta <= 0 {
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
			for x := 0; x < ptr[j]; x++ {
				if i := o[x].i; st[i] != stClosed {
					r.slack[i] -= inc
				}
			}
			r.v[j] += inc
			if reach {
				for t < len(o) && o[t].cost <= r.v[j] {
					t++
				}
				ptr[j] = t
			} else {
				stuck[j] = true
			}
			changed = true
		}
	}
	for _, v := range r.v {
		r.base += v
	}
	return r
}
