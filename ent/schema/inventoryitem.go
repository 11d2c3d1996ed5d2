package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// InventoryItem is what one source reports of one SKU. committed is reserved
// by open fulfillment requests; available = quantity - committed.
type InventoryItem struct {
	ent.Schema
}

// Mixin of InventoryItem.
func (InventoryItem) Mixin() []ent.Mixin { return []ent.Mixin{TenantMixin{}, TimeMixin{}} }

// Fields of InventoryItem.
func (InventoryItem) Fields() []ent.Field {
	return []ent.Field{
		field.Int("source_id").Immutable(),
		field.String("sku").NotEmpty().Immutable().Annotations(entgql.OrderField("SKU")),
		field.Int("quantity").NonNegative().Annotations(entgql.OrderField("QUANTITY")),
		field.Int("committed").Default(0).Annotations(entgql.OrderField("COMMITTED")),
		moneyField("unit_cost", "UNIT_COST"),
	}
}

// Edges of InventoryItem.
func (InventoryItem) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("source", Source.Type).Ref("inventory_items").Field("source_id").Unique().Required().Immutable(),
	}
}

// Indexes of InventoryItem.
func (InventoryItem) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("source_id", "sku").Unique(),
		index.Fields("account_id", "sku"),
		// A source's inventory loaded for a page of sources.
		index.Fields("account_id", "source_id"),
	}
}

// Annotations of InventoryItem.
func (InventoryItem) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.QueryField().Directives(rootConnection(operators...)...), entgql.RelayConnection()}
}
