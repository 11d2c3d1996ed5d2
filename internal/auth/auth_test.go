package auth_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/frsvc/fulfillment/ent/apikey"
	"github.com/frsvc/fulfillment/internal/app"
	"github.com/frsvc/fulfillment/internal/apperr"
	"github.com/frsvc/fulfillment/internal/auth"
	"github.com/frsvc/fulfillment/internal/tenant"
	"github.com/frsvc/fulfillment/internal/testdb"
)

// These are unit tests of the auth package over the store of an app built by
// testdb (app.New); they construct the package's own types by hand on
// purpose (a fixed clock, a detached lookup), which is what is under test.

func TestBearerToken(t *testing.T) {
	for _, c := range []struct{ header, want string }{
		{"Bearer frk_abc", "frk_abc"},
		{"bearer frk_abc", "frk_abc"},
		{"BEARER   frk_abc  ", "frk_abc"},
		{"  Bearer frk_abc", "frk_abc"},
		{"Bearer", ""},
		{"Bearer ", ""},
		{"Basic frk_abc", ""},
		{"frk_abc", ""},
		{"", ""},
	} {
		if got := auth.BearerToken(c.header); got != c.want {
			t.Errorf("BearerToken(%q) = %q, want %q", c.header, got, c.want)
		}
	}
}

func TestSecrets(t *testing.T) {
	re := regexp.MustCompile(`^frk_[a-z2-7]{52}$`)
	seen := map[string]bool{}
	for range 20 {
		s, err := auth.NewSecret()
		if err != nil {
			t.Fatal(err)
		}
		if !re.MatchString(s) {
			t.Fatalf("secret %q", s)
		}
		if seen[s] {
			t.Fatalf("secret %q repeated", s)
		}
		seen[s] = true
		h := auth.Hash(s)
		if len(h) != 64 || h == s || auth.Hash(s) != h {
			t.Fatalf("hash %q of %q", h, s)
		}
		p := auth.DisplayPrefix(s)
		if p != s[:10] {
			t.Fatalf("prefix %q of %q", p, s)
		}
	}
	// A short secret (BOOTSTRAP_API_KEY can be anything) never shows whole.
	if p := auth.DisplayPrefix("frk_abcd"); p == "frk_abcd" || len(p) > 4 {
		t.Errorf("prefix of a short secret = %q", p)
	}
}

// TestAuthorizeMutation: the decision of a mutation is the roles the schema
// opens it to (its @allow, see graph/authz.go; which mutation is open to
// whom is TestHardeningRoles's): ADMIN keys the operator's, ADMIN and SOURCE
// keys the partner's, READ_ONLY none. Any other role, and a call open to no
// role, is refused.
func TestAuthorizeMutation(t *testing.T) {
	src := 7
	admin := auth.Principal{Role: auth.RoleAdmin}
	source := auth.Principal{Role: auth.RoleSource, SourceID: &src}
	readOnly := auth.Principal{Role: auth.RoleReadOnly}
	partner := []auth.Role{auth.RoleAdmin, auth.RoleSource}
	operator := []auth.Role{auth.RoleAdmin}
	for _, c := range []struct {
		p     auth.Principal
		roles []auth.Role
		ok    bool
	}{
		{admin, partner, true}, {admin, operator, true}, {admin, nil, false},
		{source, partner, true}, {source, operator, false},
		{readOnly, partner, false}, {readOnly, operator, false},
		{auth.Principal{Role: "ROOT"}, partner, false},
	} {
		err := auth.AuthorizeMutation(c.p, "someMutation", c.roles...)
		if c.ok && err != nil || !c.ok && apperr.CodeOf(err) != apperr.Forbidden {
			t.Errorf("%s, open to %v: %v, want allowed %v", c.p.Role, c.roles, err, c.ok)
		}
	}
	if err := auth.AuthorizeMutation(source, "importOrder", operator...); message(err) != "a SOURCE key may not call importOrder" {
		t.Errorf("refusal %v", err)
	}
}

// message is the refusal's wording, as a client reads it.
func message(err error) string {
	var ae *apperr.Error
	if !errors.As(err, &ae) {
		return fmt.Sprint(err)
	}
	return ae.Message
}

