package fulfillment

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/frsvc/fulfillment/ent"
	"github.com/frsvc/fulfillment/ent/fulfillmentrequest"
	"github.com/frsvc/fulfillment/internal/admin"
	"github.com/frsvc/fulfillment/internal/apperr"
	"github.com/frsvc/fulfillment/internal/db"
	"github.com/frsvc/fulfillment/internal/frstatus"
	"github.com/frsvc/fulfillment/internal/money"
	"github.com/frsvc/fulfillment/internal/numbering"
	"github.com/frsvc/fulfillment/internal/routing"
	"github.com/frsvc/fulfillment/internal/trail"
)

// GenerateResult is what generate and regenerate answer.
type GenerateResult struct {
	Order               *ent.Order
	FulfillmentRequests []*ent.FulfillmentRequest
	Preview             *Preview
	CorrelationID       string
}

// errRoutingFailed aborts the write transaction when routing finds a roadblock.
var errRoutingFailed = errors.New("routing failed")

// regeneration is what regenerate adds to generate.
type regeneration struct {
	fr            *ent.FulfillmentRequest
	reason        string
	excludeSource bool
}

// Generate runs the full generation flow in one transaction: read the
// snapshot, route with the same engine as Preview, create one request per
// planned source with its items and cost snapshot, apply the number
// strategy, commit stock, move the line ledger and log each stage under one
// correlation id. A roadblock answers ROUTING_FAILED and writes nothing but
// one log entry saying why.
func (s *Service) Generate(ctx context.Context, orderID int, routingGroupID *int) (*GenerateResult, error) {
	return s.generate(ctx, orderID, routingGroupID, nil)
}

// Regenerate voids a request and, in the same transaction, generates
// requests for the order's unallocated quantity (which now includes what was
// freed). The new requests point to the one they supersede.
func (s *Service) Regenerate(ctx context.Context, frID int, reason string, excludeSource bool) (*GenerateResult, error) {
	if err := needReason(reason); err != nil {
		return nil, err
	}
	fr, err := s.Store.Client.FulfillmentRequest.Get(ctx, frID)
	if ent.IsNotFound(err) {
		return nil, apperr.Missing("fulfillment request", frID)
	}
	if err != nil {
		return nil, err
	}
	return s.generate(ctx, fr.OrderID, nil, &regeneration{fr: fr, reason: reason, excludeSource: excludeSource})
}

func (s *Service) generate(ctx context.Context, orderID int, routingGroupID *int, regen *regeneration) (*GenerateResult, error) {
	w := trail.New()
	var res *GenerateResult
	var refused *Preview
	err := db.InTx(ctx, s.Store.Client, func(tx *ent.Tx) error {
		o, err := s.lockOrder(ctx, tx, orderID)
		if err != nil {
			return err
		}
		// Every stock row this may change (released by a regeneration's
		// void, reserved for a new request) is one of the order's SKUs at
		// some source: lock them all now, in the one global order, before
		// touching any. The snapshot then reads them as they stand.
		if err := s.Store.LockInventory(ctx, tx, stockOfOrder(orderID)); err != nil {
			return err
		}
		origin := fulfillmentrequest.OriginGENERATED
		var supersedes *int
		if regen != nil {
			fr, err := s.getFR(ctx, tx, regen.fr.ID)
			if err != nil {
				return err
			}
			if _, err := s.void(ctx, tx, w, fr, regen.reason); err != nil {
				return err
			}
			origin, supersedes = fulfillmentrequest.OriginREGENERATED, &fr.ID
		}
		snap, err := loadSnapshot(ctx, tx.Client(), orderID)
		if err != nil {
			return err
		}
		if err := snap.checkGroup(routingGroupID); err != nil {
			return err
		}
		if regen != nil && regen.excludeSource {
			snap.exclude(regen.fr.SourceID)
		}
		d := s.route(ctx, snap, routingGroupID)
		field := "orderID"
		if regen != nil {
			field = "id"
		}
		if err := outOfRange(d, field); err != nil {
			return err
		}
		preview := snap.preview(d)
		if !d.CanRoute {
			refused = preview
			return errRoutingFailed
		}
		if err := w.Write(ctx, tx.FulfillmentLog, trail.Entry{
			OrderID: orderID, Stage: "routing",
			Message: routingSummary(snap, d),
			Data:    decisionData(d),
		}); err != nil {
			return err
		}
		frs, err := s.materialize(ctx, tx, w, o, snap, d, origin, supersedes)
		if err != nil {
			return err
		}
		res = &GenerateResult{Order: o, FulfillmentRequests: frs, Preview: preview, CorrelationID: w.CorrelationID}
		return nil
	})
	if errors.Is(err, errRoutingFailed) {
		return nil, s.routingRefused(ctx, w, orderID, refused)
	}
	if err != nil {
		return nil, err
	}
	o, err := s.Store.Client.Order.Get(ctx, orderID)
	if err != nil {
		return nil, err
	}
	res.Order = o
	for i, fr := range res.FulfillmentRequests {
		res.FulfillmentRequests[i] = fr.Unwrap()
	}
	return res, nil
}

