package fulfillment

import (
	"context"
	"errors"
	"fmt"
	"time"

	"entgo.io/ent/dialect/sql"

	"github.com/frsvc/fulfillment/ent"
	"github.com/frsvc/fulfillment/ent/fulfillmentrequest"
	"github.com/frsvc/fulfillment/ent/inventoryitem"
	"github.com/frsvc/fulfillment/ent/order"
	"github.com/frsvc/fulfillment/ent/orderline"
	"github.com/frsvc/fulfillment/ent/predicate"
	"github.com/frsvc/fulfillment/internal/apperr"
	"github.com/frsvc/fulfillment/internal/auth"
	"github.com/frsvc/fulfillment/internal/frstatus"
	"github.com/frsvc/fulfillment/internal/money"
	"github.com/frsvc/fulfillment/internal/tenant"
	"github.com/frsvc/fulfillment/internal/trail"
)

// lockOrder reads an order for an operation that changes its ledger. On
// PostgreSQL the row stays locked to the end of the transaction, so two such
// operations on one order run one after the other; SQLite's single writer
// (transactions begin IMMEDIATE) gives the same order without row locks.
func (s *Service) lockOrder(ctx context.Context, tx *ent.Tx, id int) (*ent.Order, error) {
	q := tx.Order.Query().Where(order.ID(id))
	if s.Store.Postgres() {
		// FOR NO KEY UPDATE, not FOR UPDATE: it serializes the operations
		// that lock an order just the same, but does not block the KEY SHARE
		// lock that inserting a row referencing the order takes (a log
		// entry's foreign key check). With FOR UPDATE, an operation that
		// updated a request and then logged (process, mark, the send run)
		// deadlocked against one that locked the order and then updated
		// that request (void, cancel).
		q.Unique(false).Modify(func(sel *sql.Selector) { sel.For(sql.LockNoKeyUpdate) })
	}
	o, err := q.Only(ctx)
	if ent.IsNotFound(err) {
		return nil, apperr.Missing("order", id)
	}
	return o, err
}

// getFR reads a request the caller may see: a SOURCE key sees only its
// source's requests, and anything else is simply not found.
func (s *Service) getFR(ctx context.Context, tx *ent.Tx, id int) (*ent.FulfillmentRequest, error) {
	fr, err := tx.FulfillmentRequest.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, apperr.Missing("fulfillment request", id)
	}
	if err != nil {
		return nil, err
	}
	if p, ok := auth.FromContext(ctx); ok && p.Role == auth.RoleSource && (p.SourceID == nil || *p.SourceID != fr.SourceID) {
		return nil, apperr.Missing("fulfillment request", id)
	}
	return fr, nil
}

