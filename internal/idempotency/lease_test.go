package idempotency_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/frsvc/fulfillment/ent"
	"github.com/frsvc/fulfillment/ent/idempotencyrecord"
	"github.com/frsvc/fulfillment/internal/app"
	"github.com/frsvc/fulfillment/internal/auth"
	"github.com/frsvc/fulfillment/internal/idempotency"
	"github.com/frsvc/fulfillment/internal/testdb"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

const lease = 40 * time.Second

// leaseWorld is one account of a's store, a clock, and a way to build the
// middleware of a server process over them.
type leaseWorld struct {
	t      *testing.T
	client *ent.Client
	clock  *clock
	ctx    context.Context // the account's key, as authentication leaves it
	keyID  int
}

func newLeaseWorld(t *testing.T, a *app.App) *leaseWorld {
	t.Helper()
	_, secret, err := auth.CreateAccount(context.Background(), a.Store.Client, "Lease account", "")
	if err != nil {
		t.Fatal(err)
	}
	p, err := a.Auth.Authenticate(context.Background(), secret)
	if err != nil {
		t.Fatal(err)
	}
	return &leaseWorld{t: t, client: a.Store.Client, clock: &clock{t: time.Now()},
		ctx: auth.WithPrincipal(context.Background(), p), keyID: p.KeyID}
}

// process is the middleware of one server process named holder.
func (w *leaseWorld) process(holder string) *idempotency.Middleware {
	return &idempotency.Middleware{Client: w.client, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now: w.clock.Now, Lease: lease, Holder: holder}
}

const leaseBody = `{"query":"mutation { importOrder(input: {}) { id } }"}`

// send runs one keyed request through m in front of next.
func (w *leaseWorld) send(m *idempotency.Middleware, key string, next http.HandlerFunc) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, "/query", strings.NewReader(leaseBody)).WithContext(w.ctx)
	r.Header.Set(idempotency.Header, key)
	rec := httptest.NewRecorder()
	m.Wrap(mutation(next)).ServeHTTP(rec, r)
	return rec
}

// mutation stands for the GraphQL executor in front of next: having found
// the request's operation a mutation, it claims the key (as
// idempotency.Extension does) and runs next only when the key is the
// request's.
func mutation(next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if idempotency.Claim(r.Context()) {
			next(w, r)
		}
	})
}

// counting answers {"data":{"run":n}} for its nth execution.
func counting(runs *atomic.Int32) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		n := runs.Add(1)
		_, _ = fmt.Fprintf(w, `{"data":{"run":%d}}`, n)
	}
}

// crash starts a keyed request in a process that then stops answering for
// good (its handler never returns until release is closed, which stands
// for the process being gone): the key is left in progress under the
// process's lease, as a server killed mid-request leaves it.
func (w *leaseWorld) crash(key string) (release func()) {
	w.t.Helper()
	started, done, stop := make(chan struct{}), make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		w.send(w.process("dead-process"), key, func(rw http.ResponseWriter, _ *http.Request) {
			close(started)
			<-stop
			_, _ = io.WriteString(rw, `{"data":{"run":"the dead process"}}`)
		})
	}()
	<-started
	var once sync.Once
	release = func() { once.Do(func() { close(stop); <-done }) }
	w.t.Cleanup(release)
	return release
}

func (w *leaseWorld) record(key string) *ent.IdempotencyRecord {
	w.t.Helper()
	rec, err := w.client.IdempotencyRecord.Query().Where(idempotencyrecord.Key(key)).Only(w.ctx)
	if err != nil {
		w.t.Fatal(err)
	}
	return rec
}

func code(rec *httptest.ResponseRecorder) string {
	for _, c := range []string{"CONFLICT", "IDEMPOTENCY_KEY_REUSED", "INTERNAL"} {
		if strings.Contains(rec.Body.String(), `"code":"`+c+`"`) {
			return c
		}
	}
	return ""
}

