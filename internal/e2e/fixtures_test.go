package e2e

import (
	"encoding/json"
	"fmt"
	"testing"
)

// The operations the tests share, with variables so that each test states
// only what it varies.
const (
	importOrderMutation = `mutation($input: ImportOrderInput!) {
  importOrder(input: $input) { id orderNumber channel status holdReason paymentStatus
    shipTo { line1 city postalCode country }
    lines { sku title quantity unitPrice unallocatedQuantity position } } }`

	createSourceMutation = `mutation($input: CreateSourceInput!) {
  createSource(input: $input) { id code name dropshipFee shipsTo } }`

	upsertInventoryMutation = `mutation($sourceID: ID!, $items: [InventoryInput!]!) {
  upsertInventory(sourceID: $sourceID, items: $items) { id sku quantity committed available unitCost } }`

	createGroupMutation = `mutation($input: CreateRoutingGroupInput!) {
  createRoutingGroup(input: $input) { id name isDefault position rules shipToCountries
    members { priority eligible source { id code } } } }`

	updateGroupMutation = `mutation($id: ID!, $input: UpdateRoutingGroupInput!) {
  updateRoutingGroup(id: $id, input: $input) { id name isDefault position rules shipToCountries
    members { priority eligible source { id code } } } }`
)

// importInput is an ImportOrderInput of the channel shipping to an address
// in Springfield, country; lines are OrderLineInputs. The tests' order
// builders below all start from it.
func importInput(channel, number, payment, country string, lines []any) map[string]any {
	return map[string]any{
		"channel": channel, "orderNumber": number, "paymentStatus": payment,
		"shipTo": map[string]any{"line1": "1 Main St", "city": "Springfield", "postalCode": "12345", "country": country},
		"lines":  lines,
	}
}

// orderInput returns a valid paid web ImportOrderInput to Ada in the US with
// the given lines (two good ones when none are given).
func orderInput(number string, lines ...map[string]any) map[string]any {
	if len(lines) == 0 {
		lines = []map[string]any{
			{"sku": "SKU-A", "title": "Widget", "quantity": 2, "unitPrice": "9.99"},
			{"sku": "SKU-B", "quantity": 1, "unitPrice": "120.5"},
		}
	}
	ls := make([]any, len(lines))
	for i, l := range lines {
		ls[i] = l
	}
	in := importInput("web", number, "PAID", "US", ls)
	in["shipTo"].(map[string]any)["name"] = "Ada"
	return in
}

type orderOut struct {
	ID            string
	OrderNumber   string
	Channel       string
	Status        string
	HoldReason    *string
	PaymentStatus string
	ShipTo        struct{ Line1, City, PostalCode, Country string }
	Lines         []struct {
		Sku                 string
		Title               *string
		Quantity            int
		UnitPrice           string
		UnallocatedQuantity int
		Position            int
	}
}

// importOrder imports an order with key and returns it.
func (e *Env) importOrder(key string, input map[string]any) orderOut {
	e.T.Helper()
	var out struct{ ImportOrder orderOut }
	e.QueryAs(key, importOrderMutation, map[string]any{"input": input}, &out)
	return out.ImportOrder
}

type sourceOut struct {
	ID          string
	Code        string
	Name        string
	DropshipFee string
	ShipsTo     []string
}

// createSource creates a source with key and returns it.
func (e *Env) createSource(key, code string) sourceOut {
	e.T.Helper()
	var out struct{ CreateSource sourceOut }
	e.QueryAs(key, createSourceMutation, map[string]any{"input": map[string]any{
		"name": "Source " + code, "code": code, "dropshipFee": "2.5", "shipsTo": []string{"US", "CA"},
	}}, &out)
	return out.CreateSource
}

// addSource creates the source "Source <code>" with the ADMIN key and
// returns its id; extra adds input fields (without a connector it is a
// MANUAL source).
func (e *Env) addSource(code string, extra map[string]any) string {
	e.T.Helper()
	in := map[string]any{"name": "Source " + code, "code": code}
	for f, v := range extra {
		in[f] = v
	}
	var out struct{ CreateSource struct{ ID string } }
	e.Query(`mutation($in: CreateSourceInput!) { createSource(input: $in) { id } }`, map[string]any{"in": in}, &out)
	return out.CreateSource.ID
}

type inventoryOut struct {
	ID        string
	Sku       string
	Quantity  int
	Committed int
	Available int
	UnitCost  string
}

type groupOut struct {
	ID              string
	Name            string
	IsDefault       bool
	Position        int
	Rules           []string
	ShipToCountries []string
	Members         []struct {
		Priority int
		Eligible bool
		Source   struct{ ID, Code string }
	}
}

// createGroup creates a routing group with key and returns it.
func (e *Env) createGroup(key string, input map[string]any) groupOut {
	e.T.Helper()
	var out struct{ CreateRoutingGroup groupOut }
	e.QueryAs(key, createGroupMutation, map[string]any{"input": input}, &out)
	return out.CreateRoutingGroup
}

// groupInput returns a valid CreateRoutingGroupInput over the sources, with
// priorities 1, 2, ….
func groupInput(name string, sourceIDs ...string) map[string]any {
	members := make([]any, len(sourceIDs))
	for i, id := range sourceIDs {
		members[i] = map[string]any{"sourceID": id, "priority": i + 1}
	}
	return map[string]any{"name": name, "rules": []string{"LOWEST_COST"}, "members": members}
}

// items returns n inventory inputs SKU-0000 … with quantity i and cost "1.00".
func items(n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = map[string]any{"sku": fmt.Sprintf("SKU-%04d", i), "quantity": i, "unitCost": "1.00"}
	}
	return out
}

// counts is what an account holds, read through the API.
type counts struct{ Orders, Sources, InventoryItems, RoutingGroups, FulfillmentLogs int }

func (e *Env) counts(key string) counts {
	e.T.Helper()
	var out map[string]struct{ TotalCount int }
	e.QueryAs(key, `{ orders { totalCount } sources { totalCount } inventoryItems { totalCount }
		routingGroups { totalCount } fulfillmentLogs { totalCount } }`, nil, &out)
	return counts{
		Orders: out["orders"].TotalCount, Sources: out["sources"].TotalCount,
		InventoryItems: out["inventoryItems"].TotalCount, RoutingGroups: out["routingGroups"].TotalCount,
		FulfillmentLogs: out["fulfillmentLogs"].TotalCount,
	}
}

// assertCounts fails unless the account of key holds want.
func (e *Env) assertCounts(t *testing.T, key string, want counts) {
	t.Helper()
	if got := e.WithT(t).counts(key); got != want {
		t.Fatalf("counts = %+v, want %+v", got, want)
	}
}

// resultError is a GraphQL answer with errors, as an error (for goroutines).
type resultError struct{ res *Result }

func (r *resultError) Error() string { return fmt.Sprintf("errors: %+v", r.res.Errors) }

func jsonUnmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }
