package sender_test

import (
	"context"
	"testing"

	"github.com/frsvc/fulfillment/internal/sender"
)

// TestShutdownIdle: with no run in progress there is nothing to wait for,
// so Shutdown succeeds even with a context that has already ended, as
// App.Close's is once Serve has spent the grace. It used to race its own
// waiter against the ended context and report runs "still in progress" at
// about every other idle shutdown.
func TestShutdownIdle(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for i := range 200 {
		var r sender.Runner
		if err := r.Shutdown(ctx); err != nil {
			t.Fatalf("shutdown %d of an idle runner: %v", i, err)
		}
	}
}
