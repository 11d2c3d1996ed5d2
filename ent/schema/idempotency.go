package schema

import (
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// IdempotencyRecord remembers a mutation request made with an
// Idempotency-Key: the request's hash and, once done, the answer to replay.
type IdempotencyRecord struct {
	ent.Schema
}

// Mixin of IdempotencyRecord.
func (IdempotencyRecord) Mixin() []ent.Mixin { return []ent.Mixin{TenantMixin{}} }

// Fields of IdempotencyRecord.
func (IdempotencyRecord) Fields() []ent.Field {
	return []ent.Field{
		field.String("key").MaxLen(255).Immutable(),
		field.String("request_hash").Immutable(),
		field.Bool("completed").Default(false),
		field.Int("status_code").Default(0),
		field.Bytes("response").Optional(),
		field.Time("created_at").Default(time.Now).Immutable(),
		field.Time("expires_at"),
	}
}

// Indexes of IdempotencyRecord.
func (IdempotencyRecord) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("account_id", "key").Unique(),
		index.Fields("expires_at"),
	}
}

// Annotations of IdempotencyRecord.
func (IdempotencyRecord) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}