// routingRefused logs why routing stopped, in its own small transaction
// since the generation rolled back, and answers ROUTING_FAILED.
func (s *Service) routingRefused(ctx context.Context, w *trail.Writer, orderID int, p *Preview) error {
	list := make([]map[string]any, 0, len(p.Roadblocks))
	for _, rb := range p.Roadblocks {
		m := map[string]any{"code": rb.Code, "message": rb.Message}
		if rb.Sku != nil {
			m["sku"] = *rb.Sku
		}
		if rb.Source != nil {
			m["sourceID"] = rb.Source.ID
		}
		if rb.Group != nil {
			m["groupID"] = strconv.Itoa(rb.Group.ID)
		}
		list = append(list, m)
	}
	logErr := w.Write(ctx, s.Store.Client.FulfillmentLog, trail.Entry{
		OrderID: orderID, Stage: "routing", Level: trail.Warn,
		Message: routingStoppedMessage(p.Roadblocks),
		Data:    map[string]any{"roadblocks": list},
	})
	msg := "the order cannot be routed"
	if len(p.Roadblocks) > 0 {
		msg = "the order cannot be routed: " + p.Roadblocks[0].Message
	}
	return &apperr.Error{Code: apperr.RoutingFailed, Message: msg, Extra: map[string]any{"roadblocks": list, "correlationID": w.CorrelationID, "correlationId": w.CorrelationID}, Err: logErr}
}

// routingStoppedMessage says in words why routing stopped: the roadblocks'
// own sentences, each once, the first few of them (their codes and
// details are in the entry's data).
func routingStoppedMessage(rbs []*Roadblock) string {
	const most = 5
	var said []string
	seen := map[string]bool{}
	for _, rb := range rbs {
		if !seen[rb.Message] {
			seen[rb.Message] = true
			said = append(said, rb.Message)
		}
	}
	switch {
	case len(said) == 0:
		return "Routing stopped."
	case len(said) > most:
		return fmt.Sprintf("Routing stopped. %s (and %d more roadblocks)", strings.Join(said[:most], " "), len(said)-most)
	}
	return "Routing stopped. " + strings.Join(said, " ")
}

// materialize turns the chosen plan into requests, items, reservations and
// ledger moves.
func (s *Service) materialize(ctx context.Context, tx *ent.Tx, w *trail.Writer, o *ent.Order, snap *snapshot, d routing.Decision,
	origin fulfillmentrequest.Origin, supersedes *int) ([]*ent.FulfillmentRequest, error) {
	acc, err := tx.Account.Get(ctx, o.AccountID)
	if err != nil {
		return nil, err
	}
	var group *int
	if d.GroupID != 0 {
		group = &d.GroupID
	}
	seq := o.FrSequence
	taken := map[string]bool{}
	var out []*ent.FulfillmentRequest
	for _, r := range d.Plan.Requests {
		seq++
		items := make([]newItem, len(r.Items))
		for i, it := range r.Items {
			items[i] = newItem{line: snap.lines[it.LineID], quantity: it.Quantity, unitCost: it.UnitCost}
		}
		fr, err := s.createFR(ctx, tx, w, newFR{
			order: o, source: snap.sources[r.SourceID], account: acc, group: group, origin: origin,
			supersedes: supersedes, sequence: seq, items: items, taken: taken,
			costs: costs{item: r.ItemCost, fee: r.DropshipFee, shipping: r.ShippingCost, total: r.TotalCost},
		})
		if err != nil {
			return nil, err
		}
		out = append(out, fr)
	}
	if err := tx.Order.UpdateOneID(o.ID).SetFrSequence(seq).Exec(ctx); err != nil {
		return nil, err
	}
	return out, refreshOrder(ctx, tx, o.ID)
}

type costs struct{ item, fee, shipping, total money.Amount }

type newItem struct {
	line     *ent.OrderLine
	quantity int
	unitCost money.Amount
	// given and field are for requests made by hand: the unit cost the
	// item gave, and the input field it came from.
	given *money.Amount
	field string
}

