package e2e

// frkit_test.go is the toolbox of the fulfillment-request lifecycle tests
// (lifecycle, matrix, races, idempotency, preview): set-up through GraphQL,
// the operator mutations, and the checkers every step ends with. Names carry
// an fr/kit prefix so that they stay clear of the other test files of the
// package.

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/frsvc/fulfillment/internal/app"
	"github.com/frsvc/fulfillment/internal/db"
)

// kitFRFields is what the tests read of a fulfillment request.
const kitFRFields = `fragment FR on FulfillmentRequest {
  id number status version origin orderID sourceID supersedesID shipmentStatus
  cancellationNoticePending voidReason confirmationNumber failureReason
  source { code }
  items { id sku quantity orderLineID shippedQuantity canceledQuantity } }`

// kitFR is a fulfillment request as the API shows it.
type kitFR struct {
	ID                        string
	Number                    string
	Status                    string
	Version                   int
	Origin                    string
	OrderID                   string
	SourceID                  string
	SupersedesID              *string
	ShipmentStatus            string
	CancellationNoticePending bool
	VoidReason                *string
	ConfirmationNumber        *string
	FailureReason             *string
	Source                    struct{ Code string }
	Items                     []struct {
		ID               string
		Sku              string
		Quantity         int
		OrderLineID      string
		ShippedQuantity  int
		CanceledQuantity int
	}
}

// kitLine is one line of an order to import.
type kitLine struct {
	sku string
	qty int
}

// kitOrder is an imported order.
type kitOrder struct {
	ID               string
	OrderNumber      string
	Status           string
	AllocationStatus string
	Lines            []struct {
		ID                  string
		Sku                 string
		Quantity            int
		UnallocatedQuantity int
	}
}

// line returns the id of the order's line of sku.
func (o kitOrder) line(t testing.TB, sku string) string {
	t.Helper()
	for _, l := range o.Lines {
		if l.Sku == sku {
			return l.ID
		}
	}
	t.Fatalf("order %s has no line %s", o.OrderNumber, sku)
	return ""
}

// kitGen is what generate and regenerate answer.
type kitGen struct {
	CorrelationID string
	Order         struct {
		ID               string
		AllocationStatus string
	}
	FulfillmentRequests []kitFR
}

// frKit drives one account of a fresh server.
type frKit struct {
	*Env
}

// newKit builds an app over a's database as the server would, with the
// per-key rate limit off (the story tests send hundreds of requests a
// second), serves it and creates an account with an ADMIN key.
func newKit(t testing.TB, a *app.App) *frKit {
	t.Helper()
	e := newWithAs(t, a, func(c *app.Config) {
		c.RateLimit = 0
		if os.Getenv("FRKIT_LOG") != "" {
			c.Logger = slog.New(slog.NewJSONHandler(os.Stderr, nil)) // the server's own log, to debug an INTERNAL answer
		}
	}, "Lifecycle account")
	return &frKit{Env: e}
}

// with returns the kit reporting to t (for subtests).
func (k *frKit) with(t testing.TB) *frKit { return &frKit{Env: k.WithT(t)} }

// try runs a request with the ADMIN key and returns the answer, errors and all.
func (k *frKit) try(query string, vars map[string]any) *Result {
	k.T.Helper()
	return k.Do(Request{Key: k.AdminKey, Query: query, Variables: vars})
}

// source creates a source and returns its id; extra adds input fields.
func (k *frKit) source(code string, extra map[string]any) string {
	k.T.Helper()
	return k.addSource(code, extra)
}

// stock sets a source's quantity and unit cost of a SKU.
func (k *frKit) stock(sourceID, sku string, qty int, cost string) {
	k.T.Helper()
	k.Query(upsertInventoryMutation, map[string]any{"sourceID": sourceID,
		"items": []any{map[string]any{"sku": sku, "quantity": qty, "unitCost": cost}}}, nil)
}

// group creates a routing group over the sources (priorities 1, 2, …).
func (k *frKit) group(name string, rules []string, extra map[string]any, sourceIDs ...string) string {
	k.T.Helper()
	in := groupInput(name, sourceIDs...)
	in["rules"] = rules
	for f, v := range extra {
		in[f] = v
	}
	var out struct{ CreateRoutingGroup struct{ ID string } }
	k.Query(`mutation($in: CreateRoutingGroupInput!) { createRoutingGroup(input: $in) { id } }`, map[string]any{"in": in}, &out)
	return out.CreateRoutingGroup.ID
}

const kitOrderFields = `id orderNumber status allocationStatus lines { id sku quantity unallocatedQuantity }`

