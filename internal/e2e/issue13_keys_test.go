package e2e

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/frsvc/fulfillment/ent/apikey"
	"github.com/frsvc/fulfillment/internal/app"
	"github.com/frsvc/fulfillment/internal/apperr"
	"github.com/frsvc/fulfillment/internal/auth"
	"github.com/frsvc/fulfillment/internal/tenant"
	"github.com/frsvc/fulfillment/internal/testdb"
)

const revokeKeyMutation = `mutation($id: ID!) { revokeApiKey(id: $id) { id revokedAt } }`

// TestIssue13LastAdminKey: the account's last active ADMIN key cannot be
// revoked; another ADMIN key can, and so can the last one's non-ADMIN
// company.
func TestIssue13LastAdminKey(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, a *app.App) {
		e := New(t, a)
		first := e.Principal(e.AdminKey)
		ro := e.CreateKey(map[string]any{"name": "dashboard", "role": "READ_ONLY"})

		res := e.Do(Request{Key: e.AdminKey, Query: revokeKeyMutation, Variables: map[string]any{"id": first.KeyID}})
		er := e.Err(res, "CONFLICT")
		if !strings.Contains(er.Message, "last active ADMIN key") {
			t.Errorf("message %q", er.Message)
		}
		// Still works.
		var v struct{ Viewer struct{ Role string } }
		e.Query(`{ viewer { role } }`, nil, &v)

		// A non-ADMIN key is revoked as before.
		e.Query(revokeKeyMutation, map[string]any{"id": ro.APIKey.ID}, nil)

		// With a second ADMIN key, the first can go; then the second is the last.
		second := e.CreateKey(map[string]any{"name": "second admin", "role": "ADMIN"})
		e.Query(revokeKeyMutation, map[string]any{"id": first.KeyID}, nil)
		res = e.Do(Request{Key: second.Secret, Query: revokeKeyMutation, Variables: map[string]any{"id": second.APIKey.ID}})
		e.Err(res, "CONFLICT")
		// Revoking a revoked key still answers it, unchanged.
		res = e.Do(Request{Key: second.Secret, Query: revokeKeyMutation, Variables: map[string]any{"id": first.KeyID}})
		if len(res.Errors) != 0 {
			t.Errorf("revoking a revoked key: %+v", res.Errors)
		}

		// Another account's ADMIN keys do not count for this one.
		other := e.NewAccount("Other")
		op := e.Principal(other)
		res = e.Do(Request{Key: other, Query: revokeKeyMutation, Variables: map[string]any{"id": op.KeyID}})
		e.Err(res, "CONFLICT")
	})
}

// TestIssue13LastAdminKeyRace: two concurrent revokes of an account's last
// two ADMIN keys never both succeed.
func TestIssue13LastAdminKeyRace(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, a *app.App) {
		e := New(t, a)
		for round := 0; round < 8; round++ {
			acc := e.NewAccount("Race " + string(rune('A'+round)))
			p := e.Principal(acc)
			ctx := auth.WithPrincipal(context.Background(), p)
			k2 := e.CreateKeyAs(acc, map[string]any{"name": "second", "role": "ADMIN"}).Secret
			id2 := e.Principal(k2).KeyID
			errs := make([]error, 2)
			ids := []int{p.KeyID, id2}
			AtOnce(len(ids), func(i int) { _, errs[i] = a.Admin.RevokeAPIKey(ctx, ids[i]) })
			ok := 0
			for _, err := range errs {
				if err == nil {
					ok++
				} else if c := apperr.CodeOf(err); c != apperr.Conflict {
					t.Errorf("round %d: %v", round, err)
				}
			}
			n, err := a.Store.Client.ApiKey.Query().Where(apikey.AccountID(p.AccountID), apikey.RoleEQ(auth.RoleAdmin), apikey.RevokedAtIsNil()).
				Count(tenant.WithSystem(context.Background()))
			testdb.Must(t, err)
			if ok != 1 || n != 1 {
				t.Fatalf("round %d: %d revokes succeeded (%v), %d ADMIN keys left active", round, ok, errs, n)
			}
		}
	})
}

