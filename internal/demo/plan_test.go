package demo

import (
	"reflect"
	"testing"
	"time"

	"github.com/frsvc/fulfillment/internal/money"
)

// TestPlanIsDeterministic: two plans at the same base time are equal (the
// database half of the check is TestSeedIsDeterministic).
func TestPlanIsDeterministic(t *testing.T) {
	base := time.Date(2025, 3, 14, 9, 30, 0, 0, time.UTC)
	if a, b := newPlan(base, DefaultSupplierURL), newPlan(base, DefaultSupplierURL); !reflect.DeepEqual(a, b) {
		t.Fatal("two plans at the same base time differ")
	}
}

// TestPlanPrices checks the money the planner makes up: exact cents, retail
// prices above every source's cost.
func TestPlanPrices(t *testing.T) {
	p := newPlan(time.Now(), DefaultSupplierURL)
	cost := map[string]money.Amount{}
	for _, items := range p.inventory {
		for _, it := range items {
			if it.UnitCost%100 != 0 || it.UnitCost <= 0 {
				t.Errorf("%s costs %v: want whole positive cents", it.Sku, it.UnitCost)
			}
			cost[it.Sku] = max(cost[it.Sku], it.UnitCost)
		}
	}
	for _, o := range p.orders {
		for _, l := range o.in.Lines {
			if l.UnitPrice <= cost[l.Sku] {
				t.Errorf("%s sells at %v, below its cost %v", l.Sku, l.UnitPrice, cost[l.Sku])
			}
		}
	}
}
