package sender_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/frsvc/fulfillment/ent/fulfillmentlog"
	"github.com/frsvc/fulfillment/ent/fulfillmentrequest"
	"github.com/frsvc/fulfillment/internal/db"
	"github.com/frsvc/fulfillment/internal/frstatus"
	"github.com/frsvc/fulfillment/internal/testdb"
)

// TestTwoServerProcesses runs the real binary twice on one PostgreSQL
// database, each with its own send loop, and checks that together they
// deliver every due request exactly once: the lease works across
// processes, not only across goroutines.
func TestTwoServerProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts the server binary")
	}
	url := testdb.URL(t, testdb.Postgres) // skips without TEST_DATABASE_URL
	bin := filepath.Join(t.TempDir(), "fulfillment")
	testdb.Must(t, testdb.BuildServer(bin))

	store, err := db.Open(url, db.Config{})
	testdb.Must(t, err)
	t.Cleanup(func() { _ = store.Close() })
	testdb.Must(t, store.Migrate(context.Background()))
	const n = 300
	rcv := newCounter(t)
	b := newBulk(t, store, 8, rcv.srv.URL)
	b.seed(t, n)

	for i := range 2 {
		startProcess(t, bin, url, i)
	}
	b.waitDrained(t, time.Minute)

	keys := rcv.snapshot()
	if len(keys) != n {
		t.Errorf("%d keys delivered, want %d", len(keys), n)
	}
	for k, c := range keys {
		if c != 1 {
			t.Errorf("%s delivered %d times", k, c)
		}
	}
	done, err := store.Client.FulfillmentRequest.Query().
		Where(fulfillmentrequest.StatusIn(frstatus.Processed, frstatus.Acknowledged), fulfillmentrequest.Attempts(1),
			fulfillmentrequest.LeaseHolderIsNil()).Count(b.ctx)
	testdb.Must(t, err)
	logs, err := store.Client.FulfillmentLog.Query().Where(fulfillmentlog.Stage("send")).Count(b.ctx)
	testdb.Must(t, err)
	if done != n || logs != n {
		t.Errorf("%d requests delivered once and released, %d send logs; want %d of each", done, logs, n)
	}
}

// startProcess starts the server binary with a fast send loop and stops it
// (SIGINT, as an operator would) when the test ends.
func startProcess(t *testing.T, bin, url string, i int) {
	t.Helper()
	out := &testdb.Buffer{}
	cmd := exec.Command(bin, "--addr", "127.0.0.1:0", "--database-url", url,
		"--send-interval", "50ms", "--send-lease", "30s")
	cmd.Env = append(os.Environ(), "BOOTSTRAP_API_KEY=frk_two_processes_test_key_"+string(rune('a'+i)))
	cmd.Stdout, cmd.Stderr = out, out
	testdb.Must(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("process %d output:\n%s", i, out.String())
		}
	})
	testdb.WaitServing(t, out, exited, 30*time.Second)
}
