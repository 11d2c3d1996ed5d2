// Package acceptance drives the built binary as a user does: it runs
// `go build` once, starts the binary as a child process on a free port over
// a fresh database (SQLite always, PostgreSQL when TEST_DATABASE_URL is set)
// and talks to it only over HTTP.
package acceptance

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/frsvc/fulfillment/internal/e2e"
	"github.com/frsvc/fulfillment/internal/testdb"
)

// binary is the server built once for the whole package.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "frs-acceptance-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "fulfillment")
	if err := testdb.BuildServer(binary); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// server is one running binary.
type server struct {
	t      *testing.T
	cmd    *exec.Cmd
	URL    string
	Key    string
	DBURL  string
	Stdout *testdb.Buffer
	Stderr *testdb.Buffer
	done   chan error
}

// start runs the binary over dbURL with args, BOOTSTRAP_API_KEY set, and
// waits until it says where it serves.
func start(t *testing.T, dbURL string, args ...string) *server {
	t.Helper()
	key := "acceptance-admin-key-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	cmd := exec.Command(binary, append([]string{"--addr", "127.0.0.1:0", "--send-interval", "0"}, args...)...)
	cmd.Env = append(os.Environ(), "DATABASE_URL="+dbURL, "BOOTSTRAP_API_KEY="+key, "RATE_LIMIT=0")
	cmd.Dir = t.TempDir()
	s := &server{t: t, cmd: cmd, Key: key, DBURL: dbURL, Stdout: &testdb.Buffer{}, Stderr: &testdb.Buffer{}, done: make(chan error, 1)}
	pr, pw := io.Pipe()
	cmd.Stdout = io.MultiWriter(s.Stdout, pw)
	cmd.Stderr = s.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.done <- cmd.Wait(); _ = pw.Close() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-s.done
		if t.Failed() {
			t.Logf("server stderr:\n%s", s.Stderr.String())
		}
	})
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if m := testdb.ServingLine.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	select {
	case s.URL = <-found:
	case err := <-s.done:
		t.Fatalf("the server exited before serving: %v\nstdout:\n%s\nstderr:\n%s", err, s.Stdout, s.Stderr)
	case <-time.After(60 * time.Second):
		t.Fatalf("the server did not start\nstdout:\n%s\nstderr:\n%s", s.Stdout, s.Stderr)
	}
	return s
}

// gqlError is one error of an answer.
type gqlError = e2e.Error

// do posts one GraphQL operation with key and returns data and errors.
func (s *server) do(key, query string, vars map[string]any) (json.RawMessage, []gqlError) {
	s.t.Helper()
	res, err := e2e.Post(nil, s.URL, e2e.Request{Key: key, Query: query, Variables: vars})
	if err != nil {
		s.t.Fatal(err)
	}
	return res.Data, res.Errors
}

// q runs an operation with the ADMIN key, fails on any error and decodes
// data into out.
func (s *server) q(query string, vars map[string]any, out any) {
	s.t.Helper()
	data, errs := s.do(s.Key, query, vars)
	if len(errs) > 0 {
		s.t.Fatalf("%s: %+v", firstLine(query), errs)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			s.t.Fatalf("decode %s: %v", data, err)
		}
	}
}

