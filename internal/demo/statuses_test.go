package demo_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/frsvc/fulfillment/ent/fulfillmentrequest"
	"github.com/frsvc/fulfillment/ent/source"
	"github.com/frsvc/fulfillment/internal/app"
	"github.com/frsvc/fulfillment/internal/auth"
	"github.com/frsvc/fulfillment/internal/demo"
	"github.com/frsvc/fulfillment/internal/frstatus"
	"github.com/frsvc/fulfillment/internal/sender"
	"github.com/frsvc/fulfillment/internal/tenant"
	"github.com/frsvc/fulfillment/internal/testdb"
)

// TestSeedStatuses: the demo holds a few requests in every status, brought
// there by the use cases (so each has its log trail); its FILE drops are
// under the drop root it was given; its HTTP source posts to the demo
// supplier given, which acknowledges the requests left PROCESSING at the
// first send run.
func TestSeedStatuses(t *testing.T) {
	testdb.Each(t, func(t *testing.T, a *app.App) {
		s := a.Store
		bg := context.Background()
		acc, _, err := auth.CreateAccount(bg, s.Client, "Default", "")
		testdb.Must(t, err)
		supplier := httptest.NewServer(demo.Supplier())
		t.Cleanup(supplier.Close)
		root := t.TempDir()
		seeded, err := demo.Seed(tenant.WithSystem(bg), s, demo.Options{SupplierURL: supplier.URL + demo.SupplierPath, FileDropRoot: root})
		testdb.Must(t, err)
		if !seeded {
			t.Fatal("not seeded")
		}
		ctx := tenant.WithAccount(bg, acc.ID)
		frs, err := s.Client.FulfillmentRequest.Query().WithSource().WithLogs().All(ctx)
		testdb.Must(t, err)
		byStatus := map[string]int{}
		for _, fr := range frs {
			byStatus[string(fr.Status)]++
			if fr.ShipmentStatus == frstatus.PartiallyShipped || fr.ShipmentStatus == frstatus.Shipped {
				byStatus[string(fr.ShipmentStatus)]++
			}
			if len(fr.Edges.Logs) == 0 {
				t.Errorf("request %s has no log trail", fr.Number)
			}
		}
		t.Logf("demo requests by status: %v", byStatus)
		for _, st := range []string{"UNPROCESSED", "PROCESSING", "PROCESSED", "ACKNOWLEDGED", "PARTIALLY_SHIPPED", "SHIPPED", "VOIDED", "FAILED"} {
			if byStatus[st] < 1 {
				t.Errorf("no demo request is %s: %v", st, byStatus)
			}
		}
		drops := 0
		_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				drops++
			}
			return nil
		})
		if drops == 0 {
			t.Errorf("no FILE drop under the drop root %s", root)
		}

		west, err := s.Client.Source.Query().Where(source.Code(demo.SupplierCode)).Only(ctx)
		testdb.Must(t, err)
		if west.ConnectorURL != supplier.URL+demo.SupplierPath {
			t.Errorf("the demo HTTP source posts to %v, want the demo supplier %s", west.ConnectorURL, supplier.URL+demo.SupplierPath)
		}
		waiting, err := s.Client.FulfillmentRequest.Query().
			Where(fulfillmentrequest.SourceID(west.ID), fulfillmentrequest.StatusEQ(frstatus.Processing)).IDs(ctx)
		testdb.Must(t, err)
		if len(waiting) == 0 {
			t.Fatal("no request of the demo HTTP source is waiting to be sent")
		}
		run := &sender.Runner{Store: s, Fulfillment: a.Fulfillment}
		res, err := run.RunOnce(ctx)
		testdb.Must(t, err)
		if res.Acknowledged < len(waiting) || res.Failed != 0 || res.Retried != 0 {
			t.Errorf("the first send run = %+v, want the %d requests of the demo HTTP source acknowledged", res, len(waiting))
		}
		for _, id := range waiting {
			fr, err := s.Client.FulfillmentRequest.Get(ctx, id)
			testdb.Must(t, err)
			if fr.Status != frstatus.Acknowledged || fr.ConfirmationNumber == nil || !strings.HasPrefix(*fr.ConfirmationNumber, "WEST-") {
				t.Errorf("request %s: %s, confirmation %v; want ACKNOWLEDGED by the demo supplier", fr.Number, fr.Status, fr.ConfirmationNumber)
			}
		}
	})
}

// TestSupplierTakesPOSTOnly: the demo supplier answers what a partner would.
func TestSupplierTakesPOSTOnly(t *testing.T) {
	srv := httptest.NewServer(demo.Supplier())
	t.Cleanup(srv.Close)
	res, err := http.Get(srv.URL)
	testdb.Must(t, err)
	_ = res.Body.Close()
	if res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: HTTP %d, want 405", res.StatusCode)
	}
}

// TestSeedRepointsSupplier: started again with --demo on another address,
// the demo source follows its demo supplier there; pointed elsewhere by
// someone, it is left alone.
func TestSeedRepointsSupplier(t *testing.T) {
	s := testdb.Open(t, testdb.SQLite)
	bg := context.Background()
	acc, _, err := auth.CreateAccount(bg, s.Client, "Default", "")
	testdb.Must(t, err)
	ctx := tenant.WithAccount(bg, acc.ID)
	url := func() string {
		t.Helper()
		src, err := s.Client.Source.Query().Where(source.Code(demo.SupplierCode)).Only(ctx)
		testdb.Must(t, err)
		return src.ConnectorURL
	}
	seed := func(supplier string) bool {
		t.Helper()
		seeded, err := demo.Seed(tenant.WithSystem(bg), s, demo.Options{SupplierURL: supplier, FileDropRoot: t.TempDir()})
		testdb.Must(t, err)
		return seeded
	}
	if !seed("http://127.0.0.1:8081" + demo.SupplierPath) {
		t.Fatal("not seeded")
	}
	moved := "http://127.0.0.1:9090" + demo.SupplierPath
	if seed(moved) {
		t.Error("seeded twice")
	}
	if got := url(); got != moved {
		t.Errorf("after a start on another port the demo source posts to %s, want %s", got, moved)
	}
	testdb.Must(t, s.Client.Source.Update().Where(source.Code(demo.SupplierCode)).SetConnectorURL("https://partner.example/orders").Exec(ctx))
	seed(moved)
	if got := url(); got != "https://partner.example/orders" {
		t.Errorf("a source pointed elsewhere was moved to %s", got)
	}
}
