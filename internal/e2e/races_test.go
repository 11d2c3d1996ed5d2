package e2e

import (
	"fmt"
	"slices"
	"testing"

	"github.com/frsvc/fulfillment/internal/app"
	"github.com/frsvc/fulfillment/internal/testdb"
)

// concurrently sends the requests at once (released together by one
// barrier) and returns the answers in order. Every answer is checked for
// error hygiene.
func (k *frKit) concurrently(reqs ...Request) []*Result {
	k.T.Helper()
	out := make([]*Result, len(reqs))
	errs := make([]error, len(reqs))
	AtOnce(len(reqs), func(i int) {
		r := reqs[i]
		if r.Key == "" {
			r.Key = k.AdminKey
		}
		out[i], errs[i] = k.Send(r)
	})
	for i, err := range errs {
		if err != nil {
			k.T.Fatalf("request %d: %v", i, err)
		}
		if err := CheckHygiene(out[i]); err != nil {
			k.T.Error(err)
		}
	}
	return out
}

// TestRaceGenerateOneOrder: 20 concurrent generations of one order make its
// requests once; the others are refused with NOTHING_TO_ROUTE or CONFLICT,
// and exactly one allocation is reserved.
func TestRaceGenerateOneOrder(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, a *app.App) {
		k := newKit(t, a)
		s1 := k.source("S1", nil)
		s2 := k.source("S2", nil)
		k.stock(s1, "A", 100, "1")
		k.stock(s2, "B", 100, "1")
		k.group("G", []string{"LOWEST_COST"}, nil, s1, s2)
		for round := range 2 {
			number := fmt.Sprintf("RACE-%d", round)
			o := k.order(number, "PAID", kitLine{"A", 3}, kitLine{"B", 2})
			reqs := make([]Request, 20)
			for i := range reqs {
				reqs[i] = Request{Query: kitGenerateMutation, Variables: map[string]any{"id": o.ID}}
			}
			won := 0
			var winner kitGen
			codes := map[string]int{}
			for _, res := range k.concurrently(reqs...) {
				switch kitCode(t, res) {
				case "":
					won++
					var out struct{ GenerateFulfillmentRequests kitGen }
					res.Decode(t, &out)
					winner = out.GenerateFulfillmentRequests
				case "ROUTING_FAILED":
					if rb := kitRoadblocks(res.Errors[0]); !slices.Equal(rb, []string{"NOTHING_TO_ROUTE"}) {
						t.Errorf("refused with roadblocks %v, want NOTHING_TO_ROUTE", rb)
					}
					codes["ROUTING_FAILED"]++
				case "CONFLICT":
					codes["CONFLICT"]++
				default:
					t.Errorf("unexpected answer %+v", res.Errors)
				}
			}
			if won != 1 || len(winner.FulfillmentRequests) != 2 {
				t.Fatalf("round %d: %d generations succeeded (%v), want exactly 1 with 2 requests", round, won, codes)
			}
			k.expectFRs(o.ID, map[string]string{number + "-1": "UNPROCESSED", number + "-2": "UNPROCESSED"})
			st := k.checkLedger()
			kitExpectStock(t, st, map[string]int{"S1/A": 3 * (round + 1), "S2/B": 2 * (round + 1)})
			kitExpectLine(t, st, number, "A", [5]int{3, 0, 3, 0, 0})
			// Only the winner's entries (4 per reserving request + routing) and
			// one refusal per loser that routed.
			if n := k.logCount(map[string]any{"orderID": o.ID, "correlationID": winner.CorrelationID}); n != 7 {
				t.Fatalf("winner wrote %d entries, want 7", n)
			}
			if n := k.logCount(map[string]any{"orderID": o.ID, "stage": "attach"}); n != 2 {
				t.Fatalf("%d attach entries, want 2", n)
			}
			t.Logf("round %d: 1 won, losers %v", round, codes)
		}
	})
}

