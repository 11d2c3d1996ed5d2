package e2e_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/frsvc/fulfillment/client"
	"github.com/frsvc/fulfillment/internal/app"
	"github.com/frsvc/fulfillment/internal/e2e"
	"github.com/frsvc/fulfillment/internal/testdb"
)

func ptr[T any](v T) *T { return &v }

// must(call(…))(t, "what") returns call's result, failing the test on its
// error.
func must[T any](v T, err error) func(t *testing.T, what string) T {
	return func(t *testing.T, what string) T {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return v
	}
}

// server serves the app and returns its URL and the ADMIN key of a fresh
// account.
func server(t *testing.T, a *app.App) (string, string) {
	t.Helper()
	e := e2e.NewAs(t, a, "Client story")
	return e.Server.URL, e.AdminKey
}

func orderInput(number string, lines ...client.OrderLineInput) client.ImportOrderInput {
	return client.ImportOrderInput{
		Channel: "web", OrderNumber: number, PaymentStatus: client.PaymentStatusPaid,
		ShipTo: client.AddressInput{Name: ptr("Ada Lovelace"), Line1: "1 Main St", City: "Springfield",
			PostalCode: "12345", Country: "US"},
		Lines: lines,
	}
}

func line(sku string, qty int) client.OrderLineInput {
	return client.OrderLineInput{Sku: sku, Quantity: qty, UnitPrice: "19.99"}
}

