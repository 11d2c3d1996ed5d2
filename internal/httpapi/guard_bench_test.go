package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/frsvc/fulfillment/ent"
	"github.com/frsvc/fulfillment/ent/fulfillmentrequest"
	"github.com/frsvc/fulfillment/ent/order"
	"github.com/frsvc/fulfillment/graph"
	"github.com/frsvc/fulfillment/internal/address"
	"github.com/frsvc/fulfillment/internal/app"
	"github.com/frsvc/fulfillment/internal/auth"
	"github.com/frsvc/fulfillment/internal/db"
	"github.com/frsvc/fulfillment/internal/money"
	"github.com/frsvc/fulfillment/internal/tenant"
	"github.com/frsvc/fulfillment/internal/testdb"
)

// guardQuery is a typical nested operator read.
const guardQuery = `{ orders(first: 20) { edges { node { lines { sku }
  fulfillmentRequests(first: 5) { edges { node { number } } } } } } }`

// seedGuards writes 30 orders of 2–3 lines with 1–5 fulfillment requests
// each into a fresh account and returns its ADMIN key and principal.
func seedGuards(b testing.TB, s *db.Store) (string, auth.Principal) {
	b.Helper()
	ctx := context.Background()
	_, secret, err := auth.CreateAccount(ctx, s.Client, "Bench", "")
	testdb.Must(b, err)
	p, err := (&auth.Authenticator{Client: s.Client}).Authenticate(ctx, secret)
	testdb.Must(b, err)
	ctx = tenant.WithAccount(ctx, p.AccountID)
	c := s.Client
	src, err := c.Source.Create().SetName("Bench source").SetCode("BENCH").Save(ctx)
	testdb.Must(b, err)
	const n = 30
	ob := make([]*ent.OrderCreate, n)
	for i := range ob {
		ob[i] = c.Order.Create().SetChannel("web").SetOrderNumber(fmt.Sprintf("B-%03d", i)).
			SetPaymentStatus(order.PaymentStatusPAID).SetOrderedAt(time.Now()).SetShipToCountry("US").
			SetShipTo(address.Address{Line1: "1 Main", City: "X", PostalCode: "1", Country: "US"})
	}
	orders, err := c.Order.CreateBulk(ob...).Save(ctx)
	testdb.Must(b, err)
	var lb []*ent.OrderLineCreate
	var fb []*ent.FulfillmentRequestCreate
	for i, o := range orders {
		for l := range 2 + i%2 {
			lb = append(lb, c.OrderLine.Create().SetOrderID(o.ID).SetPosition(l+1).SetSku(fmt.Sprintf("SKU-%d", l)).
				SetQuantity(2).SetUnitPrice(money.MustParse("4.50")).SetUnallocatedQuantity(2))
		}
		for k := range 1 + i%5 {
			fb = append(fb, c.FulfillmentRequest.Create().SetNumber(fmt.Sprintf("%s-%d", o.OrderNumber, k+1)).SetSequence(k+1).
				SetOrderID(o.ID).SetSourceID(src.ID).SetOrigin(fulfillmentrequest.OriginCREATED))
		}
	}
	testdb.Must(b, c.OrderLine.CreateBulk(lb...).Exec(ctx))
	testdb.Must(b, c.FulfillmentRequest.CreateBulk(fb...).Exec(ctx))
	return secret, p
}

