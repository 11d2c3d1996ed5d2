package e2e

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"

	"github.com/frsvc/fulfillment/ent/order"
	"github.com/frsvc/fulfillment/graph"
	"github.com/frsvc/fulfillment/internal/app"
	"github.com/frsvc/fulfillment/internal/tenant"
	"github.com/frsvc/fulfillment/internal/testdb"
)

// hdMutationRoles is the role decision for every mutation of the schema:
// true when a SOURCE key may call it. READ_ONLY may call none, ADMIN all. A
// mutation missing here fails TestHardeningRoles until someone decides.
var hdMutationRoles = map[string]bool{
	"createSource": false, "updateSource": false, "upsertInventory": false,
	"createRoutingGroup": false, "updateRoutingGroup": false,
	"createApiKey": false, "revokeApiKey": false,
	"updateAccountStrategy": false, "updateAccountSettings": false,
	"importOrder": false, "holdOrder": false, "releaseOrder": false,
	"updateOrderPayment": false, "cancelOrder": false, "updateOrder": false,
	"createFulfillmentRequest": false, "generateFulfillmentRequests": false, "processFulfillmentRequests": false,
	"markFulfillmentRequestProcessed": false, "markFulfillmentRequestAcknowledged": false,
	"renumberFulfillmentRequest": false, "voidFulfillmentRequest": false, "regenerateFulfillmentRequest": false,
	"runSendFulfillmentRequests":    false,
	"acknowledgeFulfillmentRequest": true, "cancelFulfillmentRequest": true, "createShipment": true,
}

// hdQueryRoles is the same for root queries: true when a SOURCE key may use
// it (READ_ONLY and ADMIN may use all).
var hdQueryRoles = map[string]bool{
	"viewer": true, "node": true, "nodes": true, "fulfillmentRequests": true, "shipments": true,
	"__schema": true, "__type": true,
	"orders": false, "sources": false, "inventoryItems": false, "routingGroups": false,
	"fulfillmentLogs": false, "fulfillmentPreview": false, "sendStatus": false,
	"apiKeys": false,
}

// hdAdminOnlyQueries are the root queries a READ_ONLY key may not use either.
var hdAdminOnlyQueries = map[string]bool{"apiKeys": true}

// hdOperation writes a call of the root field f: its required arguments as
// variables, with values of the right shape (ids that exist nowhere), and
// __typename below an object.
func hdOperation(schema *ast.Schema, kind string, f *ast.FieldDefinition) (string, map[string]any) {
	var decls, args []string
	vars := map[string]any{}
	for i, a := range f.Arguments {
		if !a.Type.NonNull || a.DefaultValue != nil {
			continue
		}
		v := fmt.Sprintf("a%d", i)
		decls = append(decls, "$"+v+": "+a.Type.String())
		args = append(args, a.Name+": $"+v)
		vars[v] = hdValue(schema, a.Type, 0)
	}
	op := kind
	if len(decls) > 0 {
		op += "(" + strings.Join(decls, ", ") + ")"
	}
	call := f.Name
	if len(args) > 0 {
		call += "(" + strings.Join(args, ", ") + ")"
	}
	if d := schema.Types[f.Type.Name()]; d != nil && (d.Kind == ast.Object || d.Kind == ast.Interface || d.Kind == ast.Union) {
		call += " { __typename }"
	}
	return op + " { " + call + " }", vars
}

// hdValue is a value of type t: required input fields filled, lists of one.
func hdValue(schema *ast.Schema, t *ast.Type, depth int) any {
	if t.Elem != nil {
		return []any{hdValue(schema, t.Elem, depth)}
	}
	def := schema.Types[t.NamedType]
	switch def.Kind {
	case ast.Enum:
		return def.EnumValues[0].Name
	case ast.InputObject:
		m := map[string]any{}
		if depth > 5 {
			return m
		}
		for _, f := range def.Fields {
			if f.Type.NonNull && f.DefaultValue == nil {
				m[f.Name] = hdValue(schema, f.Type, depth+1)
			}
		}
		return m
	}
	switch t.NamedType {
	case "ID":
		return "999999"
	case "Int":
		return 1
	case "Float":
		return 1.5
	case "Boolean":
		return false
	case "Decimal":
		return "1.00"
	case "Time":
		return "2024-01-02T03:04:05Z"
	case "Map":
		return map[string]any{}
	}
	return "x"
}

