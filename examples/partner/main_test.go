package main

import (
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/frsvc/fulfillment/client"
	"github.com/frsvc/fulfillment/internal/app"
	"github.com/frsvc/fulfillment/internal/e2e"
	"github.com/frsvc/fulfillment/internal/testdb"
)

// TestRun runs the example against the real service (httpapi behind an
// httptest server, fresh database): it must acknowledge and ship the
// source's PROCESSED requests, and only those, each mutation under its
// Idempotency-Key, so that sending a request's mutations again does nothing
// twice.
func TestRun(t *testing.T) {
	testdb.Each(t, func(t *testing.T, a *app.App) {
		env := e2e.New(t, a)
		q := func(query string, vars map[string]any, out any) {
			t.Helper()
			env.Query(query, vars, out)
		}
		source := func(code string) string {
			var out struct{ CreateSource struct{ ID string } }
			q(`mutation($c: String!) { createSource(input: {name: $c, code: $c}) { id } }`, map[string]any{"c": code}, &out)
			q(`mutation($s: ID!) { upsertInventory(sourceID: $s, items: [{sku: "SKU-A", quantity: 100, unitCost: "1"}, {sku: "SKU-B", quantity: 100, unitCost: "2"}]) { id } }`,
				map[string]any{"s": out.CreateSource.ID}, nil)
			return out.CreateSource.ID
		}
		mine, other := source("MINE"), source("OTHER")
		var orders int
		request := func(sourceID string, processed bool) string {
			orders++
			var o struct{ ImportOrder struct{ ID string } }
			q(`mutation($n: String!) { importOrder(input: {channel: "web", orderNumber: $n, paymentStatus: PAID,
				shipTo: {name: "Ada", line1: "1 Main St", city: "Springfield", postalCode: "12345", country: "US"},
				lines: [{sku: "SKU-A", quantity: 2, unitPrice: "10"}, {sku: "SKU-B", quantity: 1, unitPrice: "20"}]}) { id } }`,
				map[string]any{"n": "W-" + string(rune('0'+orders))}, &o)
			var fr struct{ CreateFulfillmentRequest struct{ ID string } }
			q(`mutation($o: ID!, $s: ID!) { createFulfillmentRequest(input: {orderID: $o, sourceID: $s}) { id } }`,
				map[string]any{"o": o.ImportOrder.ID, "s": sourceID}, &fr)
			if processed {
				q(`mutation($id: ID!) { markFulfillmentRequestProcessed(id: $id) { id } }`, map[string]any{"id": fr.CreateFulfillmentRequest.ID}, nil)
			}
			return fr.CreateFulfillmentRequest.ID
		}
		todo1, todo2 := request(mine, true), request(mine, true)
		waiting := request(mine, false) // UNPROCESSED: not for the source yet
		others := request(other, true)  // another source's
		// One already partly shipped by an operator: only the rest is shipped.
		var items struct {
			Node struct{ Items []struct{ ID, Sku string } }
		}
		q(`query($id: ID!) { node(id: $id) { ... on FulfillmentRequest { items { id sku } } } }`, map[string]any{"id": todo2}, &items)
		for _, it := range items.Node.Items {
			if it.Sku == "SKU-A" {
				q(`mutation($fr: ID!, $it: ID!) { createShipment(input: {fulfillmentRequestID: $fr, trackingNumber: "OP-1",
					items: [{fulfillmentRequestItemID: $it, quantity: 1}]}) { id } }`, map[string]any{"fr": todo2, "it": it.ID}, nil)
			}
		}
		var key struct{ CreateApiKey struct{ Secret string } }
		q(`mutation($s: ID!) { createApiKey(input: {name: "warehouse", role: SOURCE, sourceID: $s}) { secret } }`, map[string]any{"s": mine}, &key)
		rec := &recorder{next: env.Server.Client().Transport}
		cfg := Config{BaseURL: env.Server.URL, Key: key.CreateApiKey.Secret, Carrier: "DHL", TrackingPrefix: "DHL-",
			HTTPClient: &http.Client{Transport: rec}}

		var out strings.Builder
		dry := cfg
		dry.DryRun, dry.PageSize = true, 1 // one request a page: the paging is exercised too
		sum, err := run(context.Background(), dry, &out)
		if err != nil || sum != (Summary{Found: 2}) || !strings.Contains(out.String(), "W-1-1 (order W-1") || !strings.Contains(out.String(), "W-2-1 (order W-2") {
			t.Fatalf("dry run: %+v, %v\n%s", sum, err, out.String())
		}
		if keys, _ := rec.take(); slices.ContainsFunc(keys, func(k string) bool { return k != "" }) {
			t.Errorf("the dry run sent Idempotency-Keys %q", keys)
		}
		// What the run will read: kept to send the same mutations again below.
		snapshot, err := pending(context.Background(), newClient(cfg), 0)
		if err != nil || len(snapshot) != 2 || snapshot[0].Id != todo1 || snapshot[1].Id != todo2 {
			t.Fatalf("processed: %+v, %v", snapshot, err)
		}
		rec.take()

		out.Reset()
		sum, err = run(context.Background(), cfg, &out)
		if err != nil || sum != (Summary{Found: 2, Acknowledged: 2, Shipped: 2}) {
			t.Fatalf("run: %+v, %v\n%s", sum, err, out.String())
		}
		t.Logf("output:\n%s", out.String())
		if !strings.Contains(out.String(), "Signed in as source MINE") || !strings.Contains(out.String(), "shipped with DHL DHL-W-1-1: SHIPPED") {
			t.Errorf("output:\n%s", out.String())
		}
		// The viewer and the list without a key; each mutation with its own,
		// made of the source and the request.
		keys, replayed := rec.take()
		wantKeys := []string{"", "",
			"partner-MINE-ack-" + todo1, "partner-MINE-ship-" + todo1,
			"partner-MINE-ack-" + todo2, "partner-MINE-ship-" + todo2}
		if !slices.Equal(keys, wantKeys) || slices.Contains(replayed, true) {
			t.Errorf("Idempotency-Keys sent %q (replayed %v), want %q", keys, replayed, wantKeys)
		}

		type view struct {
			Status, ShipmentStatus string
			ConfirmationNumber     *string
			Items                  []struct{ Quantity, ShippedQuantity int }
			Shipments              []struct{ TrackingNumber, Carrier string }
		}
		get := func(id string) view {
			var v struct{ Node view }
			q(`query($id: ID!) { node(id: $id) { ... on FulfillmentRequest { status shipmentStatus confirmationNumber
				items { quantity shippedQuantity } shipments { trackingNumber carrier } } } }`, map[string]any{"id": id}, &v)
			return v.Node
		}
		for _, id := range []string{todo1, todo2} {
			v := get(id)
			if v.Status != "ACKNOWLEDGED" || v.ShipmentStatus != "SHIPPED" || v.ConfirmationNumber == nil || !strings.HasPrefix(*v.ConfirmationNumber, "MINE-W-") {
				t.Errorf("request %s: %+v", id, v)
			}
			for _, it := range v.Items {
				if it.ShippedQuantity != it.Quantity {
					t.Errorf("request %s: item shipped %d of %d", id, it.ShippedQuantity, it.Quantity)
				}
			}
		}
		if v := get(todo2); len(v.Shipments) != 2 {
			t.Errorf("partly shipped request: shipments %+v", v.Shipments)
		}

		// A retry after the answers were lost: the same mutations under the
		// same keys are answered from the first time and change nothing.
		c := newClient(cfg)
		for _, fr := range snapshot {
			var again Summary
			out.Reset()
			if err := handle(context.Background(), c, cfg, "MINE", fr, &again, &out); err != nil || again != (Summary{Acknowledged: 1, Shipped: 1}) {
				t.Errorf("%s sent again: %+v, %v\n%s", fr.Number, again, err, out.String())
			}
		}
		if _, replayed := rec.take(); !slices.Equal(replayed, []bool{true, true, true, true}) {
			t.Errorf("sent again: replayed %v, want every answer replayed", replayed)
		}
		if v := get(todo1); len(v.Shipments) != 1 {
			t.Errorf("request shipped twice: shipments %+v", v.Shipments)
		}
		if v := get(todo2); len(v.Shipments) != 2 {
			t.Errorf("partly shipped request shipped again: shipments %+v", v.Shipments)
		}
		if v := get(waiting); v.Status != "UNPROCESSED" || v.ShipmentStatus != "AWAITING_SHIPMENT" {
			t.Errorf("UNPROCESSED request touched: %+v", v)
		}
		if v := get(others); v.Status != "PROCESSED" || v.ShipmentStatus != "AWAITING_SHIPMENT" {
			t.Errorf("another source's request touched: %+v", v)
		}

		// Nothing left the second time.
		sum, err = run(context.Background(), cfg, io.Discard)
		if err != nil || sum != (Summary{}) {
			t.Errorf("second run: %+v, %v", sum, err)
		}

		// A wrong key, and a key that is not a SOURCE key.
		bad := cfg
		bad.Key = "frk_nope"
		if _, err := run(context.Background(), bad, io.Discard); client.ErrorCode(err) != "UNAUTHENTICATED" {
			t.Errorf("wrong key: %v", err)
		}
		admin := cfg
		admin.Key = env.AdminKey
		if _, err := run(context.Background(), admin, io.Discard); err == nil || !strings.Contains(err.Error(), "SOURCE key") ||
			!strings.Contains(err.Error(), "is an ADMIN key") {
			t.Errorf("ADMIN key: %v", err)
		}
	})
}

