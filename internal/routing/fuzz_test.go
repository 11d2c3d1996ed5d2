package routing

import (
	"context"
	"testing"

	"github.com/frsvc/fulfillment/internal/money"
)

// FuzzRoute decodes bytes into a small snapshot and checks that Route never
// panics and that every plan it returns is consistent, covers each line
// exactly and stays within stock. The seeds run under plain go test.
func FuzzRoute(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{3, 2, 4, 1, 1, 7, 9, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12})
	f.Add([]byte{5, 3, 5, 2, 0, 255, 17, 3, 3, 3, 1, 0, 9, 9, 9, 4, 4, 4, 2, 2, 2, 8, 7, 6, 5, 4, 3, 2, 1})
	f.Add([]byte{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1})
	f.Add([]byte{4, 3, 5, 2, 0x81, 0x42, 0x23, 0x14, 0x95, 0x06, 0x77, 0x38, 0x19, 0xaa, 0x5b, 0x3c, 0x2d, 0x7e, 0x0f,
		0x10, 0x91, 0x62, 0x33, 0x44, 0x55, 0x66, 0x17, 0x28, 0x39, 0x4a, 0x5b, 0x6c, 0x7d, 0x8e, 0x9f})
	f.Fuzz(func(t *testing.T, data []byte) {
		s, o := decodeSnapshot(data)
		d := Route(context.Background(), s, o)
		checkPlanInvariants(t, s, d)
	})
}

// decodeSnapshot reads the bytes as small numbers; running out gives zeros.
func decodeSnapshot(data []byte) (Snapshot, Options) {
	pos := 0
	next := func(n int) int {
		if pos >= len(data) {
			return 0
		}
		b := int(data[pos])
		pos++
		return b % n
	}
	var s Snapshot
	s.Order = Order{Status: []string{"OPEN", "OPEN", "OPEN", "ON_HOLD", "CLOSED", "X"}[next(6)],
		PaymentStatus: []string{"PAID", "DEFERRED", "PAID", "PENDING"}[next(4)], Country: []string{"US", "CA"}[next(2)]}
	nSrc, nSku, nLines := 1+next(5), 1+next(3), 1+next(5)
	skus := []string{"A", "B", "C"}[:nSku]
	for i := 0; i < nSrc; i++ {
		src := Source{ID: 1 + next(9), Code: "S", Enabled: next(8) > 0,
			DropshipFee: money.Amount(next(4)) * 2500, ShippingBaseCost: money.Amount(next(5)-1) * 2500,
			ShippingPerUnitCost: money.Amount(next(3)) * 2500}
		if next(4) == 0 {
			src.ShipsTo = []string{"CA"}
		}
		s.Sources = append(s.Sources, src)
		for _, sku := range skus {
			if next(5) > 0 {
				s.Inventory = append(s.Inventory, Stock{SourceID: src.ID, SKU: sku, Available: next(8) - 1,
					UnitCost: money.Amount(next(6)) * 5000})
			}
		}
	}
	for l := 0; l < nLines; l++ {
		s.Order.Lines = append(s.Order.Lines, Line{ID: 1 + next(6), SKU: skus[next(nSku)], Unallocated: next(5)})
	}
	rules := []Rule{SingleRequestRequired, SingleRequestPreferred, FewestRequests, LowestCost, SourcePriority, "?"}
	for g := 0; g < 1+next(2); g++ {
		grp := Group{ID: 1 + next(4), Position: next(3), IsDefault: next(2) == 0, AllowLineSplit: next(2) == 0}
		for r := next(4); r > 0; r-- {
			grp.Rules = append(grp.Rules, rules[next(len(rules))])
		}
		if next(5) == 0 {
			grp.ShipToCountries = []string{"CA"}
		}
		for _, src := range s.Sources {
			grp.Members = append(grp.Members, Member{SourceID: src.ID, Priority: 1 + next(3), Eligible: next(6) > 0})
		}
		s.Groups = append(s.Groups, grp)
	}
	o := Options{MaxNodes: []int{0, 0, 3, 50}[next(4)], LowStockThreshold: next(3) - 1}
	if next(6) == 0 {
		o.GroupID = 1 + next(4)
	}
	return s, o
}