// TestHardeningRoles calls every mutation and root query of the executable
// schema with every role: READ_ONLY is FORBIDDEN every mutation; SOURCE every
// mutation but acknowledgeFulfillmentRequest, cancelFulfillmentRequest and
// createShipment, and every root query but its own few; ADMIN nothing. A
// refused call runs no resolver: the database is unchanged, row for row. A
// revoked key is refused on its very next request.
func TestHardeningRoles(t *testing.T) {
	t.Parallel()
	schema := graph.NewSchema(&graph.Resolver{}).Schema()
	var mutations, queries []*ast.FieldDefinition
	for _, f := range schema.Mutation.Fields {
		if strings.HasPrefix(f.Name, "__") {
			continue
		}
		mutations = append(mutations, f)
		if _, ok := hdMutationRoles[f.Name]; !ok {
			t.Errorf("mutation %s has no role decision: add it to hdMutationRoles (and to auth.AuthorizeMutation if SOURCE may call it)", f.Name)
		}
	}
	for _, f := range schema.Query.Fields {
		queries = append(queries, f)
		if _, ok := hdQueryRoles[f.Name]; !ok {
			t.Errorf("query %s has no role decision: add it to hdQueryRoles (and to auth.AuthorizeQuery if SOURCE may use it)", f.Name)
		}
	}
	for name := range hdMutationRoles {
		if schema.Mutation.Fields.ForName(name) == nil {
			t.Errorf("hdMutationRoles names %s, which the schema no longer has", name)
		}
	}
	for name := range hdQueryRoles {
		if schema.Query.Fields.ForName(name) == nil {
			t.Errorf("hdQueryRoles names %s, which the schema no longer has", name)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	testdb.Each(t, func(t *testing.T, a *app.App) {

		s := a.Store
		h := hdNew(t, a, func(c *app.Config) { c.Introspection = true })
		var src struct{ CreateSource struct{ ID string } }
		h.Query(`mutation { createSource(input: {name: "Roles", code: "ROLES"}) { id } }`, nil, &src)
		newKey := func(role string, source any) (id, secret string) {
			var out struct {
				CreateApiKey struct {
					Secret string
					APIKey struct{ ID string } `json:"apiKey"`
				}
			}
			h.Query(`mutation($in: CreateApiKeyInput!) { createApiKey(input: $in) { secret apiKey { id } } }`,
				map[string]any{"in": map[string]any{"name": role + " key", "role": role, "sourceID": source}}, &out)
			return out.CreateApiKey.APIKey.ID, out.CreateApiKey.Secret
		}
		_, readOnly := newKey("READ_ONLY", nil)
		_, source := newKey("SOURCE", src.CreateSource.ID)

		call := func(t *testing.T, key, kind string, f *ast.FieldDefinition) *Result {
			t.Helper()
			q, vars := hdOperation(schema, kind, f)
			res, err := h.Send(Request{Key: key, Query: q, Variables: vars})
			if err != nil {
				t.Fatal(err)
			}
			if err := hdHygiene(res, f.Name); err != nil {
				t.Error(err)
			}
			return res
		}
		forbidden := func(res *Result) bool {
			for _, e := range res.Errors {
				if e.Code() == "FORBIDDEN" {
					return true
				}
			}
			return false
		}

		before := Fingerprint(t, s)
		for _, f := range mutations {
			t.Run("READ_ONLY mutation "+f.Name, func(t *testing.T) {
				res := call(t, readOnly, "mutation", f)
				if res.Status != http.StatusOK || len(res.Errors) != 1 || res.Errors[0].Code() != "FORBIDDEN" {
					t.Errorf("HTTP %d %+v, want one FORBIDDEN", res.Status, res.Errors)
				}
			})
			t.Run("SOURCE mutation "+f.Name, func(t *testing.T) {
				res := call(t, source, "mutation", f)
				if hdMutationRoles[f.Name] {
					if forbidden(res) {
						t.Errorf("a SOURCE key may call %s: %+v", f.Name, res.Errors)
					}
				} else if len(res.Errors) != 1 || res.Errors[0].Code() != "FORBIDDEN" {
					t.Errorf("HTTP %d %+v, want one FORBIDDEN", res.Status, res.Errors)
				}
			})
		}
		for _, f := range queries {
			t.Run("SOURCE query "+f.Name, func(t *testing.T) {
				res := call(t, source, "query", f)
				if hdQueryRoles[f.Name] {
					if forbidden(res) {
						t.Errorf("a SOURCE key may use %s: %+v", f.Name, res.Errors)
					}
				} else if len(res.Errors) != 1 || res.Errors[0].Code() != "FORBIDDEN" {
					t.Errorf("HTTP %d %+v, want one FORBIDDEN", res.Status, res.Errors)
				}
			})
			t.Run("READ_ONLY query "+f.Name, func(t *testing.T) {
				res := call(t, readOnly, "query", f)
				if hdAdminOnlyQueries[f.Name] {
					if len(res.Errors) != 1 || res.Errors[0].Code() != "FORBIDDEN" {
						t.Errorf("HTTP %d %+v, want one FORBIDDEN", res.Status, res.Errors)
					}
				} else if forbidden(res) {
					t.Errorf("a READ_ONLY key may use %s: %+v", f.Name, res.Errors)
				}
			})
		}
		if after := Fingerprint(t, s); after != before {
			t.Errorf("refused calls changed the database:\n%s", hdDiff(before, after))
		}

		// ADMIN: never FORBIDDEN (the made-up ids answer NOT_FOUND and the
		// like). Last, as these may write.
		for _, f := range mutations {
			t.Run("ADMIN mutation "+f.Name, func(t *testing.T) {
				res := call(t, h.AdminKey, "mutation", f)
				t.Logf("ADMIN %s: %s", f.Name, hdCodes(res))
				if forbidden(res) {
					t.Errorf("ADMIN refused %s: %+v", f.Name, res.Errors)
				}
			})
		}
		for _, f := range queries {
			t.Run("ADMIN query "+f.Name, func(t *testing.T) {
				if res := call(t, h.AdminKey, "query", f); forbidden(res) {
					t.Errorf("ADMIN refused %s: %+v", f.Name, res.Errors)
				}
			})
		}

		// Revocation takes effect on the next request.
		for _, role := range []string{"READ_ONLY", "SOURCE", "ADMIN"} {
			t.Run("revoked "+role, func(t *testing.T) {
				h := h.with(t)
				var sourceID any
				if role == "SOURCE" {
					sourceID = src.CreateSource.ID
				}
				id, secret := newKey(role, sourceID)
				if res := h.Do(Request{Key: secret, Query: `{ viewer { role } }`}); res.Status != http.StatusOK || len(res.Errors) > 0 {
					t.Fatalf("live key: HTTP %d %+v", res.Status, res.Errors)
				}
				h.Query(`mutation($id: ID!) { revokeApiKey(id: $id) { revokedAt } }`, map[string]any{"id": id}, nil)
				for _, q := range []string{`{ viewer { role } }`, `mutation { importOrder(input: {channel: "x", orderNumber: "REV", paymentStatus: PAID,
					shipTo: {line1: "1", city: "c", postalCode: "1", country: "US"}, lines: [{sku: "A", quantity: 1, unitPrice: "1"}]}) { id } }`} {
					res := h.Do(Request{Key: secret, Query: q})
					if res.Status != http.StatusUnauthorized || hdCodes(res) != "UNAUTHENTICATED" {
						t.Errorf("revoked key: HTTP %d %s, want 401 UNAUTHENTICATED", res.Status, hdCodes(res))
					}
					if res.Header.Get("WWW-Authenticate") == "" {
						t.Error("401 without WWW-Authenticate")
					}
				}
				// The admin key is still good (unless it is the one revoked).
				if res := h.Do(Request{Key: h.AdminKey, Query: `{ viewer { role } }`}); len(res.Errors) > 0 {
					t.Errorf("admin key after a revocation: %+v", res.Errors)
				}
			})
		}
		if n, err := s.Client.Order.Query().Where(order.OrderNumber("REV")).Count(tenant.WithSystem(context.Background())); err != nil || n != 0 {
			t.Errorf("a revoked key imported %d orders (%v)", n, err)
		}
	})
}

// hdDiff lists the lines of b not in a and of a not in b.
func hdDiff(a, b string) string {
	in := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, l := range strings.Split(s, "\n") {
			m[l] = true
		}
		return m
	}
	ma, mb := in(a), in(b)
	var out []string
	for l := range mb {
		if !ma[l] {
			out = append(out, "+ "+l)
		}
	}
	for l := range ma {
		if !mb[l] {
			out = append(out, "- "+l)
		}
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}

// hdHygiene is CheckHygiene with the names of the fields called taken out of
// the messages first: "markFulfillmentRequestAcknowledged" holds "stack".
func hdHygiene(res *Result, names ...string) error {
	c := *res
	c.Errors = make([]Error, len(res.Errors))
	for i, e := range res.Errors {
		for _, n := range names {
			e.Message = strings.ReplaceAll(e.Message, n, "<field>")
		}
		c.Errors[i] = e
	}
	return CheckHygiene(&c)
}
