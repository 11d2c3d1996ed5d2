package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// Source is a supplier or warehouse that ships orders. The strategy_* fields
// override the account's number strategy one by one when set; connector_*
// fields say how fulfillment requests reach the source.
type Source struct {
	ent.Schema
}

// Mixin of Source.
func (Source) Mixin() []ent.Mixin { return []ent.Mixin{TenantMixin{}, TimeMixin{}} }

// Fields of Source.
func (Source) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty().Annotations(entgql.OrderField("NAME")),
		field.String("code").NotEmpty().Annotations(entgql.OrderField("CODE")),
		field.Bool("enabled").Default(true),
		moneyField("dropship_fee"),
		moneyField("shipping_base_cost"),
		moneyField("shipping_per_unit_cost"),
		field.Strings("ships_to").Optional().Default([]string{}).Comment("ISO 3166-1 alpha-2 codes; empty means anywhere."),
		field.Bool("commit_stock").Default(true),
		field.String("strategy_number_template").Optional().Nillable().Annotations(entgql.Skip()),
		field.Int("strategy_max_number_length").Optional().Nillable().Annotations(entgql.Skip()),
		field.Bool("strategy_auto_process").Optional().Nillable().Annotations(entgql.Skip()),
		field.Enum("connector_kind").Values("MANUAL", "HTTP", "FILE").Default("MANUAL").Annotations(entgql.Skip()),
		field.String("connector_url").Optional().Annotations(entgql.Skip()),
		field.String("connector_secret").Optional().Sensitive().Annotations(entgql.Skip()),
		field.Int("connector_timeout_seconds").Default(10).Annotations(entgql.Skip()),
		field.String("connector_directory").Optional().Annotations(entgql.Skip()),
		field.Enum("connector_format").Values("CSV", "JSON").Default("JSON").Annotations(entgql.Skip()),
		field.Int("connector_max_attempts").Default(5).Annotations(entgql.Skip()),
	}
}

// Edges of Source.
func (Source) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("inventory_items", InventoryItem.Type).Annotations(entgql.RelayConnection(), operatorFilteredEdge()),
		edge.To("fulfillment_requests", FulfillmentRequest.Type).Annotations(entgql.RelayConnection(), operatorFilteredEdge()),
		edge.To("memberships", RoutingGroupMember.Type).Annotations(entgql.Skip()),
		edge.To("api_keys", ApiKey.Type).Annotations(entgql.Skip()),
	}
}

// Indexes of Source.
func (Source) Indexes() []ent.Index {
	return []ent.Index{index.Fields("account_id", "code").Unique()}
}

// Annotations of Source.
func (Source) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.QueryField().Directives(rootConnection(operators...)...), entgql.RelayConnection()}
}
