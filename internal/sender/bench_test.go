package sender_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/frsvc/fulfillment/internal/sender"
	"github.com/frsvc/fulfillment/internal/tenant"
	"github.com/frsvc/fulfillment/internal/testdb"
)

// benchBatch is how many PROCESSING requests each iteration drains.
const benchBatch = 500

// benchSources is how many sources the requests are spread over: a run
// drains each source on its own, one delivery at a time per source by
// default, so that eight sources are eight deliveries in flight.
const benchSources = 8

// newFastSource is an HTTP source that answers 200 at once.
func newFastSource(tb testing.TB) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusOK)
	}))
	tb.Cleanup(srv.Close)
	return srv
}

// BenchmarkSendRun measures the send run's throughput on PostgreSQL: each
// iteration seeds 500 due requests (outside the timer) and drains them with
// one or two runners working at once, as server replicas would. Compare
// FRs/s with BenchmarkBareSource, the source's own limit.
//
//	TEST_DATABASE_URL=postgres://… go test -run '^$' -bench . -benchtime 3x ./internal/sender/
func BenchmarkSendRun(b *testing.B) {
	if os.Getenv("TEST_DATABASE_URL") == "" {
		b.Skip("TEST_DATABASE_URL is not set: the send-run benchmark runs on PostgreSQL only")
	}
	for _, runners := range []int{1, 2} {
		b.Run(fmt.Sprintf("runners=%d", runners), func(b *testing.B) {
			store := testdb.Open(b, testdb.Postgres)
			bk := newBulk(b, store, benchSources, newFastSource(b).URL)
			rs := make([]*sender.Runner, runners)
			for i := range rs {
				rs[i] = newRunner(store, nil, fmt.Sprintf("bench-%d", i))
			}
			sys := tenant.WithSystem(context.Background())
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				bk.seed(b, benchBatch)
				b.StartTimer()
				var delivered atomic.Int64
				var wg sync.WaitGroup
				for _, r := range rs {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for {
							res, err := r.RunOnce(sys)
							if err != nil {
								b.Error(err)
								return
							}
							delivered.Add(int64(res.Processed + res.Acknowledged))
							if res.Claimed == 0 {
								return
							}
						}
					}()
				}
				wg.Wait()
				b.StopTimer()
				if got := delivered.Load(); got != benchBatch {
					b.Fatalf("delivered %d of %d", got, benchBatch)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(benchBatch*b.N)/b.Elapsed().Seconds(), "FRs/s")
		})
	}
}

// BenchmarkBareSource measures what the source itself takes: the same
// documents, with the same headers, POSTed straight to the same kind of
// server by as many concurrent clients as a runner uses (8), with no
// database at all. The documents are captured from one send run on SQLite.
func BenchmarkBareSource(b *testing.B) {
	docs := captureDocuments(b, benchBatch)
	url := newFastSource(b).URL
	client := http.DefaultClient // what a Runner uses unless told otherwise
	b.ResetTimer()
	for range b.N {
		next := make(chan capturedRequest)
		var wg sync.WaitGroup
		for range benchSources {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for d := range next {
					req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(d.body))
					req.Header = d.header.Clone()
					resp, err := client.Do(req)
					if err != nil {
						b.Error(err)
						continue
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						b.Errorf("status %d", resp.StatusCode)
					}
				}
			}()
		}
		for _, d := range docs {
			next <- d
		}
		close(next)
		wg.Wait()
	}
	b.ReportMetric(float64(len(docs)*b.N)/b.Elapsed().Seconds(), "FRs/s")
}

type capturedRequest struct {
	body   []byte
	header http.Header
}

// captureDocuments seeds n requests on SQLite and records what one send
// run POSTs for them.
func captureDocuments(b *testing.B, n int) []capturedRequest {
	b.Helper()
	var (
		mu   sync.Mutex
		docs []capturedRequest
	)
	rec := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h := http.Header{}
		for _, k := range []string{"Content-Type", "Idempotency-Key", "Fulfillment-Signature", "User-Agent"} {
			h.Set(k, r.Header.Get(k))
		}
		mu.Lock()
		docs = append(docs, capturedRequest{body: body, header: h})
		mu.Unlock()
	}))
	defer rec.Close()
	store := testdb.Open(b, testdb.SQLite)
	bk := newBulk(b, store, benchSources, rec.URL)
	bk.seed(b, n)
	if _, err := newRunner(store, nil, "capture").RunOnce(tenant.WithSystem(context.Background())); err != nil {
		b.Fatal(err)
	}
	if len(docs) != n {
		b.Fatalf("captured %d documents of %d", len(docs), n)
	}
	return docs
}
