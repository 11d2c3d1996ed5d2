package schema

import (
	"context"
	"errors"
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// FulfillmentLog is one append-only entry of the trail an operator reads:
// what happened to an order or request, by whom, under which correlation id.
type FulfillmentLog struct {
	ent.Schema
}

// Mixin of FulfillmentLog.
func (FulfillmentLog) Mixin() []ent.Mixin { return []ent.Mixin{TenantMixin{}} }

// Fields of FulfillmentLog.
func (FulfillmentLog) Fields() []ent.Field {
	return []ent.Field{
		field.Int("order_id").Optional().Nillable().Immutable(),
		field.Int("fulfillment_request_id").Optional().Nillable().Immutable(),
		field.String("correlation_id").Immutable(),
		field.String("stage").Immutable(),
		field.Enum("level").Values("INFO", "WARN", "ERROR").Default("INFO").Immutable().
			Annotations(entgql.Type("LogLevel")),
		field.Text("message").Immutable(),
		field.JSON("data", map[string]any{}).Optional().Immutable().Annotations(entgql.Type("Map")),
		field.String("actor").Immutable(),
		field.Time("created_at").Default(time.Now).Immutable().Annotations(entgql.OrderField("CREATED_AT")),
	}
}

// Edges of FulfillmentLog.
func (FulfillmentLog) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("order", Order.Type).Ref("logs").Field("order_id").Unique().Immutable(),
		edge.From("fulfillment_request", FulfillmentRequest.Type).Ref("logs").Field("fulfillment_request_id").Unique().Immutable(),
	}
}

// Indexes of FulfillmentLog.
func (FulfillmentLog) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("account_id", "created_at"),
		// Edges are loaded for a page of parents with "<fk> IN (…) AND
		// account_id = ?" (the tenant filter): an index that leads with
		// account_id and holds the foreign key serves both terms, where the
		// mixin's account_id index alone would scan the whole account.
		index.Fields("account_id", "order_id", "created_at"),
		index.Fields("account_id", "fulfillment_request_id", "created_at"),
		index.Fields("correlation_id"),
	}
}

// errAppendOnly refuses any change to a written log entry.
var errAppendOnly = errors.New("fulfillment logs are append-only")

// Hooks make the log append-only.
func (FulfillmentLog) Hooks() []ent.Hook {
	return []ent.Hook{func(next ent.Mutator) ent.Mutator {
		return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
			if !m.Op().Is(ent.OpCreate) {
				return nil, errAppendOnly
			}
			return next.Mutate(ctx, m)
		})
	}}
}

// Annotations of FulfillmentLog.
func (FulfillmentLog) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.QueryField().Directives(rootConnection(operators...)...), entgql.RelayConnection()}
}