// TestAuthorizeReadAndFilter: operator keys (ADMIN, READ_ONLY) read the
// fields only they may and filter through relations; any other key, an
// unknown one included, is refused, with the refusals' wording.
func TestAuthorizeReadAndFilter(t *testing.T) {
	source := auth.Principal{Role: auth.RoleSource}
	for _, p := range []auth.Principal{{Role: auth.RoleAdmin}, {Role: auth.RoleReadOnly}} {
		if !auth.IsOperator(p) {
			t.Errorf("%s is not an operator key", p.Role)
		}
		if err := auth.AuthorizeOperatorField(p, "Order", "status"); err != nil {
			t.Errorf("%s reads Order.status: %v", p.Role, err)
		}
		if err := auth.AuthorizeFilter(p, map[string]any{"hasLinesWith": map[string]any{}}); err != nil {
			t.Errorf("%s filters through a relation: %v", p.Role, err)
		}
	}
	for _, p := range []auth.Principal{source, {Role: "ROOT"}} {
		if auth.IsOperator(p) {
			t.Errorf("%s is an operator key", p.Role)
		}
		if err := auth.AuthorizeOperatorField(p, "Order", "status"); apperr.CodeOf(err) != apperr.Forbidden {
			t.Errorf("%s reads Order.status: %v", p.Role, err)
		}
		where := map[string]any{"or": []any{map[string]any{"status": "OPEN"}, map[string]any{"not": map[string]any{"hasLogs": true}}}}
		if err := auth.AuthorizeFilter(p, where); apperr.CodeOf(err) != apperr.Forbidden {
			t.Errorf("%s filters through a nested relation: %v", p.Role, err)
		}
		if err := auth.AuthorizeFilter(p, map[string]any{"and": []any{map[string]any{"statusIn": []any{"OPEN"}}}}); err != nil {
			t.Errorf("%s filters by own fields: %v", p.Role, err)
		}
	}
	if err := auth.AuthorizeOperatorField(source, "OrderLine", "unitPrice"); message(err) != "a SOURCE key may not read OrderLine.unitPrice" {
		t.Errorf("refusal %v", err)
	}
	if err := auth.AuthorizeFilter(source, map[string]any{"hasOrder": true}); message(err) != "a SOURCE key may not filter by hasOrder" {
		t.Errorf("refusal %v", err)
	}
	operators := []auth.Role{auth.RoleAdmin, auth.RoleReadOnly}
	if err := auth.AuthorizeQuery(auth.Principal{Role: auth.RoleReadOnly}, "apiKeys", auth.RoleAdmin); message(err) != "only an ADMIN key may list the account's keys" {
		t.Errorf("refusal %v", err)
	}
	if err := auth.AuthorizeQuery(source, "orders", operators...); message(err) != "a SOURCE key may not query orders" {
		t.Errorf("refusal %v", err)
	}
	if err := auth.AuthorizeQuery(auth.Principal{Role: "ROOT"}, "orders", append(operators, auth.RoleSource)...); apperr.CodeOf(err) != apperr.Forbidden {
		t.Errorf("unknown role: %v", err)
	}
}

func TestPrincipalContext(t *testing.T) {
	p := auth.Principal{AccountID: 3, KeyID: 9, KeyName: "ops", Role: auth.RoleAdmin}
	ctx := auth.WithPrincipal(context.Background(), p)
	got, ok := auth.FromContext(ctx)
	if !ok || got.AccountID != 3 || got.KeyID != 9 {
		t.Fatalf("FromContext = %+v, %v", got, ok)
	}
	if id, ok := tenant.AccountID(ctx); !ok || id != 3 {
		t.Errorf("tenant = %d, %v", id, ok)
	}
	if a := auth.Actor(ctx); a != "apikey:9:ops" {
		t.Errorf("Actor = %q", a)
	}
	if a := auth.Actor(context.Background()); a != "system" {
		t.Errorf("Actor without principal = %q", a)
	}
	if _, ok := auth.FromContext(context.Background()); ok {
		t.Error("principal from an empty context")
	}
}

