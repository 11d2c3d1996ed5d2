package db

import (
	"context"

	entsql "entgo.io/ent/dialect/sql"

	"github.com/frsvc/fulfillment/ent"
	"github.com/frsvc/fulfillment/ent/account"
	"github.com/frsvc/fulfillment/ent/inventoryitem"
	"github.com/frsvc/fulfillment/ent/predicate"
	"github.com/frsvc/fulfillment/internal/tenant"
)

// LockInventory locks the inventory rows matching ps for the rest of the
// transaction, in ascending id order. Every operation that changes stock
// (reserving, releasing, setting quantities) calls it first for all the rows
// it may change, so that two operations wait for each other instead of each
// holding a row the other wants: one global lock order, no deadlock. Rows
// the transaction already holds are taken again at no cost.
//
// Only PostgreSQL has row locks; SQLite's single writer needs none, and
// LockInventory does nothing there. The lock is FOR NO KEY UPDATE, the lock
// an UPDATE of the row takes anyway.
func (s *Store) LockInventory(ctx context.Context, tx *ent.Tx, ps ...predicate.InventoryItem) error {
	return LockInventory(ctx, tx, s.Postgres(), ps...)
}

// LockInventory is Store.LockInventory for a caller that knows the dialect
// but not the store.
func LockInventory(ctx context.Context, tx *ent.Tx, postgres bool, ps ...predicate.InventoryItem) error {
	if !postgres {
		return nil
	}
	// A partner's narrowing would hide rows it may still change (a SOURCE
	// key cancelling its request releases stock); the account confinement
	// stays.
	ctx = tenant.WithoutSource(ctx)
	_, err := tx.InventoryItem.Query().Where(ps...).Unique(false).
		Order(ent.Asc(inventoryitem.FieldID)).
		Modify(func(sel *entsql.Selector) { sel.For(entsql.LockNoKeyUpdate) }).
		IDs(ctx)
	return err
}

// LockAccount locks the account's row for the rest of the transaction, on
// PostgreSQL (FOR NO KEY UPDATE, which rows referring to the account do not
// wait for); SQLite's single writer needs no lock. It serialises changes
// that count the account's rows before they change one, such as revoking an
// ADMIN key only while another stays active.
func LockAccount(ctx context.Context, tx *ent.Tx, postgres bool, id int) error {
	if !postgres {
		return nil
	}
	_, err := tx.Account.Query().Where(account.ID(id)).
		Modify(func(sel *entsql.Selector) { sel.For(entsql.LockNoKeyUpdate) }).
		IDs(ctx)
	return err
}
