package routing

import (
	"context"
	"fmt"
	"math/rand"
	"runtime"
	"sort"
	"testing"
	"time"

	"github.com/frsvc/fulfillment/internal/money"
)

// benchSnapshot generates a realistic large instance: each line a SKU, every
// source carrying about 80% of the SKUs at a price within ±25% of the SKU's
// base price, fees and shipping that make consolidation worth something but
// not everything, and stock that is usually, not always, enough.
func benchSnapshot(r *rand.Rand, nLines, nSources int, rules []Rule, split bool) Snapshot {
	var s Snapshot
	s.Order = Order{Status: "OPEN", PaymentStatus: "PAID", Country: "US"}
	base := make([]money.Amount, nLines)
	for l := range base {
		base[l] = money.Amount(5+r.Intn(95)) * 10000
		s.Order.Lines = append(s.Order.Lines, Line{ID: l + 1, SKU: fmt.Sprintf("SKU-%03d", l), Unallocated: 1 + r.Intn(5)})
	}
	g := Group{ID: 1, Name: "main", IsDefault: true, Rules: rules, AllowLineSplit: split}
	for i := 0; i < nSources; i++ {
		id := 100 + i
		s.Sources = append(s.Sources, Source{ID: id, Code: fmt.Sprintf("S%d", id), Enabled: true,
			DropshipFee:         money.Amount(r.Intn(500)) * 100,
			ShippingBaseCost:    money.Amount(200+r.Intn(800)) * 100,
			ShippingPerUnitCost: money.Amount(r.Intn(200)) * 100})
		g.Members = append(g.Members, Member{SourceID: id, Priority: 1 + r.Intn(10), Eligible: true})
		for l := range base {
			if r.Intn(5) == 0 {
				continue
			}
			price := base[l] * money.Amount(75+r.Intn(51)) / 100
			s.Inventory = append(s.Inventory, Stock{SourceID: id, SKU: fmt.Sprintf("SKU-%03d", l),
				Available: r.Intn(25), UnitCost: price})
		}
	}
	s.Groups = []Group{g}
	return s
}

func BenchmarkRoute(b *testing.B) {
	variants := []struct {
		name  string
		rules []Rule
		split bool
	}{
		{"cost", []Rule{LowestCost}, false},
		{"cost-split", []Rule{LowestCost}, true},
		{"single-then-cost", []Rule{SingleRequestPreferred, LowestCost}, false},
		{"single-then-cost-split", []Rule{SingleRequestPreferred, LowestCost}, true},
	}
	for _, size := range []struct{ lines, sources int }{{5, 10}, {20, 50}, {50, 200}} {
		for _, v := range variants {
			b.Run(fmt.Sprintf("%dx%d/%s", size.lines, size.sources, v.name), func(b *testing.B) {
				r := rand.New(rand.NewSource(int64(size.lines*1000 + size.sources)))
				pool := make([]Snapshot, 50)
				for x := range pool {
					pool[x] = benchSnapshot(r, size.lines, size.sources, v.rules, v.split)
				}
				durs := make([]time.Duration, 0, b.N)
				cpus := make([]time.Duration, 0, b.N)
				optimal := 0
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				b.ReportAllocs()
				b.ResetTimer()
				for x := 0; x < b.N; x++ {
					ctx, cancel := context.WithTimeout(context.Background(), DefaultBudget)
					start, cpu := time.Now(), threadCPU()
					d := Route(ctx, pool[x%len(pool)], Options{})
					cpus = append(cpus, threadCPU()-cpu)
					durs = append(durs, time.Since(start))
					cancel()
					if d.Plan != nil && d.Plan.Optimal {
						optimal++
					}
				}
				b.StopTimer()
				ms := func(d []time.Duration, q int) float64 {
					sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
					return float64(d[(len(d)-1)*q/100]) / float64(time.Millisecond)
				}
				b.ReportMetric(ms(durs, 50), "p50-ms")
				b.ReportMetric(ms(durs, 99), "p99-ms")
				b.ReportMetric(ms(cpus, 50), "cpu-p50-ms")
				b.ReportMetric(ms(cpus, 99), "cpu-p99-ms")
				b.ReportMetric(100*float64(optimal)/float64(b.N), "optimal-%")
			})
		}
	}
}