func (s *server) get(path string) (int, string) {
	s.t.Helper()
	resp, err := http.Get(s.URL + path)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// each runs fn on a fresh SQLite file and, when configured, a fresh
// PostgreSQL database.
func each(t *testing.T, fn func(t *testing.T, dbURL string)) {
	t.Helper()
	for _, kind := range testdb.Kinds(t) {
		t.Run(kind, func(t *testing.T) { fn(t, testdb.URL(t, kind)) })
	}
}

// TestDemoPreviews: `--demo`, then a preview of every demo order; none may
// answer INTERNAL (the released server answered every preview so).
func TestDemoPreviews(t *testing.T) {
	each(t, func(t *testing.T, dbURL string) {
		s := start(t, dbURL, "--demo")
		if !strings.Contains(s.Stdout.String(), "Seeded the demo data set") {
			t.Fatalf("no demo seeded: %s", s.Stdout)
		}
		var out struct {
			Orders struct {
				Edges []struct {
					Node struct{ ID, OrderNumber string }
				}
			}
		}
		s.q(`{ orders(first: 100) { edges { node { id orderNumber } } } }`, nil, &out)
		if len(out.Orders.Edges) < 10 {
			t.Fatalf("only %d demo orders", len(out.Orders.Edges))
		}
		routable := 0
		for _, e := range out.Orders.Edges {
			data, errs := s.do(s.Key, `query($id: ID!) { fulfillmentPreview(orderID: $id) { canRoute roadblocks { code } plan { totalCost } } }`,
				map[string]any{"id": e.Node.ID})
			if len(errs) > 0 {
				t.Errorf("preview of %s: %+v", e.Node.OrderNumber, errs)
				continue
			}
			if strings.Contains(string(data), `"canRoute":true`) {
				routable++
			}
		}
		if routable == 0 {
			t.Error("no demo order can be routed")
		}
	})
}

// TestDemoSupplier: the process started with --demo serves the demo
// supplier its HTTP source posts to, so the first send run gets the demo
// HTTP source's requests acknowledged; the demo holds requests in every
// status, and its FILE drops are under --file-drop-root.
func TestDemoSupplier(t *testing.T) {
	each(t, func(t *testing.T, dbURL string) {
		drops := t.TempDir()
		s := start(t, dbURL, "--demo", "--file-drop-root", drops)
		var frs struct {
			FulfillmentRequests struct {
				Edges []struct {
					Node struct {
						ID, Number, Status, ShipmentStatus string
						ConfirmationNumber                 *string
						Source                             struct{ Code string }
					}
				}
			}
		}
		list := `{ fulfillmentRequests(first: 100) { edges { node { id number status shipmentStatus confirmationNumber source { code } } } } }`
		s.q(list, nil, &frs)
		statuses := map[string]int{}
		var west []string
		for _, e := range frs.FulfillmentRequests.Edges {
			statuses[e.Node.Status]++
			statuses[e.Node.ShipmentStatus]++
			if e.Node.Source.Code == "WEST-WH" && e.Node.Status == "PROCESSING" {
				west = append(west, e.Node.ID)
			}
		}
		for _, st := range []string{"UNPROCESSED", "PROCESSING", "PROCESSED", "ACKNOWLEDGED", "PARTIALLY_SHIPPED", "SHIPPED", "VOIDED", "FAILED"} {
			if statuses[st] == 0 {
				t.Errorf("no demo request is %s: %v", st, statuses)
			}
		}
		if len(west) == 0 {
			t.Fatal("no request of the demo HTTP source WEST-WH waits to be sent")
		}
		var run struct {
			RunSendFulfillmentRequests struct {
				Acknowledged, Failed, Retried int
				Complete                      bool
			}
		}
		s.q(`mutation { runSendFulfillmentRequests { acknowledged failed retried complete } }`, nil, &run)
		if r := run.RunSendFulfillmentRequests; r.Acknowledged < len(west) || r.Failed+r.Retried != 0 || !r.Complete {
			t.Errorf("the first send run = %+v, want the %d requests of WEST-WH acknowledged", r, len(west))
		}
		s.q(list, nil, &frs)
		for _, e := range frs.FulfillmentRequests.Edges {
			if !slices.Contains(west, e.Node.ID) {
				continue
			}
			if e.Node.Status != "ACKNOWLEDGED" || e.Node.ConfirmationNumber == nil || !strings.HasPrefix(*e.Node.ConfirmationNumber, "WEST-") {
				t.Errorf("request %s after the send run: %s, confirmation %v; want ACKNOWLEDGED by the demo supplier",
					e.Node.Number, e.Node.Status, e.Node.ConfirmationNumber)
			}
		}
		files, _ := filepath.Glob(filepath.Join(drops, "account-*", "eu-sup", "*"))
		if len(files) == 0 {
			t.Errorf("no FILE drop of the demo under --file-drop-root %s", drops)
		}
		if cwd, _ := filepath.Glob(filepath.Join(s.cmd.Dir, "drops")); len(cwd) != 0 {
			t.Errorf("the demo wrote drops in the working directory: %v", cwd)
		}
	})
}

// TestOperatorStory is one operator's day through the binary: set up an
// HTTP source (a local supplier that checks the signature), import,
// preview, generate, process, send run, acknowledge, ship in two parts,
// void and regenerate, read the logs; and the statement metric moves on a
// preview.
func TestOperatorStory(t *testing.T) {
	each(t, func(t *testing.T, dbURL string) {
		const secret = "acceptance-supplier-signing-secret"
		var received, badSignatures atomic.Int64
		supplier := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			mac := hmac.New(sha256.New, []byte(secret))
			mac.Write(body)
			if r.Header.Get("Fulfillment-Signature") != "sha256="+hex.EncodeToString(mac.Sum(nil)) || r.Header.Get("Idempotency-Key") == "" {
				badSignatures.Add(1)
				http.Error(w, "bad signature", http.StatusUnauthorized)
				return
			}
			received.Add(1)
			w.WriteHeader(http.StatusOK) // delivered, not acknowledged: the source acknowledges later
		}))
		t.Cleanup(supplier.Close)
		s := start(t, dbURL)

		for _, path := range []string{"/healthz", "/readyz"} {
			if code, body := s.get(path); code != http.StatusOK {
				t.Errorf("%s: %d %s", path, code, body)
			}
		}

		var src struct{ CreateSource struct{ ID string } }
		s.q(`mutation($in: CreateSourceInput!) { createSource(input: $in) { id } }`, map[string]any{"in": map[string]any{
			"name": "Supplier", "code": "SUP", "dropshipFee": "1.00",
			"connector": map[string]any{"kind": "HTTP", "url": supplier.URL, "secret": secret, "timeoutSeconds": 5},
		}}, &src)
		s.q(`mutation($id: ID!) { upsertInventory(sourceID: $id, items: [{sku: "TEE", quantity: 10, unitCost: "4.00"}]) { id } }`,
			map[string]any{"id": src.CreateSource.ID}, nil)
		s.q(`mutation($id: ID!) { createRoutingGroup(input: {name: "Default", isDefault: true, rules: [LOWEST_COST], members: [{sourceID: $id, priority: 1}]}) { id } }`,
			map[string]any{"id": src.CreateSource.ID}, nil)
		importOrder := `mutation($n: String!) { importOrder(input: {channel: "web", orderNumber: $n, paymentStatus: PAID,
			shipTo: {line1: "1 Main St", city: "Springfield", postalCode: "12345", country: "US"},
			lines: [{sku: "TEE", quantity: 3, unitPrice: "19.99"}]}) { id } }`
		var o1, o2 struct{ ImportOrder struct{ ID string } }
		s.q(importOrder, map[string]any{"n": "A-1001"}, &o1)
		s.q(importOrder, map[string]any{"n": "A-1002"}, &o2)

		before := s.metric("fulfillment_db_statements_total")
		var prev struct {
			FulfillmentPreview struct {
				CanRoute bool
				Plan     struct{ TotalCost string }
			}
		}
		s.q(`query($id: ID!) { fulfillmentPreview(orderID: $id) { canRoute plan { totalCost } } }`, map[string]any{"id": o1.ImportOrder.ID}, &prev)
		if !prev.FulfillmentPreview.CanRoute || prev.FulfillmentPreview.Plan.TotalCost != "13.00" {
			t.Fatalf("preview: %+v", prev)
		}
		if after := s.metric("fulfillment_db_statements_total"); after <= before {
			t.Errorf("the statement count did not move on a preview: %v → %v", before, after)
		}

		type fr struct {
			ID, Number, Status string
			Items              []struct{ ID string }
		}
		generate := func(orderID string) fr {
			var g struct {
				GenerateFulfillmentRequests struct{ FulfillmentRequests []fr }
			}
			s.q(`mutation($id: ID!) { generateFulfillmentRequests(orderID: $id) { fulfillmentRequests { id number status items { id } } } }`,
				map[string]any{"id": orderID}, &g)
			if len(g.GenerateFulfillmentRequests.FulfillmentRequests) != 1 {
				t.Fatalf("generate: %+v", g)
			}
			return g.GenerateFulfillmentRequests.FulfillmentRequests[0]
		}
		fr1, fr2 := generate(o1.ImportOrder.ID), generate(o2.ImportOrder.ID)
		s.q(`mutation($ids: [ID!]!) { processFulfillmentRequests(ids: $ids) { id } }`, map[string]any{"ids": []string{fr1.ID}}, nil)
		var run struct{ RunSendFulfillmentRequests map[string]int }
		s.q(`mutation { runSendFulfillmentRequests { claimed processed acknowledged failed retried } }`, nil, &run)
		if run.RunSendFulfillmentRequests["processed"] != 1 || received.Load() != 1 || badSignatures.Load() != 0 {
			t.Fatalf("send run: %v, supplier received %d (bad signatures %d)", run.RunSendFulfillmentRequests, received.Load(), badSignatures.Load())
		}
		status := func(id string) string {
			var n struct{ Node struct{ Status string } }
			s.q(`query($id: ID!) { node(id: $id) { ... on FulfillmentRequest { status } } }`, map[string]any{"id": id}, &n)
			return n.Node.Status
		}
		s.q(`mutation($id: ID!) { acknowledgeFulfillmentRequest(id: $id, confirmationNumber: "SUP-1") { id } }`, map[string]any{"id": fr1.ID}, nil)
		if got := status(fr1.ID); got != "ACKNOWLEDGED" {
			t.Fatalf("after acknowledge: %s", got)
		}
		ship := `mutation($fr: ID!, $item: ID!, $n: String!, $q: Int!) { createShipment(input: {fulfillmentRequestID: $fr, trackingNumber: $n,
			carrier: "UPS", items: [{fulfillmentRequestItemID: $item, quantity: $q}]}) { id } }`
		s.q(ship, map[string]any{"fr": fr1.ID, "item": fr1.Items[0].ID, "n": "1Z001", "q": 1}, nil)
		s.q(ship, map[string]any{"fr": fr1.ID, "item": fr1.Items[0].ID, "n": "1Z002", "q": 2}, nil)
		var shipped struct {
			Node struct{ ShipmentStatus string }
		}
		s.q(`query($id: ID!) { node(id: $id) { ... on FulfillmentRequest { shipmentStatus } } }`, map[string]any{"id": fr1.ID}, &shipped)
		if shipped.Node.ShipmentStatus != "SHIPPED" {
			t.Errorf("after two shipments: %s", shipped.Node.ShipmentStatus)
		}

		s.q(`mutation($id: ID!) { voidFulfillmentRequest(id: $id, reason: "wrong size") { id } }`, map[string]any{"id": fr2.ID}, nil)
		regen := generate(o2.ImportOrder.ID)
		if regen.ID == fr2.ID || status(fr2.ID) != "VOIDED" {
			t.Fatalf("void then generate again: %+v, old %s", regen, status(fr2.ID))
		}
		var rg struct {
			RegenerateFulfillmentRequest struct{ FulfillmentRequests []fr }
		}
		s.q(`mutation($id: ID!) { regenerateFulfillmentRequest(id: $id, reason: "supplier asked") { fulfillmentRequests { id status } } }`,
			map[string]any{"id": regen.ID}, &rg)
		if len(rg.RegenerateFulfillmentRequest.FulfillmentRequests) != 1 || status(regen.ID) != "VOIDED" {
			t.Fatalf("regenerate: %+v", rg)
		}

		var logs struct {
			FulfillmentLogs struct{ TotalCount int }
		}
		s.q(`{ fulfillmentLogs { totalCount } }`, nil, &logs)
		if logs.FulfillmentLogs.TotalCount < 15 {
			t.Errorf("only %d log entries for the whole story", logs.FulfillmentLogs.TotalCount)
		}
	})
}

