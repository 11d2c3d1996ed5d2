package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/frsvc/fulfillment/ent/apikey"
	"github.com/frsvc/fulfillment/internal/app"
	"github.com/frsvc/fulfillment/internal/auth"
	"github.com/frsvc/fulfillment/internal/tenant"
	"github.com/frsvc/fulfillment/internal/testdb"
)

// TestAPIKeys covers key creation (secret shown once, never its hash),
// roles, revocation and the viewer.
func TestAPIKeys(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, a *app.App) {
		s := a.Store
		e := New(t, a)
		src := e.createSource(e.AdminKey, "SRC")

		ro := e.CreateKey(map[string]any{"name": "dashboard", "role": "READ_ONLY"})
		if !strings.HasPrefix(ro.Secret, auth.SecretPrefix) || len(ro.Secret) < 40 {
			t.Fatalf("secret = %q, want frk_ and 256 bits", ro.Secret)
		}
		if ro.APIKey.Role != "READ_ONLY" || ro.APIKey.Name != "dashboard" || ro.APIKey.RevokedAt != nil || ro.APIKey.SourceID != nil {
			t.Errorf("apiKey = %+v", ro.APIKey)
		}
		if !strings.HasPrefix(ro.Secret, ro.APIKey.Prefix) || len(ro.APIKey.Prefix) >= len(ro.Secret)/2 {
			t.Errorf("prefix %q shows too much of the secret", ro.APIKey.Prefix)
		}
		// Stored only as a hash.
		k, err := s.Client.ApiKey.Query().Where(apikey.Prefix(ro.APIKey.Prefix)).Only(tenant.WithSystem(context.Background()))
		testdb.Must(t, err)
		if k.Hash == ro.Secret || k.Hash != auth.Hash(ro.Secret) {
			t.Errorf("stored hash = %q", k.Hash)
		}

		t.Run("secret shown once, hash never", func(t *testing.T) {
			e := e.WithT(t)
			// The ApiKey type has neither field.
			var intro struct {
				Type struct{ Fields []struct{ Name string } } `json:"__type"`
			}
			e.Query(`{ __type(name: "ApiKey") { fields { name } } }`, nil, &intro)
			if len(intro.Type.Fields) == 0 {
				t.Fatal("no ApiKey type")
			}
			for _, f := range intro.Type.Fields {
				if n := strings.ToLower(f.Name); strings.Contains(n, "hash") || strings.Contains(n, "secret") {
					t.Errorf("ApiKey exposes %s", f.Name)
				}
			}
			res := e.Do(Request{Key: e.AdminKey, Query: `query($id: ID!) { node(id: $id) { ... on ApiKey { hash } } }`, Variables: map[string]any{"id": ro.APIKey.ID}})
			e.Err(res, "VALIDATION")
			// Every way of reading the key back shows neither secret nor hash.
			for _, r := range []Request{
				{Key: e.AdminKey, Query: `query($id: ID!) { node(id: $id) { ... on ApiKey { id name role prefix createdAt revokedAt } } }`, Variables: map[string]any{"id": ro.APIKey.ID}},
				{Key: ro.Secret, Query: `{ viewer { role apiKey { id name role prefix } account { name } } }`},
				{Key: e.AdminKey, Query: `query($id: ID!) { nodes(ids: [$id]) { ... on ApiKey { id prefix } } }`, Variables: map[string]any{"id": ro.APIKey.ID}},
			} {
				res := e.Do(r)
				if len(res.Errors) > 0 {
					t.Fatalf("errors: %+v", res.Errors)
				}
				body := string(res.Raw)
				if strings.Contains(body, ro.Secret) || strings.Contains(body, k.Hash) || !strings.Contains(body, ro.APIKey.Prefix) {
					t.Errorf("answer shows the secret or hash (or not the key): %s", body)
				}
			}
		})

		t.Run("viewer", func(t *testing.T) {
			e := e.WithT(t)
			type viewer struct {
				Viewer struct {
					Role    string
					Account struct {
						ID, Name string
						Strategy struct{ NumberTemplate string }
					}
					APIKey struct{ ID, Name string } `json:"apiKey"`
					Source *struct{ Code string }
				}
			}
			const q = `{ viewer { role account { id name strategy { numberTemplate } } apiKey { id name } source { code } } }`
			var admin, readOnly viewer
			e.Query(q, nil, &admin)
			e.QueryAs(ro.Secret, q, nil, &readOnly)
			if admin.Viewer.Role != "ADMIN" || admin.Viewer.Account.Name != "Test account" || admin.Viewer.Source != nil ||
				admin.Viewer.APIKey.Name != "first admin key" || admin.Viewer.Account.Strategy.NumberTemplate != "{order}-{seq}" {
				t.Errorf("admin viewer = %+v", admin.Viewer)
			}
			if readOnly.Viewer.Role != "READ_ONLY" || readOnly.Viewer.Account.ID != admin.Viewer.Account.ID ||
				readOnly.Viewer.APIKey.ID != ro.APIKey.ID || readOnly.Viewer.Source != nil {
				t.Errorf("read-only viewer = %+v", readOnly.Viewer)
			}
		})

		t.Run("source keys", func(t *testing.T) {
			e := e.WithT(t)
			for _, c := range []struct {
				name  string
				input map[string]any
				field string
			}{
				{"SOURCE without sourceID", map[string]any{"name": "s", "role": "SOURCE"}, "input.sourceID"},
				{"READ_ONLY with sourceID", map[string]any{"name": "s", "role": "READ_ONLY", "sourceID": src.ID}, "input.sourceID"},
				{"ADMIN with sourceID", map[string]any{"name": "s", "role": "ADMIN", "sourceID": src.ID}, "input.sourceID"},
				{"SOURCE with unknown source", map[string]any{"name": "s", "role": "SOURCE", "sourceID": "999999"}, "input.sourceID"},
				{"blank name", map[string]any{"name": " ", "role": "ADMIN"}, "input.name"},
			} {
				res := e.Do(Request{Key: e.AdminKey, Query: CreateKeyMutation, Variables: map[string]any{"input": c.input}})
				if f := e.Err(res, "VALIDATION").Field(); f != c.field {
					t.Errorf("%s: field = %q, want %q", c.name, f, c.field)
				}
			}
			sk := e.SourceKey("partner", src.ID)
			if sk.APIKey.Role != "SOURCE" || sk.APIKey.SourceID == nil || *sk.APIKey.SourceID != src.ID || sk.APIKey.Source == nil || sk.APIKey.Source.Code != "SRC" {
				t.Fatalf("source key = %+v", sk.APIKey)
			}
			var v struct {
				Viewer struct {
					Role   string
					Source *struct{ Code string }
				}
			}
			e.QueryAs(sk.Secret, `{ viewer { role source { code } } }`, nil, &v)
			if v.Viewer.Role != "SOURCE" || v.Viewer.Source == nil || v.Viewer.Source.Code != "SRC" {
				t.Errorf("source viewer = %+v", v.Viewer)
			}
			// A SOURCE key may not call set-up or order mutations.
			for _, q := range []string{
				`mutation { importOrder(input: {channel: "web", orderNumber: "S-1", paymentStatus: PAID, shipTo: {line1: "1", city: "c", postalCode: "1", country: "US"}, lines: [{sku: "A", quantity: 1, unitPrice: "1"}]}) { id } }`,
				`mutation { createApiKey(input: {name: "escalate", role: ADMIN}) { secret } }`,
			} {
				e.Err(e.Do(Request{Key: sk.Secret, Query: q}), "FORBIDDEN")
			}
		})

		t.Run("read-only key", func(t *testing.T) {
			e := e.WithT(t)
			// Data to aim the mutations at.
			order := e.importOrder(e.AdminKey, orderInput("RO-1"))
			group := e.createGroup(e.AdminKey, groupInput("G", src.ID))
			admin := e.Principal(e.AdminKey)
			keys := func() int {
				n, err := s.Client.ApiKey.Query().Count(tenant.WithAccount(context.Background(), admin.AccountID))
				testdb.Must(t, err)
				return n
			}
			before, keysBefore := e.counts(e.AdminKey), keys()

			// It can read.
			var out struct {
				Orders struct{ TotalCount int }
				Viewer struct{ Role string }
			}
			e.QueryAs(ro.Secret, `{ orders { totalCount } viewer { role } }`, nil, &out)
			if out.Orders.TotalCount != before.Orders || out.Viewer.Role != "READ_ONLY" {
				t.Errorf("read-only read = %+v", out)
			}

			mutations := []struct{ name, query string }{
				{"createSource", `mutation { createSource(input: {name: "x", code: "RO"}) { id } }`},
				{"updateSource", `mutation($s: ID!) { updateSource(id: $s, input: {name: "x"}) { id } }`},
				{"upsertInventory", `mutation($s: ID!) { upsertInventory(sourceID: $s, items: [{sku: "A", quantity: 1, unitCost: "1"}]) { id } }`},
				{"createRoutingGroup", `mutation($s: ID!) { createRoutingGroup(input: {name: "x", rules: [LOWEST_COST], members: [{sourceID: $s, priority: 1}]}) { id } }`},
				{"updateRoutingGroup", `mutation($g: ID!) { updateRoutingGroup(id: $g, input: {name: "x"}) { id } }`},
				{"createApiKey", `mutation { createApiKey(input: {name: "x", role: ADMIN}) { secret } }`},
				{"revokeApiKey", `mutation($k: ID!) { revokeApiKey(id: $k) { id } }`},
				{"updateAccountStrategy", `mutation { updateAccountStrategy(input: {autoProcess: true, numberTemplate: "{order}"}) { id } }`},
				{"importOrder", `mutation { importOrder(input: {channel: "web", orderNumber: "RO-2", paymentStatus: PAID, shipTo: {line1: "1", city: "c", postalCode: "1", country: "US"}, lines: [{sku: "A", quantity: 1, unitPrice: "1"}]}) { id } }`},
				{"holdOrder", `mutation($o: ID!) { holdOrder(id: $o, reason: "x") { id } }`},
				{"releaseOrder", `mutation($o: ID!) { releaseOrder(id: $o) { id } }`},
			}
			vars := map[string]any{"s": src.ID, "g": group.ID, "o": order.ID, "k": admin.KeyID}
			for _, m := range mutations {
				t.Run(m.name, func(t *testing.T) {
					e := e.WithT(t)
					v := map[string]any{}
					for name, val := range vars {
						if strings.Contains(m.query, "$"+name+":") {
							v[name] = val
						}
					}
					res := e.Do(Request{Key: ro.Secret, Query: m.query, Variables: v})
					er := e.Err(res, "FORBIDDEN")
					if !strings.Contains(er.Message, m.name) {
						t.Errorf("message %q does not name the mutation", er.Message)
					}
					if string(res.Data) != "null" {
						t.Errorf("data = %s", res.Data)
					}
				})
			}
			// Several mutations in one document: each refused.
			res := e.Do(Request{Key: ro.Secret, Query: `mutation($o: ID!) { a: holdOrder(id: $o, reason: "x") { id } b: createSource(input: {name: "x", code: "RO2"}) { id } }`,
				Variables: map[string]any{"o": order.ID}})
			if len(res.Errors) != 2 || res.Errors[0].Code() != "FORBIDDEN" || res.Errors[1].Code() != "FORBIDDEN" {
				t.Errorf("two mutations: %+v", res.Errors)
			}

			e.assertCounts(t, e.AdminKey, before)
			if n := keys(); n != keysBefore {
				t.Errorf("keys: %d, want %d", n, keysBefore)
			}
			var st struct {
				Order  struct{ Status string }
				Source struct{ Name string }
				Viewer struct {
					Account struct{ Strategy struct{ AutoProcess bool } }
				}
			}
			e.Query(`query($o: ID!, $s: ID!) { order: node(id: $o) { ... on Order { status } } source: node(id: $s) { ... on Source { name } }
				viewer { account { strategy { autoProcess } } } }`, map[string]any{"o": order.ID, "s": src.ID}, &st)
			if st.Order.Status != "OPEN" || st.Source.Name != "Source SRC" || st.Viewer.Account.Strategy.AutoProcess {
				t.Errorf("read-only key changed data: %+v", st)
			}
		})

		t.Run("revoke", func(t *testing.T) {
			e := e.WithT(t)
			other := e.CreateKey(map[string]any{"name": "ops", "role": "ADMIN"})
			e.QueryAs(other.Secret, `{ viewer { role } }`, nil, nil)

			var rv struct {
				RevokeApiKey struct {
					ID        string
					RevokedAt *string
				}
			}
			const revoke = `mutation($id: ID!) { revokeApiKey(id: $id) { id revokedAt } }`
			e.Query(revoke, map[string]any{"id": other.APIKey.ID}, &rv)
			if rv.RevokeApiKey.ID != other.APIKey.ID || rv.RevokeApiKey.RevokedAt == nil {
				t.Fatalf("revoke = %+v", rv.RevokeApiKey)
			}
			first := *rv.RevokeApiKey.RevokedAt
			res := e.Do(Request{Key: other.Secret, Query: `{ viewer { role } }`})
			if res.Status != http.StatusUnauthorized {
				t.Errorf("revoked key: status %d, want 401", res.Status)
			}
			e.Err(res, "UNAUTHENTICATED")
			// Revoking again changes nothing.
			e.Query(revoke, map[string]any{"id": other.APIKey.ID}, &rv)
			if rv.RevokeApiKey.RevokedAt == nil || *rv.RevokeApiKey.RevokedAt != first {
				t.Errorf("second revoke moved revokedAt: %v → %v", first, rv.RevokeApiKey.RevokedAt)
			}
			// The caller's own key works as before.
			e.Query(`{ viewer { role } }`, nil, nil)
			e.Err(e.Do(Request{Key: e.AdminKey, Query: revoke, Variables: map[string]any{"id": "999999"}}), "NOT_FOUND")
		})

		t.Run("unauthenticated", func(t *testing.T) {
			e := e.WithT(t)
			for _, c := range []struct {
				name   string
				header map[string]string
			}{
				{"no key", nil},
				{"wrong key", map[string]string{"Authorization": "Bearer frk_notakey"}},
				{"empty bearer", map[string]string{"Authorization": "Bearer "}},
				{"basic scheme", map[string]string{"Authorization": "Basic " + ro.Secret}},
				{"secret without scheme", map[string]string{"Authorization": ro.Secret}},
			} {
				for _, q := range []string{`{ viewer { role } }`, `mutation { createSource(input: {name: "x", code: "U"}) { id } }`} {
					res := e.Do(Request{Query: q, Header: c.header})
					if res.Status != http.StatusUnauthorized {
						t.Errorf("%s: status %d, want 401", c.name, res.Status)
					}
					if er := e.Err(res, "UNAUTHENTICATED"); er.Message == "" {
						t.Errorf("%s: no message", c.name)
					}
					if res.Header.Get("WWW-Authenticate") == "" {
						t.Errorf("%s: no WWW-Authenticate header", c.name)
					}
					if string(res.Data) != "" && string(res.Data) != "null" {
						t.Errorf("%s: data %s", c.name, res.Data)
					}
				}
			}
			// "bearer" in any case is accepted.
			res := e.Do(Request{Query: `{ viewer { role } }`, Header: map[string]string{"Authorization": "bearer " + ro.Secret}})
			if len(res.Errors) > 0 || res.Status != http.StatusOK {
				t.Errorf("lower-case bearer: %d %+v", res.Status, res.Errors)
			}
			if n := e.TotalCount(e.AdminKey, "sources"); n != 1 {
				t.Errorf("unauthenticated calls wrote sources: %d", n)
			}
		})
	})
}
