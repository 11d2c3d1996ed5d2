package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/frsvc/fulfillment/ent/order"
	"github.com/frsvc/fulfillment/internal/address"
	"github.com/frsvc/fulfillment/internal/admin"
	"github.com/frsvc/fulfillment/internal/auth"
	"github.com/frsvc/fulfillment/internal/db"
	"github.com/frsvc/fulfillment/internal/money"
	"github.com/frsvc/fulfillment/internal/orders"
	"github.com/frsvc/fulfillment/internal/tenant"
	"github.com/frsvc/fulfillment/internal/testdb"
)

// The benchmark's account: 20 sources that each carry every SKU at a
// random unit cost (and a random fee), one default LOWEST_COST group.
const (
	benchSources = 20
	benchSKUs    = 40
)

// BenchmarkGenerate measures generateFulfillmentRequests through the
// service (routing, requests, items, reservations, ledger, logs, in one
// transaction) on PostgreSQL, with 1 and 8 concurrent clients, each
// generation on its own fresh 3-line paid order. It reports orders/s and
// the SQL statements one generation costs.
//
//	TEST_DATABASE_URL=postgres://… go test -run '^$' -bench BenchmarkGenerate -benchtime 200x ./internal/e2e/
func BenchmarkGenerate(b *testing.B) {
	if os.Getenv("TEST_DATABASE_URL") == "" {
		b.Skip("PostgreSQL only: set TEST_DATABASE_URL")
	}
	a := testdb.App(b, testdb.Postgres)
	s := a.Store
	counter := testdb.NewCounter(s)
	ctx := benchSeed(b, s)
	svc, imports := a.Fulfillment, a.Orders
	rng := rand.New(rand.NewPCG(7, 11))
	batch := 0

	for _, clients := range []int{1, 8} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			// Fresh orders for this run, outside the timer.
			batch++
			ids := make([]int, b.N)
			for i := range ids {
				ids[i] = benchOrder(b, ctx, imports, rng, fmt.Sprintf("B%d-%d", batch, i))
			}
			var next atomic.Int64
			var failed atomic.Value
			var wg sync.WaitGroup
			counter.Reset()
			b.ResetTimer()
			start := time.Now()
			for range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						i := int(next.Add(1)) - 1
						if i >= len(ids) {
							return
						}
						res, err := svc.Generate(ctx, ids[i], nil)
						if err == nil && len(res.FulfillmentRequests) == 0 {
							err = fmt.Errorf("order %d: no request generated", ids[i])
						}
						if err != nil {
							failed.CompareAndSwap(nil, err)
							return
						}
					}
				}()
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			stmts := counter.Count()
			if err, _ := failed.Load().(error); err != nil {
				b.Fatalf("generate: %v", err)
			}
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "orders/s")
			b.ReportMetric(float64(stmts)/float64(b.N), "stmts/generate")
		})
	}
}

// benchSeed creates the account, its sources, inventory and group, and
// returns a context confined to the account.
func benchSeed(b *testing.B, s *db.Store) context.Context {
	b.Helper()
	acc, _, err := auth.CreateAccount(context.Background(), s.Client, "Bench", "")
	testdb.Must(b, err)
	ctx := tenant.WithAccount(context.Background(), acc.ID)
	ad := &admin.Service{Client: s.Client}
	rng := rand.New(rand.NewPCG(1, 2))
	cents := func(lo, hi int) *money.Amount {
		a := money.Amount(int64(lo+rng.IntN(hi-lo+1)) * 100) // cents, in ten-thousandths
		return &a
	}
	members := make([]*admin.RoutingGroupMemberInput, benchSources)
	for i := range benchSources {
		src, err := ad.CreateSource(ctx, admin.CreateSourceInput{
			Name: fmt.Sprintf("Source %d", i), Code: fmt.Sprintf("SRC%02d", i),
			DropshipFee: cents(0, 300), ShippingBaseCost: cents(0, 500), ShippingPerUnitCost: cents(0, 100),
		})
		testdb.Must(b, err)
		items := make([]*admin.InventoryInput, benchSKUs)
		for j := range items {
			items[j] = &admin.InventoryInput{Sku: fmt.Sprintf("SKU%03d", j), Quantity: 1_000_000, UnitCost: *cents(100, 2000)}
		}
		_, err = ad.UpsertInventory(ctx, src.ID, items)
		testdb.Must(b, err)
		members[i] = &admin.RoutingGroupMemberInput{SourceID: src.ID, Priority: i + 1}
	}
	yes := true
	_, err = ad.CreateRoutingGroup(ctx, admin.CreateRoutingGroupInput{
		Name: "Default", IsDefault: &yes, Rules: []admin.RoutingRule{"LOWEST_COST"}, Members: members,
	})
	testdb.Must(b, err)
	return ctx
}

// benchOrder imports a paid order of 3 lines of distinct random SKUs.
func benchOrder(b *testing.B, ctx context.Context, imports *orders.Service, rng *rand.Rand, number string) int {
	b.Helper()
	perm := rng.Perm(benchSKUs)
	lines := make([]*orders.LineInput, 3)
	for i := range lines {
		lines[i] = &orders.LineInput{Sku: fmt.Sprintf("SKU%03d", perm[i]), Quantity: 1 + rng.IntN(3), UnitPrice: money.FromUnits(25)}
	}
	o, err := imports.Import(ctx, orders.ImportOrderInput{
		Channel: "bench", OrderNumber: number, PaymentStatus: order.PaymentStatusPAID,
		ShipTo: address.Address{Line1: "1 Main St", City: "Springfield", PostalCode: "12345", Country: "US"},
		Lines:  lines,
	})
	testdb.Must(b, err)
	return o.ID
}