// metric reads one unlabelled sample from /metrics.
func (s *server) metric(name string) float64 {
	s.t.Helper()
	code, body := s.get("/metrics")
	if code != http.StatusOK {
		s.t.Fatalf("/metrics: %d", code)
	}
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				s.t.Fatalf("%s: %v", line, err)
			}
			return f
		}
	}
	s.t.Fatalf("no %s in /metrics", name)
	return 0
}

// TestAccountsCreate: `accounts create` prints the new account's ADMIN key
// alone on the last line, and a server over the same database takes it.
func TestAccountsCreate(t *testing.T) {
	each(t, func(t *testing.T, dbURL string) {
		s := start(t, dbURL)
		cmd := exec.Command(binary, "accounts", "create", "--name", "Second shop", "--database-url", dbURL)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("accounts create: %v\n%s", err, stderr.String())
		}
		lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
		key := strings.TrimSpace(lines[len(lines)-1])
		data, errs := s.do(key, `{ viewer { role account { name } } }`, nil)
		if len(errs) > 0 || !strings.Contains(string(data), `"name":"Second shop"`) || !strings.Contains(string(data), `"role":"ADMIN"`) {
			t.Fatalf("the new key: %s %+v", data, errs)
		}
	})
}

// TestSIGTERMWithRequestInFlight: SIGTERM while a send run waits on a slow
// supplier; the request is answered, the process exits 0 and says so.
func TestSIGTERMWithRequestInFlight(t *testing.T) {
	each(t, func(t *testing.T, dbURL string) {
		const secret = "acceptance-slow-supplier-secret"
		arrived := make(chan struct{}, 1)
		supplier := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			arrived <- struct{}{}
			time.Sleep(time.Second)
			w.WriteHeader(http.StatusOK)
		}))
		t.Cleanup(supplier.Close)
		s := start(t, dbURL)
		var src struct{ CreateSource struct{ ID string } }
		s.q(`mutation($in: CreateSourceInput!) { createSource(input: $in) { id } }`, map[string]any{"in": map[string]any{
			"name": "Slow", "code": "SLOW", "connector": map[string]any{"kind": "HTTP", "url": supplier.URL, "secret": secret, "timeoutSeconds": 10},
		}}, &src)
		var o struct {
			ImportOrder struct {
				ID    string
				Lines []struct{ ID string }
			}
		}
		s.q(`mutation { importOrder(input: {channel: "web", orderNumber: "S-1", paymentStatus: PAID,
			shipTo: {line1: "1 Main St", city: "Springfield", postalCode: "12345", country: "US"},
			lines: [{sku: "TEE", quantity: 1, unitPrice: "9.99"}]}) { id lines { id } } }`, nil, &o)
		var c struct {
			CreateFulfillmentRequest struct{ ID string }
		}
		// The source has never carried TEE: the item says what it costs.
		s.q(`mutation($o: ID!, $s: ID!, $l: ID!) { createFulfillmentRequest(input: {orderID: $o, sourceID: $s, allowOvercommit: true,
			items: [{orderLineID: $l, quantity: 1, unitCost: "4.00"}]}) { id } }`,
			map[string]any{"o": o.ImportOrder.ID, "s": src.CreateSource.ID, "l": o.ImportOrder.Lines[0].ID}, &c)
		s.q(`mutation($ids: [ID!]!) { processFulfillmentRequests(ids: $ids) { id } }`, map[string]any{"ids": []string{c.CreateFulfillmentRequest.ID}}, nil)

		answered := make(chan string, 1)
		go func() {
			data, errs := s.do(s.Key, `mutation { runSendFulfillmentRequests { processed } }`, nil)
			answered <- fmt.Sprintf("%s %v", data, errs)
		}()
		select {
		case <-arrived:
		case <-time.After(30 * time.Second):
			t.Fatal("the delivery never reached the supplier")
		}
		if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		select {
		case got := <-answered:
			if !strings.Contains(got, `"processed":1`) {
				t.Errorf("the request in flight: %s", got)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("the request in flight was not answered")
		}
		select {
		case err := <-s.done:
			s.done <- err // for the cleanup
			if err != nil {
				t.Errorf("exit after SIGTERM: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("the server did not stop")
		}
		if !strings.Contains(s.Stderr.String(), `"msg":"stopped"`) {
			t.Errorf("no stopped line in the log")
		}
	})
}