// BenchmarkGuards prices the HTTP guards: the nested read through
// httpapi.New (request id, access log, CORS, in-flight cap, timeout,
// cross-site check, body limit, bearer authentication — a SHA-256 and an
// indexed lookup —, the per-key rate limit off or on, idempotency) against
// the bare graph.NewHandler with the principal already in the context and
// no HTTP middleware. Both keep what lives in the GraphQL handler (the
// limits walk, the role check) and in the data layer (the tenant filter,
// which cannot be taken out). The overhead is guarded/bare − 1.
func BenchmarkGuards(b *testing.B) {
	base := testdb.App(b, testdb.SQLite)
	s := base.Store
	key, p := seedGuards(b, s)
	logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
	// Each guarded variant is the app as the server builds it, over the same
	// database, with the rate limit and origins set as named.
	handler := func(rate float64, burst int, origins ...string) http.Handler {
		return testdb.On(b, base.Config.DatabaseURL, func(c *app.Config) {
			c.RateLimit, c.RateBurst, c.CORSOrigins = rate, burst, origins
		}).Handler
	}
	body := []byte(`{"query":` + quote(guardQuery) + `}`)

	run := func(b *testing.B, h http.Handler, prepare func(*http.Request) *http.Request) {
		check := func() {
			req := prepare(httptest.NewRequest(http.MethodPost, "/query", bytes.NewReader(body)))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			var out struct {
				Data struct {
					Orders struct{ Edges []json.RawMessage }
				}
				Errors []any
			}
			if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &out) != nil || len(out.Errors) > 0 || len(out.Data.Orders.Edges) != 20 {
				b.Fatalf("HTTP %d %s", rec.Code, rec.Body)
			}
		}
		check()
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			req := prepare(httptest.NewRequest(http.MethodPost, "/query", bytes.NewReader(body)))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Fatalf("HTTP %d %s", rec.Code, rec.Body)
			}
		}
	}
	withKey := func(r *http.Request) *http.Request {
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Authorization", "Bearer "+key)
		return r
	}

	b.Run("guarded/ratelimit-off", func(b *testing.B) {
		run(b, handler(0, 1, "https://ops.example.com"), withKey)
	})
	b.Run("guarded/ratelimit-on", func(b *testing.B) {
		run(b, handler(1e9, 1e9, "https://ops.example.com"), withKey)
	})
	// The part of the guards that touches the database: the key lookup.
	b.Run("authenticate", func(b *testing.B) {
		a := base.Auth
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := a.Authenticate(ctx, key); err != nil {
				b.Fatal(err)
			}
		}
	})

	// The same lookup under a cancelable context, as net/http gives every
	// request: on the store's plain client each SQLite statement then
	// watches the context for an interrupt; on its detached client, the
	// app's lookup on SQLite, it does not. The difference is what the
	// detached lookup saves a request.
	for _, v := range []struct {
		name   string
		lookup *ent.Client
	}{{"plain", s.Client}, {"detached", s.Detached()}} {
		b.Run("authenticate-cancelable/"+v.name, func(b *testing.B) {
			a := &auth.Authenticator{Client: s.Client, Lookup: v.lookup}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := a.Authenticate(ctx, key); err != nil {
					b.Fatal(err)
				}
			}
		})
	}

	// Wired by hand on purpose: the bare GraphQL handler over the app's own
	// resolver, without the HTTP surface, is what the guards are priced against.
	bare := graph.NewHandler(base.Resolver, graph.Options{Logger: logger})
	withPrincipal := func(r *http.Request) *http.Request {
		r.Header.Set("Content-Type", "application/json")
		// A cancelable context, as net/http gives every request (httptest's
		// is not): with one, each SQLite statement watches it for an
		// interrupt (its cost: authenticate-cancelable above); that is the
		// server's, not a guard's.
		ctx, cancel := context.WithCancel(r.Context())
		b.Cleanup(cancel)
		return r.WithContext(auth.WithPrincipal(ctx, p))
	}
	b.Run("bare", func(b *testing.B) { run(b, bare, withPrincipal) })

	// The variants, one request each in turn, timed apart: on a busy
	// machine the noise then falls on all alike, and the overhead is read
	// from one run. The trivial { __typename } through both tells what the
	// guards cost by themselves (they do not depend on the operation).
	b.Run("interleaved", func(b *testing.B) {
		trivial := []byte(`{"query":"{ __typename }"}`)
		off := handler(0, 1)
		on := handler(1e9, 1e9)
		variants := []struct {
			h       http.Handler
			prepare func(*http.Request) *http.Request
			body    []byte
			unit    string
		}{
			{off, withKey, body, "guarded-ratelimit-off-ns/req"},
			{on, withKey, body, "guarded-ratelimit-on-ns/req"},
			{bare, withPrincipal, body, "bare-ns/req"},
			{on, withKey, trivial, "guarded-trivial-ns/req"},
			{bare, withPrincipal, trivial, "bare-trivial-ns/req"},
		}
		spent := make([]time.Duration, len(variants))
		n := 0
		for b.Loop() {
			for k := range variants {
				// Each turn starts with another variant: no position bias
				// (a GC the one before left behind, a warm cache).
				i := (n + k) % len(variants)
				v := variants[i]
				req := v.prepare(httptest.NewRequest(http.MethodPost, "/query", bytes.NewReader(v.body)))
				rec := httptest.NewRecorder()
				start := time.Now()
				v.h.ServeHTTP(rec, req)
				spent[i] += time.Since(start)
				if rec.Code != http.StatusOK {
					b.Fatalf("HTTP %d %s", rec.Code, rec.Body)
				}
			}
			n++
		}
		per := func(i int) float64 { return float64(spent[i].Nanoseconds()) / float64(n) }
		for i, v := range variants {
			b.ReportMetric(per(i), v.unit)
		}
		b.ReportMetric(100*(per(0)/per(2)-1), "overhead-off-%")
		b.ReportMetric(100*(per(1)/per(2)-1), "overhead-on-%")
		// The guards' own cost over the nested request's bare time.
		b.ReportMetric(100*(per(3)-per(4))/per(2), "guards-alone-%")
	})
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