// TestClientStory drives one operator story through the typed client: set
// up a MANUAL source, import orders, preview, generate, process, send, list
// with filters and paging, then the source acknowledges, ships and cancels
// with its own key; and an Idempotency-Key replay.
func TestClientStory(t *testing.T) {
	testdb.Each(t, func(t *testing.T, a *app.App) {
		ctx := context.Background()
		url, adminKey := server(t, a)
		admin := client.New(url, adminKey)

		v := must(client.Viewer(ctx, admin))(t, "viewer")
		if v.Viewer.Role != client.ApiKeyRoleAdmin || v.Viewer.Source != nil {
			t.Fatalf("viewer: %+v", v.Viewer)
		}

		// Set-up: one source with a MANUAL connector, stock, a routing group
		// and the source's own key.
		src := must(client.CreateSource(ctx, admin, client.CreateSourceInput{
			Name: "Main warehouse", Code: "WH1", DropshipFee: ptr("1.50"),
			Connector: &client.ConnectorInput{Kind: client.ConnectorKindManual},
		}))(t, "createSource").CreateSource
		if !src.Enabled || src.Connector.Kind != client.ConnectorKindManual {
			t.Fatalf("source: %+v (enabled should default to true)", src)
		}
		must(client.UpsertInventory(ctx, admin, src.Id, []client.InventoryInput{
			{Sku: "SKU-A", Quantity: 100, UnitCost: "5.00"},
			{Sku: "SKU-B", Quantity: 100, UnitCost: "7.25"},
		}))(t, "upsertInventory")
		group := must(client.CreateRoutingGroup(ctx, admin, client.CreateRoutingGroupInput{
			Name: "Everything", Rules: []client.RoutingRule{client.RoutingRuleLowestCost},
			Members: []client.RoutingGroupMemberInput{{SourceID: src.Id, Priority: 1}},
		}))(t, "createRoutingGroup").CreateRoutingGroup
		if !group.IsDefault {
			t.Fatalf("the first group should be the default: %+v", group)
		}
		created := must(client.CreateApiKey(ctx, admin, client.CreateApiKeyInput{
			Name: "WH1 integration", Role: client.ApiKeyRoleSource, SourceID: &src.Id,
		}))(t, "createApiKey").CreateApiKey
		partner := client.New(url+"/", created.Secret) // a trailing slash is fine
		if pv := must(client.Viewer(ctx, partner))(t, "partner viewer").Viewer; pv.Role != client.ApiKeyRoleSource || pv.Source == nil || pv.Source.Id != src.Id {
			t.Fatalf("partner viewer: %+v", pv)
		}

		// Three orders; the first is the story, the others fill the list.
		var orders []client.OrderFields
		for i, number := range []string{"1001", "1002", "1003"} {
			o := must(client.ImportOrder(ctx, admin, orderInput(number, line("SKU-A", 2), line("SKU-B", i+1))))(t, "importOrder").ImportOrder
			if o.Status != client.OrderStatusOpen || o.AllocationStatus != client.OrderAllocationStatusUnallocated || len(o.Lines) != 2 {
				t.Fatalf("order %s: status %s, allocation %s, %d lines", number, o.Status, o.AllocationStatus, len(o.Lines))
			}
			orders = append(orders, o)
		}
		again := must(client.ImportOrder(ctx, admin, orderInput("1001", line("SKU-A", 2), line("SKU-B", 1))))(t, "importOrder again").ImportOrder
		if again.Id != orders[0].Id {
			t.Fatalf("a repeated import made another order: %s != %s", again.Id, orders[0].Id)
		}

		preview := must(client.FulfillmentPreview(ctx, admin, orders[0].Id, nil))(t, "fulfillmentPreview").FulfillmentPreview
		if !preview.CanRoute || preview.Plan == nil || len(preview.Plan.Requests) != 1 || preview.Plan.Requests[0].Source.Id != src.Id {
			t.Fatalf("preview: %+v", preview)
		}
		if len(preview.Groups) != 1 || preview.Groups[0].RoutingGroup.Id != group.Id {
			t.Fatalf("preview groups: %+v", preview.Groups)
		}

		var frs []client.FulfillmentRequestFields
		for _, o := range orders {
			gen := must(client.GenerateFulfillmentRequests(ctx, admin, o.Id, &group.Id))(t, "generate").GenerateFulfillmentRequests
			if len(gen.FulfillmentRequests) != 1 || gen.CorrelationID == "" {
				t.Fatalf("generate %s: %+v", o.OrderNumber, gen)
			}
			fr := gen.FulfillmentRequests[0]
			if fr.SourceID != src.Id || fr.Status != client.FulfillmentRequestStatusUnprocessed || len(fr.Items) != 2 {
				t.Fatalf("generated request: %+v", fr)
			}
			frs = append(frs, fr)
		}
		ids := []string{frs[0].Id, frs[1].Id, frs[2].Id}
		processed := must(client.ProcessFulfillmentRequests(ctx, admin, ids))(t, "process").ProcessFulfillmentRequests
		for _, fr := range processed {
			if fr.Status != client.FulfillmentRequestStatusProcessing {
				t.Fatalf("processed request %s: %s", fr.Number, fr.Status)
			}
		}
		run := must(client.RunSendFulfillmentRequests(ctx, admin))(t, "send run").RunSendFulfillmentRequests
		if run.Claimed != 3 || run.Processed != 3 || run.Failed != 0 {
			t.Fatalf("send run: %+v", run)
		}

		// The list: filtered on status and source, two to a page, by number.
		where := &client.FulfillmentRequestWhereInput{
			StatusIn: []client.FulfillmentRequestStatus{client.FulfillmentRequestStatusProcessed},
			SourceID: &src.Id,
		}
		order := &client.FulfillmentRequestOrder{Field: client.FulfillmentRequestOrderFieldNumber}
		page1 := must(client.ListFulfillmentRequests(ctx, admin, where, ptr(2), nil, order))(t, "list page 1").FulfillmentRequests
		if page1.TotalCount != 3 || len(page1.Edges) != 2 || !page1.PageInfo.HasNextPage || page1.PageInfo.EndCursor == nil {
			t.Fatalf("page 1: total %d, %d edges, %+v", page1.TotalCount, len(page1.Edges), page1.PageInfo)
		}
		page2 := must(client.ListFulfillmentRequests(ctx, admin, where, ptr(2), page1.PageInfo.EndCursor, order))(t, "list page 2").FulfillmentRequests
		if len(page2.Edges) != 1 || page2.PageInfo.HasNextPage {
			t.Fatalf("page 2: %d edges, %+v", len(page2.Edges), page2.PageInfo)
		}
		var listed []string
		for _, e := range append(page1.Edges, page2.Edges...) {
			if e.Node.Status != client.FulfillmentRequestStatusProcessed {
				t.Errorf("listed %s is %s", e.Node.Number, e.Node.Status)
			}
			listed = append(listed, e.Node.Number)
		}
		if !slices.IsSorted(listed) || len(listed) != 3 {
			t.Errorf("listed by number: %v", listed)
		}
		// The partner's list, on the same filter but newest first with the default page.
		mine := must(client.ListFulfillmentRequests(ctx, partner,
			&client.FulfillmentRequestWhereInput{Status: ptr(client.FulfillmentRequestStatusProcessed)}, nil, nil,
			&client.FulfillmentRequestOrder{Field: client.FulfillmentRequestOrderFieldCreatedAt, Direction: client.OrderDirectionDesc}))(t, "partner list").FulfillmentRequests
		if mine.TotalCount != 3 || len(mine.Edges) != 3 || mine.Edges[0].Node.Id != frs[2].Id {
			t.Fatalf("partner list: %+v", mine)
		}
		none := must(client.ListFulfillmentRequests(ctx, admin,
			&client.FulfillmentRequestWhereInput{Status: ptr(client.FulfillmentRequestStatusAcknowledged)}, nil, nil, nil))(t, "empty list").FulfillmentRequests
		if none.TotalCount != 0 || len(none.Edges) != 0 {
			t.Fatalf("nothing is acknowledged yet: %+v", none)
		}

		// The source confirms the first request and ships it in full.
		fr := must(client.AcknowledgeFulfillmentRequest(ctx, partner, frs[0].Id, ptr("WH1-778")))(t, "acknowledge").AcknowledgeFulfillmentRequest
		if fr.Status != client.FulfillmentRequestStatusAcknowledged || fr.ConfirmationNumber == nil || *fr.ConfirmationNumber != "WH1-778" {
			t.Fatalf("acknowledged: %+v", fr)
		}
		ship := client.CreateShipmentInput{FulfillmentRequestID: fr.Id, TrackingNumber: "1Z-0001", Carrier: ptr("UPS")}
		for _, it := range fr.Items {
			ship.Items = append(ship.Items, client.ShipmentItemInput{FulfillmentRequestItemID: it.Id, Quantity: it.Quantity})
		}
		shipment := must(client.CreateShipment(ctx, partner, ship))(t, "createShipment").CreateShipment
		if shipment.TrackingNumber != "1Z-0001" || len(shipment.Items) != 2 || shipment.FulfillmentRequest.ShipmentStatus != client.ShipmentStatusShipped {
			t.Fatalf("shipment: %+v", shipment)
		}

		// The source cancels the third request.
		canceled := must(client.CancelFulfillmentRequest(ctx, partner, frs[2].Id, "out of stock after all", nil))(t, "cancel").CancelFulfillmentRequest
		if canceled.Status != client.FulfillmentRequestStatusCanceled || canceled.CancelReason == nil {
			t.Fatalf("canceled: %+v", canceled)
		}

		// The statuses, read back by node.
		got := must(client.GetOrder(ctx, admin, orders[0].Id))(t, "getOrder")
		o, ok := got.Node.(*client.GetOrderNodeOrder)
		if !ok {
			t.Fatalf("node is %T, want an order", got.Node)
		}
		if o.ShipmentStatus != client.OrderShipmentStatusShipped || o.FulfillmentRequests.TotalCount != 1 {
			t.Fatalf("order after shipping: shipment %s, %d requests", o.ShipmentStatus, o.FulfillmentRequests.TotalCount)
		}
		if n := o.FulfillmentRequests.Edges[0].Node; n.Status != client.FulfillmentRequestStatusAcknowledged || n.ShipmentStatus != client.ShipmentStatusShipped || n.ShippedAt == nil {
			t.Fatalf("request after shipping: %+v", n)
		}
		for _, l := range o.Lines {
			if l.ShippedQuantity != l.Quantity {
				t.Errorf("line %s: shipped %d of %d", l.Sku, l.ShippedQuantity, l.Quantity)
			}
		}
		if _, err := client.GetOrder(ctx, admin, "999999999"); client.ErrorCode(err) != "NOT_FOUND" {
			t.Fatalf("node of an unknown id: %v", err)
		}
	})
}