// TestREADMEWorkedExample runs the README's `worked-example` blocks, in
// order, in one bash against the binary, as a reader would paste them:
// every command must succeed, the story must end shipped, and the second
// order must change after import and end canceled.
func TestREADMEWorkedExample(t *testing.T) {
	if _, err := exec.LookPath("jq"); err != nil {
		t.Fatal("the worked example needs jq (.ci/run installs it)")
	}
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```sh worked-example\n(.*?)```").FindAllSubmatch(readme, -1)
	if len(blocks) < 3 {
		t.Fatalf("found %d worked-example blocks in the README, want at least 3", len(blocks))
	}
	var script strings.Builder
	for _, b := range blocks {
		script.Write(b[1])
	}
	each(t, func(t *testing.T, dbURL string) {
		s := start(t, dbURL)
		cmd := exec.Command("bash", "-euo", "pipefail", "-c", script.String())
		cmd.Env = append(os.Environ(), "URL="+s.URL, "KEY="+s.Key)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("the worked example failed: %v\n%s", err, out)
		}
		for _, want := range []string{`"totalCost":"12.20"`, `"processed":1`, `"status":"ACKNOWLEDGED"`, "SHIPPED", "import: Order 1001 imported",
			`"sendStatus":{"due":0,"sending":0,"waiting":0,"nextAttemptAt":null,"lastRun":{"startedAt":`,
			// The order changed after import, then canceled.
			`{"updateOrderPayment":{"paymentStatus":"PAID"}}`, `{"updateOrder":{"lines":[{"quantity":3}]}}`,
			`{"cancelOrder":{"status":"CANCELED","allocationStatus":"CANCELED"}}`} {
			if !strings.Contains(string(out), want) {
				t.Errorf("the worked example's output lacks %q:\n%s", want, out)
			}
		}
	})
}

