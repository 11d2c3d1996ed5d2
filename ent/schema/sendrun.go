package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// SendRun is the last send run of an account: one row per account, written
// when a run starts and again when it ends, so that every replica (they
// share the database) can say how the last run went, whichever ran it.
type SendRun struct {
	ent.Schema
}

// Mixin of SendRun.
func (SendRun) Mixin() []ent.Mixin { return []ent.Mixin{TenantMixin{}} }

// Fields of SendRun.
func (SendRun) Fields() []ent.Field {
	return []ent.Field{
		// The run's own token: its end is written only over its own start,
		// not over a later run's (another replica's) that began meanwhile.
		field.String("run").Annotations(entgql.Skip()),
		field.Time("started_at"),
		// Null while the run is going (or when its process died mid-run).
		field.Time("finished_at").Optional().Nillable(),
		field.Int("claimed").Default(0),
		field.Int("processed").Default(0),
		field.Int("acknowledged").Default(0),
		field.Int("failed").Default(0),
		field.Int("retried").Default(0),
		field.Int("notices").Default(0),
		field.Int("notices_failed").Default(0),
		field.Bool("complete").Default(false),
		// The run's error, when it ended with one.
		field.String("error").Optional().Nillable(),
	}
}

// Indexes of SendRun.
func (SendRun) Indexes() []ent.Index {
	// One row per account (beside the mixin's plain index of the column).
	return []ent.Index{index.Fields("account_id").Unique().StorageKey("sendrun_account_id_unique")}
}

// Annotations of SendRun.
func (SendRun) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}
