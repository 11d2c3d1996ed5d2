// Package demo seeds a believable data set into the first account so that an
// operator who starts the server with --demo can explore at once: six sources
// (one per connector kind, one disabled), 200 SKUs spread over them with
// differing costs and some stock-outs, three routing groups and 50 open
// orders from three channels, a few of them on hold or not yet paid.
//
// The data goes in through the same use cases as the API (admin.Service,
// orders.Service), so it obeys the API's validation and leaves the same log
// trail, with the actor "demo". The data set is planned first, as a pure
// function of a fixed random seed and a base time, and only then written:
// two seedings at the same base time write identical data.
//
// Order dates are relative to the moment of seeding (the last 30 days before
// it, to the minute), so that the demo always looks current; everything else,
// the order dates' offsets included, is the same on every run.
package demo

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/frsvc/fulfillment/ent"
	"github.com/frsvc/fulfillment/ent/account"
	"github.com/frsvc/fulfillment/ent/order"
	"github.com/frsvc/fulfillment/ent/source"
	"github.com/frsvc/fulfillment/internal/address"
	"github.com/frsvc/fulfillment/internal/admin"
	"github.com/frsvc/fulfillment/internal/apperr"
	"github.com/frsvc/fulfillment/internal/auth"
	"github.com/frsvc/fulfillment/internal/db"
	"github.com/frsvc/fulfillment/internal/money"
	"github.com/frsvc/fulfillment/internal/orders"
	"github.com/frsvc/fulfillment/internal/tenant"
)

// The size of the data set.
const (
	skuCount   = 200
	orderCount = 50
	// orderWindow is how far back the orders' dates reach.
	orderWindow = 30 * 24 * time.Hour
)

// ActorName is the key name the demo's log entries are written under.
const ActorName = "demo"

// Seed fills the database's first account (the lowest id, which bootstrap
// created) with the demo data set when that account has no source yet, and
// reports whether it did. An account with any source is an account someone
// set up, so it is left alone; so is a database with no account at all.
//
// Seeding is not one transaction: every use case commits its own, as it does
// for the API. Two processes seeding the same empty database at once are
// told apart by the unique source code: the one that loses the race on the
// first source returns false and writes nothing.
func Seed(ctx context.Context, store *db.Store, opts Options) (bool, error) {
	return seedAt(ctx, store, opts, time.Now().UTC().Truncate(time.Minute))
}

// Options are what the demo needs of the process serving it.
type Options struct {
	// SupplierURL is the demo supplier's address (SupplierPath on this
	// process's listener), where the demo's HTTP source posts. Empty:
	// http://127.0.0.1:8080/demo/supplier, the default address's.
	SupplierURL string
	// FileDropRoot is the folder FILE connectors write under
	// (--file-drop-root): the demo's first send run writes its drops there.
	FileDropRoot string
}

// DefaultSupplierURL is the demo supplier's address on the default listener.
const DefaultSupplierURL = "http://127.0.0.1:8080" + SupplierPath

