package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// RoutingGroup is an ordered rule set over a set of member sources. Exactly
// one group per account is the default; a partial unique index guards it.
type RoutingGroup struct {
	ent.Schema
}

// Mixin of RoutingGroup.
func (RoutingGroup) Mixin() []ent.Mixin { return []ent.Mixin{TenantMixin{}, TimeMixin{}} }

// Fields of RoutingGroup.
func (RoutingGroup) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty().Annotations(entgql.OrderField("NAME")),
		field.Int("position").Default(0).Annotations(entgql.OrderField("POSITION")),
		field.Bool("is_default").Default(false),
		field.Strings("ship_to_countries").Optional().Default([]string{}),
		field.Strings("rules").Default([]string{}).Annotations(entgql.Skip()),
		field.Bool("allow_line_split").Default(false),
	}
}

// Edges of RoutingGroup.
func (RoutingGroup) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("members", RoutingGroupMember.Type),
		edge.To("fulfillment_requests", FulfillmentRequest.Type).Annotations(entgql.Skip()),
	}
}

// Indexes of RoutingGroup.
func (RoutingGroup) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("account_id").Unique().StorageKey("routinggroup_one_default").
			Annotations(entsql.IndexWhere("is_default")),
	}
}

// Annotations of RoutingGroup.
func (RoutingGroup) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.QueryField().Directives(rootConnection(operators...)...), entgql.RelayConnection()}
}

// RoutingGroupMember puts a source in a group with a priority (1 = most
// preferred) and an eligibility switch.
type RoutingGroupMember struct {
	ent.Schema
}

// Mixin of RoutingGroupMember.
func (RoutingGroupMember) Mixin() []ent.Mixin { return []ent.Mixin{TenantMixin{}} }

// Fields of RoutingGroupMember.
func (RoutingGroupMember) Fields() []ent.Field {
	return []ent.Field{
		field.Int("group_id").Immutable(),
		field.Int("source_id").Immutable(),
		field.Int("priority").Range(1, 999),
		field.Bool("eligible").Default(true),
	}
}

// Edges of RoutingGroupMember.
func (RoutingGroupMember) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("group", RoutingGroup.Type).Ref("members").Field("group_id").Unique().Required().Immutable(),
		edge.From("source", Source.Type).Ref("memberships").Field("source_id").Unique().Required().Immutable(),
	}
}

// Indexes of RoutingGroupMember.
func (RoutingGroupMember) Indexes() []ent.Index {
	return []ent.Index{index.Fields("group_id", "source_id").Unique()}
}

// Annotations of RoutingGroupMember.
func (RoutingGroupMember) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipWhereInput, entgql.SkipOrderField)}
}
