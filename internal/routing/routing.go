package routing

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/frsvc/fulfillment/internal/money"
)

// DefaultBudget is the search time callers give Route through the context
// deadline. Two seconds keeps a preview interactive while leaving the engine
// room to prove large orders optimal.
const DefaultBudget = 2 * time.Second

// Rule is one filter of a routing group, applied in the group's order.
type Rule string

// The routing rules of DOMAIN.md.
const (
	SingleRequestRequired  Rule = "SINGLE_REQUEST_REQUIRED"
	SingleRequestPreferred Rule = "SINGLE_REQUEST_PREFERRED"
	FewestRequests         Rule = "FEWEST_REQUESTS"
	LowestCost             Rule = "LOWEST_COST"
	SourcePriority         Rule = "SOURCE_PRIORITY"
)

// Roadblock codes: each stops routing, for the order or for one group.
const (
	CodeOrderOnHold      = "ORDER_ON_HOLD"
	CodeOrderCanceled    = "ORDER_CANCELED"
	CodeOrderClosed      = "ORDER_CLOSED"
	CodeOrderNotPaid     = "ORDER_NOT_PAID"
	CodeNothingToRoute   = "NOTHING_TO_ROUTE"
	CodeSKUNotManaged    = "SKU_NOT_MANAGED"
	CodeNoRoutingGroup   = "NO_ROUTING_GROUP"
	CodeNoEligibleSource = "NO_ELIGIBLE_SOURCE"
	CodeOutOfStock       = "OUT_OF_STOCK"
	// CodeSourceExcluded: the group would have a source for the SKU (or any
	// candidate at all) but for the sources a regeneration excluded.
	CodeSourceExcluded = "SOURCE_EXCLUDED"
	// CodeSingleSourceUnavailable: SINGLE_REQUEST_REQUIRED found no one-source
	// plan among those the rules before it kept. (If the budget ran out
	// before that was settled, the best plan found decides.)
	CodeSingleSourceUnavailable = "SINGLE_SOURCE_UNAVAILABLE"
	// CodeBudgetExhausted is reported only when the budget ran out before the
	// engine found any plan for a group in which plans exist; in practice the
	// start-up heuristics always find one, so it signals a pathological input.
	CodeBudgetExhausted = "BUDGET_EXHAUSTED"
)

// Warning codes: the order can be routed, but an operator may want to know.
const (
	CodeLineSplit        = "LINE_SPLIT"
	CodeMultipleRequests = "MULTIPLE_REQUESTS"
	CodeLowStock         = "LOW_STOCK"
)

// Snapshot is everything routing reads. Slices may come in any order: the
// engine sorts what it needs, so the decision never depends on the order in
// which a database returned rows. Order.Lines keeps its order, which is the
// order of the items in each request.
type Snapshot struct {
	Order     Order
	Groups    []Group  // all routing groups of the account
	Sources   []Source // all sources of the account
	Inventory []Stock  // one per (source, SKU) the source carries
}

// Order is the part of an order routing looks at.
type Order struct {
	Status        string // OPEN, ON_HOLD, CANCELED, CLOSED
	PaymentStatus string // PAID, DEFERRED, PENDING
	Country       string // ISO 3166-1 alpha-2 of the ship-to address
	Lines         []Line
}

// Line is an order line; only its unallocated quantity is routed.
type Line struct {
	ID          int
	SKU         string
	Unallocated int
}

// Group is a routing group with its members.
type Group struct {
	ID              int
	Name            string
	Position        int
	IsDefault       bool
	ShipToCountries []string // empty: any country
	Rules           []Rule
	AllowLineSplit  bool
	Members         []Member
}

// Member puts a source into a group. If a source is listed twice, it counts
// once: eligible if any entry is, with the best priority among eligible entries.
type Member struct {
	SourceID int
	Priority int // 1..999, 1 = most preferred
	Eligible bool
}