// TestIssue13APIKeysConnection: ADMIN keys list the account's keys, with
// their use, never a secret or hash; other roles may not.
func TestIssue13APIKeysConnection(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, a *app.App) {
		e := New(t, a)
		src := e.createSource(e.AdminKey, "SRC")
		ro := e.CreateKey(map[string]any{"name": "dashboard", "role": "READ_ONLY"})
		sk := e.SourceKey("partner", src.ID)
		e.Query(revokeKeyMutation, map[string]any{"id": sk.APIKey.ID}, nil)
		e.NewAccount("Other") // its key is not listed

		const q = `{ apiKeys(first: 10) { totalCount edges { node {
			id name role prefix createdAt lastUsedAt revokedAt source { code } } } } }`
		type node struct {
			ID, Name, Role, Prefix, CreatedAt string
			LastUsedAt, RevokedAt             *string
			Source                            *struct{ Code string }
		}
		var out struct {
			APIKeys struct {
				TotalCount int
				Edges      []struct{ Node node }
			} `json:"apiKeys"`
		}
		res := e.Do(Request{Key: e.AdminKey, Query: q})
		if len(res.Errors) > 0 {
			t.Fatalf("%+v", res.Errors)
		}
		res.Decode(t, &out)
		if out.APIKeys.TotalCount != 3 || len(out.APIKeys.Edges) != 3 {
			t.Fatalf("apiKeys = %+v", out.APIKeys)
		}
		byName := map[string]node{}
		for _, ed := range out.APIKeys.Edges {
			byName[ed.Node.Name] = ed.Node
		}
		admin := byName["first admin key"]
		if admin.Role != "ADMIN" || admin.LastUsedAt == nil || admin.RevokedAt != nil || admin.CreatedAt == "" ||
			!strings.HasPrefix(e.AdminKey, admin.Prefix) {
			t.Errorf("admin key = %+v", admin)
		}
		if d := byName["dashboard"]; d.Role != "READ_ONLY" || d.LastUsedAt != nil || d.RevokedAt != nil || d.ID != ro.APIKey.ID {
			t.Errorf("unused key = %+v", d)
		}
		if p := byName["partner"]; p.Role != "SOURCE" || p.RevokedAt == nil || p.Source == nil || p.Source.Code != "SRC" {
			t.Errorf("revoked source key = %+v", p)
		}
		if strings.Contains(string(res.Raw), ro.Secret) || strings.Contains(string(res.Raw), auth.Hash(ro.Secret)) {
			t.Error("apiKeys shows a secret or a hash")
		}
		// Used: lastUsedAt is set.
		e.QueryAs(ro.Secret, `{ viewer { role } }`, nil, nil)
		res = e.Do(Request{Key: e.AdminKey, Query: q})
		res.Decode(t, &out)
		for _, ed := range out.APIKeys.Edges {
			if ed.Node.Name == "dashboard" && ed.Node.LastUsedAt == nil {
				t.Error("a used key has no lastUsedAt")
			}
		}
		e.Err(e.Do(Request{Key: ro.Secret, Query: q}), "FORBIDDEN")
	})
}

// TestIssue13APIKeysThroughNode: node(id:) and nodes(ids:) do not show a
// non-ADMIN key the account's other keys, which apiKeys refuses to list: a
// READ_ONLY or SOURCE key sees only itself, as viewer.apiKey does.
func TestIssue13APIKeysThroughNode(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, a *app.App) {
		e := New(t, a)
		src := e.createSource(e.AdminKey, "SRC")
		ro := e.CreateKey(map[string]any{"name": "dashboard", "role": "READ_ONLY"})
		sk := e.SourceKey("partner", src.ID)
		sk2 := e.SourceKey("partner two", src.ID)
		admin := e.Principal(e.AdminKey)
		const one = `query($id: ID!) { node(id: $id) { ... on ApiKey { id name role lastUsedAt } } }`
		const many = `query($ids: [ID!]!) { nodes(ids: $ids) { ... on ApiKey { id name } } }`
		for _, c := range []struct {
			name, secret, own, other string
		}{
			{"READ_ONLY", ro.Secret, ro.APIKey.ID, strconv.Itoa(admin.KeyID)},
			{"SOURCE", sk.Secret, sk.APIKey.ID, sk2.APIKey.ID},
		} {
			res := e.Do(Request{Key: c.secret, Query: one, Variables: map[string]any{"id": c.other}})
			er := e.Err(res, "NOT_FOUND")
			if strings.Contains(string(res.Raw), `"name"`) {
				t.Errorf("%s: node shows another key: %s", c.name, res.Raw)
			}
			// Answered as an id that does not exist.
			missing := e.Err(e.Do(Request{Key: c.secret, Query: one, Variables: map[string]any{"id": "4294967290"}}), "NOT_FOUND")
			if er.Message != missing.Message {
				t.Errorf("%s: hidden key %q, missing id %q", c.name, er.Message, missing.Message)
			}
			res = e.Do(Request{Key: c.secret, Query: many, Variables: map[string]any{"ids": []string{c.own, c.other}}})
			var out struct{ Nodes []*struct{ ID, Name string } }
			res.Decode(t, &out)
			if len(out.Nodes) != 2 || out.Nodes[0] == nil || out.Nodes[0].ID != c.own || out.Nodes[1] != nil {
				t.Errorf("%s: nodes = %s", c.name, res.Raw)
			}
			if len(res.Errors) != 1 || res.Errors[0].Extensions["code"] != "NOT_FOUND" {
				t.Errorf("%s: nodes errors = %+v", c.name, res.Errors)
			}
			// Its own key it reads, as through viewer.
			res = e.Do(Request{Key: c.secret, Query: one, Variables: map[string]any{"id": c.own}})
			if len(res.Errors) != 0 || !strings.Contains(string(res.Raw), c.own) {
				t.Errorf("%s: own key: %s", c.name, res.Raw)
			}
		}
		// ADMIN reads any of the account's keys.
		res := e.Do(Request{Key: e.AdminKey, Query: one, Variables: map[string]any{"id": ro.APIKey.ID}})
		if len(res.Errors) != 0 || !strings.Contains(string(res.Raw), "dashboard") {
			t.Errorf("admin: %s", res.Raw)
		}
	})
}
