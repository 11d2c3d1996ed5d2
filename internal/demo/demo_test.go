package demo_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/frsvc/fulfillment/ent"
	"github.com/frsvc/fulfillment/ent/order"
	"github.com/frsvc/fulfillment/internal/admin"
	"github.com/frsvc/fulfillment/internal/app"
	"github.com/frsvc/fulfillment/internal/auth"
	"github.com/frsvc/fulfillment/internal/demo"
	"github.com/frsvc/fulfillment/internal/tenant"
	"github.com/frsvc/fulfillment/internal/testdb"
)

// counts are the sizes of an account's data, to show that a second Seed
// writes nothing.
type counts struct {
	sources, inventory, groups, members, orders, lines, logs int
}

func countAll(t *testing.T, ctx context.Context, c *ent.Client) counts {
	t.Helper()
	var n counts
	var err error
	for _, f := range []struct {
		dst *int
		q   func() (int, error)
	}{
		{&n.sources, func() (int, error) { return c.Source.Query().Count(ctx) }},
		{&n.inventory, func() (int, error) { return c.InventoryItem.Query().Count(ctx) }},
		{&n.groups, func() (int, error) { return c.RoutingGroup.Query().Count(ctx) }},
		{&n.members, func() (int, error) { return c.RoutingGroupMember.Query().Count(ctx) }},
		{&n.orders, func() (int, error) { return c.Order.Query().Count(ctx) }},
		{&n.lines, func() (int, error) { return c.OrderLine.Query().Count(ctx) }},
		{&n.logs, func() (int, error) { return c.FulfillmentLog.Query().Count(ctx) }},
	} {
		if *f.dst, err = f.q(); err != nil {
			t.Fatal(err)
		}
	}
	return n
}

