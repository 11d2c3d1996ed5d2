package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/frsvc/fulfillment/ent"
	"github.com/frsvc/fulfillment/ent/fulfillmentlog"
	"github.com/frsvc/fulfillment/ent/fulfillmentrequest"
	"github.com/frsvc/fulfillment/ent/order"
	"github.com/frsvc/fulfillment/internal/address"
	"github.com/frsvc/fulfillment/internal/auth"
	"github.com/frsvc/fulfillment/internal/db"
	"github.com/frsvc/fulfillment/internal/frstatus"
	"github.com/frsvc/fulfillment/internal/money"
	"github.com/frsvc/fulfillment/internal/tenant"
)

// seedChunk is how many rows one bulk INSERT carries: well under SQLite's
// 32766 and PostgreSQL's 65535 bound parameters for the widest table.
const seedChunk = 400

// seedSources is how many sources the fulfillment requests are spread over.
const seedSources = 10

// seeded is what the seed made.
type seeded struct {
	AccountID int
	Key       string // the account's ADMIN bearer key
	Orders    int
	Lines     int
	FRs       int
	Items     int
	Logs      int
	Took      time.Duration
}

func (s seeded) String() string {
	return fmt.Sprintf("%d orders, %d lines, %d fulfillment requests, %d items, %d logs, %d sources in %s",
		s.Orders, s.Lines, s.FRs, s.Items, s.Logs, seedSources, s.Took.Round(time.Millisecond))
}

// seed fills a fresh, migrated store with one account holding n orders of
// 2–4 lines, 1–2 fulfillment requests per order (each with an item per line
// it takes and one of 10 sources), and 3–5 logs per order and per request.
// It is deterministic: the same n gives the same data.
func seed(ctx context.Context, store *db.Store, n int) (seeded, error) {
	start := time.Now()
	acc, key, err := auth.CreateAccount(ctx, store.Client, "Load test", "")
	if err != nil {
		return seeded{}, err
	}
	out := seeded{AccountID: acc.ID, Key: key}
	ctx = tenant.WithAccount(ctx, acc.ID)
	err = db.InTx(ctx, store.Client, func(tx *ent.Tx) error {
		return seedTx(ctx, tx.Client(), n, &out)
	})
	out.Took = time.Since(start)
	return out, err
}

var seedStatuses = []frstatus.Status{frstatus.Unprocessed, frstatus.Processing, frstatus.Processed, frstatus.Acknowledged}

