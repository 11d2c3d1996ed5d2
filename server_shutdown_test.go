package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strings"
	"testing"
	"time"

	"github.com/frsvc/fulfillment/internal/db"
	"github.com/frsvc/fulfillment/internal/tenant"
	"github.com/frsvc/fulfillment/internal/testdb"
)

// TestGracefulShutdown starts the real server with run(), puts several
// importOrder requests in flight (each has sent half its body when the
// context is canceled), then lets them finish: the server stops accepting
// connections at once, every in-flight request completes with 200 and its
// order, and run() returns nil once they are done.
func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	for _, kind := range testdb.Kinds(t) {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			url := testdb.URL(t, kind)
			const key = "frk_shutdown_test_key_0123456789abcdefghij"
			srv := startRun(t, []string{"--addr", "127.0.0.1:0", "--database-url", url, "--send-interval", "0"},
				map[string]string{"BOOTSTRAP_API_KEY": key}, 20*time.Second)
			cancel, done, stderr := srv.cancel, srv.done, srv.stderr
			addr := strings.TrimPrefix(srv.url, "http://")
			// No keep-alive: an idle connection is Shutdown's to close, and a
			// request the client sent on one would be cut off with it. The
			// client waits for the server's 100 Continue before it sends the
			// body of a request that asks for one (Expect: 100-continue).
			client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true, ExpectContinueTimeout: 30 * time.Second},
				Timeout: 30 * time.Second}
			defer client.CloseIdleConnections()

			// A first request, to know the server answers (its connection
			// is idle afterwards: Shutdown closes it). With continued set,
			// the request asks for a 100 Continue and continued is closed
			// when it arrives.
			post := func(body io.Reader, continued chan struct{}) (int, string, error) {
				req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/query", body)
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+key)
				if continued != nil {
					req.Header.Set("Expect", "100-continue")
					req = req.WithContext(httptrace.WithClientTrace(req.Context(),
						&httptrace.ClientTrace{Got100Continue: func() { close(continued) }}))
				}
				resp, err := client.Do(req)
				if err != nil {
					return 0, "", err
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				return resp.StatusCode, string(b), nil
			}
			if status, body, err := post(strings.NewReader(`{"query":"{ viewer { role } }"}`), nil); err != nil || status != http.StatusOK {
				t.Fatalf("first request: %d %s %v", status, body, err)
			}

			const inFlight = 5
			type result struct {
				status int
				body   string
				err    error
			}
			results := make(chan result, inFlight)
			writers := make([]*io.PipeWriter, inFlight)
			rests := make([][]byte, inFlight)
			for i := range inFlight {
				body, _ := json.Marshal(map[string]any{
					"query": `mutation($in: ImportOrderInput!) { importOrder(input: $in) { id orderNumber } }`,
					"variables": map[string]any{"in": map[string]any{
						"channel": "web", "orderNumber": fmt.Sprintf("SHUT-%d", i), "paymentStatus": "PAID",
						"shipTo": map[string]any{"line1": "1 Main St", "city": "Springfield", "postalCode": "12345", "country": "US"},
						"lines":  []any{map[string]any{"sku": "A", "quantity": 1, "unitPrice": "1.00"}},
					}},
				})
				// 64 KiB, so that the first half leaves the client's buffers and
				// the server is reading the body when the shutdown starts.
				body = append(body, bytes.Repeat([]byte(" "), 64<<10-len(body))...)
				pr, pw := io.Pipe()
				writers[i], rests[i] = pw, body[len(body)/2:]
				continued := make(chan struct{})
				go func() {
					status, b, err := post(pr, continued)
					results <- result{status, b, err}
				}()
				if _, err := pw.Write(body[:len(body)/2]); err != nil {
					t.Fatal(err)
				}
				// The client read the first half only after the server's 100
				// Continue, which the server sends when its handler first
				// reads the body: the request is being served, and Shutdown
				// waits for it. (Accepting its connection is not enough:
				// net/http drops, unanswered, a request whose header it reads
				// only after the shutdown has begun.)
				select {
				case <-continued:
				default:
					t.Fatalf("request %d: its body went out without the server's 100 Continue", i)
				}
			}

			// Shut down while every request has half a body sent.
			cancel()
			for deadline := time.Now().Add(10 * time.Second); ; {
				c, err := net.DialTimeout("tcp", addr, time.Second)
				if err != nil {
					break // the listener is closed: shutdown is under way
				}
				c.Close()
				if time.Now().After(deadline) {
					t.Fatal("the server still accepts connections 10 s after the cancel")
				}
				time.Sleep(5 * time.Millisecond)
			}
			select {
			case err := <-done:
				t.Fatalf("run returned (%v) with %d requests in flight", err, inFlight)
			case <-time.After(100 * time.Millisecond):
			}

			for i, pw := range writers {
				if _, err := pw.Write(rests[i]); err != nil {
					t.Errorf("request %d: the rest of the body: %v", i, err)
				}
				pw.Close()
			}
			numbers := map[string]bool{}
			for range inFlight {
				r := <-results
				if r.err != nil || r.status != http.StatusOK {
					t.Errorf("in-flight request: HTTP %d %s %v", r.status, r.body, r.err)
					continue
				}
				var out struct {
					Data struct {
						ImportOrder struct{ ID, OrderNumber string }
					}
					Errors []any
				}
				if err := json.Unmarshal([]byte(r.body), &out); err != nil || len(out.Errors) > 0 || out.Data.ImportOrder.ID == "" {
					t.Errorf("in-flight request: %s", r.body)
				}
				numbers[out.Data.ImportOrder.OrderNumber] = true
			}
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("run returned %v", err)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("run did not return after the in-flight requests ended")
			}
			if !strings.Contains(stderr.String(), "shutting down") {
				t.Errorf("no shutdown in the log: %s", stderr)
			}

			// Every in-flight order was committed before the store closed.
			store, err := db.Open(url, db.Config{})
			testdb.Must(t, err)
			defer store.Close()
			n, err := store.Client.Order.Query().Count(tenant.WithSystem(context.Background()))
			testdb.Must(t, err)
			if n != inFlight || len(numbers) != inFlight {
				t.Errorf("%d orders in the database, %d distinct answered; want %d", n, len(numbers), inFlight)
			}
		})
	}
}