func TestSeed(t *testing.T) {
	testdb.Each(t, func(t *testing.T, a *app.App) {
		s := a.Store
		bg := context.Background()
		acc, _, err := auth.CreateAccount(bg, s.Client, "Default", "")
		testdb.Must(t, err)
		// A second account must not receive anything: the demo is the first
		// account's.
		other, _, err := auth.CreateAccount(bg, s.Client, "Other", "")
		testdb.Must(t, err)

		start := time.Now()
		seeded, err := demo.Seed(tenant.WithSystem(bg), s, demo.Options{FileDropRoot: t.TempDir()})
		elapsed := time.Since(start)
		testdb.Must(t, err)
		if !seeded {
			t.Fatal("Seed on an empty account returned false")
		}
		t.Logf("seeded in %v", elapsed)
		if elapsed > 5*time.Second {
			t.Errorf("seeding took %v, want well under 5s", elapsed)
		}

		ctx := tenant.WithAccount(bg, acc.ID)
		c := s.Client
		before := countAll(t, ctx, c)

		sources, err := c.Source.Query().All(ctx)
		testdb.Must(t, err)
		kinds := map[string]bool{}
		disabled := 0
		for _, src := range sources {
			kinds[string(src.ConnectorKind)] = true
			if !src.Enabled {
				disabled++
			}
		}
		if len(sources) < 5 || disabled < 1 || len(kinds) < 3 {
			t.Errorf("sources: %d, %d disabled, connector kinds %v; want ≥5, ≥1, ≥3", len(sources), disabled, kinds)
		}

		items, err := c.InventoryItem.Query().All(ctx)
		testdb.Must(t, err)
		perSku := map[string][]*ent.InventoryItem{}
		for _, it := range items {
			perSku[it.Sku] = append(perSku[it.Sku], it)
		}
		if len(perSku) != demo.SKUCount {
			t.Errorf("%d distinct SKUs, want %d", len(perSku), demo.SKUCount)
		}
		zero, costsDiffer := 0, 0
		for sku, its := range perSku {
			if len(its) < 1 || len(its) > 4 {
				t.Errorf("%s is carried by %d sources, want 1 to 4", sku, len(its))
			}
			for _, it := range its {
				if it.Quantity == 0 {
					zero++
				}
			}
			if len(its) > 1 && slices.ContainsFunc(its, func(x *ent.InventoryItem) bool { return x.UnitCost != its[0].UnitCost }) {
				costsDiffer++
			}
		}
		if zero == 0 || costsDiffer == 0 {
			t.Errorf("%d sold-out items and %d SKUs with differing costs; want some of each", zero, costsDiffer)
		}

		groups, err := c.RoutingGroup.Query().All(ctx)
		testdb.Must(t, err)
		defaults := 0
		for _, g := range groups {
			if g.IsDefault {
				defaults++
			}
		}
		if len(groups) != 3 || defaults != 1 {
			t.Errorf("%d routing groups, %d default; want 3 and 1", len(groups), defaults)
		}

		orders, err := c.Order.Query().WithLines().All(ctx)
		testdb.Must(t, err)
		if len(orders) != demo.OrderCount {
			t.Errorf("%d orders, want %d", len(orders), demo.OrderCount)
		}
		byStatus := map[order.Status]int{}
		byPayment := map[order.PaymentStatus]int{}
		channels := map[string]bool{}
		countries := map[string]bool{}
		for _, o := range orders {
			byStatus[o.Status]++
			byPayment[o.PaymentStatus]++
			channels[o.Channel] = true
			countries[o.ShipToCountry] = true
			if o.Status == order.StatusON_HOLD && (o.HoldReason == nil || *o.HoldReason == "") {
				t.Errorf("order %s is on hold without a reason", o.OrderNumber)
			}
			if age := time.Since(o.OrderedAt); age < 0 || age > demo.OrderWindow+time.Minute {
				t.Errorf("order %s was ordered %v ago, want within %v", o.OrderNumber, age, demo.OrderWindow)
			}
			if n := len(o.Edges.Lines); n < 1 || n > 4 {
				t.Errorf("order %s has %d lines, want 1 to 4", o.OrderNumber, n)
			}
			for _, l := range o.Edges.Lines {
				if perSku[l.Sku] == nil {
					t.Errorf("order %s line %s: SKU not in the catalogue", o.OrderNumber, l.Sku)
				}
				if l.UnallocatedQuantity+l.AllocatedQuantity+l.ShippedQuantity+l.KilledQuantity != l.Quantity {
					t.Errorf("order %s line %s: ledger %d = %d+%d+%d+%d does not add up", o.OrderNumber, l.Sku,
						l.Quantity, l.UnallocatedQuantity, l.AllocatedQuantity, l.ShippedQuantity, l.KilledQuantity)
				}
			}
		}
		if byStatus[order.StatusON_HOLD] < 1 || byPayment[order.PaymentStatusPENDING] < 1 ||
			byPayment[order.PaymentStatusDEFERRED] < 1 || byPayment[order.PaymentStatusPAID] <= demo.OrderCount/2 {
			t.Errorf("statuses %v, payments %v; want some held, some pending and deferred, mostly paid", byStatus, byPayment)
		}
		if len(channels) != 3 || !countries["US"] || !countries["CA"] || !countries["DE"] || !countries["FR"] || !countries["GB"] {
			t.Errorf("channels %v, countries %v", channels, countries)
		}

		// The use cases wrote their trail under the demo's name.
		logs, err := c.FulfillmentLog.Query().All(ctx)
		testdb.Must(t, err)
		if len(logs) < demo.OrderCount {
			t.Errorf("%d log entries, want at least one per order", len(logs))
		}
		for _, l := range logs {
			if !strings.HasSuffix(l.Actor, ":"+demo.ActorName) {
				t.Errorf("log actor %q, want the demo key", l.Actor)
				break
			}
		}

		seeded, err = demo.Seed(tenant.WithSystem(bg), s, demo.Options{FileDropRoot: t.TempDir()})
		testdb.Must(t, err)
		if seeded {
			t.Error("a second Seed returned true")
		}
		if after := countAll(t, ctx, c); after != before {
			t.Errorf("a second Seed changed the counts: %+v, then %+v", before, after)
		}
		if n := countAll(t, tenant.WithAccount(bg, other.ID), c); n != (counts{}) {
			t.Errorf("the second account received data: %+v", n)
		}
	})
}