// Source is a supplier or warehouse with its cost model.
type Source struct {
	ID         int
	Code, Name string
	Enabled    bool
	// Excluded leaves the source out of this routing (regenerate's
	// excludeSource); its verdict says so.
	Excluded            bool
	ShipsTo             []string // empty: anywhere
	DropshipFee         money.Amount
	ShippingBaseCost    money.Amount
	ShippingPerUnitCost money.Amount
}

// Stock is what one source has of one SKU. Two rows for the same source and
// SKU are merged: their available quantities add up and the higher unit cost
// applies, so a duplicate can never make a plan look cheaper than it is.
type Stock struct {
	SourceID  int
	SKU       string
	Available int // quantity − committed; below zero counts as zero
	UnitCost  money.Amount
}

// Options tune one call of Route.
type Options struct {
	// GroupID 0 selects groups automatically. Otherwise only that group is
	// tried: its country list is not applied (the operator chose it), but its
	// sources must still ship to the order's country.
	GroupID int
	// MaxNodes bounds the work of the search, counted in search nodes (source
	// sets branched on or evaluated, assignment-search steps and flow solves);
	// 0 is unlimited. It exists for tests, which need a budget that runs out at
	// the same place on every machine; running out behaves like the deadline.
	// The budget is shared by all groups and explanations of one call.
	MaxNodes int
	// LowStockThreshold: a LOW_STOCK warning is given for each source and SKU
	// the plan draws from whose available quantity after the plan is at or
	// below the threshold. The zero value therefore warns when a plan takes a
	// source's last unit of a SKU; a negative value turns the warning off.
	LowStockThreshold int
}

// Decision is the result of routing an order.
type Decision struct {
	CanRoute   bool
	Plan       *Plan             // chosen plan; nil when a roadblock stops routing
	GroupID    int               // group whose plan was chosen (0 if none)
	Groups     []GroupEvaluation // every group tried, in order
	Roadblocks []Roadblock       // why the order cannot be routed; empty when CanRoute
	Warnings   []Roadblock       // about the chosen plan
}

// GroupEvaluation explains what happened in one group.
type GroupEvaluation struct {
	GroupID int
	Plan    *Plan // the group's best plan; nil if the group has a roadblock
	// Roadblocks of this group (for a group that was passed over, why).
	Roadblocks []Roadblock
	// CandidatesConsidered is the number of the group's sources that could
	// take part at all: members that are eligible, whose source exists, is
	// enabled and ships to the order's country. Whether they carry the SKUs
	// does not matter here.
	CandidatesConsidered int
	// PlansExplored is the number of distinct source sets whose best
	// assignment the engine evaluated, each a complete plan weighed against
	// the best so far, in the main search and in the searches for Eliminated.
	// Sets ruled out by bounds before evaluation are not counted.
	PlansExplored int
	// SearchNodes is the number of branch-and-bound nodes visited (a node
	// decides one source in or out); it shows how hard the proof was.
	SearchNodes int
	// Eliminated holds, for each rule of the group (in order) that removed at
	// least one plan, the best plan it removed.
	Eliminated []Elimination
	// Members is every member source of the group, by (priority, ID), with
	// whether the group's plan used it and, if not, why.
	Members []MemberVerdict
}

// Elimination is the best alternative one rule removed: among the plans that
// the rules before it kept but it removed, the best one under the rules after
// it and then the tie-breaks. A plan is an assignment of quantities, so for
// LOWEST_COST the alternative can use the very same sources as the chosen plan
// with a dearer split of the lines, when no other set of sources ranks better
// under the remaining rules.
//
// The alternative comes from a constrained run of the same exact search, under
// the same budget as the main search; if the budget ran out during that run,
// Plan.Optimal is false, and if it ran out before any alternative was found,
// the entry is left out. Usually it costs a fraction of the main search. The
// expensive case is a rule whose removed plans are ranked by the number of
// sources first (FEWEST_REQUESTS with nothing after it ranks them by the
// tie-breaks: the cheapest plan with one source more than the chosen one),
// which on orders of dozens of lines and hundreds of sources can take the
// better part of a second.
type Elimination struct {
	Rule           Rule
	Plan           Plan
	CostDifference money.Amount // alternative's TotalCost − chosen plan's TotalCost
}