type newFR struct {
	order      *ent.Order
	source     *ent.Source
	account    *ent.Account
	group      *int
	origin     fulfillmentrequest.Origin
	supersedes *int
	sequence   int
	items      []newItem
	costs      costs
	overcommit bool
	// taken holds numbers given earlier in the same operation.
	taken map[string]bool
	// warnings are written to the request's log at WARN level.
	warnings []warning
}

// createFR writes one request: number and status by the strategy, items,
// ledger moves and stock reservations, each stage logged.
func (s *Service) createFR(ctx context.Context, tx *ent.Tx, w *trail.Writer, n newFR) (*ent.FulfillmentRequest, error) {
	st := admin.Effective(admin.AccountStrategy(n.account), n.source)
	number := numbering.Render(st.NumberTemplate, numbering.Fields{
		Order: n.order.OrderNumber, Ref: n.order.ReferenceNumber, Sequence: n.sequence, Source: n.source.Code,
	})
	// A clash is checked first, whatever the length: only DUPLICATE_NUMBER
	// requests may share a number (the unique index exempts them alone), so
	// a too-long number that is also taken must park as a duplicate, or the
	// insert would fail on the index and the whole operation with it.
	used, err := numberTaken(ctx, tx, number, 0)
	if err != nil {
		return nil, err
	}
	var problem frstatus.Status
	switch {
	case used || n.taken[number]:
		problem = frstatus.DuplicateNumber
	case st.MaxNumberLength > 0 && len(number) > st.MaxNumberLength:
		problem = frstatus.NumberTooLong
	}
	if problem != frstatus.DuplicateNumber {
		n.taken[number] = true
	}
	status := frstatus.Creation(st.AutoProcess, problem)
	now := s.now()
	c := tx.FulfillmentRequest.Create().
		SetNumber(number).SetSequence(n.sequence).SetOrderID(n.order.ID).SetSourceID(n.source.ID).
		SetNillableRoutingGroupID(n.group).SetOrigin(n.origin).SetNillableSupersedesID(n.supersedes).
		SetStatus(status).SetItemCost(n.costs.item).SetDropshipFee(n.costs.fee).
		SetShippingCost(n.costs.shipping).SetTotalCost(n.costs.total).SetCommitsStock(n.source.CommitStock)
	if status == frstatus.Processing {
		c.SetProcessingAt(now).SetNextAttemptAt(now)
	}
	fr, err := c.Save(ctx)
	if err != nil {
		return nil, err
	}
	builders := make([]*ent.FulfillmentRequestItemCreate, len(n.items))
	var units int
	committed := map[string]int{}
	for i, it := range n.items {
		builders[i] = tx.FulfillmentRequestItem.Create().SetFulfillmentRequestID(fr.ID).SetOrderLineID(it.line.ID).
			SetSku(it.line.Sku).SetQuantity(it.quantity).SetUnitCost(it.unitCost)
		units += it.quantity
		if err := moveLine(ctx, tx, it.line.ID, ledger{unallocated: -it.quantity, allocated: it.quantity}); err != nil {
			return nil, err
		}
		if n.source.CommitStock {
			committed[it.line.Sku] += it.quantity
		}
	}
	if err := tx.FulfillmentRequestItem.CreateBulk(builders...).Exec(ctx); err != nil {
		return nil, err
	}
	for _, sku := range sortedKeys(committed) {
		ok, err := commitStock(ctx, tx, n.source.ID, sku, committed[sku], n.overcommit)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, apperr.Clash("stock of %s at source %s changed meanwhile; try again", sku, n.source.Code)
		}
	}
	entries := []trail.Entry{
		{OrderID: n.order.ID, FRID: fr.ID, Stage: "attach", Message: fmt.Sprintf(
			"Fulfillment request %s created for source %s with %d items (%d units), total cost %s.", number, n.source.Code, len(n.items), units, n.costs.total),
			Data: map[string]any{"origin": string(n.origin), "sourceID": n.source.ID, "units": units, "totalCost": n.costs.total.String(),
				"itemCost": n.costs.item.String(), "dropshipFee": n.costs.fee.String(), "shippingCost": n.costs.shipping.String()}},
	}
	for _, wn := range n.warnings {
		entries = append(entries, trail.Entry{OrderID: n.order.ID, FRID: fr.ID, Stage: "attach", Level: trail.Warn, Message: wn.message, Data: wn.data})
	}
	entries = append(entries, strategyEntry(n, fr, st, problem))
	if n.source.CommitStock {
		e := trail.Entry{OrderID: n.order.ID, FRID: fr.ID, Stage: "stock",
			Message: fmt.Sprintf("Reserved %d units at source %s.", units, n.source.Code),
			Data:    map[string]any{"committed": committed, "sourceID": n.source.ID}}
		if n.overcommit {
			e.Level = trail.Warn
			e.Message = fmt.Sprintf("Reserved %d units at source %s, allowing overcommit.", units, n.source.Code)
			e.Data["overcommit"] = true
		}
		entries = append(entries, e)
	}
	if err := w.Write(ctx, tx.FulfillmentLog, entries...); err != nil {
		return nil, err
	}
	return fr, nil
}

