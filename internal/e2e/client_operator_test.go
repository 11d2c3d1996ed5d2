package e2e_test

import (
	"context"
	"slices"
	"testing"

	"github.com/frsvc/fulfillment/client"
	"github.com/frsvc/fulfillment/internal/app"
	"github.com/frsvc/fulfillment/internal/testdb"
)

// TestClientOperator drives an operator's day through the typed client:
// hold and release an order, renumber, mark processed and acknowledged,
// void, regenerate away from a source, create a request by hand, and read
// orders, requests and the log a page at a time forwards and backwards.
func TestClientOperator(t *testing.T) {
	testdb.Each(t, func(t *testing.T, a *app.App) {
		ctx := context.Background()
		url, adminKey := server(t, a)
		c := client.New(url, adminKey)

		var srcs []client.CreateSourceCreateSource
		for _, code := range []string{"WH1", "WH2"} {
			src := must(client.CreateSource(ctx, c, client.CreateSourceInput{
				Name: code, Code: code, Connector: &client.ConnectorInput{Kind: client.ConnectorKindManual},
			}))(t, "createSource").CreateSource
			must(client.UpsertInventory(ctx, c, src.Id, []client.InventoryInput{{Sku: "SKU-A", Quantity: 100, UnitCost: "5.00"}}))(t, "upsertInventory")
			srcs = append(srcs, src)
		}
		wh1, wh2 := srcs[0], srcs[1]
		must(client.CreateRoutingGroup(ctx, c, client.CreateRoutingGroupInput{
			Name: "By priority", Rules: []client.RoutingRule{client.RoutingRuleSourcePriority},
			Members: []client.RoutingGroupMemberInput{{SourceID: wh1.Id, Priority: 1}, {SourceID: wh2.Id, Priority: 2}},
		}))(t, "createRoutingGroup")

		var orders []client.OrderFields
		for _, number := range []string{"3001", "3002", "3003", "3004", "3005"} {
			orders = append(orders, must(client.ImportOrder(ctx, c, orderInput(number, line("SKU-A", 1))))(t, "importOrder").ImportOrder)
		}

		// Hold and release: nothing is generated for a held order.
		held := must(client.HoldOrder(ctx, c, orders[0].Id, "address check"))(t, "holdOrder").HoldOrder
		if held.Status != client.OrderStatusOnHold || held.HoldReason == nil || *held.HoldReason != "address check" {
			t.Fatalf("held: %+v", held)
		}
		if _, err := client.GenerateFulfillmentRequests(ctx, c, orders[0].Id, nil); err == nil || client.ErrorCode(err) == "" {
			t.Fatalf("generate for a held order: %v", err)
		}
		released := must(client.ReleaseOrder(ctx, c, orders[0].Id))(t, "releaseOrder").ReleaseOrder
		if released.Status != client.OrderStatusOpen {
			t.Fatalf("released: %+v", released)
		}

		generate := func(o client.OrderFields) client.FulfillmentRequestFields {
			t.Helper()
			gen := must(client.GenerateFulfillmentRequests(ctx, c, o.Id, nil))(t, "generate").GenerateFulfillmentRequests
			if len(gen.FulfillmentRequests) != 1 {
				t.Fatalf("generate %s: %+v", o.OrderNumber, gen)
			}
			return gen.FulfillmentRequests[0]
		}

		// Renumber, then record by hand that the source has it and confirmed it.
		fr := generate(orders[0])
		renumbered := must(client.RenumberFulfillmentRequest(ctx, c, fr.Id, "PO-3001"))(t, "renumber").RenumberFulfillmentRequest
		if renumbered.Number != "PO-3001" {
			t.Fatalf("renumbered: %+v", renumbered)
		}
		marked := must(client.MarkFulfillmentRequestProcessed(ctx, c, fr.Id))(t, "markProcessed").MarkFulfillmentRequestProcessed
		if marked.Status != client.FulfillmentRequestStatusProcessed {
			t.Fatalf("marked processed: %+v", marked)
		}
		acked := must(client.MarkFulfillmentRequestAcknowledged(ctx, c, fr.Id, ptr("PHONE-1")))(t, "markAcknowledged").MarkFulfillmentRequestAcknowledged
		if acked.Status != client.FulfillmentRequestStatusAcknowledged || acked.ConfirmationNumber == nil || *acked.ConfirmationNumber != "PHONE-1" {
			t.Fatalf("marked acknowledged: %+v", acked)
		}

		// Void one; regenerate another away from its source.
		voided := must(client.VoidFulfillmentRequest(ctx, c, generate(orders[1]).Id, "customer called"))(t, "void").VoidFulfillmentRequest
		if voided.Status != client.FulfillmentRequestStatusVoided {
			t.Fatalf("voided: %+v", voided)
		}
		first := generate(orders[2])
		if first.SourceID != wh1.Id {
			t.Fatalf("generated on %s, want WH1 first", first.Source.Code)
		}
		regen := must(client.RegenerateFulfillmentRequest(ctx, c, first.Id, "WH1 is closed", ptr(true)))(t, "regenerate").RegenerateFulfillmentRequest
		if len(regen.FulfillmentRequests) != 1 || regen.FulfillmentRequests[0].SourceID != wh2.Id ||
			regen.FulfillmentRequests[0].Origin != client.FulfillmentRequestOriginRegenerated || regen.CorrelationID == "" {
			t.Fatalf("regenerated: %+v", regen)
		}

		// By hand, on the source routing would not choose; items default to
		// every unallocated line.
		byHand := must(client.CreateFulfillmentRequest(ctx, c, client.CreateFulfillmentRequestInput{
			OrderID: orders[3].Id, SourceID: wh2.Id,
		}))(t, "createFulfillmentRequest").CreateFulfillmentRequest
		if byHand.SourceID != wh2.Id || byHand.Origin != client.FulfillmentRequestOriginCreated || len(byHand.Items) != 1 || byHand.Items[0].Quantity != 1 {
			t.Fatalf("created by hand: %+v", byHand)
		}

		// Orders two to a page by number, forwards and then backwards from
		// the end: the same five in the same order.
		byNumber := &client.OrderOrder{Field: client.OrderOrderFieldOrderNumber}
		var forward []string
		var after *string
		for pages := 0; ; pages++ {
			page := must(client.ListOrders(ctx, c, nil, ptr(2), after, nil, nil, byNumber))(t, "listOrders").Orders
			if page.TotalCount != 5 || pages > 3 {
				t.Fatalf("forward page %d: %+v", pages, page)
			}
			for _, e := range page.Edges {
				forward = append(forward, e.Node.OrderNumber)
			}
			if !page.PageInfo.HasNextPage {
				break
			}
			after = page.PageInfo.EndCursor
		}
		var backward []string
		var before *string
		for pages := 0; ; pages++ {
			page := must(client.ListOrders(ctx, c, nil, nil, nil, ptr(2), before, byNumber))(t, "listOrders backwards").Orders
			if pages > 3 {
				t.Fatalf("backward page %d: %+v", pages, page)
			}
			var numbers []string
			for _, e := range page.Edges {
				numbers = append(numbers, e.Node.OrderNumber)
			}
			backward = append(numbers, backward...)
			if !page.PageInfo.HasPreviousPage {
				break
			}
			before = page.PageInfo.StartCursor
		}
		want := []string{"3001", "3002", "3003", "3004", "3005"}
		if !slices.Equal(forward, want) || !slices.Equal(backward, want) {
			t.Fatalf("orders forwards %v, backwards %v; want %v", forward, backward, want)
		}
		some := must(client.ListOrders(ctx, c, &client.OrderWhereInput{OrderNumberIn: []string{"3002", "3005"}}, ptr(10), nil, nil, nil, nil))(t, "listOrders where").Orders
		if some.TotalCount != 2 {
			t.Fatalf("orders where orderNumberIn: %+v", some)
		}

		// The last page of requests by creation: the one made by hand is the
		// newest.
		frs := must(client.PageFulfillmentRequests(ctx, c, nil, nil, nil, ptr(2), nil,
			&client.FulfillmentRequestOrder{Field: client.FulfillmentRequestOrderFieldCreatedAt}))(t, "pageFulfillmentRequests").FulfillmentRequests
		if frs.TotalCount != 5 || len(frs.Edges) != 2 || !frs.PageInfo.HasPreviousPage || frs.Edges[1].Node.Id != byHand.Id {
			t.Fatalf("last two requests: %+v", frs)
		}

		// The log of the voided order, oldest first, and its last entry
		// read backwards: the void, by the operator's key.
		logWhere := &client.FulfillmentLogWhereInput{OrderID: &orders[1].Id}
		oldest := &client.FulfillmentLogOrder{Field: client.FulfillmentLogOrderFieldCreatedAt}
		all := must(client.ListFulfillmentLogs(ctx, c, logWhere, ptr(100), nil, nil, nil, oldest))(t, "listFulfillmentLogs").FulfillmentLogs
		if all.TotalCount < 2 || len(all.Edges) != all.TotalCount {
			t.Fatalf("log of order 3002: %+v", all)
		}
		last := must(client.ListFulfillmentLogs(ctx, c, logWhere, nil, nil, ptr(1), nil, oldest))(t, "listFulfillmentLogs backwards").FulfillmentLogs
		if len(last.Edges) != 1 || last.Edges[0].Node.Id != all.Edges[len(all.Edges)-1].Node.Id {
			t.Fatalf("last log entry %+v, want %+v", last.Edges, all.Edges[len(all.Edges)-1].Node)
		}
		entry := last.Edges[0].Node
		if entry.FulfillmentRequestID == nil || *entry.FulfillmentRequestID != voided.Id || entry.Message == "" || entry.Actor == "" || entry.CreatedAt.IsZero() {
			t.Fatalf("the void's log entry: %+v", entry)
		}
	})
}