// Plan is a complete routing: one request per source used.
type Plan struct {
	TotalCost money.Amount
	// Optimal is false only when the budget ran out before the search could
	// prove this plan the best under the group's rules.
	Optimal bool
	// LowerBound is a proven lower bound on the TotalCost of the true best
	// plan under the group's rules (for an Elimination: of the true best
	// alternative). It equals TotalCost when Optimal. When the budget ran out,
	// it is the smallest of this plan's cost and the cost bounds of the parts of
	// the search that were not finished; everything else was proven unable to
	// beat this plan. When LOWEST_COST is the group's first rule, TotalCost −
	// LowerBound is how much money the cut-short search may have left unsaved.
	LowerBound money.Amount
	Requests   []Request // sorted by source ID
}

// Request is what one source is asked to ship, with its cost breakdown.
type Request struct {
	SourceID     int
	Priority     int    // the source's priority in the group
	Items        []Item // in order-line order
	ItemCost     money.Amount
	DropshipFee  money.Amount
	ShippingCost money.Amount // base cost + per-unit cost × units
	TotalCost    money.Amount
}

// Item is a quantity of one order line taken from a request's source.
type Item struct {
	LineID   int
	SKU      string
	Quantity int
	UnitCost money.Amount
}

// Roadblock is a reason routing stops (or, in Warnings, a remark about the
// chosen plan), written for an operations person.
type Roadblock struct {
	Code     string
	Message  string
	SKU      string
	SourceID int // 0 = none
	GroupID  int // 0 = the whole order
}

// Route decides how to fulfil the order in s. The context's deadline is the
// search budget (callers use DefaultBudget); a context without deadline means no
// time limit. Route never fails: every outcome is a Decision, possibly with
// roadblocks. Quantities and costs too large to add up exactly (see MaxCost)
// give an OUT_OF_RANGE roadblock, never a plan with a wrapped cost.
func Route(ctx context.Context, s Snapshot, o Options) Decision {
	w := newWorld(s)
	var d Decision
	if rb := w.orderRoadblocks(); len(rb) > 0 {
		d.Roadblocks = rb
		return d
	}
	if rb := w.unitsOutOfRange(); rb != nil {
		d.Roadblocks = []Roadblock{*rb}
		return d
	}
	groups, rb := w.selectGroups(o.GroupID)
	if rb != nil {
		d.Roadblocks = []Roadblock{*rb}
		return d
	}
	bud := newBudget(ctx, o.MaxNodes)
	for _, g := range groups {
		ev := evaluateGroup(w, g, bud)
		ev.Members = w.verdicts(g, ev.Plan)
		d.Groups = append(d.Groups, ev)
		if ev.Plan != nil {
			d.CanRoute = true
			d.Plan = ev.Plan
			d.GroupID = g.ID
			d.Warnings = w.warnings(g, ev.Plan, o.LowStockThreshold)
			return d
		}
	}
	for _, ev := range d.Groups {
		d.Roadblocks = append(d.Roadblocks, ev.Roadblocks...)
	}
	return d
}

// world is the snapshot, sorted and indexed once.
type world struct {
	order   Order
	sources map[int]*Source
	stock   map[stockKey]Stock
	carried map[string]bool // SKUs with a stock row at some source of the account
	groups  []*Group        // sorted by (Position, ID)
}

type stockKey struct {
	source int
	sku    string
}

