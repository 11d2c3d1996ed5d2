// Package schema holds the ent schemas of the fulfillment service: every
// entity of DOMAIN.md. Tenancy is enforced here, once, by TenantMixin.
package schema

import (
	"context"
	"errors"
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/sql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"entgo.io/ent/schema/mixin"

	"github.com/frsvc/fulfillment/ent/intercept"
	"github.com/frsvc/fulfillment/internal/money"
	"github.com/frsvc/fulfillment/internal/tenant"
)

// wherer is what every generated query and mutation offers for a generic
// predicate; the tenant filter needs nothing more.
type wherer interface {
	WhereP(...func(*sql.Selector))
}

// errCrossTenant refuses a create that names another account explicitly.
var errCrossTenant = errors.New("tenant: create for another account refused")

// TenantMixin gives an entity its account_id and confines every read and
// write of it to the account in the context (see package tenant). Because the
// filter is a query interceptor, it also applies to edge traversals, eager
// loading and the counts of Relay connections.
type TenantMixin struct {
	mixin.Schema
}

// Fields of the mixin.
func (TenantMixin) Fields() []ent.Field {
	return []ent.Field{
		field.Int("account_id").Immutable().Annotations(entgql.Skip()),
	}
}

// Indexes of the mixin.
func (TenantMixin) Indexes() []ent.Index {
	return []ent.Index{index.Fields("account_id")}
}

// Interceptors of the mixin.
func (TenantMixin) Interceptors() []ent.Interceptor {
	return []ent.Interceptor{tenantFilter("account_id")}
}

// Hooks of the mixin.
func (TenantMixin) Hooks() []ent.Hook {
	return []ent.Hook{tenantHook("account_id", true)}
}

func tenantFilter(column string) ent.Interceptor {
	return ent.TraverseFunc(func(ctx context.Context, q ent.Query) error {
		if tenant.IsSystem(ctx) {
			return nil
		}
		id, ok := tenant.AccountID(ctx)
		if !ok {
			return tenant.ErrMissing
		}
		w, err := intercept.NewQuery(q)
		if err != nil {
			return err
		}
		w.WhereP(sql.FieldEQ(column, id))
		if sourceID, ok := tenant.SourceID(ctx); ok {
			w.WhereP(partnerScope(w.Type(), sourceID))
		}
		return nil
	})
}

// partnerScope narrows a SOURCE key's reads to what concerns its own
// source's requests. A type without a scope here is invisible to partners:
// adding an entity cannot leak it by default.
func partnerScope(typ string, sourceID int) func(*sql.Selector) {
	frsOfSource := func() *sql.Selector {
		return sql.Select("id").From(sql.Table("fulfillment_requests")).Where(sql.EQ("source_id", sourceID))
	}
	ordersOfSource := func() *sql.Selector {
		return sql.Select("order_id").From(sql.Table("fulfillment_requests")).Where(sql.EQ("source_id", sourceID))
	}
	switch typ {
	case "Account":
		return func(*sql.Selector) {}
	case "Source":
		return func(s *sql.Selector) { s.Where(sql.EQ(s.C("id"), sourceID)) }
	case "ApiKey", "FulfillmentRequest":
		return func(s *sql.Selector) { s.Where(sql.EQ(s.C("source_id"), sourceID)) }
	case "FulfillmentRequestItem", "Shipment":
		return func(s *sql.Selector) { s.Where(sql.In(s.C("fulfillment_request_id"), frsOfSource())) }
	case "ShipmentItem":
		return func(s *sql.Selector) {
			s.Where(sql.In(s.C("shipment_id"),
				sql.Select("id").From(sql.Table("shipments")).Where(sql.In("fulfillment_request_id", frsOfSource()))))
		}
	case "Order":
		return func(s *sql.Selector) { s.Where(sql.In(s.C("id"), ordersOfSource())) }
	case "OrderLine":
		// Only the lines the source's requests carry: on an order shared
		// with other sources, their lines are theirs.
		return func(s *sql.Selector) {
			s.Where(sql.In(s.C("id"),
				sql.Select("order_line_id").From(sql.Table("fulfillment_request_items")).Where(sql.In("fulfillment_request_id", frsOfSource()))))
		}
	case "IdempotencyRecord":
		return func(*sql.Selector) {}
	}
	return func(s *sql.Selector) { s.Where(sql.False()) }
}

// tenantHook stamps creates with the caller's account and confines updates
// and deletes to it. setOnCreate is false for Account itself, whose id is the
// tenant.
func tenantHook(column string, setOnCreate bool) ent.Hook {
	return func(next ent.Mutator) ent.Mutator {
		return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
			if tenant.IsSystem(ctx) {
				return next.Mutate(ctx, m)
			}
			id, ok := tenant.AccountID(ctx)
			if !ok {
				return nil, tenant.ErrMissing
			}
			if m.Op().Is(ent.OpCreate) {
				if !setOnCreate {
					return nil, errCrossTenant
				}
				if v, ok := m.Field(column); ok && v != id {
					return nil, errCrossTenant
				}
				if err := m.SetField(column, id); err != nil {
					return nil, err
				}
				return next.Mutate(ctx, m)
			}
			w, ok := m.(wherer)
			if !ok {
				return nil, errors.New("tenant: mutation without WhereP")
			}
			w.WhereP(sql.FieldEQ(column, id))
			return next.Mutate(ctx, m)
		})
	}
}

// TimeMixin stamps creation and update times.
type TimeMixin struct {
	mixin.Schema
	// UpdatedAt are more annotations of updated_at (who may read it).
	UpdatedAt []schema.Annotation
}

// Fields of the mixin.
func (m TimeMixin) Fields() []ent.Field {
	return []ent.Field{
		field.Time("created_at").Default(time.Now).Immutable().
			Annotations(entgql.OrderField("CREATED_AT"), entgql.Skip(entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput)),
		field.Time("updated_at").Default(time.Now).UpdateDefault(time.Now).
			Annotations(append([]schema.Annotation{entgql.OrderField("UPDATED_AT"),
				entgql.Skip(entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput)}, m.UpdatedAt...)...),
	}
}

// moneyField is an exact amount stored as integer ten-thousandths and
// exposed as the Decimal scalar.
func moneyField(name string, orderField ...string) ent.Field {
	return field.Int64(name).GoType(money.Amount(0)).Default(0).Annotations(moneyAnnotations(orderField)...)
}

// immutableMoneyField is moneyField for a snapshot that never changes.
func immutableMoneyField(name string, orderField ...string) ent.Field {
	return field.Int64(name).GoType(money.Amount(0)).Default(0).Immutable().Annotations(moneyAnnotations(orderField)...)
}

func moneyAnnotations(orderField []string) []schema.Annotation {
	out := []schema.Annotation{entgql.Type("Decimal")}
	for _, f := range orderField {
		out = append(out, entgql.OrderField(f))
	}
	return out
}
