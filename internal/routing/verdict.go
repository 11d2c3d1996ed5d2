package routing

import (
	"fmt"
	"sort"
	"strings"
)

// Verdicts on a group's member sources: used, or the first reason it could
// not be, in this order of precedence.
const (
	VerdictUsed = "USED"
	// VerdictExcluded: left out by the operator (regenerate's excludeSource).
	VerdictExcluded = "EXCLUDED"
	VerdictDisabled = "DISABLED"
	// VerdictNotEligible: the group's membership marks it not eligible.
	VerdictNotEligible = "NOT_ELIGIBLE"
	// VerdictDoesNotShipTo: it does not ship to the order's country.
	VerdictDoesNotShipTo = "DOES_NOT_SHIP_TO"
	// VerdictDoesNotCarry: it has no stock row for one of the order's SKUs.
	VerdictDoesNotCarry = "DOES_NOT_CARRY"
	// VerdictLacksStock: it has less of a SKU than the order needs.
	VerdictLacksStock = "LACKS_STOCK"
	// VerdictNotChosen: it could ship every SKU the order needs, but the
	// group's rules preferred another plan (or the group found none).
	VerdictNotChosen = "NOT_CHOSEN"
)

// MemberVerdict is one member source of a group and what routing made of it.
type MemberVerdict struct {
	SourceID int
	Priority int
	Verdict  string
	// SKU names the SKU of a DOES_NOT_CARRY or LACKS_STOCK verdict: the
	// first SKU, in order-line order, that the source does not carry, or if
	// it carries them all, the first it lacks. Message lists them all.
	SKU string
	// Available and Needed are set for LACKS_STOCK: what the source has of
	// SKU, and the order's unallocated quantity of it.
	Available, Needed int
	Message           string
}

// members merges a group's member entries per source as routing counts them:
// eligible if any entry is, with the best priority among the eligible ones.
func members(g *Group) []Member {
	byID := map[int]*Member{}
	var ids []int
	for _, m := range g.Members {
		x, ok := byID[m.SourceID]
		if !ok {
			c := m
			byID[m.SourceID] = &c
			ids = append(ids, m.SourceID)
			continue
		}
		switch {
		case m.Eligible && !x.Eligible:
			x.Priority, x.Eligible = m.Priority, true
		case m.Eligible == x.Eligible && m.Priority < x.Priority:
			x.Priority = m.Priority
		}
	}
	out := make([]Member, len(ids))
	for i, id := range ids {
		out[i] = *byID[id]
	}
	sort.Slice(out, func(a, b int) bool {
		if out[a].Priority != out[b].Priority {
			return out[a].Priority < out[b].Priority
		}
		return out[a].SourceID < out[b].SourceID
	})
	return out
}

// verdicts says, for each member of g, whether plan (nil when the group has
// none) used it and, if not, why.
func (w *world) verdicts(g *Group, plan *Plan) []MemberVerdict {
	used := map[int]bool{}
	if plan != nil {
		for _, r := range plan.Requests {
			used[r.SourceID] = true
		}
	}
	var skus []string
	demand := map[string]int{}
	for _, l := range w.order.Lines {
		if l.Unallocated <= 0 {
			continue
		}
		if _, ok := demand[l.SKU]; !ok {
			skus = append(skus, l.SKU)
		}
		demand[l.SKU] = addStock(demand[l.SKU], l.Unallocated)
	}
	country := orNone(w.order.Country)
	var out []MemberVerdict
	for _, m := range members(g) {
		src := w.sources[m.SourceID]
		if src == nil {
			continue
		}
		v := MemberVerdict{SourceID: m.SourceID, Priority: m.Priority}
		switch {
		case used[m.SourceID]:
			v.Verdict, v.Message = VerdictUsed, "Used by the group's plan."
		case src.Excluded:
			v.Verdict, v.Message = VerdictExcluded, "Excluded from this regeneration."
		case !src.Enabled:
			v.Verdict, v.Message = VerdictDisabled, "The source is disabled."
		case !m.Eligible:
			v.Verdict, v.Message = VerdictNotEligible, fmt.Sprintf("Not eligible in %s.", groupLabel(g))
		case len(src.ShipsTo) > 0 && !hasCountry(src.ShipsTo, w.order.Country):
			v.Verdict = VerdictDoesNotShipTo
			v.Message = fmt.Sprintf("Does not ship to %s (ships to %s).", country, strings.Join(src.ShipsTo, ", "))
		default:
			var missing, short []string
			for _, sku := range skus {
				st, ok := w.stock[stockKey{m.SourceID, sku}]
				switch {
				case !ok:
					if missing == nil {
						v.Verdict, v.SKU = VerdictDoesNotCarry, sku
						v.Available, v.Needed = 0, 0
					}
					missing = append(missing, sku)
				case st.Available < demand[sku]:
					if missing == nil && short == nil {
						v.Verdict, v.SKU, v.Available, v.Needed = VerdictLacksStock, sku, st.Available, demand[sku]
					}
					short = append(short, fmt.Sprintf("%d of %s available, %d needed", st.Available, sku, demand[sku]))
				}
			}
			var parts []string
			if len(missing) > 0 {
				parts = append(parts, "does not carry "+strings.Join(missing, ", "))
			}
			if len(short) > 0 {
				parts = append(parts, "has "+strings.Join(short, "; "))
			}
			switch {
			case len(parts) > 0:
				v.Message = capitalize(strings.Join(parts, "; ")) + "."
			case plan != nil:
				v.Verdict, v.Message = VerdictNotChosen, "Could ship the whole order, but the group's rules chose another plan."
			default:
				v.Verdict, v.Message = VerdictNotChosen, "Could ship the whole order, but the group found no plan it may use."
			}
		}
		out = append(out, v)
	}
	return out
}