func strategyEntry(n newFR, fr *ent.FulfillmentRequest, st admin.Strategy, problem frstatus.Status) trail.Entry {
	e := trail.Entry{OrderID: n.order.ID, FRID: fr.ID, Stage: "strategy",
		Message: fmt.Sprintf("Numbered %s by template %q; status %s.", fr.Number, st.NumberTemplate, fr.Status),
		Data: map[string]any{"number": fr.Number, "template": st.NumberTemplate, "maxNumberLength": st.MaxNumberLength,
			"autoProcess": st.AutoProcess, "status": string(fr.Status)}}
	switch problem {
	case frstatus.NumberTooLong:
		e.Level = trail.Warn
		e.Message = fmt.Sprintf("Number %s is longer than %d characters: parked as NUMBER_TOO_LONG until renumbered.", fr.Number, st.MaxNumberLength)
	case frstatus.DuplicateNumber:
		e.Level = trail.Warn
		e.Message = fmt.Sprintf("Number %s is already used: parked as DUPLICATE_NUMBER until renumbered.", fr.Number)
	}
	return e
}

// numberTaken reports whether another request of the account holds number.
func numberTaken(ctx context.Context, tx *ent.Tx, number string, self int) (bool, error) {
	q := tx.FulfillmentRequest.Query().Where(fulfillmentrequest.Number(number), fulfillmentrequest.StatusNEQ(frstatus.DuplicateNumber))
	if self != 0 {
		q.Where(fulfillmentrequest.IDNEQ(self))
	}
	return q.Exist(ctx)
}

// exclude drops a source from routing, for regenerate's excludeSource.
func (snap *snapshot) exclude(sourceID int) {
	for i := range snap.input.Sources {
		if snap.input.Sources[i].ID == sourceID {
			snap.input.Sources[i].Excluded = true
		}
	}
}

func routingSummary(snap *snapshot, d routing.Decision) string {
	g := snap.groups[d.GroupID]
	name := "?"
	if g != nil {
		name = g.Name
	}
	return fmt.Sprintf("Routed by group %q: %d request(s), total cost %s (%d group(s) tried).", name, len(d.Plan.Requests), d.Plan.TotalCost, len(d.Groups))
}

// decisionData is the routing decision with its explanation, as log data.
func decisionData(d routing.Decision) map[string]any {
	groups := make([]map[string]any, 0, len(d.Groups))
	for _, g := range d.Groups {
		m := map[string]any{"groupID": g.GroupID, "candidatesConsidered": g.CandidatesConsidered, "plansExplored": g.PlansExplored}
		var rbs []string
		for _, r := range g.Roadblocks {
			rbs = append(rbs, r.Code)
		}
		if len(rbs) > 0 {
			m["roadblocks"] = rbs
		}
		var elim []map[string]any
		for _, e := range g.Eliminated {
			elim = append(elim, map[string]any{"rule": string(e.Rule), "costDifference": e.CostDifference.String(), "sources": planSources(&e.Plan)})
		}
		if len(elim) > 0 {
			m["eliminated"] = elim
		}
		groups = append(groups, m)
	}
	reqs := make([]map[string]any, 0, len(d.Plan.Requests))
	for _, r := range d.Plan.Requests {
		items := make([]map[string]any, 0, len(r.Items))
		for _, it := range r.Items {
			items = append(items, map[string]any{"lineID": it.LineID, "sku": it.SKU, "quantity": it.Quantity, "unitCost": it.UnitCost.String()})
		}
		reqs = append(reqs, map[string]any{"sourceID": r.SourceID, "items": items, "itemCost": r.ItemCost.String(),
			"dropshipFee": r.DropshipFee.String(), "shippingCost": r.ShippingCost.String(), "totalCost": r.TotalCost.String()})
	}
	var warnings []string
	for _, wn := range d.Warnings {
		warnings = append(warnings, wn.Message)
	}
	return map[string]any{"groupID": d.GroupID, "totalCost": d.Plan.TotalCost.String(), "optimal": d.Plan.Optimal,
		"requests": reqs, "groups": groups, "warnings": warnings}
}

func planSources(p *routing.Plan) []int {
	out := make([]int, len(p.Requests))
	for i, r := range p.Requests {
		out[i] = r.SourceID
	}
	return out
}
