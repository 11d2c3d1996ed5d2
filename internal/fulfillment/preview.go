package fulfillment

import (
	"context"
	"time"

	"github.com/frsvc/fulfillment/ent"
	"github.com/frsvc/fulfillment/internal/admin"
	"github.com/frsvc/fulfillment/internal/apperr"
	"github.com/frsvc/fulfillment/internal/money"
	"github.com/frsvc/fulfillment/internal/routing"
)

// Preview is how an order would be routed now (GraphQL FulfillmentPreview).
type Preview struct {
	Order      *ent.Order
	CanRoute   bool
	Plan       *Plan
	Groups     []*GroupEvaluation
	Roadblocks []*Roadblock
	Warnings   []*Roadblock
}

// GroupEvaluation is one routing group tried.
type GroupEvaluation struct {
	RoutingGroup         *ent.RoutingGroup
	Plan                 *Plan
	Roadblocks           []*Roadblock
	CandidatesConsidered int
	PlansExplored        int
	Eliminated           []*EliminatedAlternative
	Members              []*MemberVerdict
}

// Verdict is the GraphQL RoutingVerdict enum; its values are the routing
// engine's Verdict* constants.
type Verdict string

// MemberVerdict is one member source of a group tried, with whether the
// group's plan used it and, if not, why (GraphQL RoutingMemberVerdict).
type MemberVerdict struct {
	Source    *ent.Source
	Priority  int
	Verdict   Verdict
	Sku       *string
	Available *int
	Needed    *int
	Message   string
}

// EliminatedAlternative is the best plan a rule removed.
type EliminatedAlternative struct {
	Rule           admin.RoutingRule
	Plan           *Plan
	CostDifference money.Amount
}

// Plan is a routing plan.
type Plan struct {
	TotalCost  money.Amount
	Optimal    bool
	LowerBound *money.Amount
	Requests   []*PlannedRequest
}

// PlannedRequest is one request a plan would create.
type PlannedRequest struct {
	Source       *ent.Source
	Items        []*PlannedItem
	ItemCost     money.Amount
	DropshipFee  money.Amount
	ShippingCost money.Amount
	TotalCost    money.Amount
}

// PlannedItem is one line's share of a planned request.
type PlannedItem struct {
	OrderLine *ent.OrderLine
	Sku       string
	Quantity  int
	UnitCost  money.Amount
}

// Roadblock is a reason routing cannot go on, or a warning.
type Roadblock struct {
	Code    string
	Message string
	Sku     *string
	Source  *ent.Source
	// Group is the routing group the roadblock is about; nil for the
	// order as a whole.
	Group *ent.RoutingGroup
}

// Preview routes the order as it stands, writing nothing. routingGroupID
// restricts routing to one group.
func (s *Service) Preview(ctx context.Context, orderID int, routingGroupID *int) (*Preview, error) {
	var snap *snapshot
	err := s.Store.InReadTx(ctx, func(tx *ent.Tx) error {
		var err error
		snap, err = loadSnapshot(ctx, tx.Client(), orderID)
		return err
	})
	if err != nil {
		return nil, err
	}
	snap.unwrap()
	if err := snap.checkGroup(routingGroupID); err != nil {
		return nil, err
	}
	d := s.route(ctx, snap, routingGroupID)
	if err := outOfRange(d, "orderID"); err != nil {
		return nil, err
	}
	return snap.preview(d), nil
}

// outOfRange refuses, with VALIDATION on field, a decision that found no
// plan because the order's quantities or costs are too large to add up
// exactly (data from before the entry bounds; see money.MaxUnitCost): an
// overflow is the caller's input, never a number shown or stored.
func outOfRange(d routing.Decision, field string) error {
	if d.CanRoute {
		return nil
	}
	for _, rb := range d.Roadblocks {
		if rb.Code == routing.CodeOutOfRange {
			return apperr.Invalid(field, "%s", rb.Message)
		}
	}
	return nil
}

// route runs the engine on the snapshot within the search budget.
func (s *Service) route(ctx context.Context, snap *snapshot, routingGroupID *int) routing.Decision {
	budget := s.Budget
	if budget <= 0 {
		budget = routing.DefaultBudget
	}
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	opts := routing.Options{}
	if routingGroupID != nil {
		opts.GroupID = *routingGroupID
	}
	start := time.Now()
	d := routing.Route(ctx, snap.input, opts)
	if s.ObserveRouting != nil {
		s.ObserveRouting(time.Since(start))
	}
	return d
}

// preview maps an engine decision onto the snapshot's entities.
func (snap *snapshot) preview(d routing.Decision) *Preview {
	p := &Preview{
		Order:      snap.order,
		CanRoute:   d.CanRoute,
		Plan:       snap.plan(d.Plan),
		Roadblocks: snap.roadblocks(d.Roadblocks),
		Warnings:   snap.roadblocks(d.Warnings),
		Groups:     make([]*GroupEvaluation, 0, len(d.Groups)),
	}
	for _, g := range d.Groups {
		ev := &GroupEvaluation{
			RoutingGroup:         snap.groups[g.GroupID],
			Plan:                 snap.plan(g.Plan),
			Roadblocks:           snap.roadblocks(g.Roadblocks),
			CandidatesConsidered: g.CandidatesConsidered,
			PlansExplored:        g.PlansExplored,
		}
		for _, m := range g.Members {
			mv := &MemberVerdict{Source: snap.sources[m.SourceID], Priority: m.Priority, Verdict: Verdict(m.Verdict), Message: m.Message}
			if mv.Source == nil {
				continue
			}
			if m.SKU != "" {
				sku := m.SKU
				mv.Sku = &sku
			}
			if m.Verdict == routing.VerdictLacksStock {
				available, needed := m.Available, m.Needed
				mv.Available, mv.Needed = &available, &needed
			}
			ev.Members = append(ev.Members, mv)
		}
		for _, e := range g.Eliminated {
			ev.Eliminated = append(ev.Eliminated, &EliminatedAlternative{
				Rule: admin.RoutingRule(e.Rule), Plan: snap.plan(&e.Plan), CostDifference: e.CostDifference,
			})
		}
		p.Groups = append(p.Groups, ev)
	}
	return p
}

func (snap *snapshot) plan(rp *routing.Plan) *Plan {
	if rp == nil {
		return nil
	}
	p := &Plan{TotalCost: rp.TotalCost, Optimal: rp.Optimal}
	if !rp.Optimal {
		lb := rp.LowerBound
		p.LowerBound = &lb
	}
	for _, r := range rp.Requests {
		pr := &PlannedRequest{
			Source: snap.sources[r.SourceID], ItemCost: r.ItemCost, DropshipFee: r.DropshipFee,
			ShippingCost: r.ShippingCost, TotalCost: r.TotalCost,
		}
		for _, it := range r.Items {
			pr.Items = append(pr.Items, &PlannedItem{OrderLine: snap.lines[it.LineID], Sku: it.SKU, Quantity: it.Quantity, UnitCost: it.UnitCost})
		}
		p.Requests = append(p.Requests, pr)
	}
	return p
}

func (snap *snapshot) roadblocks(rs []routing.Roadblock) []*Roadblock {
	out := make([]*Roadblock, 0, len(rs))
	for _, r := range rs {
		rb := &Roadblock{Code: r.Code, Message: r.Message}
		if r.SKU != "" {
			sku := r.SKU
			rb.Sku = &sku
		}
		if r.SourceID != 0 {
			rb.Source = snap.sources[r.SourceID]
		}
		if r.GroupID != 0 {
			rb.Group = snap.groups[r.GroupID]
		}
		out = append(out, rb)
	}
	return out
}