// TestResumeAfterCrash runs the example after a run that died between
// acknowledging a request and shipping it: the request is ACKNOWLEDGED with
// everything left to ship. The example must ship it, without acknowledging
// it again, under the same Idempotency-Key as ever, and exactly once.
func TestResumeAfterCrash(t *testing.T) {
	testdb.Each(t, func(t *testing.T, a *app.App) {
		env := e2e.New(t, a)
		q := func(query string, vars map[string]any, out any) {
			t.Helper()
			env.Query(query, vars, out)
		}
		var src struct{ CreateSource struct{ ID string } }
		q(`mutation { createSource(input: {name: "MINE", code: "MINE"}) { id } }`, nil, &src)
		mine := src.CreateSource.ID
		q(`mutation($s: ID!) { upsertInventory(sourceID: $s, items: [{sku: "SKU-A", quantity: 100, unitCost: "1"}, {sku: "SKU-B", quantity: 100, unitCost: "2"}]) { id } }`,
			map[string]any{"s": mine}, nil)
		request := func(number string) string {
			var o struct{ ImportOrder struct{ ID string } }
			q(`mutation($n: String!) { importOrder(input: {channel: "web", orderNumber: $n, paymentStatus: PAID,
				shipTo: {name: "Ada", line1: "1 Main St", city: "Springfield", postalCode: "12345", country: "US"},
				lines: [{sku: "SKU-A", quantity: 2, unitPrice: "10"}, {sku: "SKU-B", quantity: 1, unitPrice: "20"}]}) { id } }`,
				map[string]any{"n": number}, &o)
			var fr struct{ CreateFulfillmentRequest struct{ ID string } }
			q(`mutation($o: ID!, $s: ID!) { createFulfillmentRequest(input: {orderID: $o, sourceID: $s}) { id } }`,
				map[string]any{"o": o.ImportOrder.ID, "s": mine}, &fr)
			q(`mutation($id: ID!) { markFulfillmentRequestProcessed(id: $id) { id } }`, map[string]any{"id": fr.CreateFulfillmentRequest.ID}, nil)
			return fr.CreateFulfillmentRequest.ID
		}
		crashed, fresh := request("W-1"), request("W-2")
		var key struct{ CreateApiKey struct{ Secret string } }
		q(`mutation($s: ID!) { createApiKey(input: {name: "warehouse", role: SOURCE, sourceID: $s}) { secret } }`, map[string]any{"s": mine}, &key)
		rec := &recorder{next: env.Server.Client().Transport}
		cfg := Config{BaseURL: env.Server.URL, Key: key.CreateApiKey.Secret, Carrier: "DHL", TrackingPrefix: "DHL-",
			HTTPClient: &http.Client{Transport: rec}}

		// The run that died: it acknowledged W-1-1, as the example does,
		// and stopped before shipping it.
		confirmation := "MINE-W-1-1"
		if _, err := client.AcknowledgeFulfillmentRequest(
			client.WithIdempotencyKey(context.Background(), idempotencyKey("MINE", "ack", crashed)),
			newClient(cfg), crashed, &confirmation); err != nil {
			t.Fatalf("acknowledge by hand: %v", err)
		}
		rec.take()

		var out strings.Builder
		dry := cfg
		dry.DryRun, dry.PageSize = true, 1
		sum, err := run(context.Background(), dry, &out)
		if err != nil || sum != (Summary{Found: 2}) || !strings.Contains(out.String(), "W-1-1 (order W-1") {
			t.Fatalf("dry run: %+v, %v\n%s", sum, err, out.String())
		}
		rec.take()

		out.Reset()
		sum, err = run(context.Background(), cfg, &out)
		if err != nil || sum != (Summary{Found: 2, Acknowledged: 1, Resumed: 1, Shipped: 2}) {
			t.Fatalf("run: %+v, %v\n%s", sum, err, out.String())
		}
		t.Logf("output:\n%s", out.String())
		if !strings.Contains(out.String(), "shipped with DHL DHL-W-1-1: SHIPPED") {
			t.Errorf("output:\n%s", out.String())
		}
		// No second acknowledge of W-1-1: only its shipment, under its key.
		keys, replayed := rec.take()
		wantKeys := []string{"", "",
			"partner-MINE-ship-" + crashed,
			"partner-MINE-ack-" + fresh, "partner-MINE-ship-" + fresh}
		if !slices.Equal(keys, wantKeys) || slices.Contains(replayed, true) {
			t.Errorf("Idempotency-Keys sent %q (replayed %v), want %q", keys, replayed, wantKeys)
		}

		var v struct {
			Node struct {
				Status, ShipmentStatus string
				ConfirmationNumber     *string
				Items                  []struct{ Quantity, ShippedQuantity int }
				Shipments              []struct{ TrackingNumber, Carrier string }
			}
		}
		q(`query($id: ID!) { node(id: $id) { ... on FulfillmentRequest { status shipmentStatus confirmationNumber
			items { quantity shippedQuantity } shipments { trackingNumber carrier } } } }`, map[string]any{"id": crashed}, &v)
		fr := v.Node
		if fr.Status != "ACKNOWLEDGED" || fr.ShipmentStatus != "SHIPPED" || fr.ConfirmationNumber == nil || *fr.ConfirmationNumber != confirmation {
			t.Errorf("resumed request: %+v", fr)
		}
		if len(fr.Shipments) != 1 || fr.Shipments[0].TrackingNumber != "DHL-W-1-1" || fr.Shipments[0].Carrier != "DHL" {
			t.Errorf("resumed request: shipments %+v, want exactly one", fr.Shipments)
		}
		for _, it := range fr.Items {
			if it.ShippedQuantity != it.Quantity {
				t.Errorf("resumed request: item shipped %d of %d", it.ShippedQuantity, it.Quantity)
			}
		}

		// Nothing left the second time.
		if sum, err := run(context.Background(), cfg, io.Discard); err != nil || sum != (Summary{}) {
			t.Errorf("second run: %+v, %v", sum, err)
		}
	})
}

