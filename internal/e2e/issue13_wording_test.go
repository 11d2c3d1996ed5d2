package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/frsvc/fulfillment/ent/account"
	"github.com/frsvc/fulfillment/internal/app"
	"github.com/frsvc/fulfillment/internal/apperr"
	"github.com/frsvc/fulfillment/internal/auth"
	"github.com/frsvc/fulfillment/internal/tenant"
	"github.com/frsvc/fulfillment/internal/testdb"
)

// TestIssue13Wording: messages read as English, log data has one shape.
func TestIssue13Wording(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, a *app.App) {
		k := spNew(t, a)
		src := k.source("ONE", map[string]int{"TEE-1": 5})
		o := k.order("W-1", []string{"TEE-1"}, 1)

		t.Run("import log: 1 line", func(t *testing.T) {
			var out struct {
				Node struct {
					Logs struct {
						Edges []struct{ Node struct{ Message string } }
					}
				}
			}
			k.Query(`query($id: ID!) { node(id: $id) { ... on Order { logs(first: 5) { edges { node { message } } } } } }`,
				map[string]any{"id": o.ID}, &out)
			found := false
			for _, ed := range out.Node.Logs.Edges {
				if strings.Contains(ed.Node.Message, "imported") {
					found = true
					if !strings.HasSuffix(ed.Node.Message, "with 1 line.") {
						t.Errorf("message %q", ed.Node.Message)
					}
				}
			}
			if !found {
				t.Errorf("no import log: %+v", out)
			}
		})

		fr := k.create(o, src, nil)
		k.markProcessed(fr.ID)
		t.Run("only 1 is left", func(t *testing.T) {
			res := k.ship(k.AdminKey, fr.ID, "T-1", map[string]int{fr.Items["TEE-1"]: 2})
			if len(res.Errors) != 1 || !strings.Contains(res.Errors[0].Message, "only 1 of TEE-1 is left to ship") {
				t.Errorf("%+v", res.Errors)
			}
		})

		t.Run("release an open order", func(t *testing.T) {
			o2 := k.order("W-2", []string{"TEE-1"}, 1)
			res := k.Try(k.AdminKey, `mutation($id: ID!) { releaseOrder(id: $id) { id } }`, map[string]any{"id": o2.ID})
			if len(res.Errors) != 1 || res.Errors[0].Code() != "INVALID_TRANSITION" ||
				!strings.Contains(res.Errors[0].Message, "not on hold") || strings.Contains(res.Errors[0].Message, "OPEN to OPEN") {
				t.Errorf("%+v", res.Errors)
			}
		})

		t.Run("an article before a role", func(t *testing.T) {
			if err := auth.AuthorizeMutation(auth.Principal{Role: auth.RoleReadOnly}, "importOrder"); !strings.Contains(err.Error(), "a READ_ONLY key") {
				t.Errorf("%v", err)
			}
			res := k.Try(k.ReadOnlyKey("ro"), `{ apiKeys { totalCount } }`, nil)
			if len(res.Errors) != 1 || !strings.Contains(res.Errors[0].Message, "an ADMIN key") {
				t.Errorf("%+v", res.Errors)
			}
		})

		t.Run("log data: ids are strings, text one line", func(t *testing.T) {
			k.Query(`mutation($id: ID!, $r: String!) { holdOrder(id: $id, reason: $r) { id } }`,
				map[string]any{"id": o.ID, "r": "fraud check\nsecond line"}, nil)
			var out struct {
				FulfillmentLogs struct {
					Edges []struct {
						Node struct {
							Stage, Message string
							Data           json.RawMessage
						}
					}
				}
			}
			k.Query(`{ fulfillmentLogs(first: 50) { edges { node { stage message data } } } }`, nil, &out)
			sawID := false
			for _, ed := range out.FulfillmentLogs.Edges {
				raw := string(ed.Node.Data)
				if strings.Contains(raw, `\n`) || strings.Contains(ed.Node.Message, "\n") {
					t.Errorf("%s: a line break in %s / %q", ed.Node.Stage, raw, ed.Node.Message)
				}
				var data map[string]any
				if len(ed.Node.Data) == 0 || raw == "null" {
					continue
				}
				testdb.Must(t, json.Unmarshal(ed.Node.Data, &data))
				for key, v := range data {
					if key == "id" || strings.HasSuffix(key, "ID") {
						sawID = true
						if _, ok := v.(string); !ok {
							t.Errorf("%s: data.%s = %v (%T), want a string id", ed.Node.Stage, key, v, v)
						}
					}
				}
			}
			if !sawID {
				t.Error("no log data with an id: the test checks nothing")
			}
		})
	})
}

