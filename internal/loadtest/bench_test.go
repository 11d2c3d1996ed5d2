package main

import (
	"context"
	"os"
	"runtime/debug"
	"testing"
	"time"

	"github.com/frsvc/fulfillment/internal/gctune"
)

// BenchmarkPage serves the benchmark's nested page once per iteration from
// each server over loopback, one request at a time, on a seeded SQLite
// database (and on PostgreSQL when TEST_DATABASE_URL names a server): the
// CPU and allocation cost of one page, without the load generator's
// queueing. The load test (make bench-load) is the throughput figure; this
// one is for profiling (-cpuprofile, -memprofile) and comparing: cpu-ns/op
// is the process's CPU time per page, the client's included.
//
//	go test -run '^$' -bench Page -benchmem ./internal/loadtest/
func BenchmarkPage(b *testing.B) {
	// The collector's pace the server runs with (GOGC=400 unless set).
	if _, fromEnv := gctune.Apply(os.Getenv); !fromEnv {
		defer debug.SetGCPercent(100)
	}
	kinds := []string{"sqlite"}
	pgURL := os.Getenv("TEST_DATABASE_URL")
	if pgURL != "" {
		kinds = append(kinds, "postgres")
	}
	for _, kind := range kinds {
		b.Run(kind, func(b *testing.B) {
			ctx := context.Background()
			e, err := setup(ctx, kind, 500, pgURL, b.Logf)
			if err != nil {
				b.Fatal(err)
			}
			defer e.close()
			c := newClient(10*time.Second, 4)
			defer c.CloseIdleConnections()
			if _, _, err := checkSame(ctx, c, e.ours, e.base); err != nil {
				b.Fatal(err)
			}
			for _, t := range []target{e.ours, e.base} {
				b.Run(t.name, func(b *testing.B) {
					b.ReportAllocs()
					cpu := processCPU()
					for b.Loop() {
						if _, err := t.do(ctx, c); err != nil {
							b.Fatal(err)
						}
					}
					// The process's CPU time (server, client, collector)
					// per page: what bounds throughput once the cores are
					// busy, and steadier than the time per page.
					b.ReportMetric(float64(processCPU()-cpu)/float64(b.N), "cpu-ns/op")
				})
			}
		})
	}
}
