package db

import (
	"context"

	atlas "ariga.io/atlas/sql/schema"
	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/sql/schema"

	atlasmigrate "ariga.io/atlas/sql/migrate"
)

// What ent's automatic migration does not do by itself when the schema
// changes shape: it never drops an index (an operator's own would go too),
// and it adds a column with its default on old rows. The steps below do
// exactly what this schema's history needs, inside the migration's own
// transaction, and nothing when the database is already current.

// retiredIndexes are unique indexes the schema used to have, by table: a
// database created before they were replaced still enforces them, so the
// migration drops them.
var retiredIndexes = map[string][]string{
	// Tracking numbers were unique per account; they are unique per source
	// now (shipment_account_id_source_id_tracking_number).
	"shipments": {"shipment_account_id_tracking_number"},
}

// migrateOptions returns the hooks of one migration run: the diff hook drops
// the retired indexes the database still has and notes whether
// shipments.source_id is new; the apply hook, after the plan ran, fills that
// column in from each shipment's request (0 is the default the column is
// added with; the per-source unique index holds on the zeros because the
// account-wide one held before, and still holds once they are filled in).
func migrateOptions() []schema.MigrateOption {
	backfill := false
	diff := func(next schema.Differ) schema.Differ {
		return schema.DiffFunc(func(current, desired *atlas.Schema) ([]atlas.Change, error) {
			changes, err := next.Diff(current, desired)
			if err != nil {
				return nil, err
			}
			if t, ok := current.Table("shipments"); ok {
				if _, has := t.Column("source_id"); !has {
					backfill = true
				}
			}
			for table, names := range retiredIndexes {
				t, ok := current.Table(table)
				if !ok {
					continue
				}
				var drops []atlas.Change
				for _, name := range names {
					if idx, ok := t.Index(name); ok {
						drops = append(drops, &atlas.DropIndex{I: idx})
					}
				}
				if len(drops) > 0 {
					changes = addTableChanges(changes, t, drops)
				}
			}
			return changes, nil
		})
	}
	apply := func(next schema.Applier) schema.Applier {
		return schema.ApplyFunc(func(ctx context.Context, conn dialect.ExecQuerier, plan *atlasmigrate.Plan) error {
			if err := next.Apply(ctx, conn, plan); err != nil {
				return err
			}
			if !backfill {
				return nil
			}
			return conn.Exec(ctx, `UPDATE shipments SET source_id = (SELECT f.source_id FROM fulfillment_requests f WHERE f.id = shipments.fulfillment_request_id) WHERE source_id = 0`, []any{}, nil)
		})
	}
	return []schema.MigrateOption{schema.WithDiffHook(diff), schema.WithApplyHook(apply)}
}

// addTableChanges appends changes to the ModifyTable of t in changes, or
// adds one.
func addTableChanges(changes []atlas.Change, t *atlas.Table, add []atlas.Change) []atlas.Change {
	for _, c := range changes {
		if m, ok := c.(*atlas.ModifyTable); ok && m.T.Name == t.Name {
			m.Changes = append(add, m.Changes...)
			return changes
		}
	}
	return append(changes, &atlas.ModifyTable{T: t, Changes: add})
}