// TestIssue13CrossOriginNamesFlag: the 403 of a cross-site request says how
// to allow the origin.
func TestIssue13CrossOriginNamesFlag(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, a *app.App) {
		e := New(t, a)
		req, _ := http.NewRequest(http.MethodPost, e.Server.URL+"/query", strings.NewReader(`{"query":"{ viewer { role } }"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Origin", "https://shop.example.com")
		req.Header.Set("Authorization", "Bearer "+e.AdminKey)
		resp, err := http.DefaultClient.Do(req)
		testdb.Must(t, err)
		defer resp.Body.Close()
		var body struct{ Errors []Error }
		testdb.Must(t, json.NewDecoder(resp.Body).Decode(&body))
		if resp.StatusCode != http.StatusForbidden || len(body.Errors) != 1 ||
			!strings.Contains(body.Errors[0].Message, "--cors-origins https://shop.example.com") {
			t.Errorf("HTTP %d %+v", resp.StatusCode, body.Errors)
		}
	})
}

// TestIssue13RoutingGroupsByPosition: routingGroups lists groups in the
// order routing tries them unless orderBy says otherwise.
func TestIssue13RoutingGroupsByPosition(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, a *app.App) {
		k := spNew(t, a)
		src := k.source("RG", map[string]int{"X": 1})
		for _, g := range []struct {
			name string
			pos  int
		}{{"third", 30}, {"first", 10}, {"second", 20}} {
			k.Query(`mutation($n: String!, $p: Int!, $s: ID!) { createRoutingGroup(input: {name: $n, position: $p, rules: [LOWEST_COST],
				members: [{sourceID: $s, priority: 1}]}) { id } }`, map[string]any{"n": g.name, "p": g.pos, "s": src}, nil)
		}
		var out struct {
			RoutingGroups struct {
				Edges []struct{ Node struct{ Name string } }
			}
		}
		k.Query(`{ routingGroups(first: 10) { edges { node { name } } } }`, nil, &out)
		var names []string
		for _, ed := range out.RoutingGroups.Edges {
			names = append(names, ed.Node.Name)
		}
		if strings.Join(names, ",") != "first,second,third" {
			t.Errorf("routingGroups = %v", names)
		}
		k.Query(`{ routingGroups(first: 10, orderBy: {field: NAME, direction: DESC}) { edges { node { name } } } }`, nil, &out)
		if out.RoutingGroups.Edges[0].Node.Name != "third" {
			t.Errorf("orderBy NAME DESC: %+v", out)
		}
	})
}

// TestIssue13ConnectorFieldsThatDoNotApply: an HTTP connector has no
// directory, a FILE connector no URL, even when one was stored before.
func TestIssue13ConnectorFieldsThatDoNotApply(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, a *app.App) {
		k := spNew(t, a)
		var c struct {
			CreateSource struct {
				ID        string
				Connector struct{ URL, Directory *string }
			}
		}
		k.Query(`mutation { createSource(input: {name: "F", code: "F", connector: {kind: FILE, directory: "outbox"}}) {
			id connector { url directory } } }`, nil, &c)
		if c.CreateSource.Connector.Directory == nil || c.CreateSource.Connector.URL != nil {
			t.Errorf("FILE connector %+v", c.CreateSource.Connector)
		}
		// Given on create, a field of another kind is not shown either.
		var h struct {
			CreateSource struct {
				Connector struct{ URL, Directory *string }
			}
		}
		k.Query(`mutation { createSource(input: {name: "H", code: "H", connector: {kind: HTTP, url: "https://h.example.com/fr",
			secret: "0123456789abcdef0123", directory: "outbox"}}) { connector { url directory } } }`, nil, &h)
		if h.CreateSource.Connector.Directory != nil || h.CreateSource.Connector.URL == nil {
			t.Errorf("HTTP connector given a directory: %+v", h.CreateSource.Connector)
		}
		var u struct {
			UpdateSource struct {
				Connector struct{ URL, Directory *string }
			}
		}
		k.Query(`mutation($id: ID!) { updateSource(id: $id, input: {connector: {kind: HTTP, url: "https://supplier.example.com/fr", secret: "0123456789abcdef0123"}}) {
			connector { url directory } } }`, map[string]any{"id": c.CreateSource.ID}, &u)
		if u.UpdateSource.Connector.Directory != nil || u.UpdateSource.Connector.URL == nil {
			t.Errorf("HTTP connector after FILE: url %v, directory %v", u.UpdateSource.Connector.URL, u.UpdateSource.Connector.Directory)
		}
	})
}

// TestIssue13DuplicateAccountNames: account names are unique, whatever
// their case and surrounding spaces.
func TestIssue13DuplicateAccountNames(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, a *app.App) {
		e := New(t, a)
		e.NewAccount("Acme")
		for _, name := range []string{"Acme", " acme ", "test ACCOUNT"} {
			if _, _, err := auth.CreateAccount(t.Context(), a.Store.Client, name, ""); err == nil || !strings.Contains(err.Error(), "exists already") {
				t.Errorf("%q: %v", name, err)
			}
		}
	})
}

// TestIssue13DuplicateAccountNamesRace: of concurrent creations of one name,
// one succeeds.
func TestIssue13DuplicateAccountNamesRace(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, a *app.App) {
		for round := 0; round < 5; round++ {
			name := "Twin " + string(rune('A'+round))
			errs := make([]error, 4)
			AtOnce(len(errs), func(i int) { _, _, errs[i] = auth.CreateAccount(t.Context(), a.Store.Client, name, "") })
			ok := 0
			for _, err := range errs {
				if err == nil {
					ok++
				} else if apperr.CodeOf(err) != apperr.Conflict {
					t.Errorf("%s: %v", name, err)
				}
			}
			n, err := a.Store.Client.Account.Query().Where(account.Name(name)).Count(tenant.WithSystem(t.Context()))
			testdb.Must(t, err)
			if ok != 1 || n != 1 {
				t.Fatalf("%s: %d creations succeeded, %d accounts (%v)", name, ok, n, errs)
			}
		}
	})
}