// TestClientIdempotencyKey replays a mutation through the client: the same
// key and request answer the first result again without doing it twice; the
// same key with another request is refused; calls without the key are
// unaffected.
func TestClientIdempotencyKey(t *testing.T) {
	testdb.Each(t, func(t *testing.T, a *app.App) {
		ctx := context.Background()
		url, adminKey := server(t, a)
		c := client.New(url, adminKey)

		src := must(client.CreateSource(ctx, c, client.CreateSourceInput{Name: "Source", Code: "S1"}))(t, "createSource").CreateSource
		must(client.UpsertInventory(ctx, c, src.Id, []client.InventoryInput{{Sku: "SKU-A", Quantity: 10, UnitCost: "1"}}))(t, "upsertInventory")
		must(client.CreateRoutingGroup(ctx, c, client.CreateRoutingGroupInput{
			Name: "All", Rules: []client.RoutingRule{client.RoutingRuleSourcePriority},
			Members: []client.RoutingGroupMemberInput{{SourceID: src.Id, Priority: 1}},
		}))(t, "createRoutingGroup")
		o := must(client.ImportOrder(ctx, c, orderInput("2001", line("SKU-A", 3))))(t, "importOrder").ImportOrder

		keyed := client.WithIdempotencyKey(ctx, "generate-2001")
		first := must(client.GenerateFulfillmentRequests(keyed, c, o.Id, nil))(t, "generate").GenerateFulfillmentRequests
		replay := must(client.GenerateFulfillmentRequests(keyed, c, o.Id, nil))(t, "generate replayed").GenerateFulfillmentRequests
		if len(first.FulfillmentRequests) != 1 || len(replay.FulfillmentRequests) != 1 ||
			replay.FulfillmentRequests[0].Id != first.FulfillmentRequests[0].Id || replay.CorrelationID != first.CorrelationID {
			t.Fatalf("replay differs: %+v vs %+v", replay, first)
		}
		list := must(client.ListFulfillmentRequests(ctx, c, &client.FulfillmentRequestWhereInput{OrderID: &o.Id}, nil, nil, nil))(t, "list")
		if list.FulfillmentRequests.TotalCount != 1 {
			t.Fatalf("the replay generated again: %d requests", list.FulfillmentRequests.TotalCount)
		}

		_, err := client.GenerateFulfillmentRequests(keyed, c, o.Id, &src.Id)
		if code := client.ErrorCode(err); code != "IDEMPOTENCY_KEY_REUSED" {
			t.Fatalf("the key with another request: %v (code %q)", err, code)
		}

		// Without the key, a second generation finds nothing left to route.
		_, err = client.GenerateFulfillmentRequests(ctx, c, o.Id, nil)
		if err == nil || client.ErrorCode(err) == "" || client.ErrorCode(err) == "IDEMPOTENCY_KEY_REUSED" {
			t.Fatalf("generate again without a key: %v (code %q)", err, client.ErrorCode(err))
		}
	})
}

