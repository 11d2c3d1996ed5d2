package e2e

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/frsvc/fulfillment/ent"
	"github.com/frsvc/fulfillment/internal/app"
	"github.com/frsvc/fulfillment/internal/tenant"
	"github.com/frsvc/fulfillment/internal/testdb"
)

// sendRunQuery asks for every count of a send run and whether it finished.
const sendRunQuery = `mutation { runSendFulfillmentRequests { claimed processed acknowledged failed retried complete } }`

type sendRunAnswer struct {
	RunSendFulfillmentRequests struct {
		Claimed, Processed, Acknowledged, Failed, Retried int
		Complete                                          bool
	}
}

// TestHardeningSendRunTenants: tenant A's source hangs (it answers nothing
// until the test ends, its connector waits 60 s). A's runSendFulfillmentRequests
// answers within the request limit, reporting the run as not complete, and
// the run goes on detached from the request (the delivery is not cut when
// the request ends). A dozen more calls of A, parked meanwhile, join that
// run rather than starting another, and give back their execution slot
// while they wait: with only two slots, tenant B's requests are answered,
// and B's own send run delivers and reports its request acknowledged while
// A's delivery is still hanging.
func TestHardeningSendRunTenants(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, a *app.App) {
		const timeout = 6 * time.Second
		h := hdNew(t, a, func(c *app.Config) { c.RequestTimeout = timeout; c.MaxExecuting = 2 })
		var hits, cut atomic.Int32
		arrived := make(chan struct{}, 64)
		release := make(chan struct{})
		hanging := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits.Add(1)
			arrived <- struct{}{}
			select {
			case <-release:
			case <-r.Context().Done():
				cut.Add(1)
			}
		}))
		t.Cleanup(hanging.Close)
		// Registered after the app, so run before it closes (the app
		// waits for the run): the handler returns, then the server closes.
		t.Cleanup(func() { close(release) })
		acking := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(`{"acknowledged": true, "confirmationNumber": "B-1"}`))
		}))
		t.Cleanup(acking.Close)

		aFR := hdPartnerFR(h, "HANG", "FR-HANG", hdConnector{hanging.URL, "whsec_hanging_0123456789", 60, 5})
		env := *h.Env
		env.AdminKey = h.NewAccount("Tenant B")
		hb := &hdEnv{Env: &env, Metrics: h.Metrics, Logs: h.Logs}
		bFR := hdProcessingFR(hb, "ACK", acking.URL, "whsec_acking_0123456789")

		// A's first call starts the run; its delivery hangs.
		type answer struct {
			res *Result
			err error
		}
		first := make(chan answer, 1)
		go func() {
			res, err := h.Send(Request{Key: h.AdminKey, Query: sendRunQuery})
			first <- answer{res, err}
		}()
		select {
		case <-arrived:
		case <-time.After(time.Minute):
			t.Fatal("A's delivery never reached its source")
		}
		// A dozen more calls of A while its run hangs.
		const parked = 12
		answers := make(chan answer, parked)
		var wg sync.WaitGroup
		for range parked {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := h.Send(Request{Key: h.AdminKey, Query: sendRunQuery})
				answers <- answer{res, err}
			}()
		}
		time.Sleep(200 * time.Millisecond) // let them reach the server first (not an assertion)

		// Tenant B is served meanwhile, and its own run completes.
		for i := range 3 {
			if res := hb.Do(Request{Key: hb.AdminKey, Query: `{ viewer { role } }`}); res.Status != http.StatusOK || len(res.Errors) > 0 {
				t.Fatalf("B's request %d while A's calls are parked: HTTP %d %s", i+1, res.Status, hdCodes(res))
			}
		}
		res := hb.Do(Request{Key: hb.AdminKey, Query: sendRunQuery})
		if res.Status != http.StatusOK || len(res.Errors) > 0 {
			t.Fatalf("B's send run: HTTP %d %s", res.Status, hdCodes(res))
		}
		var b sendRunAnswer
		res.Decode(t, &b)
		if got := b.RunSendFulfillmentRequests; got.Claimed != 1 || got.Acknowledged != 1 || !got.Complete {
			t.Errorf("B's send run = %+v, want its one request claimed and acknowledged, complete", got)
		}
		if fr := hdStoredFR(t, h, aFR); fr.Attempts != 0 || fr.LeaseHolder == nil {
			t.Errorf("when B's run reported, A's attempt had ended (attempts %d, lease %v): B waited for A", fr.Attempts, fr.LeaseHolder)
		}
		var fr struct{ Node struct{ Status string } }
		hb.Query(`query($id: ID!) { node(id: $id) { ... on FulfillmentRequest { status } } }`, map[string]any{"id": bFR}, &fr)
		if fr.Node.Status != "ACKNOWLEDGED" {
			t.Errorf("B's request is %s, want ACKNOWLEDGED", fr.Node.Status)
		}

		// A's calls are answered within the request limit with what the one
		// run has done so far: it claimed A's request and is still sending it.
		check := func(what string, ans answer) {
			t.Helper()
			if ans.err != nil {
				t.Fatalf("%s: %v", what, ans.err)
			}
			if ans.res.Status != http.StatusOK || len(ans.res.Errors) > 0 {
				t.Fatalf("%s: HTTP %d %s", what, ans.res.Status, hdCodes(ans.res))
			}
			var out sendRunAnswer
			ans.res.Decode(t, &out)
			if got := out.RunSendFulfillmentRequests; got.Claimed != 1 || got.Complete ||
				got.Processed+got.Acknowledged+got.Failed+got.Retried != 0 {
				t.Errorf("%s = %+v, want the hanging run's claim of 1, not complete", what, got)
			}
		}
		check("A's first call", <-first)
		wg.Wait()
		close(answers)
		for ans := range answers {
			check("a parked call of A", ans)
		}
		if n := hits.Load(); n != 1 {
			t.Errorf("A's source got %d deliveries, want 1 (one run)", n)
		}
		if fr := hdStoredFR(t, h, aFR); fr.Attempts != 0 || fr.LeaseHolder == nil || cut.Load() != 0 {
			t.Errorf("A's delivery ended with its requests (attempts %d, lease %v, cut %d), want it still in flight",
				fr.Attempts, fr.LeaseHolder, cut.Load())
		}
		h.Query(`query($id: ID!) { node(id: $id) { ... on FulfillmentRequest { status } } }`, map[string]any{"id": aFR}, &fr)
		if fr.Node.Status != "PROCESSING" {
			t.Errorf("A's request is %s, want PROCESSING while it is being sent", fr.Node.Status)
		}
	})
}

// hdStoredFR reads a fulfillment request as stored, lease and attempts
// included (the API shows neither).
func hdStoredFR(t *testing.T, h *hdEnv, id string) *ent.FulfillmentRequest {
	t.Helper()
	n, err := strconv.Atoi(id)
	testdb.Must(t, err)
	fr, err := h.Store.Client.FulfillmentRequest.Get(tenant.WithSystem(context.Background()), n)
	testdb.Must(t, err)
	return fr
}