// runBinary runs the binary to its end and returns its stdout, stderr and
// exit code.
func runBinary(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = t.TempDir()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		code = exit.ExitCode()
	default:
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

// TestAccountsKeysCreate: whoever runs the server makes an account a new
// ADMIN key from the command line; the secret is alone on the last line.
func TestAccountsKeysCreate(t *testing.T) {
	each(t, func(t *testing.T, dbURL string) {
		s := start(t, dbURL)
		var v struct {
			Viewer struct{ Account struct{ ID, Name string } }
		}
		s.q(`{ viewer { account { id name } } }`, nil, &v)
		out, errOut, code := runBinary(t, "accounts", "keys", "create", "--account", v.Viewer.Account.ID, "--role", "ADMIN",
			"--name", "recovery", "--database-url", dbURL)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		key := lines[len(lines)-1]
		if !regexp.MustCompile(`^frk_[a-z2-7]{52}$`).MatchString(key) {
			t.Fatalf("last line %q is not a key alone (stdout %q)", key, out)
		}
		data, errs := s.do(key, `{ viewer { role apiKey { name } account { name } } apiKeys { totalCount } }`, nil)
		if len(errs) > 0 || !strings.Contains(string(data), `"role":"ADMIN"`) || !strings.Contains(string(data), `"name":"recovery"`) ||
			!strings.Contains(string(data), `"totalCount":2`) {
			t.Fatalf("the new key: %s %+v", data, errs)
		}
		for _, c := range []struct {
			args []string
			want string
		}{
			{[]string{"--account", "999999", "--role", "ADMIN"}, "account 999999 not found"},
			{[]string{"--account", "x", "--role", "ADMIN"}, "--account"},
			{[]string{"--account", v.Viewer.Account.ID}, "--role is required"},
			{[]string{"--account", v.Viewer.Account.ID, "--role", "SOURCE"}, "--source"},
			{[]string{"--account", v.Viewer.Account.ID, "--role", "OWNER"}, "--role"},
		} {
			out, errOut, code := runBinary(t, append([]string{"accounts", "keys", "create", "--database-url", dbURL}, c.args...)...)
			if code == 0 || !strings.Contains(errOut, c.want) || strings.Contains(out, "frk_") {
				t.Errorf("%q: exit %d, stderr %q, stdout %q; want an error naming %s", c.args, code, errOut, out, c.want)
			}
		}
	})
}

// TestHelp: --help of the program and of each command exits 0 and lists the
// commands on stdout.
func TestHelp(t *testing.T) {
	for _, args := range [][]string{
		{"--help"}, {"-h"}, {"accounts", "--help"}, {"accounts", "create", "--help"},
		{"accounts", "keys", "--help"}, {"accounts", "keys", "create", "--help"},
	} {
		out, errOut, code := runBinary(t, args...)
		if code != 0 || !strings.Contains(out, "accounts create --name") || !strings.Contains(out, "accounts keys create --account") {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", args, code, out, errOut)
		}
	}
	out, _, _ := runBinary(t, "accounts", "keys", "create", "--help")
	if !strings.Contains(out, "-role") || !strings.Contains(out, "-source") {
		t.Errorf("accounts keys create --help lists no flags: %q", out)
	}
}

// TestBootstrapKeyIgnoredWarns: BOOTSTRAP_API_KEY on a database that has an
// account already makes nothing, and the log says so at start-up.
func TestBootstrapKeyIgnoredWarns(t *testing.T) {
	each(t, func(t *testing.T, dbURL string) {
		first := start(t, dbURL)
		if strings.Contains(first.Stderr.String(), "BOOTSTRAP_API_KEY") {
			t.Errorf("the first start warns: %s", first.Stderr.String())
		}
		second := start(t, dbURL) // another BOOTSTRAP_API_KEY
		// Written before the serving line, on another pipe.
		log := second.Stderr.String()
		for deadline := time.Now().Add(10 * time.Second); !strings.Contains(log, "BOOTSTRAP_API_KEY") && time.Now().Before(deadline); {
			time.Sleep(20 * time.Millisecond)
			log = second.Stderr.String()
		}
		if !strings.Contains(log, `"level":"WARN"`) || !strings.Contains(log, "BOOTSTRAP_API_KEY is ignored") ||
			strings.Contains(log, second.Key) {
			t.Errorf("no warning (or the secret in it): %s", log)
		}
		if _, errs := second.do(second.Key, `{ viewer { role } }`, nil); len(errs) == 0 {
			t.Error("the ignored key authenticates")
		}
	})
}

// TestReadyzDuringShutdown: once SIGTERM has begun the shutdown, /readyz
// answers 503 while the server still serves (--shutdown-delay), then the
// process stops and says so.
func TestReadyzDuringShutdown(t *testing.T) {
	each(t, func(t *testing.T, dbURL string) {
		s := start(t, dbURL, "--shutdown-delay", "5s")
		if code, body := s.get("/readyz"); code != http.StatusOK {
			t.Fatalf("/readyz before: %d %s", code, body)
		}
		if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		code, body := 0, ""
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if code, body = s.get("/readyz"); code == http.StatusServiceUnavailable {
				break
			}
		}
		if code != http.StatusServiceUnavailable || !strings.Contains(body, "shutting down") {
			t.Fatalf("/readyz once shutdown began: %d %s", code, body)
		}
		// Still serving.
		if _, errs := s.do(s.Key, `{ viewer { role } }`, nil); len(errs) > 0 {
			t.Errorf("a query during the delay: %+v", errs)
		}
		select {
		case err := <-s.done:
			s.done <- err
			if err != nil {
				t.Errorf("exit after SIGTERM: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("the server did not stop")
		}
		if !strings.Contains(s.Stderr.String(), `"msg":"stopped"`) {
			t.Errorf("no stopped line in the log")
		}
	})
}