// TestRaceVoidAndProcess: a void and a process of one request sent at once
// never leave it half changed. Every outcome is one of: the void alone won
// (VOIDED, version 2), the process won and the void followed (VOIDED,
// version 3), or the process won and the void lost with CONFLICT
// (PROCESSING, version 2); the version, the transition entries and the
// reservation agree with the answers.
func TestRaceVoidAndProcess(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, a *app.App) {
		k := newKit(t, a)
		src := k.source("S", nil)
		k.stock(src, "A", 1000, "1")
		k.group("G", []string{"LOWEST_COST"}, nil, src)
		outcomes := map[string]int{}
		for round := range 8 {
			number := fmt.Sprintf("VP-%d", round)
			o := k.order(number, "PAID", kitLine{"A", 2})
			fr := k.generate(o.ID).FulfillmentRequests[0]
			res := k.concurrently(
				Request{Query: kitOps["void"], Variables: map[string]any{"id": fr.ID}},
				Request{Query: kitOps["process"], Variables: map[string]any{"id": fr.ID}},
			)
			voidCode, procCode := kitCode(t, res[0]), kitCode(t, res[1])
			for _, c := range []string{voidCode, procCode} {
				if c != "" && c != "CONFLICT" && c != "INVALID_TRANSITION" {
					t.Fatalf("unexpected answers void=%+v process=%+v", res[0].Errors, res[1].Errors)
				}
			}
			after := k.fr(fr.ID)
			moves := k.logCount(map[string]any{"fulfillmentRequestID": fr.ID, "stage": "transition"})
			st := k.checkLedger()
			committed := st.Committed["S/A"]
			switch {
			case voidCode == "" && procCode != "":
				if after.Status != "VOIDED" || after.Version != 2 || moves != 1 {
					t.Fatalf("void won: %+v with %d moves", after, moves)
				}
			case voidCode == "" && procCode == "":
				if after.Status != "VOIDED" || after.Version != 3 || moves != 2 {
					t.Fatalf("process then void: %+v with %d moves", after, moves)
				}
			case voidCode != "" && procCode == "":
				if voidCode != "CONFLICT" || after.Status != "PROCESSING" || after.Version != 2 || moves != 1 {
					t.Fatalf("process won, void %s: %+v with %d moves", voidCode, after, moves)
				}
				k.must("void", fr.ID, nil) // the loser may simply try again
			default:
				t.Fatalf("neither won: void=%+v process=%+v", res[0].Errors, res[1].Errors)
			}
			if after.Status == "VOIDED" {
				kitExpectLine(t, st, number, "A", [5]int{2, 2, 0, 0, 0})
			}
			outcomes[fmt.Sprintf("void=%q process=%q", voidCode, procCode)]++
			_ = committed
		}
		k.checkLedger()
		if st := k.checkLedger(); st.Committed["S/A"] != 0 {
			t.Fatalf("committed %d after every request was voided", st.Committed["S/A"])
		}
		t.Logf("outcomes: %v", outcomes)
	})
}

// TestRaceLastUnits: generations of different orders competing for the
// last units of one SKU never reserve more than the source has, and lose
// no unit either: with 5 units and 8 orders of 1, exactly 5 succeed; with 3
// units and two orders of 2, exactly one does.
func TestRaceLastUnits(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, a *app.App) {
		k := newKit(t, a)
		src := k.source("S", nil)
		k.group("G", []string{"LOWEST_COST"}, nil, src)
		cases := []struct{ stock, orders, each, winners int }{
			{3, 2, 2, 1}, {3, 2, 2, 1}, {3, 2, 2, 1},
			{5, 8, 1, 5}, {5, 8, 1, 5},
		}
		for ci, c := range cases {
			sku := fmt.Sprintf("Z%d", ci)
			k.stock(src, sku, c.stock, "1")
			reqs := make([]Request, c.orders)
			for i := range reqs {
				o := k.order(fmt.Sprintf("LU-%d-%d", ci, i), "PAID", kitLine{sku, c.each})
				reqs[i] = Request{Query: kitGenerateMutation, Variables: map[string]any{"id": o.ID}}
			}
			won := 0
			losers := map[string]int{}
			for _, res := range k.concurrently(reqs...) {
				switch code := kitCode(t, res); code {
				case "":
					won++
				case "ROUTING_FAILED":
					if rb := kitRoadblocks(res.Errors[0]); !slices.Equal(rb, []string{"OUT_OF_STOCK"}) {
						t.Errorf("refused with %v, want OUT_OF_STOCK", rb)
					}
					losers[code]++
				case "CONFLICT":
					losers[code]++
				default:
					t.Fatalf("unexpected answer %+v", res.Errors)
				}
			}
			st := k.checkLedger()
			key := "S/" + sku
			if st.Committed[key] > c.stock || st.Available[key] < 0 {
				t.Fatalf("%s: committed %d of %d", key, st.Committed[key], c.stock)
			}
			if won != c.winners || st.Committed[key] != c.winners*c.each {
				t.Fatalf("case %d: %d won (losers %v), committed %d; want %d winners", ci, won, losers, st.Committed[key], c.winners)
			}
		}
	})
}
