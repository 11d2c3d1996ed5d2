package e2e

import (
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/frsvc/fulfillment/internal/app"
	"github.com/frsvc/fulfillment/internal/testdb"
)

// TestHardeningPrivateURLs: in production an HTTP connector does not reach
// loopback (the server's own /query, for instance) or any other non-public
// address, whether the URL names the address or a host name that resolves to
// it; the delivery fails with a reason saying so and nothing is sent.
// --allow-private-urls lets it through. Before, the delivery went out and up
// to 200 characters of the answer came back in failureReason.
func TestHardeningPrivateURLs(t *testing.T) {
	testdb.Each(t, func(t *testing.T, a *app.App) {
		var hits atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits.Add(1)
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"errors":[{"message":"internal secret answer"}]}`))
		}))
		t.Cleanup(srv.Close)
		u, _ := url.Parse(srv.URL)
		_, port, _ := net.SplitHostPort(u.Host)

		deliver := func(t *testing.T, configure func(*app.Config), target string) (map[string]int, kitFR) {
			k := &frKit{Env: newWithAs(t, a, func(c *app.Config) {
				c.RateLimit = 0
				configure(c)
			}, "Private URLs "+t.Name())}
			src := k.source("H", map[string]any{"connector": map[string]any{
				"kind": "HTTP", "url": target, "secret": "0123456789abcdef", "maxAttempts": 3}})
			k.stock(src, "A", 10, "2.00")
			o := k.order("P-1", "PAID", kitLine{"A", 1})
			fr := k.mustCreate(o.ID, src, false)
			k.must("process", fr.ID, nil)
			return k.sendRun(), k.fr(fr.ID)
		}
		production := func(c *app.Config) { c.Production = true }

		for name, target := range map[string]string{
			"address":   srv.URL + "/fr",
			"host name": "http://localhost:" + port + "/fr",
		} {
			t.Run("production refuses the "+name, func(t *testing.T) {
				before := hits.Load()
				run, fr := deliver(t, production, target)
				if run["failed"] != 1 || fr.Status != "FAILED" {
					t.Fatalf("run %v, request %s", run, fr.Status)
				}
				if hits.Load() != before {
					t.Errorf("the delivery reached the loopback server")
				}
				if fr.FailureReason == nil || !strings.Contains(*fr.FailureReason, "loopback") ||
					!strings.Contains(*fr.FailureReason, "--allow-private-urls") {
					t.Errorf("failureReason %v does not say why", fr.FailureReason)
				}
			})
		}
		t.Run("allowed with AllowPrivateURLs", func(t *testing.T) {
			before := hits.Load()
			run, fr := deliver(t, func(c *app.Config) { c.Production, c.AllowPrivateURLs = true, true }, srv.URL+"/fr")
			if run["failed"] != 1 || hits.Load() != before+1 {
				t.Fatalf("run %v, %d deliveries", run, hits.Load()-before)
			}
			if fr.FailureReason == nil || !strings.HasPrefix(*fr.FailureReason, "HTTP 400") {
				t.Errorf("failureReason %v", fr.FailureReason)
			}
		})
		t.Run("allowed outside production", func(t *testing.T) {
			before := hits.Load()
			if run, _ := deliver(t, func(*app.Config) {}, srv.URL+"/fr"); run["failed"] != 1 || hits.Load() != before+1 {
				t.Fatalf("run %v, %d deliveries", run, hits.Load()-before)
			}
		})
	})
}
