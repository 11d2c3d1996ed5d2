package main

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"
)

// TestSeedAndCheck exercises the benchmark on a small SQLite data set: seed,
// both servers, the GraphQL vs baseline correctness check, a few requests of
// each load model and the report. It is not a measurement.
func TestSeedAndCheck(t *testing.T) {
	ctx := context.Background()
	e, err := setup(ctx, "sqlite", 60, "", t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	defer e.close()
	if e.seed.Orders != 60 || e.seed.Lines < 120 || e.seed.FRs < 60 || e.seed.Items != e.seed.Lines || e.seed.Logs < 3*(60+e.seed.FRs) {
		t.Fatalf("seeded %s", e.seed)
	}
	c := newClient(5*time.Second, 16)
	defer c.CloseIdleConnections()
	sum, size, err := checkSame(ctx, c, e.ours, e.base)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Orders != pageOrders || size == 0 {
		t.Fatalf("page: %s, %d bytes", sum, size)
	}
	t.Logf("page: %s, %d bytes", sum, size)

	lo := loadOptions{MaxOutstanding: 100, P99Bound: 5 * time.Second}
	rep := dbReport{Kind: "sqlite", Seed: e.seed, Page: sum, PageBytes: size}
	for _, tg := range []target{e.ours, e.base} {
		open := openLoop(ctx, c, tg, 20, 250*time.Millisecond, lo)
		closed := closedLoop(ctx, c, tg, 2, 100*time.Millisecond, lo)
		for _, r := range []stepResult{open, closed} {
			if r.OK == 0 || r.Failed+r.Dropped > 0 || r.P50 == failed {
				t.Fatalf("%s: %s", tg.name, describe(r))
			}
		}
		sr := serverReport{Closed: closed, Steps: []stepResult{open}, Saturation: 20}
		if tg.name == "ours" {
			rep.Ours = sr
		} else {
			rep.Base = sr
		}
	}
	var out strings.Builder
	writeReport(&out, options{Rates: []float64{20}, Clients: 2, Step: 250 * time.Millisecond, Closed: 100 * time.Millisecond, P99Bound: lo.P99Bound},
		[]dbReport{rep}, time.Second)
	if !strings.Contains(out.String(), "| p99 @ 20 req/s |") {
		t.Fatalf("report:\n%s", out.String())
	}
}

func TestParseOptions(t *testing.T) {
	o, err := parseOptions([]string{"-db", "sqlite", "-rates", "50, 10,10", "-quick"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Rates) != 2 || o.Rates[0] != 10 || o.Rates[1] != 50 || o.Orders != 500 || o.Step != 2*time.Second {
		t.Fatalf("%+v", o)
	}
	if _, err := parseOptions([]string{"-db", "mysql"}, io.Discard); err == nil {
		t.Fatal("want an error for -db mysql")
	}
	for in, want := range map[float64]float64{0.5: 0, 1.2: 1, 37.4: 37, 123: 120, 1478: 1500} {
		if got := niceRate(in); got != want {
			t.Errorf("niceRate(%g) = %g, want %g", in, got, want)
		}
	}
}