// seedAt is Seed with the base time of the orders' dates given, so that tests
// can compare two seedings.
func seedAt(ctx context.Context, store *db.Store, opts Options, now time.Time) (bool, error) {
	client := store.Client
	if opts.SupplierURL == "" {
		opts.SupplierURL = DefaultSupplierURL
	}
	acc, err := client.Account.Query().Order(ent.Asc(account.FieldID)).First(tenant.WithSystem(ctx))
	if ent.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("find the first account: %w", err)
	}
	// The principal confines every use case to this account, as an API key
	// would, and names the actor of the log entries.
	ctx = auth.WithPrincipal(ctx, auth.Principal{AccountID: acc.ID, KeyName: ActorName, Role: auth.RoleAdmin})
	has, err := client.Source.Query().Exist(ctx)
	if err != nil {
		return false, fmt.Errorf("look for sources: %w", err)
	}
	if has {
		return false, pointSupplier(ctx, client, opts.SupplierURL)
	}
	p := newPlan(now, opts.SupplierURL)
	if err := p.apply(ctx, store, opts); err != nil {
		if errors.Is(err, errLostRace) {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

// pointSupplier points the demo's HTTP source at this process's demo
// supplier when it still points at a demo supplier (one on another port, of
// an earlier start): a source someone pointed elsewhere is left alone.
func pointSupplier(ctx context.Context, client *ent.Client, url string) error {
	err := client.Source.Update().
		Where(source.Code(SupplierCode), source.ConnectorKindEQ(source.ConnectorKindHTTP),
			source.ConnectorURLHasSuffix(SupplierPath), source.ConnectorURLNEQ(url)).
		SetConnectorURL(url).Exec(ctx)
	if err != nil {
		return fmt.Errorf("point the demo source at the demo supplier: %w", err)
	}
	return nil
}

// errLostRace says another process created the first demo source first.
var errLostRace = errors.New("demo: another process is seeding")

// --- the plan --------------------------------------------------------------

// plan is the whole data set, keyed by source code rather than id so that it
// can be built before anything is written.
type plan struct {
	sources   []admin.CreateSourceInput
	inventory map[string][]*admin.InventoryInput // by source code, in SKU order
	groups    []groupPlan
	orders    []orderPlan
}

type groupPlan struct {
	in      admin.CreateRoutingGroupInput // Members left empty
	members []memberPlan
}

type memberPlan struct {
	code     string
	priority int
	eligible bool
}

type orderPlan struct {
	in   orders.ImportOrderInput
	hold string // "": stays open
}

// sourceSpec is a source with what the planner needs to spread stock.
type sourceSpec struct {
	in admin.CreateSourceInput
	// weight is how likely the source is to carry a given SKU: the US
	// sources carry most of the catalogue, the retired one little of it.
	weight int
}

func ptr[T any](v T) *T { return &v }

// cents turns a count of cents into an exact amount.
func cents(n int) money.Amount { return money.Amount(n) * money.Amount(100) }

func amount(n int) *money.Amount { return ptr(cents(n)) }

// sourceSpecs are the demo's sources. The costs differ so that LOWEST_COST
// has real choices to make: the dropshippers charge a fee per request, the
// warehouses charge more for postage instead.
func sourceSpecs(supplierURL string) []sourceSpec {
	return []sourceSpec{
		{weight: 6, in: admin.CreateSourceInput{
			Name: "East Coast Dropship Co.", Code: "EAST-DS",
			DropshipFee: amount(250), ShippingBaseCost: amount(495), ShippingPerUnitCost: amount(75),
			ShipsTo:   []string{"US"},
			Connector: &admin.ConnectorInput{Kind: source.ConnectorKindMANUAL},
		}},
		{weight: 6, in: admin.CreateSourceInput{
			Name: "West Coast Warehouse", Code: "WEST-WH",
			DropshipFee: amount(0), ShippingBaseCost: amount(650), ShippingPerUnitCost: amount(40),
			ShipsTo: []string{"US"},
			// The demo supplier this process serves (SupplierPath): it
			// acknowledges what it is sent, without reaching out to anyone.
			Connector: &admin.ConnectorInput{
				Kind: source.ConnectorKindHTTP, URL: ptr(supplierURL),
				Secret: ptr("demo-west-wh-signing-secret"), TimeoutSeconds: ptr(5), MaxAttempts: ptr(3),
			},
		}},
		{weight: 4, in: admin.CreateSourceInput{
			Name: "EuroSupply GmbH", Code: "EU-SUP",
			DropshipFee: amount(180), ShippingBaseCost: amount(590), ShippingPerUnitCost: amount(60),
			ShipsTo: []string{"DE", "FR", "NL", "BE", "AT", "IT", "ES"},
			// The directory is relative to the account's folder under the
			// drop root (--file-drop-root): drops/account-1/eu-sup beside
			// the SQLite file by default.
			Connector: &admin.ConnectorInput{
				Kind: source.ConnectorKindFILE, Directory: ptr("eu-sup"),
				Format: ptr(source.ConnectorFormatCSV),
			},
			// The supplier's EDI system wants its own prefix on our numbers.
			Strategy: &admin.StrategyInput{NumberTemplate: ptr("{source}-{order}-{seq}")},
		}},
		{weight: 3, in: admin.CreateSourceInput{
			Name: "UK Fulfilment Centre", Code: "UK-WH",
			DropshipFee: amount(0), ShippingBaseCost: amount(420), ShippingPerUnitCost: amount(55),
			ShipsTo:   []string{"GB", "IE"},
			Connector: &admin.ConnectorInput{Kind: source.ConnectorKindMANUAL},
		}},
		{weight: 4, in: admin.CreateSourceInput{
			Name: "Maple Supply Ltd.", Code: "CA-SUP",
			DropshipFee: amount(300), ShippingBaseCost: amount(800), ShippingPerUnitCost: amount(90),
			ShipsTo: []string{"CA", "US"},
			// A supplier that manages its own stock feed: committing stock
			// here would double-count what it already subtracts.
			CommitStock: ptr(false),
			Connector:   &admin.ConnectorInput{Kind: source.ConnectorKindMANUAL},
		}},
		{weight: 1, in: admin.CreateSourceInput{
			Name: "Legacy Dropship (retired)", Code: "OLD-DS", Enabled: ptr(false),
			DropshipFee: amount(400), ShippingBaseCost: amount(700), ShippingPerUnitCost: amount(100),
			ShipsTo:   []string{"US"},
			Connector: &admin.ConnectorInput{Kind: source.ConnectorKindMANUAL},
		}},
	}
}

// product is a kind of goods in the catalogue: the materials and variants it
// comes in, and what a unit costs the trade, in cents.
type product struct {
	name      string
	materials []string
	variants  []string
	cost      [2]int
}

var (
	colours = []string{"Black", "Natural", "Navy", "Sage", "Charcoal", "Oat", "Rust"}
	sizes   = []string{"Small", "Medium", "Large"}

	// products pair goods with materials they are made of, so that the
	// catalogue has no cast-iron scarves.
	products = []product{
		{"Throw Blanket", []string{"Merino Wool", "Organic Cotton", "Linen"}, colours, [2]int{2500, 6000}},
		{"Tote Bag", []string{"Organic Cotton", "Canvas", "Recycled"}, colours, [2]int{500, 1500}},
		{"Towel Set", []string{"Organic Cotton", "Linen", "Turkish Cotton"}, colours, [2]int{1500, 4000}},
		{"Scarf", []string{"Merino Wool", "Cashmere", "Linen"}, colours, [2]int{1200, 4500}},
		{"Pillow Cover", []string{"Linen", "Velvet", "Organic Cotton"}, colours, [2]int{600, 1800}},
		{"Backpack", []string{"Canvas", "Waxed Canvas", "Recycled Nylon"}, colours, [2]int{2500, 6000}},
		{"Yoga Mat", []string{"Cork", "Natural Rubber"}, colours, [2]int{1500, 4000}},
		{"Phone Case", []string{"Silicone", "Leather", "Recycled"}, colours, [2]int{300, 1200}},
		{"Wallet", []string{"Leather", "Cork"}, colours, [2]int{1000, 3500}},
		{"Mug", []string{"Ceramic", "Stoneware", "Enamel"}, colours, [2]int{300, 900}},
		{"Cutting Board", []string{"Bamboo", "Walnut", "Acacia"}, sizes, [2]int{800, 2500}},
		{"Serving Bowl", []string{"Ceramic", "Walnut", "Acacia"}, sizes, [2]int{800, 2500}},
		{"Plant Pot", []string{"Ceramic", "Concrete", "Terracotta"}, sizes, [2]int{500, 2500}},
		{"Water Bottle", []string{"Stainless Steel", "Glass"}, []string{"500 ml", "750 ml", "1 L"}, [2]int{600, 1800}},
		{"Skillet", []string{"Cast Iron", "Carbon Steel"}, []string{"20 cm", "26 cm", "30 cm"}, [2]int{1500, 4500}},
		{"Candle", []string{"Soy Wax", "Beeswax"}, []string{"Fig", "Cedar", "Sea Salt", "Lavender"}, [2]int{500, 1500}},
		{"Tea Kettle", []string{"Stainless Steel", "Enamel"}, []string{"1 L", "1.7 L"}, [2]int{1500, 4000}},
		{"Coaster Set", []string{"Cork", "Marble", "Walnut"}, []string{"Set of 4", "Set of 6"}, [2]int{500, 1500}},
		{"Notebook", []string{"Leather", "Kraft"}, []string{"A5 Dotted", "A5 Lined", "A6 Dotted"}, [2]int{300, 1200}},
		{"Desk Lamp", []string{"Brass", "Walnut", "Aluminium"}, []string{"Black", "White"}, [2]int{2500, 6000}},
	}

	firstNames = []string{"Emma", "Liam", "Olivia", "Noah", "Ava", "Lucas", "Mia", "Leon", "Chloé",
		"Hannah", "Oliver", "Sophie", "Mateo", "Isla", "Jack", "Amara"}
	lastNames = []string{"Johnson", "Müller", "Martin", "Smith", "Tremblay", "Garcia", "Schmidt",
		"Dubois", "Brown", "Wilson", "Roy", "Taylor", "Nguyen", "Fischer", "Walker", "Okafor"}

	// addresses are fictitious street addresses in real cities.
	addresses = map[string][]address.Address{
		"US": {
			{Line1: "1200 Market St", City: "Philadelphia", Region: "PA", PostalCode: "19107"},
			{Line1: "88 Pine Ave", Line2: "Apt 4B", City: "Brooklyn", Region: "NY", PostalCode: "11211"},
			{Line1: "455 Lakeshore Dr", City: "Chicago", Region: "IL", PostalCode: "60611"},
			{Line1: "3100 Congress Ave", City: "Austin", Region: "TX", PostalCode: "78704"},
			{Line1: "1525 4th Ave", Line2: "Suite 300", City: "Seattle", Region: "WA", PostalCode: "98101"},
			{Line1: "700 Sunset Blvd", City: "Los Angeles", Region: "CA", PostalCode: "90028"},
			{Line1: "22 Peachtree Rd", City: "Atlanta", Region: "GA", PostalCode: "30305"},
			{Line1: "610 Colfax Ave", City: "Denver", Region: "CO", PostalCode: "80203"},
		},
		"CA": {
			{Line1: "250 Queen St W", City: "Toronto", Region: "ON", PostalCode: "M5V 1Z7"},
			{Line1: "1080 Robson St", City: "Vancouver", Region: "BC", PostalCode: "V6E 1A7"},
			{Line1: "455 Rue Sainte-Catherine O", City: "Montréal", Region: "QC", PostalCode: "H3B 1B1"},
		},
		"DE": {
			{Line1: "Friedrichstraße 123", City: "Berlin", PostalCode: "10117"},
			{Line1: "Leopoldstraße 45", City: "München", PostalCode: "80802"},
			{Line1: "Schanzenstraße 8", City: "Hamburg", PostalCode: "20357"},
		},
		"FR": {
			{Line1: "12 Rue de Rivoli", City: "Paris", PostalCode: "75004"},
			{Line1: "5 Place Bellecour", City: "Lyon", PostalCode: "69002"},
		},
		"GB": {
			{Line1: "221 Camden High St", City: "London", PostalCode: "NW1 7BU"},
			{Line1: "14 Deansgate", City: "Manchester", PostalCode: "M3 2BW"},
			{Line1: "9 Rose St", City: "Edinburgh", PostalCode: "EH2 2PR"},
		},
	}

	holdReasons = []string{
		"Address could not be verified; waiting for the customer to confirm it.",
		"Fraud review: billing and shipping addresses are in different countries.",
		"Customer asked to ship it together with a pre-order.",
		"Gift order: the customer asked for delivery after the 20th.",
	}

	euCountries = []string{"AT", "BE", "DE", "ES", "FR", "IE", "IT", "NL"}
)

// count is a value and how many times it occurs in a data set.
type count[T any] struct {
	v T
	n int
}

// repeat returns each value as many times as its count, so that a shuffle of
// the result hits the counts exactly instead of only on average.
func repeat[T any](counts ...count[T]) []T {
	var out []T
	for _, c := range counts {
		for range c.n {
			out = append(out, c.v)
		}
	}
	return out
}

func shuffled[T any](r *rand.Rand, s []T) []T {
	r.Shuffle(len(s), func(i, j int) { s[i], s[j] = s[j], s[i] })
	return s
}

// pickWeighted returns an index of weights with probability proportional to
// its weight, skipping the indexes in taken.
func pickWeighted(r *rand.Rand, weights []int, taken []bool) int {
	total := 0
	for i, w := range weights {
		if !taken[i] {
			total += w
		}
	}
	n := r.IntN(total)
	for i, w := range weights {
		if taken[i] {
			continue
		}
		if n < w {
			return i
		}
		n -= w
	}
	panic("unreachable")
}

// catalogItem is one SKU as the planner sees it.
type catalogItem struct {
	sku   string
	title string
	price money.Amount   // what the shop sells it for
	stock map[string]int // quantity by source code
}

// newPlan builds the data set. It draws from one generator with a fixed seed,
// in a fixed order, and never ranges over a map while drawing.
func newPlan(now time.Time, supplierURL string) *plan {
	r := rand.New(rand.NewPCG(1, 2))
	specs := sourceSpecs(supplierURL)
	p := &plan{inventory: map[string][]*admin.InventoryInput{}}
	weights := make([]int, len(specs))
	for i, s := range specs {
		p.sources = append(p.sources, s.in)
		weights[i] = s.weight
	}

	// Every title the products allow, shuffled: the first skuCount are the
	// catalogue, so titles never repeat.
	type goods struct {
		title string
		cost  [2]int
	}
	var all []goods
	for _, pr := range products {
		for _, m := range pr.materials {
			for _, v := range pr.variants {
				all = append(all, goods{fmt.Sprintf("%s %s, %s", m, pr.name, v), pr.cost})
			}
		}
	}
	all = shuffled(r, all)[:skuCount]

	catalog := make([]*catalogItem, skuCount)
	for i, g := range all {
		baseCost := g.cost[0] + r.IntN(g.cost[1]-g.cost[0]+1) // what the goods cost, in cents
		// A retail price ending in .99, at a markup of 1.8 to 2.6.
		price := (baseCost*(180+r.IntN(81))/100)/100*100 + 99
		it := &catalogItem{sku: fmt.Sprintf("SKU-%04d", i+1), title: g.title, price: cents(price), stock: map[string]int{}}
		catalog[i] = it

		taken := make([]bool, len(specs))
		for range 1 + r.IntN(4) {
			taken[pickWeighted(r, weights, taken)] = true
		}
		for si, s := range specs {
			if !taken[si] {
				continue
			}
			var qty int
			switch d := r.IntN(100); {
			case d < 12: // sold out at this source
			case d < 30:
				qty = 1 + r.IntN(5) // running low
			default:
				qty = 6 + r.IntN(235)
			}
			// Each source buys at its own price: 85% to 125% of the base.
			cost := baseCost * (85 + r.IntN(41)) / 100
			it.stock[s.in.Code] = qty
			p.inventory[s.in.Code] = append(p.inventory[s.in.Code],
				&admin.InventoryInput{Sku: it.sku, Quantity: qty, UnitCost: cents(cost)})
		}
	}

	p.groups = groups()
	p.orders = planOrders(r, now, specs, catalog)
	return p
}

// groups are the routing groups, tried for an order in position order with
// the default last.
func groups() []groupPlan {
	return []groupPlan{
		{
			// Created first, so that the account has its default from the
			// start, as an operator setting up by hand would have.
			in: admin.CreateRoutingGroupInput{
				Name: "Default: cheapest", Position: ptr(3), IsDefault: ptr(true),
				Rules: []admin.RoutingRule{admin.LowestCost}, AllowLineSplit: ptr(true),
			},
			members: []memberPlan{
				{"EAST-DS", 10, true}, {"WEST-WH", 20, true}, {"CA-SUP", 30, true},
				{"EU-SUP", 40, true}, {"UK-WH", 50, true},
				// Retired: kept in the group for history, never routed to.
				{"OLD-DS", 90, false},
			},
		},
		{
			in: admin.CreateRoutingGroupInput{
				Name: "North America: one parcel", Position: ptr(1), ShipToCountries: []string{"US", "CA"},
				Rules: []admin.RoutingRule{admin.SingleRequestRequired, admin.SourcePriority},
			},
			members: []memberPlan{{"EAST-DS", 1, true}, {"WEST-WH", 2, true}, {"CA-SUP", 3, true}},
		},
		{
			in: admin.CreateRoutingGroupInput{
				Name: "International", Position: ptr(2), ShipToCountries: append(slices.Clone(euCountries), "GB"),
				Rules: []admin.RoutingRule{admin.FewestRequests, admin.LowestCost},
			},
			members: []memberPlan{{"EU-SUP", 1, true}, {"UK-WH", 2, true}},
		},
	}
}

// planOrders makes the orders, oldest first so that ids follow the dates.
// Most lines are drawn from SKUs that some enabled source shipping to the
// order's country has in stock, so that most orders route; the rest are drawn
// from the whole catalogue and may meet a roadblock, which is worth seeing too.
func planOrders(r *rand.Rand, now time.Time, specs []sourceSpec, catalog []*catalogItem) []orderPlan {
	channels := shuffled(r, repeat(count[string]{"web", 25}, count[string]{"amazon", 15}, count[string]{"ebay", 10}))
	payments := shuffled(r, repeat(count[order.PaymentStatus]{order.PaymentStatusPAID, 38},
		count[order.PaymentStatus]{order.PaymentStatusDEFERRED, 6}, count[order.PaymentStatus]{order.PaymentStatusPENDING, 6}))
	countries := shuffled(r, repeat(count[string]{"US", 32}, count[string]{"CA", 6}, count[string]{"DE", 4},
		count[string]{"FR", 3}, count[string]{"GB", 5}))
	holds := make([]string, orderCount)
	for i, idx := range r.Perm(orderCount)[:len(holdReasons)] {
		holds[idx] = holdReasons[i]
	}
	ages := make([]int, orderCount) // minutes before now
	for i := range ages {
		ages[i] = 1 + r.IntN(int(orderWindow/time.Minute))
	}
	slices.SortFunc(ages, func(a, b int) int { return b - a })

	// servable[country] are the codes of the enabled sources shipping there.
	servable := map[string][]string{}
	for _, s := range specs {
		if s.in.Enabled != nil && !*s.in.Enabled {
			continue
		}
		for _, c := range s.in.ShipsTo {
			servable[c] = append(servable[c], s.in.Code)
		}
	}

	out := make([]orderPlan, orderCount)
	webSeq, marketSeq := 1000, 0
	for i := range out {
		var number string
		var ref *string
		switch channels[i] {
		case "web":
			webSeq++
			number = fmt.Sprintf("W%d", webSeq)
		case "amazon":
			marketSeq++
			number = fmt.Sprintf("%03d-%07d-%07d", 111+r.IntN(4), r.IntN(10_000_000), r.IntN(10_000_000))
			ref = ptr(fmt.Sprintf("MP-%05d", marketSeq))
		case "ebay":
			marketSeq++
			number = fmt.Sprintf("%02d-%05d-%05d", 10+r.IntN(90), r.IntN(100_000), r.IntN(100_000))
			ref = ptr(fmt.Sprintf("MP-%05d", marketSeq))
		}
		country := countries[i]
		addrs := addresses[country]
		ship := addrs[r.IntN(len(addrs))]
		ship.Name = firstNames[r.IntN(len(firstNames))] + " " + lastNames[r.IntN(len(lastNames))]
		ship.Country = country

		var nLines int
		switch d := r.IntN(100); {
		case d < 45:
			nLines = 1
		case d < 75:
			nLines = 2
		case d < 90:
			nLines = 3
		default:
			nLines = 4
		}
		lines := make([]*orders.LineInput, 0, nLines)
		used := map[string]bool{}
		for len(lines) < nLines {
			qty := 1
			switch d := r.IntN(100); {
			case d < 60:
			case d < 85:
				qty = 2
			case d < 95:
				qty = 3
			default:
				qty = 4 + r.IntN(3)
			}
			routable := r.IntN(100) < 90
			var it *catalogItem
			// Bounded, so that a country whose sources hold little stock
			// gets an unroutable line instead of a seeding that never ends.
			for tries := 0; it == nil || used[it.sku]; tries++ {
				it = catalog[r.IntN(len(catalog))]
				if routable && tries < 1000 && !inStock(it, servable[country], qty) {
					it = nil
				}
			}
			used[it.sku] = true
			lines = append(lines, &orders.LineInput{Sku: it.sku, Title: ptr(it.title), Quantity: qty, UnitPrice: it.price})
		}
		out[i] = orderPlan{
			in: orders.ImportOrderInput{
				Channel: channels[i], OrderNumber: number, ReferenceNumber: ref,
				PaymentStatus: payments[i], OrderedAt: ptr(now.Add(-time.Duration(ages[i]) * time.Minute)),
				ShipTo: ship, Lines: lines,
			},
			hold: holds[i],
		}
	}
	return out
}

// inStock reports whether one of the sources holds qty of the item.
func inStock(it *catalogItem, codes []string, qty int) bool {
	for _, c := range codes {
		if it.stock[c] >= qty {
			return true
		}
	}
	return false
}

// --- writing ---------------------------------------------------------------

// apply writes the plan through the use cases, in the order an operator
// would: sources, their stock, routing, then the orders coming in.
func (p *plan) apply(ctx context.Context, store *db.Store, opts Options) error {
	client := store.Client
	adm := &admin.Service{Client: client}
	ids := map[string]int{}
	for i, in := range p.sources {
		s, err := adm.CreateSource(ctx, in)
		if err != nil {
			var ae *apperr.Error
			if i == 0 && errors.As(err, &ae) && ae.Field == "input.code" {
				return errLostRace
			}
			return fmt.Errorf("create source %s: %w", in.Code, err)
		}
		ids[in.Code] = s.ID
	}
	// One call per source: every source's stock fits one batch.
	for _, in := range p.sources {
		items := p.inventory[in.Code]
		for start := 0; start < len(items); start += admin.MaxInventoryBatch {
			batch := items[start:min(start+admin.MaxInventoryBatch, len(items))]
			if _, err := adm.UpsertInventory(ctx, ids[in.Code], batch); err != nil {
				return fmt.Errorf("stock of %s: %w", in.Code, err)
			}
		}
	}
	for _, g := range p.groups {
		in := g.in
		for _, m := range g.members {
			in.Members = append(in.Members, &admin.RoutingGroupMemberInput{
				SourceID: ids[m.code], Priority: m.priority, Eligible: ptr(m.eligible),
			})
		}
		if _, err := adm.CreateRoutingGroup(ctx, in); err != nil {
			return fmt.Errorf("routing group %q: %w", in.Name, err)
		}
	}
	ord := &orders.Service{Client: client}
	var all []*ent.Order
	for _, o := range p.orders {
		created, err := ord.Import(ctx, o.in)
		if err != nil {
			return fmt.Errorf("import order %s/%s: %w", o.in.Channel, o.in.OrderNumber, err)
		}
		all = append(all, created)
		if o.hold == "" {
			continue
		}
		if _, err := ord.Hold(ctx, created.ID, o.hold); err != nil {
			return fmt.Errorf("hold order %s/%s: %w", o.in.Channel, o.in.OrderNumber, err)
		}
	}
	return p.requests(ctx, store, ids, all, opts)
}