// kitOrderInput is an ImportOrderInput shipping to country.
func kitOrderInput(number, payment, country string, lines ...kitLine) map[string]any {
	ls := make([]any, len(lines))
	for i, l := range lines {
		ls[i] = map[string]any{"sku": l.sku, "quantity": l.qty, "unitPrice": "10"}
	}
	return importInput("web", number, payment, country, ls)
}

// order imports an order shipping to the US.
func (k *frKit) order(number, payment string, lines ...kitLine) kitOrder {
	k.T.Helper()
	return k.orderTo(number, payment, "US", lines...)
}

func (k *frKit) orderTo(number, payment, country string, lines ...kitLine) kitOrder {
	k.T.Helper()
	var out struct{ ImportOrder kitOrder }
	k.Query(`mutation($in: ImportOrderInput!) { importOrder(input: $in) { `+kitOrderFields+` } }`,
		map[string]any{"in": kitOrderInput(number, payment, country, lines...)}, &out)
	return out.ImportOrder
}

// getOrder reads an order.
func (k *frKit) getOrder(id string) kitOrder {
	k.T.Helper()
	var out struct{ Node kitOrder }
	k.Query(`query($id: ID!) { node(id: $id) { ... on Order { `+kitOrderFields+` } } }`, map[string]any{"id": id}, &out)
	return out.Node
}

// fr reads a fulfillment request.
func (k *frKit) fr(id string) kitFR {
	k.T.Helper()
	var out struct{ Node kitFR }
	k.Query(`query($id: ID!) { node(id: $id) { ...FR } } `+kitFRFields, map[string]any{"id": id}, &out)
	if out.Node.ID != id {
		k.T.Fatalf("fulfillment request %s not found", id)
	}
	return out.Node
}

// orderFRs lists an order's requests, oldest first.
func (k *frKit) orderFRs(orderID string) []kitFR {
	k.T.Helper()
	list := kitDecodeAll[kitFR](k.T, k.pageAll("fulfillmentRequests", "$id: ID!", "where: {orderID: $id}", "...FR", map[string]any{"id": orderID}))
	sort.Slice(list, func(i, j int) bool { return kitAtoi(k.T, list[i].ID) < kitAtoi(k.T, list[j].ID) })
	return list
}

// expectFRs fails unless the order's requests are exactly want (number → status).
func (k *frKit) expectFRs(orderID string, want map[string]string) []kitFR {
	k.T.Helper()
	list := k.orderFRs(orderID)
	got := map[string]string{}
	for _, fr := range list {
		if _, dup := got[fr.Number]; dup && fr.Status != "DUPLICATE_NUMBER" {
			k.T.Errorf("number %s given twice", fr.Number)
		}
		got[fr.Number] = fr.Status
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		k.T.Fatalf("requests of order %s = %v, want %v", orderID, got, want)
	}
	return list
}

const kitGenerateMutation = `mutation($id: ID!, $group: ID) { generateFulfillmentRequests(orderID: $id, routingGroupID: $group) {
  correlationID order { id allocationStatus } fulfillmentRequests { ...FR } } } ` + kitFRFields

const kitRegenerateMutation = `mutation($id: ID!, $reason: String!, $ex: Boolean) { regenerateFulfillmentRequest(id: $id, reason: $reason, excludeSource: $ex) {
  correlationID order { id allocationStatus } fulfillmentRequests { ...FR } } } ` + kitFRFields

// generate generates an order's requests and fails on any error.
func (k *frKit) generate(orderID string) kitGen {
	k.T.Helper()
	var out struct{ GenerateFulfillmentRequests kitGen }
	k.Query(kitGenerateMutation, map[string]any{"id": orderID}, &out)
	return out.GenerateFulfillmentRequests
}

// regenerate regenerates a request and fails on any error.
func (k *frKit) regenerate(frID, reason string, excludeSource bool) kitGen {
	k.T.Helper()
	var out struct{ RegenerateFulfillmentRequest kitGen }
	k.Query(kitRegenerateMutation, map[string]any{"id": frID, "reason": reason, "ex": excludeSource}, &out)
	return out.RegenerateFulfillmentRequest
}