// TestLeaseCrashedRequest: a request whose process died mid-request holds
// its key only until its lease expires (the request timeout and a margin,
// not the 24 hours a key is kept). While the lease is live a retry answers
// CONFLICT with a Retry-After; once it has expired, a retry from another
// process runs the request, once, and later retries get its answer. The
// dead request, should it ever finish, cannot overwrite that answer.
func TestLeaseCrashedRequest(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, a *app.App) {
		w := newLeaseWorld(t, a)
		release := w.crash("crashed")
		rec := w.record("crashed")
		if rec.Completed || rec.LeaseHolder == nil || !strings.HasPrefix(*rec.LeaseHolder, "dead-process/") ||
			rec.LeaseExpiresAt == nil || !rec.LeaseExpiresAt.Equal(w.clock.Now().Truncate(time.Microsecond).Add(lease)) {
			t.Fatalf("in-progress record %+v, want the dead process's lease of %s", rec, lease)
		}

		var runs atomic.Int32
		live := w.process("restarted")
		w.clock.Add(lease - time.Second)
		res := w.send(live, "crashed", counting(&runs))
		if res.Code != http.StatusConflict || code(res) != "CONFLICT" || res.Header().Get("Retry-After") != "1" || runs.Load() != 0 {
			t.Fatalf("retry under a live lease: %d %s (Retry-After %q, %d runs), want 409 CONFLICT, Retry-After 1",
				res.Code, res.Body, res.Header().Get("Retry-After"), runs.Load())
		}

		w.clock.Add(time.Second) // the lease ends now
		res = w.send(live, "crashed", counting(&runs))
		if res.Code != http.StatusOK || res.Body.String() != `{"data":{"run":1}}` || res.Header().Get(idempotency.ReplayedHeader) != "" {
			t.Fatalf("retry after the lease expired: %d %s, want the request run", res.Code, res.Body)
		}
		again := w.send(live, "crashed", counting(&runs))
		if again.Body.String() != `{"data":{"run":1}}` || again.Header().Get(idempotency.ReplayedHeader) != "true" || runs.Load() != 1 {
			t.Fatalf("later retry: %s (%d runs), want the answer replayed", again.Body, runs.Load())
		}

		release() // the dead request finishes after all: its lease is gone
		if got := w.send(live, "crashed", counting(&runs)).Body.String(); got != `{"data":{"run":1}}` || runs.Load() != 1 {
			t.Fatalf("after the stale request finished the key answers %s (%d runs)", got, runs.Load())
		}
		if rec := w.record("crashed"); !rec.Completed || rec.LeaseHolder != nil || rec.LeaseExpiresAt != nil {
			t.Fatalf("completed record %+v still has a lease", rec)
		}
	})
}

// TestLeaseTakeoverOnce: retries racing for one expired lease run the
// request exactly once; the others answer CONFLICT (the winner's lease is
// live) or, once it is done, its answer.
func TestLeaseTakeoverOnce(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, a *app.App) {
		w := newLeaseWorld(t, a)
		for round := range 3 {
			key := fmt.Sprintf("race-%d", round)
			w.crash(key)
			w.clock.Add(lease)
			var runs atomic.Int32
			answers := make([]*httptest.ResponseRecorder, 8)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := range answers {
				m := w.process(fmt.Sprintf("replica-%d", i)) // each retry reaches another replica
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					answers[i] = w.send(m, key, counting(&runs))
				}()
			}
			close(start)
			wg.Wait()
			ran, other := 0, map[string]int{}
			for _, res := range answers {
				switch {
				case res.Code == http.StatusOK && res.Header().Get(idempotency.ReplayedHeader) == "":
					ran++
				case res.Code == http.StatusOK:
					other["replay"]++
					if res.Body.String() != `{"data":{"run":1}}` {
						t.Errorf("replay %s", res.Body)
					}
				case code(res) == "CONFLICT":
					other["CONFLICT"]++
				default:
					t.Errorf("unexpected answer %d %s", res.Code, res.Body)
				}
			}
			if ran != 1 || runs.Load() != 1 {
				t.Fatalf("round %d: %d answers ran, %d executions, want exactly 1 (others %v)", round, ran, runs.Load(), other)
			}
			t.Logf("round %d: 1 ran, %v", round, other)
		}
	})
}

