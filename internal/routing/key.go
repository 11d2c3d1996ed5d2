package routing

import "github.com/frsvc/fulfillment/internal/money"

// comp is one component of the lexicographic key that ranks plans. The rules
// of a group map onto components, and the tie-breaks append the rest.
type comp uint8

const (
	compNone comp = iota
	compInd       // 0 for a one-source plan, 1 otherwise (SINGLE_REQUEST_*)
	compN         // number of sources (FEWEST_REQUESTS)
	compCost      // total cost (LOWEST_COST)
	compPrio      // sorted member priorities, a proper prefix first (SOURCE_PRIORITY)
	compIDs       // sorted source IDs, the last tie-break between source sets
)

func ruleComp(r Rule) comp {
	switch r {
	case SingleRequestRequired, SingleRequestPreferred:
		return compInd
	case FewestRequests:
		return compN
	case LowestCost:
		return compCost
	case SourcePriority:
		return compPrio
	}
	return compNone // an unknown rule filters nothing
}

// tieBreak follows the rules: fewest sources, lowest cost, priorities, IDs.
// The assignment tie-break after it is applied when a plan is built.
var tieBreak = []comp{compN, compCost, compPrio, compIDs}

type compSet uint8

func (s compSet) has(c comp) bool     { return s&(1<<c) != 0 }
func (s compSet) with(c comp) compSet { return s | 1<<c }
func (s compSet) implies(c comp) bool {
	// Among plans that agree on the components in s, is c constant? The
	// priority list has one entry per source, and the ID list is the set.
	switch {
	case s.has(c) || s.has(compIDs) && c != compCost:
		return true
	case c == compInd:
		return s.has(compN) || s.has(compPrio)
	case c == compN:
		return s.has(compPrio)
	}
	return false
}

// buildOrder drops components already settled by known (or by an earlier
// entry): they cannot separate plans and would only cost comparisons.
func buildOrder(known compSet, comps []comp) []comp {
	var out []comp
	all := append(append([]comp(nil), comps...), tieBreak...)
	for _, c := range all {
		if c == compNone || known.implies(c) {
			continue
		}
		out = append(out, c)
		known = known.with(c)
	}
	return out
}

// setKey is the key of a source set's representative plan.
type setKey struct {
	ind, n int
	cost   money.Amount
	prio   []int // ascending
	ids    []int // candidate indices, ascending; candidates are sorted by ID
}

// cmpVec orders ascending lists lexicographically, a proper prefix first.
func cmpVec(a, b []int) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			if a[i] < b[i] {
				return -1
			}
			return 1
		}
	}
	return cmpInt(len(a), len(b))
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func cmpAmt(a, b money.Amount) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func cmpComp(c comp, a, b *setKey) int {
	switch c {
	case compInd:
		return cmpInt(a.ind, b.ind)
	case compN:
		return cmpInt(a.n, b.n)
	case compCost:
		return cmpAmt(a.cost, b.cost)
	case compPrio:
		return cmpVec(a.prio, b.prio)
	case compIDs:
		return cmpVec(a.ids, b.ids)
	}
	return 0
}

func cmpKey(a, b *setKey, order []comp) int {
	for _, c := range order {
		if d := cmpComp(c, a, b); d != 0 {
			return d
		}
	}
	return 0
}

// cons restricts a search to the plans one rule eliminated: the components in
// eq must equal ref's, and gt (if set) must be worse than ref's.
type cons struct {
	eq  compSet
	gt  comp
	ref setKey
}

// setOK checks the set-level components (all but the cost).
func (c *cons) setOK(k *setKey) bool {
	for _, x := range []comp{compInd, compN, compPrio} {
		if c.eq.has(x) && cmpComp(x, k, &c.ref) != 0 {
			return false
		}
		if c.gt == x && cmpComp(x, k, &c.ref) <= 0 {
			return false
		}
	}
	return true
}