// The operator operations of the transition matrix, by name.
var kitOps = map[string]string{
	"process":          `mutation($id: ID!) { processFulfillmentRequests(ids: [$id]) { ...FR } } ` + kitFRFields,
	"markProcessed":    `mutation($id: ID!) { markFulfillmentRequestProcessed(id: $id) { ...FR } } ` + kitFRFields,
	"markAcknowledged": `mutation($id: ID!) { markFulfillmentRequestAcknowledged(id: $id, confirmationNumber: "CONF-1") { ...FR } } ` + kitFRFields,
	"acknowledge":      `mutation($id: ID!) { acknowledgeFulfillmentRequest(id: $id, confirmationNumber: "SRC-1") { ...FR } } ` + kitFRFields,
	"renumber":         `mutation($id: ID!, $number: String!) { renumberFulfillmentRequest(id: $id, number: $number) { ...FR } } ` + kitFRFields,
	"void":             `mutation($id: ID!) { voidFulfillmentRequest(id: $id, reason: "operator says so") { ...FR } } ` + kitFRFields,
	"cancel":           `mutation($id: ID!) { cancelFulfillmentRequest(id: $id, reason: "source is out") { ...FR } } ` + kitFRFields,
}

// op runs one operation on a request and returns the raw answer.
func (k *frKit) op(name, id string, vars map[string]any) *Result {
	k.T.Helper()
	q, ok := kitOps[name]
	if !ok {
		k.T.Fatalf("no operation %s", name)
	}
	v := map[string]any{"id": id}
	for f, x := range vars {
		v[f] = x
	}
	return k.try(q, v)
}

// must runs an operation that must succeed and returns the request after it.
func (k *frKit) must(name, id string, vars map[string]any) kitFR {
	k.T.Helper()
	res := k.op(name, id, vars)
	if len(res.Errors) > 0 {
		k.T.Fatalf("%s %s: %+v", name, id, res.Errors)
	}
	return k.fr(id)
}

// frCreate makes a request by hand; items are (line id, quantity) pairs.
func (k *frKit) frCreate(orderID, sourceID string, overcommit bool, items ...any) *Result {
	k.T.Helper()
	in := map[string]any{"orderID": orderID, "sourceID": sourceID, "allowOvercommit": overcommit}
	if len(items) > 0 {
		list := []any{}
		for i := 0; i+1 < len(items); i += 2 {
			list = append(list, map[string]any{"orderLineID": items[i], "quantity": items[i+1]})
		}
		in["items"] = list
	}
	return k.try(`mutation($in: CreateFulfillmentRequestInput!) { createFulfillmentRequest(input: $in) { ...FR } } `+kitFRFields,
		map[string]any{"in": in})
}

// mustCreate is frCreate that must succeed.
func (k *frKit) mustCreate(orderID, sourceID string, overcommit bool, items ...any) kitFR {
	k.T.Helper()
	res := k.frCreate(orderID, sourceID, overcommit, items...)
	if len(res.Errors) > 0 {
		k.T.Fatalf("createFulfillmentRequest: %+v", res.Errors)
	}
	var out struct{ CreateFulfillmentRequest kitFR }
	res.Decode(k.T, &out)
	return out.CreateFulfillmentRequest
}

// sendRun runs the send run now.
func (k *frKit) sendRun() map[string]int {
	k.T.Helper()
	var out struct{ RunSendFulfillmentRequests map[string]int }
	k.Query(`mutation { runSendFulfillmentRequests { claimed processed acknowledged failed retried } }`, nil, &out)
	return out.RunSendFulfillmentRequests
}

// pageAll reads a whole root connection, 100 at a time, and returns its
// nodes. decl declares extra variables, args passes them to the connection.
func (k *frKit) pageAll(conn, decl, args, fields string, vars map[string]any) []json.RawMessage {
	k.T.Helper()
	q := "query($after: Cursor"
	if decl != "" {
		q += ", " + decl
	}
	q += ") { " + conn + "(first: 100, after: $after"
	if args != "" {
		q += ", " + args
	}
	q += ") { totalCount pageInfo { hasNextPage endCursor } edges { node { " + fields + " } } } }"
	if strings.Contains(fields, "...FR") {
		q += " " + kitFRFields
	}
	var out []json.RawMessage
	var after any
	for page := 0; page < 100; page++ {
		v := map[string]any{"after": after}
		for f, x := range vars {
			v[f] = x
		}
		var res map[string]struct {
			TotalCount int
			PageInfo   struct {
				HasNextPage bool
				EndCursor   string
			}
			Edges []struct{ Node json.RawMessage }
		}
		k.Query(q, v, &res)
		c := res[conn]
		for _, e := range c.Edges {
			out = append(out, e.Node)
		}
		if !c.PageInfo.HasNextPage {
			if len(out) != c.TotalCount {
				k.T.Fatalf("%s: paged %d, totalCount %d", conn, len(out), c.TotalCount)
			}
			return out
		}
		after = c.PageInfo.EndCursor
	}
	k.T.Fatalf("%s: too many pages", conn)
	return nil
}

