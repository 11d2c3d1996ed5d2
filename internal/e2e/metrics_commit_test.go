package e2e

import (
	"testing"

	"github.com/frsvc/fulfillment/internal/app"
	"github.com/frsvc/fulfillment/internal/testdb"
)

// TestTransitionMetricCountsCommittedOnly: a regenerate that cannot route
// rolls back the void of the request it replaces, and the transition metric
// does not count that void (it once showed UNPROCESSED→VOIDED 2 after two
// failed regenerates, for requests that were never voided). A committed
// void is counted once.
func TestTransitionMetricCountsCommittedOnly(t *testing.T) {
	testdb.Each(t, func(t *testing.T, a *app.App) {
		k := newKit(t, a)
		s1 := k.source("S1", nil)
		k.stock(s1, "A", 10, "1")
		k.group("G", []string{"LOWEST_COST"}, nil, s1)
		o := k.order("MC-1", "PAID", kitLine{"A", 1})
		frs := k.generate(o.ID).FulfillmentRequests
		if len(frs) != 1 {
			t.Fatalf("generate: %+v", frs)
		}
		before := CounterValue(t, k.App, "fulfillment_fr_transitions_total", map[string]string{"from": "UNPROCESSED", "to": "VOIDED"})
		for range 2 {
			res := k.try(kitRegenerateMutation, map[string]any{"id": frs[0].ID, "reason": "move", "ex": true})
			if code := kitCode(t, res); code != "ROUTING_FAILED" {
				t.Fatalf("regenerate excluding the only source: code %q, want ROUTING_FAILED: %+v", code, res.Errors)
			}
		}
		if got := k.fr(frs[0].ID).Status; got != "UNPROCESSED" {
			t.Fatalf("after failed regenerates the request is %s, want UNPROCESSED", got)
		}
		if got := CounterValue(t, k.App, "fulfillment_fr_transitions_total", map[string]string{"from": "UNPROCESSED", "to": "VOIDED"}) - before; got != 0 {
			t.Errorf("failed regenerates counted %v UNPROCESSED→VOIDED transitions, want 0", got)
		}
		k.must("void", frs[0].ID, nil)
		if got := CounterValue(t, k.App, "fulfillment_fr_transitions_total", map[string]string{"from": "UNPROCESSED", "to": "VOIDED"}) - before; got != 1 {
			t.Errorf("a committed void counted %v, want 1", got)
		}
	})
}