func TestSeedLeavesASetUpAccountAlone(t *testing.T) {
	testdb.Each(t, func(t *testing.T, a *app.App) {
		s := a.Store
		bg := context.Background()
		seeded, err := demo.Seed(tenant.WithSystem(bg), s, demo.Options{FileDropRoot: t.TempDir()})
		testdb.Must(t, err)
		if seeded {
			t.Error("Seed without any account returned true")
		}

		acc, _, err := auth.CreateAccount(bg, s.Client, "Default", "")
		testdb.Must(t, err)
		ctx := tenant.WithAccount(bg, acc.ID)
		_, err = (&admin.Service{Client: s.Client}).CreateSource(ctx, admin.CreateSourceInput{Name: "Mine", Code: "MINE"})
		testdb.Must(t, err)
		before := countAll(t, ctx, s.Client)
		seeded, err = demo.Seed(tenant.WithSystem(bg), s, demo.Options{FileDropRoot: t.TempDir()})
		testdb.Must(t, err)
		if seeded {
			t.Error("Seed into an account with a source returned true")
		}
		if after := countAll(t, ctx, s.Client); after != before {
			t.Errorf("Seed changed a set-up account: %+v, then %+v", before, after)
		}
	})
}

// TestSeedIsDeterministic seeds two databases at the same base time and
// compares everything an operator would see, ids aside.
func TestSeedIsDeterministic(t *testing.T) {
	base := time.Date(2025, 3, 14, 9, 30, 0, 0, time.UTC)
	var prints [2]string
	for i := range prints {
		s := testdb.Open(t, testdb.SQLite)
		bg := context.Background()
		acc, _, err := auth.CreateAccount(bg, s.Client, "Default", "")
		testdb.Must(t, err)
		seeded, err := demo.SeedAt(tenant.WithSystem(bg), s, demo.Options{FileDropRoot: t.TempDir()}, base)
		testdb.Must(t, err)
		if !seeded {
			t.Fatal("seedAt returned false")
		}
		prints[i] = fingerprint(t, tenant.WithAccount(bg, acc.ID), s.Client)
	}
	if prints[0] != prints[1] {
		t.Errorf("two seedings differ:\n%s\n---\n%s", prints[0], prints[1])
	}
}

func fingerprint(t *testing.T, ctx context.Context, c *ent.Client) string {
	t.Helper()
	var rows []string
	code := map[int]string{}
	sources, err := c.Source.Query().All(ctx)
	testdb.Must(t, err)
	for _, s := range sources {
		code[s.ID] = s.Code
		rows = append(rows, fmt.Sprintf("source %s %q %v %v/%v/%v %v %v %s %s %s", s.Code, s.Name, s.Enabled,
			s.DropshipFee, s.ShippingBaseCost, s.ShippingPerUnitCost, s.ShipsTo, s.CommitStock,
			s.ConnectorKind, s.ConnectorURL, s.ConnectorDirectory))
	}
	items, err := c.InventoryItem.Query().All(ctx)
	testdb.Must(t, err)
	for _, it := range items {
		rows = append(rows, fmt.Sprintf("stock %s %s %d %v", code[it.SourceID], it.Sku, it.Quantity, it.UnitCost))
	}
	groups, err := c.RoutingGroup.Query().WithMembers().All(ctx)
	testdb.Must(t, err)
	for _, g := range groups {
		var ms []string
		for _, m := range g.Edges.Members {
			ms = append(ms, fmt.Sprintf("%s:%d:%v", code[m.SourceID], m.Priority, m.Eligible))
		}
		slices.Sort(ms)
		rows = append(rows, fmt.Sprintf("group %q %d %v %v %v %v %v", g.Name, g.Position, g.IsDefault,
			g.ShipToCountries, g.Rules, g.AllowLineSplit, ms))
	}
	orders, err := c.Order.Query().WithLines().All(ctx)
	testdb.Must(t, err)
	for _, o := range orders {
		var ls []string
		for _, l := range o.Edges.Lines {
			ls = append(ls, fmt.Sprintf("%d:%s:%q:%d:%v", l.Position, l.Sku, l.Title, l.Quantity, l.UnitPrice))
		}
		slices.Sort(ls)
		hold := ""
		if o.HoldReason != nil {
			hold = *o.HoldReason
		}
		rows = append(rows, fmt.Sprintf("order %s %s %q %s %s %q %+v %s %v", o.Channel, o.OrderNumber,
			o.ReferenceNumber, o.PaymentStatus, o.Status, hold, o.ShipTo, o.OrderedAt.UTC().Format(time.RFC3339), ls))
	}
	slices.Sort(rows)
	return strings.Join(rows, "\n")
}