// kitDecodeAll unmarshals nodes into a slice of T.
func kitDecodeAll[T any](t testing.TB, nodes []json.RawMessage) []T {
	t.Helper()
	out := make([]T, len(nodes))
	for i, n := range nodes {
		if err := json.Unmarshal(n, &out[i]); err != nil {
			t.Fatalf("decode %s: %v", n, err)
		}
	}
	return out
}

// logCount counts the log entries matching where.
func (k *frKit) logCount(where map[string]any) int {
	k.T.Helper()
	var out struct{ FulfillmentLogs struct{ TotalCount int } }
	k.Query(`query($w: FulfillmentLogWhereInput) { fulfillmentLogs(where: $w) { totalCount } }`, map[string]any{"w": where}, &out)
	return out.FulfillmentLogs.TotalCount
}

// kitLog is a log entry as the API shows it.
type kitLog struct {
	ID                   string
	OrderID              *string
	FulfillmentRequestID *string
	CorrelationID        string
	Stage                string
	Level                string
	Message              string
	Data                 map[string]any
	Actor                string
	CreatedAt            string
}

const kitLogFields = `id orderID fulfillmentRequestID correlationID stage level message data actor createdAt`

// logs lists the entries matching where, newest first.
func (k *frKit) logs(where map[string]any) []kitLog {
	k.T.Helper()
	return kitDecodeAll[kitLog](k.T, k.pageAll("fulfillmentLogs", "$w: FulfillmentLogWhereInput",
		"where: $w, orderBy: {field: CREATED_AT, direction: DESC}", kitLogFields, map[string]any{"w": where}))
}

// kitLedger is what checkLedger read: committed and available per
// "SOURCE/SKU", and each order's lines.
type kitLedger struct {
	Committed map[string]int
	Available map[string]int
	Quantity  map[string]int
	// Lines maps an order number to its lines by SKU: [quantity, unallocated, allocated, shipped, killed].
	Lines map[string]map[string][5]int
}

