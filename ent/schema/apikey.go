package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// ApiKey is a bearer credential. Only a SHA-256 hash of the secret is stored;
// the prefix lets an operator recognise a key without revealing it.
type ApiKey struct {
	ent.Schema
}

// Mixin of ApiKey.
func (ApiKey) Mixin() []ent.Mixin { return []ent.Mixin{TenantMixin{}, TimeMixin{}} }

// Fields of ApiKey.
func (ApiKey) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty(),
		field.Enum("role").Values("ADMIN", "SOURCE", "READ_ONLY").Annotations(entgql.Type("ApiKeyRole")),
		field.Int("source_id").Optional().Nillable().Immutable(),
		field.String("prefix").Immutable(),
		field.String("hash").Immutable().Sensitive().Unique().Annotations(entgql.Skip()),
		field.Time("revoked_at").Optional().Nillable(),
		// Refreshed by authentication at most once a minute per key.
		field.Time("last_used_at").Optional().Nillable().Annotations(entgql.Skip(entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput)),
	}
}

// Edges of ApiKey.
func (ApiKey) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("source", Source.Type).Ref("api_keys").Field("source_id").Unique().Immutable(),
	}
}

// Indexes of ApiKey.
func (ApiKey) Indexes() []ent.Index { return []ent.Index{index.Fields("account_id", "created_at")} }

// Annotations of ApiKey.
func (ApiKey) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.Skip(entgql.SkipWhereInput, entgql.SkipOrderField),
		// The account's keys, for ADMIN keys only.
		entgql.RelayConnection(), entgql.QueryField("apiKeys").Directives(allow(roleAdmin)),
	}
}