// TestClientErrors checks that request errors (4xx under
// application/graphql-response+json) and field errors (200) both reach the
// caller with their codes.
func TestClientErrors(t *testing.T) {
	testdb.Each(t, func(t *testing.T, a *app.App) {
		ctx := context.Background()
		url, adminKey := server(t, a)

		_, err := client.Viewer(ctx, client.New(url, "not-a-key"))
		if client.ErrorCode(err) != "UNAUTHENTICATED" {
			t.Errorf("bad key: %v", err)
		}
		_, err = client.ListFulfillmentRequests(ctx, client.New(url, adminKey), nil, ptr(1000), nil, nil)
		if client.ErrorCode(err) != "VALIDATION" {
			t.Errorf("first: 1000: %v", err)
		}
		_, err = client.FulfillmentPreview(ctx, client.New(url, adminKey), "424242", nil)
		if client.ErrorCode(err) != "NOT_FOUND" {
			t.Errorf("preview of nothing: %v", err)
		}

		// The errors are *client.Error, in the service's words.
		var e *client.Error
		_, err = client.Viewer(ctx, client.New(url, "not-a-key"))
		if !errors.As(err, &e) || e.Code != "UNAUTHENTICATED" || e.StatusCode != http.StatusUnauthorized || e.Message == "" {
			t.Errorf("bad key: %#v", err)
		}
		_, err = client.ListOrders(ctx, client.New(url, adminKey), nil, ptr(1000), nil, nil, nil, nil)
		if !errors.As(err, &e) || e.Code != "VALIDATION" || e.Field != "first" || e.StatusCode != http.StatusBadRequest {
			t.Errorf("first: 1000: %#v", err)
		}
		c := client.New(url, adminKey)
		src := must(client.CreateSource(ctx, c, client.CreateSourceInput{Name: "Source", Code: "S1"}))(t, "createSource").CreateSource
		must(client.UpsertInventory(ctx, c, src.Id, []client.InventoryInput{{Sku: "SKU-A", Quantity: 10, UnitCost: "1"}}))(t, "upsertInventory")
		o := must(client.ImportOrder(ctx, c, orderInput("4001", line("SKU-A", 1))))(t, "importOrder").ImportOrder
		fr := must(client.CreateFulfillmentRequest(ctx, c, client.CreateFulfillmentRequestInput{OrderID: o.Id, SourceID: src.Id}))(t, "create").CreateFulfillmentRequest
		must(client.VoidFulfillmentRequest(ctx, c, fr.Id, "by mistake"))(t, "void")
		_, err = client.VoidFulfillmentRequest(ctx, c, fr.Id, "again")
		if !errors.As(err, &e) || e.Code != "INVALID_TRANSITION" || e.Path != "voidFulfillmentRequest" || e.StatusCode != http.StatusOK ||
			e.Extensions["from"] != "VOIDED" || e.Extensions["to"] != "VOIDED" {
			t.Fatalf("void of a voided request: %#v", err)
		}
		if msg := err.Error(); !strings.HasPrefix(msg, "INVALID_TRANSITION: ") || strings.ContainsAny(msg, "{}\"") {
			t.Errorf("the error's text is not the service's words: %q", msg)
		}
		// A custom HTTP client is used when given.
		var seen int
		d := doerFunc(func(r *http.Request) (*http.Response, error) {
			seen++
			if r.Header.Get("Accept") != client.Accept || r.Header.Get("Authorization") != "Bearer "+adminKey {
				t.Errorf("headers: %v", r.Header)
			}
			return http.DefaultClient.Do(r)
		})
		must(client.Viewer(ctx, client.New(url, adminKey, client.WithHTTPClient(d))))(t, "viewer")
		if seen != 1 {
			t.Errorf("the custom client saw %d requests", seen)
		}
	})
}

type doerFunc func(*http.Request) (*http.Response, error)

func (f doerFunc) Do(r *http.Request) (*http.Response, error) { return f(r) }