// lockFR reads a request for an operation that also changes its order's
// ledger: it locks the order first, then reads the request again under that
// lock, since it may have moved between the two reads.
func (s *Service) lockFR(ctx context.Context, tx *ent.Tx, id int) (*ent.FulfillmentRequest, error) {
	fr, err := s.getFR(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	if _, err := s.lockOrder(ctx, tx, fr.OrderID); err != nil {
		return nil, err
	}
	return s.getFR(ctx, tx, id)
}

// change is one status move of a request.
type change struct {
	event  frstatus.Event
	to     frstatus.Status
	reason string
	// operator moves are refused while a send run holds the request.
	operator bool
	// set adds the move's own fields.
	set func(*ent.FulfillmentRequestUpdate)
	// data adds to the log entry.
	data map[string]any
	// guard, when set, must also hold for the update to apply (the send
	// run's lease).
	guard predicate.FulfillmentRequest
}

// transition is the one function every status change goes through: it checks
// the move against the table, updates guarded by the version read (so a
// concurrent change turns into CONFLICT, never a lost update), bumps the
// version, stamps the status's timestamp and writes the log entry.
func (s *Service) transition(ctx context.Context, tx *ent.Tx, w *trail.Writer, fr *ent.FulfillmentRequest, c change) (*ent.FulfillmentRequest, error) {
	if err := frstatus.Check(c.event, fr.Status, c.to); err != nil {
		return nil, transitionError(err)
	}
	now := s.now()
	if c.operator && fr.Status == frstatus.Processing && fr.LeaseExpiresAt != nil && fr.LeaseExpiresAt.After(now) {
		return nil, apperr.Clash("fulfillment request %s is being sent right now; try again once the send run is done", fr.Number)
	}
	u := tx.FulfillmentRequest.Update().
		Where(fulfillmentrequest.ID(fr.ID), fulfillmentrequest.Version(fr.Version)).
		SetStatus(c.to).AddVersion(1)
	stamp(u, c.to, now)
	if c.guard != nil {
		u.Where(c.guard)
	}
	if c.operator && fr.Status == frstatus.Processing {
		// The lease as read may be stale: a send run's claim sets it without
		// a new version, and on PostgreSQL it can commit between the read
		// and this write. Claimed meanwhile, the request is being sent: the
		// update matches nothing and the answer is CONFLICT below.
		u.Where(fulfillmentrequest.Or(fulfillmentrequest.LeaseExpiresAtIsNil(), fulfillmentrequest.LeaseExpiresAtLTE(now)))
	}
	if c.set != nil {
		c.set(u)
	}
	n, err := u.Save(ctx)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, apperr.Clash("fulfillment request %s changed meanwhile; reload and try again", fr.Number)
	}
	data := map[string]any{"from": string(fr.Status), "to": string(c.to), "event": string(c.event), "version": fr.Version + 1}
	if c.reason != "" {
		data["reason"] = c.reason
	}
	for k, v := range c.data {
		data[k] = v
	}
	msg := fmt.Sprintf("Fulfillment request %s moved from %s to %s.", fr.Number, fr.Status, c.to)
	if c.reason != "" {
		msg = fmt.Sprintf("Fulfillment request %s moved from %s to %s: %s", fr.Number, fr.Status, c.to, c.reason)
	}
	level := trail.Info
	if c.to == frstatus.Failed {
		level = trail.Warn
	}
	if err := w.Write(ctx, tx.FulfillmentLog, trail.Entry{OrderID: fr.OrderID, FRID: fr.ID, Stage: "transition", Level: level, Message: msg, Data: data}); err != nil {
		return nil, err
	}
	if s.ObserveTransition != nil {
		from := fr.Status
		afterCommit(tx, func() { s.ObserveTransition(from, c.to) })
	}
	return tx.FulfillmentRequest.Get(ctx, fr.ID)
}

// stamp sets the status's timestamp. Only a PROCESSING request has a next
// attempt: any other status clears it (a voided request with a cancellation
// notice to send gets one again from Void).
func stamp(u *ent.FulfillmentRequestUpdate, to frstatus.Status, now time.Time) {
	if to != frstatus.Processing && to != frstatus.Voided {
		u.ClearNextAttemptAt()
	}
	switch to {
	case frstatus.Processing:
		u.SetProcessingAt(now).SetNextAttemptAt(now)
	case frstatus.Processed:
		u.SetProcessedAt(now)
	case frstatus.Acknowledged:
		u.SetAcknowledgedAt(now)
	case frstatus.Failed:
		u.SetFailedAt(now)
	case frstatus.Canceled:
		u.SetCanceledAt(now)
	case frstatus.Voided:
		u.SetVoidedAt(now)
	}
}

func transitionError(err error) error {
	var te *frstatus.TransitionError
	if errors.As(err, &te) {
		e := apperr.Transition(string(te.From), string(te.To))
		e.Message = fmt.Sprintf("a fulfillment request in %s cannot move to %s (%s)", te.From, te.To, te.Event)
		e.Err = err
		return e
	}
	return err
}

// ledger is a change to an order line's quantities.
type ledger struct {
	unallocated, allocated, shipped, killed int
}