// checkLedger reads every order line, inventory item and request of the
// account and asserts the invariants of DOMAIN.md:
//   - per line: quantity = unallocated + allocated + shipped + killed, each ≥ 0,
//     and allocated = the open quantity (not shipped, not canceled) of the
//     line's items in non-terminal requests;
//   - per inventory item: available = quantity − committed, committed ≥ 0,
//     available ≥ 0 unless the "SOURCE/SKU" is listed in overcommitted;
//   - per source with commitStock on and SKU: committed = the open quantity
//     of the source's non-terminal requests of that SKU; with commitStock off,
//     nothing is committed.
func (k *frKit) checkLedger(overcommitted ...string) kitLedger {
	k.T.Helper()
	t := k.T
	type lineRow struct {
		ID, Sku                                                                           string
		Quantity, UnallocatedQuantity, AllocatedQuantity, ShippedQuantity, KilledQuantity int
	}
	orders := kitDecodeAll[struct {
		OrderNumber string
		Lines       []lineRow
	}](t, k.pageAll("orders", "", "", "orderNumber lines { id sku quantity unallocatedQuantity allocatedQuantity shippedQuantity killedQuantity }", nil))
	inventory := kitDecodeAll[struct {
		Sku                            string
		Quantity, Committed, Available int
		Source                         struct {
			Code        string
			CommitStock bool
		}
	}](t, k.pageAll("inventoryItems", "", "", "sku quantity committed available source { code commitStock }", nil))
	sources := kitDecodeAll[struct {
		Code        string
		CommitStock bool
	}](t, k.pageAll("sources", "", "", "code commitStock", nil))
	frs := kitDecodeAll[kitFR](t, k.pageAll("fulfillmentRequests", "", "", "...FR", nil))
	commits := map[string]bool{}
	for _, src := range sources {
		commits[src.Code] = src.CommitStock
	}
	// The open quantity of non-terminal requests, per line and per source/SKU.
	openByLine := map[string]int{}
	openByStock := map[string]int{}
	for _, fr := range frs {
		if fr.Status == "CANCELED" || fr.Status == "VOIDED" {
			continue
		}
		for _, it := range fr.Items {
			open := it.Quantity - it.ShippedQuantity - it.CanceledQuantity
			if open < 0 {
				t.Errorf("request %s item %s: shipped %d + canceled %d > quantity %d", fr.Number, it.Sku, it.ShippedQuantity, it.CanceledQuantity, it.Quantity)
			}
			openByLine[it.OrderLineID] += open
			if commits[fr.Source.Code] {
				openByStock[fr.Source.Code+"/"+it.Sku] += open
			}
		}
	}
	st := kitLedger{Committed: map[string]int{}, Available: map[string]int{}, Quantity: map[string]int{}, Lines: map[string]map[string][5]int{}}
	for _, o := range orders {
		st.Lines[o.OrderNumber] = map[string][5]int{}
		for _, l := range o.Lines {
			if l.UnallocatedQuantity < 0 || l.AllocatedQuantity < 0 || l.ShippedQuantity < 0 || l.KilledQuantity < 0 {
				t.Errorf("order %s line %s: negative ledger %+v", o.OrderNumber, l.Sku, l)
			}
			if sum := l.UnallocatedQuantity + l.AllocatedQuantity + l.ShippedQuantity + l.KilledQuantity; sum != l.Quantity {
				t.Errorf("order %s line %s: quantity %d ≠ unallocated %d + allocated %d + shipped %d + killed %d", o.OrderNumber, l.Sku,
					l.Quantity, l.UnallocatedQuantity, l.AllocatedQuantity, l.ShippedQuantity, l.KilledQuantity)
			}
			if l.AllocatedQuantity != openByLine[l.ID] {
				t.Errorf("order %s line %s: allocated %d, but its open request items hold %d", o.OrderNumber, l.Sku, l.AllocatedQuantity, openByLine[l.ID])
			}
			st.Lines[o.OrderNumber][l.Sku] = [5]int{l.Quantity, l.UnallocatedQuantity, l.AllocatedQuantity, l.ShippedQuantity, l.KilledQuantity}
		}
	}
	for _, it := range inventory {
		key := it.Source.Code + "/" + it.Sku
		st.Committed[key], st.Available[key], st.Quantity[key] = it.Committed, it.Available, it.Quantity
		if it.Available != it.Quantity-it.Committed {
			t.Errorf("%s: available %d ≠ quantity %d − committed %d", key, it.Available, it.Quantity, it.Committed)
		}
		if it.Committed < 0 {
			t.Errorf("%s: committed %d < 0", key, it.Committed)
		}
		if it.Available < 0 && !slices.Contains(overcommitted, key) {
			t.Errorf("%s: available %d < 0 without an explicit overcommit", key, it.Available)
		}
		want := 0
		if it.Source.CommitStock {
			want = openByStock[key]
		}
		if it.Committed != want {
			t.Errorf("%s: committed %d, but open requests of a source with commitStock=%v hold %d", key, it.Committed, it.Source.CommitStock, want)
		}
	}
	for key, open := range openByStock {
		if _, ok := st.Committed[key]; !ok && open > 0 {
			t.Errorf("%s: open requests hold %d but no inventory item records the reservation", key, open)
		}
	}
	return st
}

// kitTableCount counts the rows of one table.
func kitTableCount(t testing.TB, s *db.Store, table string) int {
	t.Helper()
	var n int
	if err := s.DB.QueryRow("SELECT count(*) FROM " + table).Scan(&n); err != nil && err != sql.ErrNoRows {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

// kitTransitionErr checks an INVALID_TRANSITION answer and its from/to.
func kitTransitionErr(t testing.TB, res *Result, from, to string) {
	t.Helper()
	if len(res.Errors) != 1 || res.Errors[0].Code() != "INVALID_TRANSITION" {
		t.Fatalf("want INVALID_TRANSITION %s→%s, got %+v (data %s)", from, to, res.Errors, res.Data)
	}
	ext := res.Errors[0].Extensions
	if ext["from"] != from || ext["to"] != to {
		t.Fatalf("INVALID_TRANSITION extensions from=%v to=%v, want %s→%s", ext["from"], ext["to"], from, to)
	}
}

// kitCode returns the code of the only error of res ("" when none).
func kitCode(t testing.TB, res *Result) string {
	t.Helper()
	switch len(res.Errors) {
	case 0:
		return ""
	case 1:
		return res.Errors[0].Code()
	}
	t.Fatalf("more than one error: %+v", res.Errors)
	return ""
}

// kitRoadblocks lists the codes in an error's extensions.roadblocks.
func kitRoadblocks(e Error) []string {
	list, _ := e.Extensions["roadblocks"].([]any)
	var out []string
	for _, rb := range list {
		if m, ok := rb.(map[string]any); ok {
			out = append(out, fmt.Sprint(m["code"]))
		}
	}
	return out
}

func kitAtoi(t testing.TB, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("id %q: %v", s, err)
	}
	return n
}

// kitJoin is for messages.
func kitJoin(c []string) string { return strings.Join(c, ",") }