// TestLeaseLegacyRecord: a record left in progress by a server from before
// leases has no holder or expiry; its lease is taken to end one lease
// length after it was written: CONFLICT until then, taken over after.
func TestLeaseLegacyRecord(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, a *app.App) {
		w := newLeaseWorld(t, a)
		h, err := idempotency.RequestHash([]byte(leaseBody), w.keyID)
		if err != nil {
			t.Fatal(err)
		}
		now := w.clock.Now()
		if err := w.client.IdempotencyRecord.Create().SetKey("legacy").SetRequestHash(h).
			SetCreatedAt(now).SetExpiresAt(now.Add(idempotency.Retention)).Exec(w.ctx); err != nil {
			t.Fatal(err)
		}
		var runs atomic.Int32
		m := w.process("upgraded")
		w.clock.Add(lease - time.Second)
		if res := w.send(m, "legacy", counting(&runs)); code(res) != "CONFLICT" || runs.Load() != 0 {
			t.Fatalf("legacy record within a lease length: %d %s", res.Code, res.Body)
		}
		w.clock.Add(2 * time.Second)
		if res := w.send(m, "legacy", counting(&runs)); res.Code != http.StatusOK || runs.Load() != 1 {
			t.Fatalf("legacy record past a lease length: %d %s (%d runs), want the request run", res.Code, res.Body, runs.Load())
		}
		// A different request under the key is refused, lease or not.
		w.crash("other")
		w.clock.Add(lease)
		r := httptest.NewRequest(http.MethodPost, "/query", strings.NewReader(`{"query":"mutation { importOrder(input: {x: 1}) { id } }"}`)).WithContext(w.ctx)
		r.Header.Set(idempotency.Header, "other")
		res := httptest.NewRecorder()
		m.Wrap(mutation(counting(&runs))).ServeHTTP(res, r)
		if code(res) != "IDEMPOTENCY_KEY_REUSED" || runs.Load() != 1 {
			t.Fatalf("another request under an expired lease: %d %s", res.Code, res.Body)
		}
	})
}

// TestLeaseColumnsMigrate: a database from before leases gains the lease
// columns by the start-up migration, and its records in progress (NULL
// holder and expiry) are handled as records without a lease.
func TestLeaseColumnsMigrate(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, a *app.App) {
		w := newLeaseWorld(t, a)
		h, err := idempotency.RequestHash([]byte(leaseBody), w.keyID)
		if err != nil {
			t.Fatal(err)
		}
		now := w.clock.Now()
		if err := w.client.IdempotencyRecord.Create().SetKey("old").SetRequestHash(h).
			SetCreatedAt(now).SetExpiresAt(now.Add(idempotency.Retention)).Exec(w.ctx); err != nil {
			t.Fatal(err)
		}
		for _, col := range []string{"lease_holder", "lease_expires_at"} {
			if _, err := a.Store.DB.Exec("ALTER TABLE idempotency_records DROP COLUMN " + col); err != nil {
				t.Fatalf("make the table as it was: %v", err)
			}
		}
		// The server upgraded: a new process over the same database.
		b := testdb.On(t, a.Config.DatabaseURL)
		w.client = b.Store.Client
		rec := w.record("old")
		if rec.LeaseHolder != nil || rec.LeaseExpiresAt != nil || rec.Completed {
			t.Fatalf("migrated record %+v", rec)
		}
		var runs atomic.Int32
		m := w.process("upgraded")
		if res := w.send(m, "old", counting(&runs)); code(res) != "CONFLICT" {
			t.Fatalf("within a lease length of its creation: %d %s", res.Code, res.Body)
		}
		w.clock.Add(lease + time.Second)
		if res := w.send(m, "old", counting(&runs)); res.Code != http.StatusOK || runs.Load() != 1 {
			t.Fatalf("past it: %d %s (%d runs)", res.Code, res.Body, runs.Load())
		}
	})
}
