package sender_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/frsvc/fulfillment/internal/app"
	"github.com/frsvc/fulfillment/internal/e2e"
	"github.com/frsvc/fulfillment/internal/frstatus"
	"github.com/frsvc/fulfillment/internal/tenant"
	"github.com/frsvc/fulfillment/internal/testdb"
)

// TestLoop runs the send loop as the server does (system context, a
// ticker) until a queued request is delivered, then stops it.
func TestLoop(t *testing.T) {
	testdb.Each(t, func(t *testing.T, a *app.App) {
		s := a.Store
		w := newWorld(t, e2e.New(t, a))
		rcv := newReceiver(t, secret, nil)
		id := w.queued(w.httpSource("LOOP", rcv, nil))
		r := newRunner(s, nil, "loop")

		// Interval 0 is "off": Loop returns at once.
		off := make(chan struct{})
		go func() { r.Loop(context.Background(), 0, tenant.WithSystem); close(off) }()
		select {
		case <-off:
		case <-time.After(5 * time.Second):
			t.Fatal("Loop with interval 0 did not return")
		}

		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { r.Loop(ctx, 20*time.Millisecond, tenant.WithSystem); close(done) }()
		testdb.WaitFor(t, 10*time.Second, 10*time.Millisecond, func() bool { return w.get(id).Status == frstatus.Processed },
			func() string { return fmt.Sprintf("not delivered by the loop: %s", w.get(id).Status) })
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("Loop did not stop")
		}
		if got := rcv.deliveries(); len(got) != 1 {
			t.Errorf("%d deliveries, want 1", len(got))
		}
		rcv.checkSigned(t)
	})
}
