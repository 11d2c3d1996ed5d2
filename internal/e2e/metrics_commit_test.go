package e2e

import (
	"testing"

	"github.com/frsvc/fulfillment/internal/app"
	"github.com/frsvc/fulfillment/internal/testdb"
)

// transitionCount is fulfillment_fr_transitions_total{from, to} of the app.
func transitionCount(t testing.TB, a *app.App, from, to string) float64 {
	t.Helper()
	mfs, err := a.Metrics.Registry.Gather()
	testdb.Must(t, err)
	var n float64
	for _, mf := range mfs {
		if mf.GetName() != "fulfillment_fr_transitions_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["from"] == from && labels["to"] == to {
				n += m.GetCounter().GetValue()
			}
		}
	}
	return n
}

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
		before := transitionCount(t, k.App, "UNPROCESSED", "VOIDED")
		for range 2 {
			res := k.try(kitRegenerateMutation, map[string]any{"id": frs[0].ID, "reason": "move", "ex": true})
			if code := kitCode(t, res); code != "ROUTING_FAILED" {
				t.Fatalf("regenerate excluding the only source: code %q, want ROUTING_FAILED: %+v", code, res.Errors)
			}
		}
		if got := k.fr(frs[0].ID).Status; got != "UNPROCESSED" {
			t.Fatalf("after failed regenerates the request is %s, want UNPROCESSED", got)
		}
		if got := transitionCount(t, k.App, "UNPROCESSED", "VOIDED") - before; got != 0 {
			t.Errorf("failed regenerates counted %v UNPROCESSED→VOIDED transitions, want 0", got)
		}
		k.must("void", frs[0].ID, nil)
		if got := transitionCount(t, k.App, "UNPROCESSED", "VOIDED") - before; got != 1 {
			t.Errorf("a committed void counted %v, want 1", got)
		}
	})
}