// moveLine applies d to a line, guarded so that no quantity goes below zero:
// quantity = unallocated + allocated + shipped + killed holds because every
// delta sums to zero.
func moveLine(ctx context.Context, tx *ent.Tx, lineID int, d ledger) error {
	if d.unallocated+d.allocated+d.shipped+d.killed != 0 {
		return fmt.Errorf("ledger delta %+v does not balance", d)
	}
	n, err := tx.OrderLine.Update().Where(
		orderline.ID(lineID),
		orderline.UnallocatedQuantityGTE(-d.unallocated),
		orderline.AllocatedQuantityGTE(-d.allocated),
		orderline.ShippedQuantityGTE(-d.shipped),
		orderline.KilledQuantityGTE(-d.killed),
	).
		AddUnallocatedQuantity(d.unallocated).AddAllocatedQuantity(d.allocated).
		AddShippedQuantity(d.shipped).AddKilledQuantity(d.killed).
		Save(ctx)
	if err != nil {
		return err
	}
	if n == 0 {
		return apperr.Clash("order line %d changed meanwhile; reload and try again", lineID)
	}
	return nil
}

// refreshOrder recomputes an order's derived allocation and shipment status
// from its lines.
func refreshOrder(ctx context.Context, tx *ent.Tx, orderID int) error {
	// Every line counts, also when a partner's shipment or cancellation
	// triggered this: its own view would see only its lines.
	ctx = tenant.WithoutSource(ctx)
	lines, err := tx.OrderLine.Query().Where(orderline.OrderID(orderID)).All(ctx)
	if err != nil {
		return err
	}
	var qty, unalloc, alloc, shipped, killed int
	for _, l := range lines {
		qty += l.Quantity
		unalloc += l.UnallocatedQuantity
		alloc += l.AllocatedQuantity
		shipped += l.ShippedQuantity
		killed += l.KilledQuantity
	}
	live := qty - killed
	allocation := order.AllocationStatusPARTIALLY_ALLOCATED
	ship := order.ShipmentStatusPARTIALLY_SHIPPED
	switch {
	case live == 0:
		allocation, ship = order.AllocationStatusCANCELED, order.ShipmentStatusCANCELED
	default:
		switch unalloc {
		case live:
			allocation = order.AllocationStatusUNALLOCATED
		case 0:
			allocation = order.AllocationStatusALLOCATED
		}
		switch shipped {
		case 0:
			ship = order.ShipmentStatusUNSHIPPED
		case live:
			ship = order.ShipmentStatusSHIPPED
		}
	}
	u := tx.Order.UpdateOneID(orderID).SetAllocationStatus(allocation).SetShipmentStatus(ship)
	// An open order with nothing left to route or ship is done: CANCELED
	// when every unit was killed, CLOSED otherwise.
	if unalloc+alloc == 0 {
		u.Where(order.StatusEQ(order.StatusOPEN))
		if live == 0 {
			u.SetStatus(order.StatusCANCELED)
		} else {
			u.SetStatus(order.StatusCLOSED)
		}
		err := u.Exec(ctx)
		if ent.IsNotFound(err) {
			// Not open (on hold, say): keep its status, update the rest.
			return tx.Order.UpdateOneID(orderID).SetAllocationStatus(allocation).SetShipmentStatus(ship).Exec(ctx)
		}
		return err
	}
	return u.Exec(ctx)
}

