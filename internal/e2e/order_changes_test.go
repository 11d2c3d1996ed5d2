package e2e

// order_changes_test.go covers changing an order after import: a re-import
// with other content, updateOrderPayment, cancelOrder and updateOrder.

import (
	"strings"
	"testing"

	"github.com/frsvc/fulfillment/internal/app"
	"github.com/frsvc/fulfillment/internal/testdb"
)

// TestReimportWithOtherContent: a re-import whose content differs from the
// stored order is a CONFLICT saying what differs, and changes nothing; an
// identical one (also with orderedAt given again) returns the stored order.
func TestReimportWithOtherContent(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, a *app.App) {
		e := New(t, a)
		in := orderInput("R-1")
		in["referenceNumber"] = "REF-1"
		in["orderedAt"] = "2024-03-01T10:00:00.123456Z"
		first := e.importOrder(e.AdminKey, in)

		if again := e.importOrder(e.AdminKey, in); again.ID != first.ID {
			t.Fatalf("identical re-import id = %s, want %s", again.ID, first.ID)
		}
		cases := []struct {
			name string
			edit func(map[string]any)
			want string
		}{
			{"lines", func(m map[string]any) {
				m["lines"] = []any{map[string]any{"sku": "OTHER", "quantity": 9, "unitPrice": "1"}}
			}, "lines (stored 2, imported 1)"},
			{"quantity", func(m map[string]any) {
				m["lines"] = []any{
					map[string]any{"sku": "SKU-A", "title": "Widget", "quantity": 3, "unitPrice": "9.99"},
					map[string]any{"sku": "SKU-B", "quantity": 1, "unitPrice": "120.50"},
				}
			}, "lines[0].quantity (stored 2, imported 3)"},
			{"payment", func(m map[string]any) { m["paymentStatus"] = "PENDING" }, "paymentStatus (stored PAID, imported PENDING)"},
			{"reference", func(m map[string]any) { delete(m, "referenceNumber") }, "referenceNumber"},
			{"address", func(m map[string]any) {
				m["shipTo"] = map[string]any{"name": "Ada", "line1": "2 Main St", "city": "Springfield", "postalCode": "12345", "country": "US"}
			}, `shipTo.line1 (stored "1 Main St", imported "2 Main St")`},
			{"orderedAt", func(m map[string]any) { m["orderedAt"] = "2024-03-02T10:00:00Z" }, "orderedAt"},
		}
		for _, c := range cases {
			other := map[string]any{}
			for k, v := range in {
				other[k] = v
			}
			c.edit(other)
			res := e.Do(Request{Key: e.AdminKey, Query: importOrderMutation, Variables: map[string]any{"input": other}})
			err := e.Err(res, "CONFLICT")
			if !strings.Contains(err.Message, c.want) {
				t.Errorf("%s: message %q does not say %q", c.name, err.Message, c.want)
			}
		}
		// Nothing changed: one order, one import log, the old lines.
		e.assertCounts(t, e.AdminKey, counts{Orders: 1, FulfillmentLogs: 1})
		if again := e.importOrder(e.AdminKey, in); again.ID != first.ID || len(again.Lines) != 2 || again.Lines[0].Quantity != 2 {
			t.Fatalf("order after refused re-imports = %+v", again)
		}
	})
}
