package admin_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/frsvc/fulfillment/ent"
	"github.com/frsvc/fulfillment/ent/routinggroup"
	"github.com/frsvc/fulfillment/ent/source"
	"github.com/frsvc/fulfillment/internal/admin"
	"github.com/frsvc/fulfillment/internal/app"
	"github.com/frsvc/fulfillment/internal/apperr"
	"github.com/frsvc/fulfillment/internal/auth"
	"github.com/frsvc/fulfillment/internal/money"
	"github.com/frsvc/fulfillment/internal/testdb"
)

// These are unit tests of the admin package over the store of an app built by
// testdb (app.New); they construct the package's own types by hand on
// purpose (a fixed clock, a detached lookup), which is what is under test.

func ptr[T any](v T) *T { return &v }

// field returns the VALIDATION field of err, or fails.
func field(t *testing.T, err error) string {
	t.Helper()
	var ae *apperr.Error
	if !errors.As(err, &ae) || ae.Code != apperr.Validation {
		t.Fatalf("want VALIDATION, got %v", err)
	}
	return ae.Field
}

func TestEffectiveStrategy(t *testing.T) {
	acc := admin.Strategy{NumberTemplate: "{order}-{seq}", MaxNumberLength: 20, AutoProcess: false}
	cases := []struct {
		name string
		src  ent.Source
		want admin.Strategy
	}{
		{"no override", ent.Source{}, acc},
		{"template only", ent.Source{StrategyNumberTemplate: ptr("{source}-{order}")}, admin.Strategy{NumberTemplate: "{source}-{order}", MaxNumberLength: 20}},
		{"zero length overrides", ent.Source{StrategyMaxNumberLength: ptr(0)}, admin.Strategy{NumberTemplate: "{order}-{seq}", MaxNumberLength: 0}},
		{"all", ent.Source{StrategyNumberTemplate: ptr("{ref}"), StrategyMaxNumberLength: ptr(8), StrategyAutoProcess: ptr(true)},
			admin.Strategy{NumberTemplate: "{ref}", MaxNumberLength: 8, AutoProcess: true}},
	}
	for _, c := range cases {
		if got := admin.Effective(acc, &c.src); got != c.want {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
	}
}

func TestRoutingRule(t *testing.T) {
	for _, r := range admin.AllRules {
		var got admin.RoutingRule
		if err := got.UnmarshalGQL(string(r)); err != nil || got != r || !r.Valid() {
			t.Errorf("%s: %v", r, err)
		}
	}
	var r admin.RoutingRule
	for _, bad := range []any{"CHEAPEST", "", 3} {
		if err := r.UnmarshalGQL(bad); err == nil {
			t.Errorf("UnmarshalGQL(%v) accepted", bad)
		}
	}
}

func TestSources(t *testing.T) {
	testdb.Each(t, func(t *testing.T, a *app.App) {
		s := a.Store
		ctx := testdb.Account(t, s, "A")
		other := testdb.Account(t, s, "B")
		svc := &admin.Service{Client: s.Client}

		src, err := svc.CreateSource(ctx, admin.CreateSourceInput{Name: " Main ", Code: " MAIN ", ShipsTo: []string{"us", "CA", " us "}})
		testdb.Must(t, err)
		if src.Name != "Main" || src.Code != "MAIN" || !slices.Equal(src.ShipsTo, []string{"CA", "US"}) || !src.Enabled || !src.CommitStock ||
			src.ConnectorKind != source.ConnectorKindMANUAL || src.DropshipFee != 0 {
			t.Errorf("source = %+v", src)
		}
		// Codes are unique per account, not across accounts.
		_, err = svc.CreateSource(ctx, admin.CreateSourceInput{Name: "x", Code: "MAIN"})
		if f := field(t, err); f != "input.code" {
			t.Errorf("duplicate code: %s", f)
		}
		if _, err := svc.CreateSource(other, admin.CreateSourceInput{Name: "Theirs", Code: "MAIN"}); err != nil {
			t.Errorf("another account's MAIN: %v", err)
		}

		for _, c := range []struct {
			name string
			in   admin.CreateSourceInput
			want string
		}{
			{"HTTP without secret", admin.CreateSourceInput{Name: "h", Code: "H", Connector: &admin.ConnectorInput{Kind: source.ConnectorKindHTTP, URL: ptr("https://x.example.com/fr")}}, "input.connector.secret"},
			{"HTTP short secret", admin.CreateSourceInput{Name: "h", Code: "H", Connector: &admin.ConnectorInput{Kind: source.ConnectorKindHTTP, URL: ptr("https://x.example.com"), Secret: ptr("short")}}, "input.connector.secret"},
			{"HTTP relative URL", admin.CreateSourceInput{Name: "h", Code: "H", Connector: &admin.ConnectorInput{Kind: source.ConnectorKindHTTP, URL: ptr("/fr"), Secret: ptr("0123456789abcdef")}}, "input.connector.url"},
			{"HTTP ftp URL", admin.CreateSourceInput{Name: "h", Code: "H", Connector: &admin.ConnectorInput{Kind: source.ConnectorKindHTTP, URL: ptr("ftp://x.example.com"), Secret: ptr("0123456789abcdef")}}, "input.connector.url"},
			{"FILE without directory", admin.CreateSourceInput{Name: "f", Code: "F", Connector: &admin.ConnectorInput{Kind: source.ConnectorKindFILE}}, "input.connector.directory"},
			{"FILE absolute directory", admin.CreateSourceInput{Name: "f", Code: "F", Connector: &admin.ConnectorInput{Kind: source.ConnectorKindFILE, Directory: ptr("/var/drop")}}, "input.connector.directory"},
			{"FILE directory with ..", admin.CreateSourceInput{Name: "f", Code: "F", Connector: &admin.ConnectorInput{Kind: source.ConnectorKindFILE, Directory: ptr("in/../../x")}}, "input.connector.directory"},
			{"timeout 0", admin.CreateSourceInput{Name: "m", Code: "M", Connector: &admin.ConnectorInput{Kind: source.ConnectorKindMANUAL, TimeoutSeconds: ptr(0)}}, "input.connector.timeoutSeconds"},
			{"max attempts 51", admin.CreateSourceInput{Name: "m", Code: "M", Connector: &admin.ConnectorInput{Kind: source.ConnectorKindMANUAL, MaxAttempts: ptr(51)}}, "input.connector.maxAttempts"},
			{"unknown kind", admin.CreateSourceInput{Name: "m", Code: "M", Connector: &admin.ConnectorInput{Kind: "SFTP"}}, "input.connector.kind"},
			{"bad template", admin.CreateSourceInput{Name: "m", Code: "M", Strategy: &admin.StrategyInput{NumberTemplate: ptr("{order}-{nope}")}}, "input.strategy.numberTemplate"},
			{"long max length", admin.CreateSourceInput{Name: "m", Code: "M", Strategy: &admin.StrategyInput{MaxNumberLength: ptr(256)}}, "input.strategy.maxNumberLength"},
			{"negative base cost", admin.CreateSourceInput{Name: "m", Code: "M", ShippingBaseCost: ptr(money.Amount(-1))}, "input.shippingBaseCost"},
			{"long code", admin.CreateSourceInput{Name: "m", Code: string(make([]byte, 65))}, "input.code"},
			{"blank name", admin.CreateSourceInput{Name: " ", Code: "M"}, "input.name"},
		} {
			_, err := svc.CreateSource(ctx, c.in)
			if err == nil {
				t.Errorf("%s: accepted", c.name)
				continue
			}
			if f := field(t, err); f != c.want {
				t.Errorf("%s: field %q, want %q", c.name, f, c.want)
			}
		}
		if n, _ := s.Client.Source.Query().Count(ctx); n != 1 {
			t.Errorf("sources after refusals = %d", n)
		}

		// An HTTP connector keeps its secret when an update omits it, and
		// switching to FILE clears the URL.
		h, err := svc.CreateSource(ctx, admin.CreateSourceInput{Name: "Partner", Code: "HTTP",
			Connector: &admin.ConnectorInput{Kind: source.ConnectorKindHTTP, URL: ptr("https://p.example.com/fr"), Secret: ptr("0123456789abcdef")}})
		testdb.Must(t, err)
		h, err = svc.UpdateSource(ctx, h.ID, admin.UpdateSourceInput{Connector: &admin.ConnectorInput{Kind: source.ConnectorKindHTTP, URL: ptr("https://p.example.com/v2")}})
		testdb.Must(t, err)
		if h.ConnectorURL != "https://p.example.com/v2" || h.ConnectorSecret != "0123456789abcdef" {
			t.Errorf("after URL change: url %q secret kept %v", h.ConnectorURL, h.ConnectorSecret == "0123456789abcdef")
		}
		if c := admin.ConnectorOf(h); !c.HasSecret || c.URL == nil {
			t.Errorf("ConnectorOf = %+v", c)
		}
		h, err = svc.UpdateSource(ctx, h.ID, admin.UpdateSourceInput{Connector: &admin.ConnectorInput{Kind: source.ConnectorKindFILE, Directory: ptr(" var/drop/ ")}})
		testdb.Must(t, err)
		if h.ConnectorKind != source.ConnectorKindFILE || h.ConnectorURL != "" || h.ConnectorDirectory != "var/drop" {
			t.Errorf("after switch to FILE: %+v", h)
		}
		// Code changes: to a taken code refused, to its own code fine.
		_, err = svc.UpdateSource(ctx, h.ID, admin.UpdateSourceInput{Code: ptr("MAIN")})
		if f := field(t, err); f != "input.code" {
			t.Errorf("update to a taken code: %s", f)
		}
		if _, err := svc.UpdateSource(ctx, h.ID, admin.UpdateSourceInput{Code: ptr("HTTP"), Name: ptr("Partner 2")}); err != nil {
			t.Errorf("update to its own code: %v", err)
		}
		// A strategy given replaces the override as a whole.
		h, err = svc.UpdateSource(ctx, h.ID, admin.UpdateSourceInput{Strategy: &admin.StrategyInput{MaxNumberLength: ptr(12), AutoProcess: ptr(true)}})
		testdb.Must(t, err)
		h, err = svc.UpdateSource(ctx, h.ID, admin.UpdateSourceInput{Strategy: &admin.StrategyInput{NumberTemplate: ptr("{source}-{seq}")}})
		testdb.Must(t, err)
		if h.StrategyMaxNumberLength != nil || h.StrategyAutoProcess != nil || h.StrategyNumberTemplate == nil {
			t.Errorf("strategy override = %+v", admin.SourceStrategy(h))
		}
		if _, err := svc.UpdateSource(other, h.ID, admin.UpdateSourceInput{Name: ptr("x")}); apperr.CodeOf(err) != apperr.NotFound {
			t.Errorf("update by another account: %v", err)
		}
	})
}

func TestAccountStrategy(t *testing.T) {
	testdb.Each(t, func(t *testing.T, a *app.App) {
		s := a.Store
		ctx := testdb.Account(t, s, "A")
		svc := &admin.Service{Client: s.Client}
		acc, err := svc.UpdateAccountStrategy(ctx, admin.StrategyInput{MaxNumberLength: ptr(30)})
		testdb.Must(t, err)
		if st := admin.AccountStrategy(acc); st != (admin.Strategy{NumberTemplate: "{order}-{seq}", MaxNumberLength: 30}) {
			t.Errorf("strategy = %+v", st)
		}
		acc, err = svc.UpdateAccountStrategy(ctx, admin.StrategyInput{NumberTemplate: ptr("{ref}/{seq}"), AutoProcess: ptr(true)})
		testdb.Must(t, err)
		if st := admin.AccountStrategy(acc); st != (admin.Strategy{NumberTemplate: "{ref}/{seq}", MaxNumberLength: 30, AutoProcess: true}) {
			t.Errorf("strategy = %+v", st)
		}
		for in, want := range map[*admin.StrategyInput]string{
			{NumberTemplate: ptr(" ")}:      "input.numberTemplate",
			{NumberTemplate: ptr("{nr}")}:   "input.numberTemplate",
			{MaxNumberLength: ptr(-1)}:      "input.maxNumberLength",
			{MaxNumberLength: ptr(1 << 10)}: "input.maxNumberLength",
		} {
			_, err := svc.UpdateAccountStrategy(ctx, *in)
			if f := field(t, err); f != want {
				t.Errorf("%+v: field %q, want %q", *in, f, want)
			}
		}
		if _, err := svc.UpdateAccountStrategy(context.Background(), admin.StrategyInput{}); err == nil {
			t.Error("update without an account accepted")
		}
	})
}

func TestAPIKeys(t *testing.T) {
	testdb.Each(t, func(t *testing.T, a *app.App) {
		s := a.Store
		ctx := testdb.Account(t, s, "A")
		other := testdb.Account(t, s, "B")
		svc := &admin.Service{Client: s.Client}
		src, err := svc.CreateSource(ctx, admin.CreateSourceInput{Name: "S", Code: "S"})
		testdb.Must(t, err)
		k, err := svc.CreateAPIKey(ctx, admin.CreateAPIKeyInput{Name: " partner ", Role: auth.RoleSource, SourceID: &src.ID})
		testdb.Must(t, err)
		if k.APIKey.Name != "partner" || k.APIKey.SourceID == nil || *k.APIKey.SourceID != src.ID || k.APIKey.Hash != auth.Hash(k.Secret) {
			t.Errorf("key = %+v", k.APIKey)
		}
		p, err := (&auth.Authenticator{Client: s.Client}).Authenticate(context.Background(), k.Secret)
		testdb.Must(t, err)
		if p.Role != auth.RoleSource || p.SourceID == nil || *p.SourceID != src.ID {
			t.Errorf("principal = %+v", p)
		}
		if _, err := svc.CreateAPIKey(ctx, admin.CreateAPIKeyInput{Name: "x", Role: "ROOT"}); field(t, err) != "input.role" {
			t.Errorf("unknown role: %v", err)
		}
		if _, err := svc.CreateAPIKey(other, admin.CreateAPIKeyInput{Name: "x", Role: auth.RoleSource, SourceID: &src.ID}); field(t, err) != "input.sourceID" {
			t.Errorf("another account's source: %v", err)
		}

		if _, err := svc.RevokeAPIKey(other, k.APIKey.ID); apperr.CodeOf(err) != apperr.NotFound {
			t.Errorf("revoke by another account: %v", err)
		}
		r1, err := svc.RevokeAPIKey(ctx, k.APIKey.ID)
		testdb.Must(t, err)
		r2, err := svc.RevokeAPIKey(ctx, k.APIKey.ID)
		testdb.Must(t, err)
		if r1.RevokedAt == nil || r2.RevokedAt == nil || !r1.RevokedAt.Equal(*r2.RevokedAt) {
			t.Errorf("revokedAt %v then %v", r1.RevokedAt, r2.RevokedAt)
		}
		if _, err := (&auth.Authenticator{Client: s.Client}).Authenticate(context.Background(), k.Secret); !errors.Is(err, auth.ErrUnauthenticated) {
			t.Errorf("revoked key authenticates: %v", err)
		}
	})
}

// TestConcurrentDefaultGroups creates groups that all want to be the
// default at once: whatever wins, the account ends with exactly one.
func TestConcurrentDefaultGroups(t *testing.T) {
	testdb.Each(t, func(t *testing.T, a *app.App) {
		s := a.Store
		ctx := testdb.Account(t, s, "A")
		svc := &admin.Service{Client: s.Client}
		src, err := svc.CreateSource(ctx, admin.CreateSourceInput{Name: "S", Code: "S"})
		testdb.Must(t, err)
		in := func(name string) admin.CreateRoutingGroupInput {
			return admin.CreateRoutingGroupInput{Name: name, IsDefault: ptr(true), Rules: []admin.RoutingRule{admin.LowestCost},
				Members: []*admin.RoutingGroupMemberInput{{SourceID: src.ID, Priority: 1}}}
		}
		for round := range 2 { // first on an empty account, then with a default in place
			const n = 6
			var wg sync.WaitGroup
			errs := make([]error, n)
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, errs[i] = svc.CreateRoutingGroup(ctx, in("G"))
				}()
			}
			wg.Wait()
			ok := 0
			for _, err := range errs {
				switch {
				case err == nil:
					ok++
				case apperr.CodeOf(err) == apperr.Validation && field(t, err) == "input.isDefault":
				default:
					t.Errorf("round %d: %v", round, err)
				}
			}
			if ok == 0 {
				t.Errorf("round %d: no group was created", round)
			}
			defaults, err := s.Client.RoutingGroup.Query().Where(routinggroup.IsDefault(true)).Count(ctx)
			testdb.Must(t, err)
			if defaults != 1 {
				t.Fatalf("round %d: %d default groups", round, defaults)
			}
		}
		// The losers left no members behind.
		groups, err := s.Client.RoutingGroup.Query().WithMembers().All(ctx)
		testdb.Must(t, err)
		members, err := s.Client.RoutingGroupMember.Query().Count(ctx)
		testdb.Must(t, err)
		if members != len(groups) {
			t.Errorf("%d members for %d groups", members, len(groups))
		}
	})
}

func TestUpsertInventoryUnknownSource(t *testing.T) {
	testdb.Each(t, func(t *testing.T, a *app.App) {
		s := a.Store
		ctx := testdb.Account(t, s, "A")
		other := testdb.Account(t, s, "B")
		svc := &admin.Service{Client: s.Client}
		src, err := svc.CreateSource(other, admin.CreateSourceInput{Name: "S", Code: "S"})
		testdb.Must(t, err)
		items := []*admin.InventoryInput{{Sku: "A", Quantity: 1, UnitCost: money.MustParse("1")}}
		for _, id := range []int{src.ID, 987654} {
			if _, err := svc.UpsertInventory(ctx, id, items); apperr.CodeOf(err) != apperr.NotFound {
				t.Errorf("source %d: %v", id, err)
			}
		}
		if n, _ := s.Client.InventoryItem.Query().Count(other); n != 0 {
			t.Errorf("items written into another account's source: %d", n)
		}
	})
}
