package e2e

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/frsvc/fulfillment/internal/app"
	"github.com/frsvc/fulfillment/internal/apperr"
	"github.com/frsvc/fulfillment/internal/auth"
	"github.com/frsvc/fulfillment/internal/testdb"
)

// TestCancelOrderRacesSendClaim: a send run claims a PROCESSING request
// (setting its lease, not its version) after cancelOrder read it unleased
// but before cancelOrder's void writes it. The void must not go through:
// the run is about to deliver the request, and a request voided unreached
// gets no cancellation notice, so the source would ship a canceled order.
// cancelOrder answers CONFLICT instead, and the request keeps its lease.
// PostgreSQL only: SQLite runs write transactions one at a time, so the
// claim cannot fall between the read and the write.
func TestCancelOrderRacesSendClaim(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, a *app.App) {
		if !a.Store.Postgres() {
			t.Skip("SQLite's write transactions are serial")
		}
		h := hdNew(t, a, nil)
		frID := ssProcessing(h, "RACE", ssServer(t, http.StatusOK, `{"acknowledged": true}`), 3)
		var fr struct {
			Node struct{ Order struct{ ID string } }
		}
		h.Query(`query($id: ID!) { node(id: $id) { ... on FulfillmentRequest { order { id } } } }`, map[string]any{"id": frID}, &fr)
		orderID, _ := strconv.Atoi(fr.Node.Order.ID)
		id, _ := strconv.Atoi(frID)
		ctx := context.Background()

		// The "claim": the lease written under a row lock, not yet committed.
		claim, err := a.Store.DB.BeginTx(ctx, nil)
		testdb.Must(t, err)
		defer func() { _ = claim.Rollback() }()
		_, err = claim.ExecContext(ctx, `UPDATE fulfillment_requests SET lease_holder = 'other-run/1', lease_expires_at = $1 WHERE id = $2`,
			time.Now().Add(time.Hour), id)
		testdb.Must(t, err)

		done := make(chan error, 1)
		go func() {
			_, err := a.Fulfillment.CancelOrder(auth.WithPrincipal(ctx, h.Principal(h.AdminKey)), orderID, "customer changed their mind")
			done <- err
		}()
		// Wait until cancelOrder has read the request and waits on its row.
		for {
			var waiting int
			testdb.Must(t, a.Store.DB.QueryRowContext(ctx,
				`SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting))
			if waiting > 0 {
				break
			}
			select {
			case err := <-done:
				t.Fatalf("cancelOrder ended before the claim committed: %v", err)
			case <-time.After(10 * time.Millisecond):
			}
		}
		testdb.Must(t, claim.Commit())
		err = <-done
		if apperr.CodeOf(err) != apperr.Conflict {
			t.Errorf("cancelOrder with the request claimed meanwhile: %v, want CONFLICT", err)
		}
		var st struct {
			Node struct {
				Status string
				Order  struct{ Status string }
			}
		}
		h.Query(`query($id: ID!) { node(id: $id) { ... on FulfillmentRequest { status order { status } } } }`, map[string]any{"id": frID}, &st)
		if st.Node.Status != "PROCESSING" || st.Node.Order.Status != "OPEN" {
			t.Errorf("after the race: request %s, order %s; want PROCESSING and OPEN", st.Node.Status, st.Node.Order.Status)
		}
	})
}
