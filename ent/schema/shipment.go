package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// Shipment records goods leaving a source for one fulfillment request.
type Shipment struct {
	ent.Schema
}

// Mixin of Shipment.
func (Shipment) Mixin() []ent.Mixin { return []ent.Mixin{TenantMixin{}, TimeMixin{}} }

// Fields of Shipment.
func (Shipment) Fields() []ent.Field {
	return []ent.Field{
		field.Int("fulfillment_request_id").Immutable(),
		// The request's source, copied so that tracking numbers can be
		// unique per source: another source's numbers are none of its
		// business. 0 only on rows from before the column, which the
		// migration fills in (internal/db).
		field.Int("source_id").Default(0).Immutable().Annotations(entgql.Skip()),
		field.String("tracking_number").NotEmpty().Immutable().Annotations(entgql.OrderField("TRACKING_NUMBER")),
		field.String("carrier").Optional(),
		field.String("method").Optional(),
		field.Time("shipped_at").Annotations(entgql.OrderField("SHIPPED_AT")),
	}
}

// Edges of Shipment.
func (Shipment) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("fulfillment_request", FulfillmentRequest.Type).Ref("shipments").Field("fulfillment_request_id").Unique().Required().Immutable(),
		edge.To("items", ShipmentItem.Type),
	}
}

// Indexes of Shipment.
func (Shipment) Indexes() []ent.Index {
	return []ent.Index{
		// Unique per source. It replaces the account-wide unique index
		// "shipment_account_id_tracking_number", which the migration drops.
		index.Fields("account_id", "source_id", "tracking_number").Unique(),
		index.Fields("fulfillment_request_id"),
		// A request's shipments loaded for a page of requests: see
		// FulfillmentRequest's indexes.
		index.Fields("account_id", "fulfillment_request_id"),
	}
}

// Annotations of Shipment.
func (Shipment) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.QueryField().Directives(rootConnection(roleAdmin, roleReadOnly, roleSource)...), entgql.RelayConnection()}
}

// ShipmentItem is the quantity of one request item in a shipment.
type ShipmentItem struct {
	ent.Schema
}

// Mixin of ShipmentItem.
func (ShipmentItem) Mixin() []ent.Mixin { return []ent.Mixin{TenantMixin{}} }

// Fields of ShipmentItem.
func (ShipmentItem) Fields() []ent.Field {
	return []ent.Field{
		field.Int("shipment_id").Immutable(),
		field.Int("fulfillment_request_item_id").Immutable(),
		field.Int("quantity").Positive().Immutable(),
	}
}

// Edges of ShipmentItem.
func (ShipmentItem) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("shipment", Shipment.Type).Ref("items").Field("shipment_id").Unique().Required().Immutable(),
		edge.From("fulfillment_request_item", FulfillmentRequestItem.Type).Ref("shipment_items").Field("fulfillment_request_item_id").Unique().Required().Immutable(),
	}
}

// Indexes of ShipmentItem.
func (ShipmentItem) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("shipment_id"),
		index.Fields("fulfillment_request_item_id"),
		// A shipment's items loaded for a page of shipments.
		index.Fields("account_id", "shipment_id"),
	}
}

// Annotations of ShipmentItem.
func (ShipmentItem) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipWhereInput, entgql.SkipOrderField)}
}