func TestAuthenticate(t *testing.T) {
	testdb.Each(t, func(t *testing.T, ap *app.App) {
		s := ap.Store
		ctx := context.Background()
		a := ap.Auth
		acc, secret, err := auth.CreateAccount(ctx, s.Client, "Acme", "")
		testdb.Must(t, err)
		p, err := a.Authenticate(ctx, secret)
		testdb.Must(t, err)
		if p.AccountID != acc.ID || p.Role != auth.RoleAdmin || p.SourceID != nil || p.KeyName != "first admin key" {
			t.Errorf("principal = %+v", p)
		}
		for _, bad := range []string{"", "frk_unknown", secret + "x", secret[:len(secret)-1], auth.Hash(secret)} {
			if _, err := a.Authenticate(ctx, bad); !errors.Is(err, auth.ErrUnauthenticated) {
				t.Errorf("Authenticate(%q) = %v, want ErrUnauthenticated", bad, err)
			}
		}
		// Revoked: the same error as unknown.
		sys := tenant.WithSystem(ctx)
		testdb.Must(t, s.Client.ApiKey.UpdateOneID(p.KeyID).SetRevokedAt(time.Now()).Exec(sys))
		if _, err := a.Authenticate(ctx, secret); !errors.Is(err, auth.ErrUnauthenticated) {
			t.Errorf("revoked key: %v", err)
		}
		// The secret is stored only as its hash.
		k, err := s.Client.ApiKey.Get(sys, p.KeyID)
		testdb.Must(t, err)
		if k.Hash != auth.Hash(secret) || k.Prefix != auth.DisplayPrefix(secret) {
			t.Errorf("stored key = %+v", k)
		}
		// A lookup on the store's detached client: the same answers
		// (revocation included); the wait for a connection still ends with
		// the request.
		_, live, err := auth.CreateAccount(ctx, s.Client, "Other", "")
		testdb.Must(t, err)
		// The app's lookup: prepared on PostgreSQL, detached on SQLite.
		want, mode := s.Detached(), "detached"
		if s.Postgres() {
			want, mode = s.Prepared(), "prepared"
		}
		if a.Lookup != want {
			t.Errorf("the app's key lookup is not on the store's %s client", mode)
		}
		detached := &auth.Authenticator{Client: s.Client, Lookup: s.Detached()}
		if _, err := detached.Authenticate(ctx, live); err != nil {
			t.Errorf("detached lookup: %v", err)
		}
		if _, err := detached.Authenticate(ctx, secret); !errors.Is(err, auth.ErrUnauthenticated) {
			t.Errorf("detached lookup of a revoked key: %v", err)
		}
		canceled, cancel := context.WithCancel(ctx)
		cancel()
		for name, a := range map[string]*auth.Authenticator{"the app's": a, "detached": detached} {
			if _, err := a.Authenticate(canceled, live); !errors.Is(err, context.Canceled) {
				t.Errorf("%s lookup under a canceled context = %v, want context.Canceled", name, err)
			}
		}
		if _, _, err := auth.CreateAccount(ctx, s.Client, "  ", ""); apperr.CodeOf(err) != apperr.Validation {
			t.Errorf("blank account name: %v", err)
		}
	})
}

func TestBootstrap(t *testing.T) {
	testdb.Each(t, func(t *testing.T, ap *app.App) {
		s := ap.Store
		ctx := context.Background()
		sys := tenant.WithSystem(ctx)
		const given = "frk_given_by_the_operator_0123456789"
		got, err := auth.Bootstrap(ctx, s.Client, given)
		testdb.Must(t, err)
		if got != given {
			t.Fatalf("Bootstrap returned %q", got)
		}
		p, err := (&auth.Authenticator{Client: s.Client}).Authenticate(ctx, given)
		testdb.Must(t, err)
		if p.Role != auth.RoleAdmin {
			t.Errorf("role = %s", p.Role)
		}
		for _, again := range []string{given, "", "frk_other"} {
			got, err := auth.Bootstrap(ctx, s.Client, again)
			testdb.Must(t, err)
			if got != "" {
				t.Errorf("second Bootstrap(%q) made key %q", again, got)
			}
		}
		if n, err := s.Client.Account.Query().Count(sys); err != nil || n != 1 {
			t.Errorf("accounts = %d, %v", n, err)
		}
		if n, err := s.Client.ApiKey.Query().Where(apikey.RoleEQ(auth.RoleAdmin)).Count(sys); err != nil || n != 1 {
			t.Errorf("admin keys = %d, %v", n, err)
		}
	})
}

// TestBootstrapRandom: on an empty database without a given key, a random
// one is made. (A test of its own: a second testdb.Each in one test names its
// subtests "sqlite#01", and testdb's file: URL would end at the '#'.)
func TestBootstrapRandom(t *testing.T) {
	testdb.Each(t, func(t *testing.T, ap *app.App) {
		s := ap.Store
		got, err := auth.Bootstrap(context.Background(), s.Client, "")
		testdb.Must(t, err)
		if !regexp.MustCompile(`^frk_[a-z2-7]{52}$`).MatchString(got) {
			t.Errorf("random bootstrap key %q", got)
		}
	})
}
