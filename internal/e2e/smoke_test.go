package e2e

import (
	"testing"

	"github.com/frsvc/fulfillment/internal/app"
	"github.com/frsvc/fulfillment/internal/testdb"
)

func TestSmokeImport(t *testing.T) {
	testdb.Each(t, func(t *testing.T, a *app.App) {
		e := New(t, a)
		var out struct {
			ImportOrder struct {
				ID    string
				Lines []struct{ Sku string }
			}
		}
		e.Query(`mutation { importOrder(input:{channel:"web", orderNumber:"1", paymentStatus: PAID, shipTo:{line1:"1 Main", city:"X", postalCode:"1", country:"US"}, lines:[{sku:"A", quantity:2, unitPrice:"9.99"}]}) { id lines { sku } } }`, nil, &out)
		if len(out.ImportOrder.Lines) != 1 {
			t.Fatalf("%+v", out)
		}
	})
}
