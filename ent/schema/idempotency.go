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
// Idempotency-Key: the request's hash, the lease of the request running it
// and, once done, the answer to replay.
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
		// The lease of a request in progress: the one request, in one
		// process, that holds the key, until lease_expires_at (a little past
		// the request timeout). A retry finding the lease expired takes it
		// over, since the process holding it died mid-request. Cleared once
		// the request completes; empty on records written before leases,
		// whose lease ends one lease length after created_at.
		field.String("lease_holder").Optional().Nillable(),
		field.Time("lease_expires_at").Optional().Nillable(),
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
