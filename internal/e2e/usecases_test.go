package e2e

import (
	"testing"

	"github.com/frsvc/fulfillment/internal/app"
	"github.com/frsvc/fulfillment/internal/testdb"
)

// TestEveryUseCaseOnProductionWiring runs each use case once (preview,
// generate, create, process, mark, void, regenerate, renumber, send run,
// acknowledge, cancel, ship) through the app built as the server builds it,
// in production mode. The released server answered every preview with
// INTERNAL because no test ran one on that wiring; here none may fail, and
// the ledger holds after all of them.
func TestEveryUseCaseOnProductionWiring(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, a *app.App) {
		k := &frKit{Env: newWithAs(t, a, func(c *app.Config) {
			c.Production, c.Playground, c.Introspection = true, false, false
			c.RateLimit = 0
		}, "Production wiring")}
		src := k.source("WH", nil)
		alt := k.source("ALT", nil)
		k.stock(src, "A", 50, "2.00")
		k.stock(alt, "A", 50, "3.00")
		k.group("Default", []string{"LOWEST_COST"}, map[string]any{"isDefault": true}, src, alt)
		o := k.order("UC-1", "PAID", kitLine{"A", 2})

		var prev struct{ FulfillmentPreview struct{ CanRoute bool } }
		k.Query(`query($id: ID!) { fulfillmentPreview(orderID: $id) { canRoute } }`, map[string]any{"id": o.ID}, &prev)
		if !prev.FulfillmentPreview.CanRoute {
			t.Fatal("preview: cannot route")
		}
		gen := k.generate(o.ID)
		if len(gen.FulfillmentRequests) != 1 {
			t.Fatalf("generate: %+v", gen)
		}
		fr := gen.FulfillmentRequests[0]
		k.must("renumber", fr.ID, map[string]any{"number": "UC-1-RENUMBERED"})
		regen := k.regenerate(fr.ID, "try again", true)
		if len(regen.FulfillmentRequests) != 1 {
			t.Fatalf("regenerate: %+v", regen)
		}
		fr = regen.FulfillmentRequests[0]
		k.must("void", fr.ID, nil)

		o2 := k.order("UC-2", "PAID", kitLine{"A", 1}, kitLine{"A", 2}, kitLine{"A", 3})
		byHand := k.mustCreate(o2.ID, src, false, o2.Lines[0].ID, 1)
		k.must("markProcessed", byHand.ID, nil)
		k.must("markAcknowledged", byHand.ID, nil)
		sent := k.mustCreate(o2.ID, src, false, o2.Lines[1].ID, 2)
		k.must("process", sent.ID, nil)
		if got := k.sendRun(); got["processed"] != 1 {
			t.Fatalf("send run: %v", got)
		}
		k.must("acknowledge", sent.ID, nil)
		k.Query(`mutation($fr: ID!, $item: ID!) { createShipment(input: {fulfillmentRequestID: $fr, trackingNumber: "UC-TRACK-1",
			items: [{fulfillmentRequestItemID: $item, quantity: 2}]}) { id } }`,
			map[string]any{"fr": sent.ID, "item": k.fr(sent.ID).Items[0].ID}, nil)
		canceled := k.mustCreate(o2.ID, alt, false, o2.Lines[2].ID, 3)
		k.must("markProcessed", canceled.ID, nil)
		if fr := k.must("cancel", canceled.ID, nil); fr.Status != "CANCELED" {
			t.Fatalf("cancel: %+v", fr)
		}
		k.checkLedger()
	})
}