func newWorld(s Snapshot) *world {
	w := &world{
		order:   s.Order,
		sources: map[int]*Source{},
		stock:   map[stockKey]Stock{},
		carried: map[string]bool{},
	}
	srcs := append([]Source(nil), s.Sources...)
	sort.SliceStable(srcs, func(a, b int) bool {
		if srcs[a].ID != srcs[b].ID {
			return srcs[a].ID < srcs[b].ID
		}
		// Duplicate IDs are invalid input; pick one the same way whatever
		// the input order.
		return fmt.Sprint(srcs[a]) < fmt.Sprint(srcs[b])
	})
	for i := range srcs {
		if _, dup := w.sources[srcs[i].ID]; !dup {
			w.sources[srcs[i].ID] = &srcs[i]
		}
	}
	for _, st := range s.Inventory {
		if _, ok := w.sources[st.SourceID]; !ok {
			continue
		}
		st.Available = min(max(st.Available, 0), maxStock)
		k := stockKey{st.SourceID, st.SKU}
		if old, dup := w.stock[k]; dup {
			st.Available = addStock(st.Available, old.Available)
			if old.UnitCost > st.UnitCost {
				st.UnitCost = old.UnitCost
			}
		}
		w.stock[k] = st
		w.carried[st.SKU] = true
	}
	gs := make([]*Group, 0, len(s.Groups))
	for i := range s.Groups {
		gs = append(gs, &s.Groups[i])
	}
	sort.SliceStable(gs, func(a, b int) bool {
		if gs[a].Position != gs[b].Position {
			return gs[a].Position < gs[b].Position
		}
		if gs[a].ID != gs[b].ID {
			return gs[a].ID < gs[b].ID
		}
		return fmt.Sprint(*gs[a]) < fmt.Sprint(*gs[b])
	})
	for i, g := range gs {
		if i > 0 && gs[i-1].ID == g.ID {
			continue
		}
		w.groups = append(w.groups, g)
	}
	return w
}

func (w *world) orderRoadblocks() []Roadblock {
	var rb []Roadblock
	switch w.order.Status {
	case "ON_HOLD":
		rb = append(rb, Roadblock{Code: CodeOrderOnHold, Message: "The order is on hold; release the hold to route it."})
	case "CANCELED":
		rb = append(rb, Roadblock{Code: CodeOrderCanceled, Message: "The order is canceled."})
	case "CLOSED":
		rb = append(rb, Roadblock{Code: CodeOrderClosed, Message: "The order is closed."})
	}
	if p := w.order.PaymentStatus; p != "PAID" && p != "DEFERRED" {
		rb = append(rb, Roadblock{Code: CodeOrderNotPaid,
			Message: fmt.Sprintf("The order's payment status is %s; only paid or deferred orders are routed.", orNone(p))})
	}
	open := false
	for _, l := range w.order.Lines {
		if l.Unallocated > 0 {
			open = true
		}
	}
	if !open {
		rb = append(rb, Roadblock{Code: CodeNothingToRoute,
			Message: "Every line of the order is already allocated: there is nothing left to route."})
	}
	seen := map[string]bool{}
	for _, l := range w.order.Lines {
		if l.Unallocated <= 0 || seen[l.SKU] || w.carried[l.SKU] {
			continue
		}
		seen[l.SKU] = true
		rb = append(rb, Roadblock{Code: CodeSKUNotManaged, SKU: l.SKU,
			Message: fmt.Sprintf("No source of the account carries SKU %s; add it to a source's inventory.", l.SKU)})
	}
	return rb
}

func orNone(s string) string {
	if s == "" {
		return "not set"
	}
	return s
}