// commitStock reserves qty of a SKU at a source. Unless overcommit is
// allowed, the update is guarded so that available never goes negative; a
// lost race shows as ok == false. Either way committed stays at most
// money.MaxCommitted: a reservation past it answers VALIDATION.
func commitStock(ctx context.Context, tx *ent.Tx, sourceID int, sku string, qty int, overcommit bool) (ok bool, err error) {
	if qty > money.MaxCommitted {
		return false, committedLimit(sku, qty)
	}
	reserve := func() (int, error) {
		u := tx.InventoryItem.Update().Where(inventoryitem.SourceID(sourceID), inventoryitem.Sku(sku),
			inventoryitem.CommittedLTE(money.MaxCommitted-qty))
		if !overcommit {
			// Built with Arg, not a raw "?": PostgreSQL needs its own $n
			// placeholders, which only the builder writes.
			u.Where(func(sel *sql.Selector) {
				sel.Where(sql.P(func(b *sql.Builder) {
					b.Ident(sel.C(inventoryitem.FieldQuantity)).WriteString(" - ").
						Ident(sel.C(inventoryitem.FieldCommitted)).WriteString(" >= ").Arg(qty)
				}))
			})
		}
		return u.AddCommitted(qty).Save(ctx)
	}
	// why tells a refused reservation's reason: past the cap, or (ok ==
	// false) stock short or the row gone.
	why := func() (bool, error) {
		row, err := tx.InventoryItem.Query().Where(inventoryitem.SourceID(sourceID), inventoryitem.Sku(sku)).Only(ctx)
		if err == nil && row.Committed > money.MaxCommitted-qty {
			return false, committedLimit(sku, qty)
		}
		return false, ignoreNotFound(err)
	}
	n, err := reserve()
	if err != nil || n > 0 {
		return n > 0, err
	}
	if !overcommit {
		return why()
	}
	// Overcommitting: the SKU may be one the source never reported. Its
	// reservation is tracked on a zero-quantity row so that release has
	// something to release. There was no row to lock, so a concurrent
	// transaction may be creating the same one: the row is made sure of
	// with an insert that leaves an existing row alone (waiting for its
	// creator to finish), and the reservation is then taken on it.
	err = tx.InventoryItem.Create().SetSourceID(sourceID).SetSku(sku).SetQuantity(0).
		OnConflictColumns(inventoryitem.FieldSourceID, inventoryitem.FieldSku).Ignore().
		Exec(ctx)
	if err != nil {
		return false, err
	}
	if n, err = reserve(); err != nil || n > 0 {
		return n > 0, err
	}
	return why()
}

func committedLimit(sku string, qty int) error {
	return apperr.Invalid("input.items", "reserving %d more of %s would take what the source has committed past %d units; ship or release some of it first",
		qty, sku, money.MaxCommitted)
}

func ignoreNotFound(err error) error {
	if ent.IsNotFound(err) {
		return nil
	}
	return err
}

// releaseAll gives back a request's reservations of the quantities per SKU,
// if it reserved stock at all. The rows are locked first, in the global
// order (see db.LockInventory).
func (s *Service) releaseAll(ctx context.Context, tx *ent.Tx, fr *ent.FulfillmentRequest, qty map[string]int) error {
	if !fr.CommitsStock {
		return nil
	}
	skus := sortedKeys(qty)
	if err := s.Store.LockInventory(ctx, tx, inventoryitem.SourceID(fr.SourceID), inventoryitem.SkuIn(skus...)); err != nil {
		return err
	}
	for _, sku := range skus {
		if err := releaseStock(ctx, tx, fr.SourceID, sku, qty[sku]); err != nil {
			return err
		}
	}
	return nil
}

// releaseStock gives back qty of a reservation. It never drives committed
// below zero, even if the row was reset meanwhile.
func releaseStock(ctx context.Context, tx *ent.Tx, sourceID int, sku string, qty int) error {
	if qty <= 0 {
		return nil
	}
	n, err := tx.InventoryItem.Update().
		Where(inventoryitem.SourceID(sourceID), inventoryitem.Sku(sku), inventoryitem.CommittedGTE(qty)).
		AddCommitted(-qty).Save(ctx)
	if err != nil || n > 0 {
		return err
	}
	return tx.InventoryItem.Update().Where(inventoryitem.SourceID(sourceID), inventoryitem.Sku(sku)).SetCommitted(0).Exec(ctx)
}

// stockOfOrder matches the inventory rows, at any source, of the SKUs of an
// order's lines.
func stockOfOrder(orderID int) predicate.InventoryItem {
	return func(sel *sql.Selector) {
		sel.Where(sql.In(sel.C(inventoryitem.FieldSku),
			sql.Select(orderline.FieldSku).From(sql.Table(orderline.Table)).Where(sql.EQ(orderline.FieldOrderID, orderID))))
	}
}

// afterCommit runs fn once tx has committed, never for an attempt that
// rolled back: db.InTx may run a unit of work more than once, and only the
// committed run happened.
func afterCommit(tx *ent.Tx, fn func()) {
	tx.OnCommit(func(next ent.Committer) ent.Committer {
		return ent.CommitFunc(func(ctx context.Context, tx *ent.Tx) error {
			err := next.Commit(ctx, tx)
			if err == nil {
				fn()
			}
			return err
		})
	})
}