// TestClientOrderChanges: the typed client changes an order after import
// (payment, reference, lines) and cancels it; a field left nil is left out
// of the request and so unchanged, and a refusal carries its code.
func TestClientOrderChanges(t *testing.T) {
	testdb.Each(t, func(t *testing.T, a *app.App) {
		ctx := context.Background()
		url, adminKey := server(t, a)
		c := client.New(url, adminKey)

		in := orderInput("4001", line("SKU-A", 2))
		in.PaymentStatus = client.PaymentStatusPending
		o := must(client.ImportOrder(ctx, c, in))(t, "importOrder").ImportOrder

		paid := must(client.UpdateOrderPayment(ctx, c, o.Id, client.PaymentStatusPaid))(t, "updateOrderPayment").UpdateOrderPayment
		if paid.PaymentStatus != client.PaymentStatusPaid {
			t.Fatalf("payment: %+v", paid)
		}

		// Only the reference number and the lines are given: the address
		// stays as imported.
		changed := must(client.UpdateOrder(ctx, c, o.Id, client.UpdateOrderInput{
			ReferenceNumber: ptr("PO-77"),
			Lines: []client.OrderLineChangeInput{
				{OrderLineID: &o.Lines[0].Id, Quantity: 3},
				{Sku: ptr("SKU-B"), Quantity: 1, UnitPrice: ptr("4.50")},
			},
		}))(t, "updateOrder").UpdateOrder
		if changed.ReferenceNumber == nil || *changed.ReferenceNumber != "PO-77" || changed.ShipTo.Line1 != "1 Main St" ||
			len(changed.Lines) != 2 || changed.Lines[0].Quantity != 3 || changed.Lines[1].Sku != "SKU-B" {
			t.Fatalf("updated: %+v", changed)
		}

		canceled := must(client.CancelOrder(ctx, c, o.Id, "customer asked"))(t, "cancelOrder").CancelOrder
		if canceled.Status != client.OrderStatusCanceled {
			t.Fatalf("canceled: %+v", canceled)
		}
		_, err := client.CancelOrder(ctx, c, o.Id, "again")
		if code := client.ErrorCode(err); code != "INVALID_TRANSITION" {
			t.Fatalf("cancel a canceled order: code %q (%v), want INVALID_TRANSITION", code, err)
		}
	})
}
