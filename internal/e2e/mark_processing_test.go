package e2e

import (
	"context"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/frsvc/fulfillment/internal/app"
	"github.com/frsvc/fulfillment/internal/tenant"
	"github.com/frsvc/fulfillment/internal/testdb"
)

// TestMarkFromProcessing: an operator who queued a request and settled it
// with the supplier by phone marks it PROCESSED or ACKNOWLEDGED while it is
// PROCESSING. With no send run holding its lease that is allowed and logged
// with the actor; while a run holds the lease it is CONFLICT and changes
// nothing; a send run after the mark delivers nothing.
func TestMarkFromProcessing(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, a *app.App) {
		var deliveries atomic.Int64
		supplier := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			deliveries.Add(1)
			w.WriteHeader(http.StatusAccepted)
		}))
		t.Cleanup(supplier.Close)

		k := newKit(t, a)
		src := k.source("PHONE", map[string]any{"connector": map[string]any{"kind": "HTTP", "url": supplier.URL, "secret": "phone-settled-s3cret"}})
		k.stock(src, "A", 10, "2.00")
		o := k.order("MP-1", "PAID", kitLine{"A", 1}, kitLine{"A", 1})
		fr1 := k.mustCreate(o.ID, src, false, o.Lines[0].ID, 1)
		fr2 := k.mustCreate(o.ID, src, false, o.Lines[1].ID, 1)
		for _, id := range []string{fr1.ID, fr2.ID} {
			if fr := k.must("process", id, nil); fr.Status != "PROCESSING" {
				t.Fatalf("after process: %+v", fr)
			}
		}

		// No lease: both marks are allowed.
		if fr := k.must("markProcessed", fr1.ID, nil); fr.Status != "PROCESSED" {
			t.Fatalf("mark processed from PROCESSING: %+v", fr)
		}
		// A lease that has expired holds nothing back either.
		id2, _ := strconv.Atoi(fr2.ID)
		ctx := tenant.WithSystem(context.Background())
		if err := a.Store.Client.FulfillmentRequest.UpdateOneID(id2).SetLeaseHolder("dead-run").
			SetLeaseExpiresAt(time.Now().Add(-time.Minute)).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if fr := k.must("markAcknowledged", fr2.ID, nil); fr.Status != "ACKNOWLEDGED" || fr.ConfirmationNumber == nil || *fr.ConfirmationNumber != "CONF-1" {
			t.Fatalf("mark acknowledged from PROCESSING: %+v", fr)
		}
		marks := k.logs(map[string]any{"fulfillmentRequestID": fr1.ID, "stage": "transition"})
		if len(marks) == 0 || marks[0].Data["to"] != "PROCESSED" || marks[0].Data["from"] != "PROCESSING" || marks[0].Actor == "" || marks[0].Actor == "system" {
			t.Fatalf("the mark's log entry: %+v", marks)
		}

		// A send run now has nothing to deliver.
		if got := k.sendRun(); got["claimed"] != 0 || got["processed"] != 0 {
			t.Errorf("send run after the marks: %v", got)
		}
		if n := deliveries.Load(); n != 0 {
			t.Errorf("the supplier got %d deliveries of requests marked by hand", n)
		}

		// While a run holds the lease: CONFLICT, nothing changed.
		o2 := k.order("MP-2", "PAID", kitLine{"A", 1})
		fr3 := k.mustCreate(o2.ID, src, false)
		k.must("process", fr3.ID, nil)
		id3, _ := strconv.Atoi(fr3.ID)
		if err := a.Store.Client.FulfillmentRequest.UpdateOneID(id3).SetLeaseHolder("live-run").
			SetLeaseExpiresAt(time.Now().Add(time.Hour)).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		before := k.fr(fr3.ID)
		for _, op := range []string{"markProcessed", "markAcknowledged"} {
			k.Err(k.op(op, fr3.ID, nil), "CONFLICT")
		}
		if after := k.fr(fr3.ID); !reflect.DeepEqual(after, before) {
			t.Errorf("a refused mark changed the request: %+v → %+v", before, after)
		}
	})
}
