package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
)

// Account is a tenant. Its strategy fields are the account-wide default
// number strategy that a source may override field by field.
type Account struct {
	ent.Schema
}

// Mixin of Account.
func (Account) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of Account.
func (Account) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty(),
		field.String("currency").Default("USD").MaxLen(3),
		field.String("number_template").Default("{order}-{seq}").Annotations(entgql.Skip()),
		field.Int("max_number_length").Default(0).NonNegative().Annotations(entgql.Skip()),
		field.Bool("auto_process").Default(false).Annotations(entgql.Skip()),
		field.Bool("generate_on_import").Default(false).
			Comment("Generate fulfillment requests as soon as a paid or deferred order is imported."),
	}
}

// Interceptors confine Account reads to the caller's own account.
func (Account) Interceptors() []ent.Interceptor { return []ent.Interceptor{tenantFilter("id")} }

// Hooks confine Account writes to the caller's own account.
func (Account) Hooks() []ent.Hook { return []ent.Hook{tenantHook("id", false)} }

// Annotations of Account.
func (Account) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipWhereInput, entgql.SkipOrderField)}
}
