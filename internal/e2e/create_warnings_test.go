package e2e

import (
	"strings"
	"testing"

	"github.com/frsvc/fulfillment/internal/app"
	"github.com/frsvc/fulfillment/internal/testdb"
)

const createWarningsMutation = `mutation($in: CreateFulfillmentRequestInput!) { createFulfillmentRequest(input: $in) {
  id status warnings items { sku quantity unitCost } } }`

type createdWithWarnings struct {
	CreateFulfillmentRequest struct {
		ID       string
		Status   string
		Warnings []string
		Items    []struct {
			Sku      string
			Quantity int
			UnitCost string
		}
	}
}

// warnLogs returns the WARN messages of a request's log.
func (k *frKit) warnLogs(frID string) []string {
	k.T.Helper()
	var out []string
	for _, l := range k.logs(map[string]any{"fulfillmentRequestID": frID}) {
		if l.Level == "WARN" {
			out = append(out, l.Message)
		}
	}
	return out
}

func hasWith(list []string, parts ...string) bool {
	for _, s := range list {
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(s, p)
		}
		if ok {
			return true
		}
	}
	return false
}

// TestCreateByHandWarnings: a request made by hand at a source that does not
// ship to the order's country is made, with a warning in the answer
// (FulfillmentRequest.warnings) and in the log; a SKU the source has never
// carried, even with allowOvercommit, is refused with VALIDATION unless the
// item gives a unit cost, and then made at that cost with a warning.
func TestCreateByHandWarnings(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, ap *app.App) {
		k := newKit(t, ap)
		ca := k.source("CAONLY", map[string]any{"shipsTo": []string{"CA"}})
		k.stock(ca, "A", 5, "2")
		anyw := k.source("ANY", nil)
		k.stock(anyw, "A", 5, "2")

		// Does not ship to the order's country.
		o := k.order("W1", "PAID", kitLine{"A", 2})
		var got createdWithWarnings
		k.Query(createWarningsMutation, map[string]any{"in": map[string]any{"orderID": o.ID, "sourceID": ca}}, &got)
		fr := got.CreateFulfillmentRequest
		if !hasWith(fr.Warnings, "CAONLY", "does not ship to US") {
			t.Errorf("warnings %q do not say CAONLY does not ship to US", fr.Warnings)
		}
		if !hasWith(k.warnLogs(fr.ID), "CAONLY", "does not ship to US") {
			t.Errorf("log warnings %q do not say CAONLY does not ship to US", k.warnLogs(fr.ID))
		}
		// The field reads the same afterwards; a request without warnings has none.
		var again struct{ Node struct{ Warnings []string } }
		k.Query(`query($id: ID!) { node(id: $id) { ... on FulfillmentRequest { warnings } } }`, map[string]any{"id": fr.ID}, &again)
		if len(again.Node.Warnings) != len(fr.Warnings) {
			t.Errorf("warnings read later %q, at creation %q", again.Node.Warnings, fr.Warnings)
		}
		plain := k.order("W2", "PAID", kitLine{"A", 1})
		k.Query(createWarningsMutation, map[string]any{"in": map[string]any{"orderID": plain.ID, "sourceID": anyw}}, &got)
		if w := got.CreateFulfillmentRequest.Warnings; len(w) != 0 {
			t.Errorf("a plain request has warnings %q", w)
		}

		// Never carried: refused without a unit cost, even with allowOvercommit.
		nc := k.order("W3", "PAID", kitLine{"A", 1}, kitLine{"NEW", 1})
		for _, overcommit := range []bool{false, true} {
			res := k.try(createWarningsMutation, map[string]any{"in": map[string]any{"orderID": nc.ID, "sourceID": anyw, "allowOvercommit": overcommit,
				"items": []any{map[string]any{"orderLineID": nc.line(t, "NEW"), "quantity": 1}}}})
			e := k.Err(res, "VALIDATION")
			if !strings.Contains(e.Message, "never carried") || !strings.Contains(e.Message, "unitCost") {
				t.Errorf("overcommit %v: message %q does not say the SKU was never carried and a unitCost is needed", overcommit, e.Message)
			}
		}
		// Every line by default: also refused.
		k.Err(k.try(createWarningsMutation, map[string]any{"in": map[string]any{"orderID": nc.ID, "sourceID": anyw, "allowOvercommit": true}}), "VALIDATION")
		st := k.checkLedger()
		if _, ok := st.Committed["ANY/NEW"]; ok {
			t.Errorf("a refused request left an inventory row: %v", st.Committed)
		}
		// With a unit cost: made at that cost, with a warning.
		k.Query(createWarningsMutation, map[string]any{"in": map[string]any{"orderID": nc.ID, "sourceID": anyw, "allowOvercommit": true,
			"items": []any{map[string]any{"orderLineID": nc.line(t, "NEW"), "quantity": 1, "unitCost": "4.50"}}}}, &got)
		fr = got.CreateFulfillmentRequest
		if len(fr.Items) != 1 || fr.Items[0].UnitCost != "4.50" {
			t.Errorf("items %+v, want NEW at 4.50", fr.Items)
		}
		if !hasWith(fr.Warnings, "ANY", "never carried", "NEW") {
			t.Errorf("warnings %q do not say ANY never carried NEW", fr.Warnings)
		}
		if !hasWith(k.warnLogs(fr.ID), "never carried", "NEW") {
			t.Errorf("log warnings %q do not say NEW was never carried", k.warnLogs(fr.ID))
		}
		// A unit cost out of bounds is refused.
		k.Err(k.try(createWarningsMutation, map[string]any{"in": map[string]any{"orderID": nc.ID, "sourceID": anyw,
			"items": []any{map[string]any{"orderLineID": nc.line(t, "A"), "quantity": 1, "unitCost": "-1"}}}}), "VALIDATION")
	})
}