func TestParseConfig(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	c, err := parseConfig(nil, env(map[string]string{"FULFILLMENT_URL": "https://f.example/", "FULFILLMENT_SOURCE_KEY": "frk_x"}), io.Discard)
	if err != nil || c.BaseURL != "https://f.example" || c.Key != "frk_x" || c.Carrier != "UPS" || c.TrackingPrefix != "TRK-" || c.DryRun {
		t.Errorf("from the environment: %+v, %v", c, err)
	}
	c, err = parseConfig([]string{"-url", "http://h:1", "-key", "frk_y", "-carrier", "DPD", "-dry-run"},
		env(map[string]string{"FULFILLMENT_URL": "https://f.example", "FULFILLMENT_SOURCE_KEY": "frk_x"}), io.Discard)
	if err != nil || c.BaseURL != "http://h:1" || c.Key != "frk_y" || c.Carrier != "DPD" || !c.DryRun {
		t.Errorf("flags over the environment: %+v, %v", c, err)
	}
	if _, err := parseConfig(nil, env(nil), io.Discard); err == nil {
		t.Error("no key: no error")
	}
	if _, err := parseConfig([]string{"-key", "k", "extra"}, env(nil), io.Discard); err == nil {
		t.Error("stray argument: no error")
	}
}

// recorder notes the Idempotency-Key of each request the example sends and
// whether the service replayed its answer.
type recorder struct {
	next     http.RoundTripper
	mu       sync.Mutex
	keys     []string
	replayed []bool
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.next.RoundTrip(req)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.keys = append(r.keys, req.Header.Get(client.IdempotencyKeyHeader))
	r.replayed = append(r.replayed, err == nil && resp.Header.Get("Idempotent-Replayed") == "true")
	return resp, err
}

// take returns what was noted since the last take.
func (r *recorder) take() (keys []string, replayed []bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	keys, replayed = r.keys, r.replayed
	r.keys, r.replayed = nil, nil
	return keys, replayed
}