// selectGroups returns the groups to try, in order: an explicit group alone,
// otherwise the groups shipping to the order's country by (position, ID), with
// default groups last.
func (w *world) selectGroups(id int) ([]*Group, *Roadblock) {
	if id != 0 {
		for _, g := range w.groups {
			if g.ID == id {
				return []*Group{g}, nil
			}
		}
		return nil, &Roadblock{Code: CodeNoRoutingGroup, GroupID: id,
			Message: fmt.Sprintf("Routing group %d does not exist in this account.", id)}
	}
	var first, last []*Group
	for _, g := range w.groups {
		if len(g.ShipToCountries) > 0 && !hasCountry(g.ShipToCountries, w.order.Country) {
			continue
		}
		if g.IsDefault {
			last = append(last, g)
		} else {
			first = append(first, g)
		}
	}
	if len(first)+len(last) == 0 {
		return nil, &Roadblock{Code: CodeNoRoutingGroup,
			Message: fmt.Sprintf("No routing group ships to %s.", orNone(w.order.Country))}
	}
	return append(first, last...), nil
}

// hasCountry compares ISO codes without regard to case or surrounding blanks,
// because they are typed by people in more than one place.
func hasCountry(list []string, c string) bool {
	c = strings.TrimSpace(c)
	for _, x := range list {
		if strings.EqualFold(strings.TrimSpace(x), c) {
			return true
		}
	}
	return false
}

func groupLabel(g *Group) string {
	if g.Name != "" {
		return fmt.Sprintf("routing group %q", g.Name)
	}
	return fmt.Sprintf("routing group %d", g.ID)
}

func sourceLabel(s *Source) string {
	switch {
	case s.Code != "":
		return s.Code
	case s.Name != "":
		return s.Name
	}
	return fmt.Sprintf("source %d", s.ID)
}

// warnings describes the chosen plan's consequences an operator may want to
// act on.
func (w *world) warnings(g *Group, p *Plan, threshold int) []Roadblock {
	var out []Roadblock
	if len(p.Requests) > 1 {
		names := make([]string, len(p.Requests))
		for i, r := range p.Requests {
			names[i] = sourceLabel(w.sources[r.SourceID])
		}
		out = append(out, Roadblock{Code: CodeMultipleRequests, GroupID: g.ID,
			Message: fmt.Sprintf("The order is split into %d fulfillment requests (%s).", len(p.Requests), strings.Join(names, ", "))})
	}
	type part struct {
		src string
		qty int
	}
	byLine := map[int][]part{}
	for _, r := range p.Requests {
		for _, it := range r.Items {
			byLine[it.LineID] = append(byLine[it.LineID], part{sourceLabel(w.sources[r.SourceID]), it.Quantity})
		}
	}
	for _, l := range w.order.Lines {
		parts := byLine[l.ID]
		if len(parts) < 2 {
			continue
		}
		desc := make([]string, len(parts))
		for i, pt := range parts {
			desc[i] = fmt.Sprintf("%d from %s", pt.qty, pt.src)
		}
		out = append(out, Roadblock{Code: CodeLineSplit, SKU: l.SKU, GroupID: g.ID,
			Message: fmt.Sprintf("Line %d (SKU %s, %d units) is split across %d sources: %s.", l.ID, l.SKU, l.Unallocated, len(parts), strings.Join(desc, ", "))})
		delete(byLine, l.ID) // a line ID listed twice is reported once
	}
	if threshold < 0 {
		return out
	}
	for _, r := range p.Requests {
		taken := map[string]int{}
		var skus []string
		for _, it := range r.Items {
			if _, ok := taken[it.SKU]; !ok {
				skus = append(skus, it.SKU)
			}
			taken[it.SKU] += it.Quantity
		}
		sort.Strings(skus)
		for _, sku := range skus {
			left := w.stock[stockKey{r.SourceID, sku}].Available - taken[sku]
			if left > threshold {
				continue
			}
			out = append(out, Roadblock{Code: CodeLowStock, SKU: sku, SourceID: r.SourceID, GroupID: g.ID,
				Message: fmt.Sprintf("After this plan %s has %d of SKU %s left (low-stock threshold %d).", sourceLabel(w.sources[r.SourceID]), left, sku, threshold)})
		}
	}
	return out
}
