package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/frsvc/fulfillment/internal/frstatus"
)

// FulfillmentRequest asks one source to ship part of one order. The cost
// fields are a snapshot taken when it was made.
type FulfillmentRequest struct {
	ent.Schema
}

// Mixin of FulfillmentRequest.
func (FulfillmentRequest) Mixin() []ent.Mixin { return []ent.Mixin{TenantMixin{}, TimeMixin{}} }

// Fields of FulfillmentRequest.
func (FulfillmentRequest) Fields() []ent.Field {
	return []ent.Field{
		field.String("number").NotEmpty().Annotations(entgql.OrderField("NUMBER")),
		field.Int("sequence").Immutable().Annotations(entgql.Skip()),
		field.Int("order_id").Immutable(),
		field.Int("source_id").Immutable(),
		field.Int("routing_group_id").Optional().Nillable().Immutable(),
		field.Enum("origin").Values("CREATED", "GENERATED", "REGENERATED").Immutable(),
		field.Int("supersedes_id").Optional().Nillable().Immutable(),
		field.Enum("status").GoType(frstatus.Status("")).Default(string(frstatus.Unprocessed)).
			Annotations(entgql.Type("FulfillmentRequestStatus"), entgql.OrderField("STATUS")),
		field.Enum("shipment_status").GoType(frstatus.ShipmentStatus("")).Default(string(frstatus.AwaitingShipment)).
			Annotations(entgql.Type("ShipmentStatus")),
		immutableMoneyField("item_cost"),
		immutableMoneyField("dropship_fee"),
		immutableMoneyField("shipping_cost"),
		immutableMoneyField("total_cost", "TOTAL_COST"),
		field.String("confirmation_number").Optional().Nillable(),
		field.String("failure_reason").Optional().Nillable(),
		field.String("cancel_reason").Optional().Nillable(),
		field.String("void_reason").Optional().Nillable(),
		field.Int("attempts").Default(0),
		field.Time("next_attempt_at").Optional().Nillable(),
		field.String("lease_holder").Optional().Nillable().Annotations(entgql.Skip()),
		field.Time("lease_expires_at").Optional().Nillable().Annotations(entgql.Skip()),
		field.Time("processing_at").Optional().Nillable(),
		field.Time("processed_at").Optional().Nillable(),
		field.Time("acknowledged_at").Optional().Nillable(),
		field.Time("failed_at").Optional().Nillable(),
		field.Time("canceled_at").Optional().Nillable(),
		field.Time("voided_at").Optional().Nillable(),
		field.Time("shipped_at").Optional().Nillable(),
		field.Bool("commits_stock").Default(false).Immutable().Annotations(entgql.Skip()).
			Comment("Whether the request reserved stock when made; release follows what was reserved."),
		field.Bool("cancellation_notice_pending").Default(false).
			Comment("A void after the source had the request queues a cancellation notice to its connector."),
		field.Int("version").Default(1),
	}
}

// Edges of FulfillmentRequest.
func (FulfillmentRequest) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("order", Order.Type).Ref("fulfillment_requests").Field("order_id").Unique().Required().Immutable(),
		edge.From("source", Source.Type).Ref("fulfillment_requests").Field("source_id").Unique().Required().Immutable(),
		edge.From("routing_group", RoutingGroup.Type).Ref("fulfillment_requests").Field("routing_group_id").Unique().Immutable(),
		edge.To("superseded_by", FulfillmentRequest.Type).From("supersedes").Field("supersedes_id").Unique().Immutable(),
		edge.To("items", FulfillmentRequestItem.Type),
		edge.To("shipments", Shipment.Type),
		edge.To("logs", FulfillmentLog.Type).Annotations(entgql.RelayConnection(), operatorFilteredEdge()),
	}
}

// Indexes of FulfillmentRequest.
func (FulfillmentRequest) Indexes() []ent.Index {
	return []ent.Index{
		// Numbers are unique per account, except on requests parked as
		// DUPLICATE_NUMBER, which keep the clashing number for the operator.
		index.Fields("account_id", "number").Unique().StorageKey("fulfillmentrequest_unique_number").
			Annotations(entsql.IndexWhere("status <> 'DUPLICATE_NUMBER'")),
		index.Fields("account_id", "status"),
		index.Fields("status", "next_attempt_at"),
		index.Fields("order_id"),
		index.Fields("source_id", "status"),
		// Edges are loaded for a page of parents with "<fk> IN (…) AND
		// account_id = ?" (the tenant filter): an index that leads with
		// account_id and holds the foreign key serves both terms, where the
		// mixin's account_id index alone would scan the whole account.
		index.Fields("account_id", "order_id"),
	}
}

// Annotations of FulfillmentRequest.
func (FulfillmentRequest) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.QueryField().Directives(rootConnection(roleAdmin, roleReadOnly, roleSource)...), entgql.RelayConnection()}
}

// FulfillmentRequestItem is one order line's share in a request.
type FulfillmentRequestItem struct {
	ent.Schema
}

// Mixin of FulfillmentRequestItem.
func (FulfillmentRequestItem) Mixin() []ent.Mixin { return []ent.Mixin{TenantMixin{}} }

// Fields of FulfillmentRequestItem.
func (FulfillmentRequestItem) Fields() []ent.Field {
	return []ent.Field{
		field.Int("fulfillment_request_id").Immutable(),
		field.Int("order_line_id").Immutable(),
		field.String("sku").Immutable(),
		field.Int("quantity").Positive().Immutable(),
		immutableMoneyField("unit_cost"),
		field.Int("acknowledged_quantity").Default(0).NonNegative(),
		field.Int("shipped_quantity").Default(0).NonNegative(),
		field.Int("canceled_quantity").Default(0).NonNegative(),
	}
}

// Edges of FulfillmentRequestItem.
func (FulfillmentRequestItem) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("fulfillment_request", FulfillmentRequest.Type).Ref("items").Field("fulfillment_request_id").Unique().Required().Immutable(),
		edge.From("order_line", OrderLine.Type).Ref("fulfillment_request_items").Field("order_line_id").Unique().Required().Immutable(),
		edge.To("shipment_items", ShipmentItem.Type).Annotations(entgql.Skip()),
	}
}

// Indexes of FulfillmentRequestItem.
func (FulfillmentRequestItem) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("fulfillment_request_id"),
		index.Fields("order_line_id"),
		// The page of a request's items: see FulfillmentRequest's indexes.
		index.Fields("account_id", "fulfillment_request_id"),
	}
}

// Annotations of FulfillmentRequestItem.
func (FulfillmentRequestItem) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipWhereInput, entgql.SkipOrderField)}
}
