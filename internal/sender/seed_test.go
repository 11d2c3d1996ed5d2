package sender_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/frsvc/fulfillment/ent"
	"github.com/frsvc/fulfillment/ent/fulfillmentrequest"
	"github.com/frsvc/fulfillment/ent/order"
	"github.com/frsvc/fulfillment/ent/source"
	"github.com/frsvc/fulfillment/internal/address"
	"github.com/frsvc/fulfillment/internal/auth"
	"github.com/frsvc/fulfillment/internal/db"
	"github.com/frsvc/fulfillment/internal/frstatus"
	"github.com/frsvc/fulfillment/internal/money"
	"github.com/frsvc/fulfillment/internal/tenant"
	"github.com/frsvc/fulfillment/internal/testdb"
)

// bulk is an account with HTTP sources, for tests and benchmarks that need
// many PROCESSING requests at once: they are written with bulk creates, not
// through the API.
type bulk struct {
	ctx     context.Context // confined to the account
	client  *ent.Client
	sources []*ent.Source
	seeded  int
}

// newBulk creates an account with n HTTP sources pointing at url.
func newBulk(tb testing.TB, store *db.Store, n int, url string) *bulk {
	tb.Helper()
	acc, _, err := auth.CreateAccount(context.Background(), store.Client, "Bulk", "")
	testdb.Must(tb, err)
	b := &bulk{ctx: tenant.WithAccount(context.Background(), acc.ID), client: store.Client}
	for i := range n {
		src, err := store.Client.Source.Create().SetName(fmt.Sprintf("Bulk %d", i)).SetCode(fmt.Sprintf("B%d", i)).
			SetConnectorKind(source.ConnectorKindHTTP).SetConnectorURL(url).SetConnectorSecret(secret).Save(b.ctx)
		testdb.Must(tb, err)
		b.sources = append(b.sources, src)
	}
	return b
}

// waitDrained waits until no request is PROCESSING any more (the runners
// took every one), failing t after timeout.
func (b *bulk) waitDrained(t *testing.T, timeout time.Duration) {
	t.Helper()
	left := 0
	testdb.WaitFor(t, timeout, 50*time.Millisecond, func() bool {
		n, err := b.client.FulfillmentRequest.Query().Where(fulfillmentrequest.StatusEQ(frstatus.Processing)).Count(b.ctx)
		testdb.Must(t, err)
		left = n
		return left == 0
	}, func() string { return fmt.Sprintf("%d requests still PROCESSING after %s", left, timeout) })
}

// seed writes n PROCESSING requests, due now, each with its own order of
// two lines and two items, spread over the sources.
func (b *bulk) seed(tb testing.TB, n int) {
	tb.Helper()
	const chunk = 500 // well within PostgreSQL's 65535 parameters a statement
	for start := 0; start < n; start += chunk {
		b.seedChunk(tb, min(chunk, n-start))
	}
}

func (b *bulk) seedChunk(tb testing.TB, n int) {
	tb.Helper()
	c, ctx, now := b.client, b.ctx, time.Now()
	ob := make([]*ent.OrderCreate, n)
	for i := range ob {
		ob[i] = c.Order.Create().SetChannel("web").SetOrderNumber(fmt.Sprintf("BULK-%d", b.seeded+i)).
			SetPaymentStatus(order.PaymentStatusPAID).SetOrderedAt(now).SetShipToCountry("US").
			SetShipTo(address.Address{Name: "Ada", Line1: "1 Main St", City: "Springfield", PostalCode: "12345", Country: "US"})
	}
	orders, err := c.Order.CreateBulk(ob...).Save(ctx)
	testdb.Must(tb, err)
	lb := make([]*ent.OrderLineCreate, 0, 2*n)
	for _, o := range orders {
		lb = append(lb,
			c.OrderLine.Create().SetOrderID(o.ID).SetPosition(1).SetSku("SKU-A").SetTitle("Widget").SetQuantity(2).
				SetUnitPrice(money.MustParse("9.99")).SetUnallocatedQuantity(0).SetAllocatedQuantity(2),
			c.OrderLine.Create().SetOrderID(o.ID).SetPosition(2).SetSku("SKU-B").SetTitle("Gadget").SetQuantity(1).
				SetUnitPrice(money.MustParse("20")).SetUnallocatedQuantity(0).SetAllocatedQuantity(1))
	}
	lines, err := c.OrderLine.CreateBulk(lb...).Save(ctx)
	testdb.Must(tb, err)
	fb := make([]*ent.FulfillmentRequestCreate, n)
	for i, o := range orders {
		fb[i] = c.FulfillmentRequest.Create().SetNumber(o.OrderNumber + "-1").SetSequence(1).SetOrderID(o.ID).
			SetSourceID(b.sources[(b.seeded+i)%len(b.sources)].ID).SetOrigin(fulfillmentrequest.OriginGENERATED).
			SetStatus(frstatus.Processing).SetProcessingAt(now).SetNextAttemptAt(now).
			SetItemCost(money.MustParse("11.50")).SetTotalCost(money.MustParse("11.50"))
	}
	frs, err := c.FulfillmentRequest.CreateBulk(fb...).Save(ctx)
	testdb.Must(tb, err)
	ib := make([]*ent.FulfillmentRequestItemCreate, 0, 2*n)
	for i, fr := range frs {
		for _, l := range lines[2*i : 2*i+2] {
			ib = append(ib, c.FulfillmentRequestItem.Create().SetFulfillmentRequestID(fr.ID).SetOrderLineID(l.ID).
				SetSku(l.Sku).SetQuantity(l.Quantity).SetUnitCost(money.MustParse("3.25")))
		}
	}
	testdb.Must(tb, c.FulfillmentRequestItem.CreateBulk(ib...).Exec(ctx))
	b.seeded += n
}

// counter is an HTTP source that answers 200 at once and counts deliveries
// per idempotency key; requests with an even id are acknowledged.
type counter struct {
	mu   sync.Mutex
	keys map[string]int
	srv  *httptest.Server
}

func newCounter(tb testing.TB) *counter {
	c := &counter{keys: map[string]int{}}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("Idempotency-Key")
		c.mu.Lock()
		c.keys[key]++
		c.mu.Unlock()
		if id, err := strconv.Atoi(strings.TrimPrefix(key, "fr-")); err == nil && id%2 == 0 {
			_, _ = w.Write([]byte(`{"acknowledged":true,"confirmationNumber":"` + key + `"}`))
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	tb.Cleanup(c.srv.Close)
	return c
}

func (c *counter) snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.keys))
	for k, v := range c.keys {
		out[k] = v
	}
	return out
}