func seedTx(ctx context.Context, c *ent.Client, n int, out *seeded) error {
	rng := rand.New(rand.NewPCG(1, uint64(n)))
	sb := make([]*ent.SourceCreate, seedSources)
	for i := range sb {
		sb[i] = c.Source.Create().SetName(fmt.Sprintf("Source %d", i)).SetCode(fmt.Sprintf("SRC-%02d", i))
	}
	sources, err := c.Source.CreateBulk(sb...).Save(ctx)
	if err != nil {
		return fmt.Errorf("sources: %w", err)
	}

	ordered := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	ob := make([]*ent.OrderCreate, n)
	for i := range ob {
		ob[i] = c.Order.Create().SetChannel("web").SetOrderNumber(fmt.Sprintf("LT-%06d", i+1)).
			SetPaymentStatus(order.PaymentStatusPAID).SetOrderedAt(ordered.Add(time.Duration(i) * time.Minute)).
			SetShipToCountry("US").
			SetShipTo(address.Address{Name: "Customer", Line1: fmt.Sprintf("%d Main St", i+1), City: "Springfield", PostalCode: "12345", Country: "US"})
	}
	orders, err := inChunks(ob, func(b []*ent.OrderCreate) ([]*ent.Order, error) { return c.Order.CreateBulk(b...).Save(ctx) })
	if err != nil {
		return fmt.Errorf("orders: %w", err)
	}
	out.Orders = len(orders)

	var lb []*ent.OrderLineCreate
	var logs []*ent.FulfillmentLogCreate
	addLogs := func(orderID int, frID *int, what string) {
		for j := range 3 + rng.IntN(3) {
			l := c.FulfillmentLog.Create().SetOrderID(orderID).SetCorrelationID(fmt.Sprintf("seed-%d", orderID)).
				SetStage("import").SetMessage(fmt.Sprintf("%s: step %d done", what, j+1)).SetActor("system").
				SetLevel(fulfillmentlog.LevelINFO).SetData(map[string]any{"step": j + 1})
			if frID != nil {
				l.SetFulfillmentRequestID(*frID).SetStage("send")
			}
			logs = append(logs, l)
		}
	}
	for i, o := range orders {
		for p := range 2 + rng.IntN(3) {
			q := 1 + rng.IntN(5)
			lb = append(lb, c.OrderLine.Create().SetOrderID(o.ID).SetPosition(p+1).
				SetSku(fmt.Sprintf("SKU-%04d", rng.IntN(5000))).SetTitle(fmt.Sprintf("Item %d", p+1)).
				SetQuantity(q).SetUnitPrice(money.FromUnits(int64(5+i%50))).SetUnallocatedQuantity(q))
		}
		addLogs(o.ID, nil, "order "+o.OrderNumber)
	}
	lines, err := inChunks(lb, func(b []*ent.OrderLineCreate) ([]*ent.OrderLine, error) {
		return c.OrderLine.CreateBulk(b...).Save(ctx)
	})
	if err != nil {
		return fmt.Errorf("order lines: %w", err)
	}
	out.Lines = len(lines)
	linesOf := make(map[int][]*ent.OrderLine, len(orders))
	for _, l := range lines {
		linesOf[l.OrderID] = append(linesOf[l.OrderID], l)
	}

	var fb []*ent.FulfillmentRequestCreate
	for _, o := range orders {
		for k := range 1 + rng.IntN(2) {
			fb = append(fb, c.FulfillmentRequest.Create().SetNumber(fmt.Sprintf("%s-%d", o.OrderNumber, k+1)).
				SetSequence(k+1).SetOrderID(o.ID).SetSourceID(sources[rng.IntN(len(sources))].ID).
				SetOrigin(fulfillmentrequest.OriginCREATED).SetStatus(seedStatuses[rng.IntN(len(seedStatuses))]))
		}
	}
	frs, err := inChunks(fb, func(b []*ent.FulfillmentRequestCreate) ([]*ent.FulfillmentRequest, error) {
		return c.FulfillmentRequest.CreateBulk(b...).Save(ctx)
	})
	if err != nil {
		return fmt.Errorf("fulfillment requests: %w", err)
	}
	out.FRs = len(frs)
	frsOf := make(map[int][]*ent.FulfillmentRequest, len(orders))
	for _, fr := range frs {
		frsOf[fr.OrderID] = append(frsOf[fr.OrderID], fr)
	}

	// The lines are dealt out over the order's requests: one request takes
	// them all, two split them.
	var ib []*ent.FulfillmentRequestItemCreate
	for _, o := range orders {
		reqs := frsOf[o.ID]
		for j, l := range linesOf[o.ID] {
			fr := reqs[j%len(reqs)]
			ib = append(ib, c.FulfillmentRequestItem.Create().SetFulfillmentRequestID(fr.ID).SetOrderLineID(l.ID).
				SetSku(l.Sku).SetQuantity(l.Quantity).SetUnitCost(money.FromUnits(3)))
		}
		for _, fr := range reqs {
			addLogs(o.ID, &fr.ID, "request "+fr.Number)
		}
	}
	if _, err := inChunks(ib, func(b []*ent.FulfillmentRequestItemCreate) ([]struct{}, error) {
		return nil, c.FulfillmentRequestItem.CreateBulk(b...).Exec(ctx)
	}); err != nil {
		return fmt.Errorf("fulfillment request items: %w", err)
	}
	out.Items = len(ib)
	if _, err := inChunks(logs, func(b []*ent.FulfillmentLogCreate) ([]struct{}, error) {
		return nil, c.FulfillmentLog.CreateBulk(b...).Exec(ctx)
	}); err != nil {
		return fmt.Errorf("fulfillment logs: %w", err)
	}
	out.Logs = len(logs)
	return nil
}

// inChunks saves builders seedChunk at a time and returns all the results.
func inChunks[C, T any](builders []C, save func([]C) ([]T, error)) ([]T, error) {
	var out []T
	for len(builders) > 0 {
		n := min(len(builders), seedChunk)
		got, err := save(builders[:n])
		if err != nil {
			return nil, err
		}
		out = append(out, got...)
		builders = builders[n:]
	}
	return out, nil
}
