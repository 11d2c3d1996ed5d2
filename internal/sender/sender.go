// Package sender is the send run ("Send Fulfillment Requests"): it claims
// due PROCESSING requests (and queued cancellation notices) under a lease,
// commits the claim, delivers each through its source's connector with no
// transaction open, and records the outcome in a second transaction. Any
// number of server processes on one PostgreSQL cooperate through the lease
// alone: FOR UPDATE SKIP LOCKED hands each run different rows, and a lease
// whose holder died expires and is claimed again. On SQLite the claim is a
// guarded update under its single writer. While a batch is in flight its
// lease is renewed, so that a live run never loses a request it is still
// sending to another run.
//
// Runs are confined to one account, at most one per account at a time in a
// process (the background loop starts one per account with due work; an
// on-demand call starts its account's run or joins the one in progress), and
// within a run each source is drained on its own, at most
// SourceConcurrency deliveries at once per source: a source that hangs holds
// up its own requests, never another source's or another account's.
package sender

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"sync"
	"time"

	entsql "entgo.io/ent/dialect/sql"

	"github.com/frsvc/fulfillment/ent"
	"github.com/frsvc/fulfillment/ent/fulfillmentrequest"
	"github.com/frsvc/fulfillment/ent/fulfillmentrequestitem"
	"github.com/frsvc/fulfillment/ent/predicate"
	"github.com/frsvc/fulfillment/internal/admission"
	"github.com/frsvc/fulfillment/internal/db"
	"github.com/frsvc/fulfillment/internal/frstatus"
	"github.com/frsvc/fulfillment/internal/fulfillment"
	"github.com/frsvc/fulfillment/internal/netguard"
	"github.com/frsvc/fulfillment/internal/tenant"
)

// Defaults.
const (
	DefaultInterval  = 30 * time.Second
	DefaultLease     = 60 * time.Second
	DefaultBatchSize = 100
	// DefaultSourceConcurrency is how many deliveries to one source are in
	// flight at once in a process: one, so that a partner receives its
	// requests one after the other, as it did before runs overlapped.
	DefaultSourceConcurrency = 1
	// DefaultRunTimeout is how long a run starts deliveries; the ones in
	// flight then finish within their connector's timeout.
	DefaultRunTimeout = 2 * time.Minute
	// DefaultWait is the most RunNow waits for its run.
	DefaultWait        = 10 * time.Second
	DefaultBackoffBase = 5 * time.Second
	DefaultBackoffMax  = 10 * time.Minute
)

// Result counts what one run did. Claimed counts requests and cancellation
// notices; Processed, Acknowledged, Failed and Retried count requests, and
// Notices and NoticesFailed the notices.
type Result struct {
	Claimed      int
	Processed    int
	Acknowledged int
	Failed       int
	Retried      int
	// Notices are the cancellation notices the source took.
	Notices int
	// NoticesFailed are the cancellation notices that did not get through:
	// tried again later, or given up (the request's log says which).
	NoticesFailed int
}

func (r *Result) add(o Result) {
	r.Claimed += o.Claimed
	r.Processed += o.Processed
	r.Acknowledged += o.Acknowledged
	r.Failed += o.Failed
	r.Retried += o.Retried
	r.Notices += o.Notices
	r.NoticesFailed += o.NoticesFailed
}

// Report is what RunNow saw of a run: its counts so far, and whether it had
// finished.
type Report struct {
	Result
	// Complete is false when the run was still going when the caller stopped
	// waiting: the counts are what had finished by then, and the run goes on.
	Complete bool
}

// Runner sends fulfillment requests.
type Runner struct {
	Store       *db.Store
	Fulfillment *fulfillment.Service
	Logger      *slog.Logger
	// Holder names this process in leases; empty: host name, pid and a random suffix.
	Holder    string
	Lease     time.Duration
	BatchSize int
	// SourceConcurrency bounds the deliveries to one source in flight at
	// once, over every run of this process (DefaultSourceConcurrency).
	SourceConcurrency int
	// RunTimeout is a run's deadline: after it the run claims nothing more
	// and starts no delivery; what it had claimed and not started is
	// released for the next run (DefaultRunTimeout).
	RunTimeout time.Duration
	// Wait is the most RunNow waits for its run (DefaultWait); it also waits
	// at most half of what is left of its caller's deadline.
	Wait        time.Duration
	BackoffBase time.Duration
	BackoffMax  time.Duration
	// HTTPClient, when set, is the HTTP connector's client as given (the
	// guard of RefusePrivateAddresses is then the caller's to install).
	HTTPClient *http.Client
	// RefusePrivateAddresses makes the HTTP connector refuse to connect to
	// loopback, private, link-local, unspecified, shared (CGNAT), multicast
	// and reserved addresses, checked on the address dialed (after DNS).
	RefusePrivateAddresses bool
	// FileDropRoot is the folder FILE connectors write under: each account
	// in its own folder, its sources' directories inside that.
	FileDropRoot string
	Now          func() time.Time
	// AfterDeliver, when set, runs between a delivery and the write of its
	// outcome; returning false drops the outcome, as a crash there would.
	// Tests use it to prove that a lost outcome is redelivered.
	AfterDeliver func(frID int) bool

	once          sync.Once
	mu            sync.Mutex            // guards runs, slots and stopping; never held across work
	runs          map[int]*progress     // account → its run in progress
	slots         map[int]chan struct{} // source → its deliveries in flight
	wg            sync.WaitGroup        // runs started by start
	stopping      chan struct{}         // closed by Shutdown
	stopped       bool
	defaultClient *http.Client // the client when HTTPClient is nil
}

func (r *Runner) init() {
	r.once.Do(func() {
		if r.Holder == "" {
			host, _ := os.Hostname()
			r.Holder = fmt.Sprintf("%s/%d/%s", host, os.Getpid(), randomHex(4))
		}
		if r.Lease <= 0 {
			r.Lease = DefaultLease
		}
		if r.BatchSize <= 0 {
			r.BatchSize = DefaultBatchSize
		}
		if r.SourceConcurrency <= 0 {
			r.SourceConcurrency = DefaultSourceConcurrency
		}
		if r.RunTimeout <= 0 {
			r.RunTimeout = DefaultRunTimeout
		}
		if r.Wait <= 0 {
			r.Wait = DefaultWait
		}
		if r.BackoffBase <= 0 {
			r.BackoffBase = DefaultBackoffBase
		}
		if r.BackoffMax <= 0 {
			r.BackoffMax = DefaultBackoffMax
		}
		if r.Logger == nil {
			r.Logger = slog.Default()
		}
		r.defaultClient = http.DefaultClient
		if r.RefusePrivateAddresses {
			r.defaultClient = &http.Client{Transport: netguard.Transport()}
		}
		r.runs = map[int]*progress{}
		r.slots = map[int]chan struct{}{}
		r.stopping = make(chan struct{})
	})
}

func (r *Runner) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Runner) client() *http.Client {
	if r.HTTPClient != nil {
		return r.HTTPClient
	}
	return r.defaultClient
}

// progress is one run's counts as they come in, and its end.
type progress struct {
	mu   sync.Mutex
	res  Result
	err  error
	done chan struct{}
}

func newProgress() *progress { return &progress{done: make(chan struct{})} }

func (p *progress) add(o Result) {
	p.mu.Lock()
	p.res.add(o)
	p.mu.Unlock()
}

func (p *progress) finish(err error) {
	p.mu.Lock()
	p.err = err
	p.mu.Unlock()
	close(p.done)
}

// report returns the counts so far; the run's error once it has ended.
func (p *progress) report() (Report, error) {
	select {
	case <-p.done:
		p.mu.Lock()
		defer p.mu.Unlock()
		return Report{Result: p.res, Complete: true}, p.err
	default:
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return Report{Result: p.res}, nil
}

// Loop runs the send run every interval until ctx ends: at each tick it
// starts a run for every account with due requests that has none in
// progress, each detached from the others, so that an account whose sources
// are slow holds up only its own requests. When ctx ends, the runs the loop
// started claim nothing more, and Loop returns once their batches in flight
// are finished (within their own deliveries' timeouts).
func (r *Runner) Loop(ctx context.Context, interval time.Duration, systemCtx func(context.Context) context.Context) {
	r.init()
	if interval <= 0 {
		return
	}
	base := systemCtx(context.WithoutCancel(ctx))
	t := time.NewTicker(interval)
	defer t.Stop()
	var started []*progress
	defer func() {
		for _, p := range started {
			<-p.done
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		accounts, err := r.dueAccounts(base)
		if err != nil {
			r.Logger.Error("send run", "error", err.Error())
			continue
		}
		live := started[:0]
		for _, p := range started {
			select {
			case <-p.done:
			default:
				live = append(live, p)
			}
		}
		started = live
		for _, id := range accounts {
			if p, ok := r.start(tenant.WithAccount(base, id), id, ctx.Done()); ok {
				started = append(started, p)
			}
		}
	}
}

// RunOnce claims and sends what is due now, batch after batch, and returns
// the counts. With a context confined to one account it sends only that
// account's requests (the tenant filter applies to the claim); with the
// system context, every account's. It runs in the caller's goroutine,
// beside any other run.
func (r *Runner) RunOnce(ctx context.Context) (Result, error) {
	r.init()
	p := newProgress()
	err := r.run(ctx, nil, p)
	return p.res, err
}

// RunNow is the on-demand send run of ctx's account: it starts the
// account's run, or joins the one in progress (started by another call or by
// the loop), so that an account has at most one run at a time. The run is
// detached from ctx: RunNow waits for it at most Wait and at most half of
// what is left before ctx's deadline, giving back the caller's execution
// slot meanwhile (admission.Release), and reports what had finished by then.
// The run goes on within its own deadline.
func (r *Runner) RunNow(ctx context.Context) (Report, error) {
	r.init()
	account, ok := tenant.AccountID(ctx)
	if !ok {
		return Report{}, errors.New("sender: an on-demand run needs a context confined to an account")
	}
	p, _ := r.start(context.WithoutCancel(ctx), account, nil)
	wait := r.Wait
	if d, ok := ctx.Deadline(); ok {
		wait = min(wait, time.Until(d)/2)
	}
	admission.Release(ctx)
	t := time.NewTimer(max(wait, 0))
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
	case <-ctx.Done():
	}
	return p.report()
}

// start starts a run of the account in the background unless one is in
// progress; it returns the account's run and whether it is a new one. A run
// stops claiming when stop (or Shutdown) closes.
func (r *Runner) start(ctx context.Context, account int, stop <-chan struct{}) (*progress, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p, ok := r.runs[account]; ok {
		return p, false
	}
	p := newProgress()
	if r.stopped {
		p.finish(nil)
		return p, false
	}
	r.runs[account] = p
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		token := r.recordStart(ctx, r.now())
		err := r.run(ctx, stop, p)
		if err != nil {
			r.Logger.Error("send run", "account", account, "error", err.Error())
		}
		p.mu.Lock()
		res := p.res
		p.mu.Unlock()
		r.recordEnd(ctx, token, res, err)
		r.mu.Lock()
		delete(r.runs, account)
		r.mu.Unlock()
		p.finish(err)
	}()
	return p, true
}

// Shutdown makes every run claim nothing more (RunOnce's too) and waits,
// until ctx ends, for the batches in flight of the runs Loop and RunNow
// started to finish. Later calls of RunNow start no run.
func (r *Runner) Shutdown(ctx context.Context) error {
	r.init()
	r.mu.Lock()
	if !r.stopped {
		r.stopped = true
		close(r.stopping)
	}
	// No run is in progress, and none can start now: nothing to wait for,
	// even when ctx has already ended (App.Close after Serve's grace).
	idle := len(r.runs) == 0
	r.mu.Unlock()
	if idle {
		return nil
	}
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		select {
		case <-done:
			return nil
		default:
			return ctx.Err()
		}
	}
}

// runBounds are what end a run: its deadline, on the runner's clock and as a
// timer, and the signals to stop claiming.
type runBounds struct {
	r        *Runner
	deadline time.Time
	expired  <-chan struct{}
	stop     <-chan struct{}
}

// late reports whether the run's deadline has passed: no delivery starts
// after it.
func (b *runBounds) late() bool {
	select {
	case <-b.expired:
		return true
	default:
	}
	return !b.r.now().Before(b.deadline)
}

// over reports whether the run claims no more batches.
func (b *runBounds) over() bool {
	select {
	case <-b.stop:
		return true
	case <-b.r.stopping:
		return true
	default:
	}
	return b.late()
}

// run drains every source with due requests, each on its own, until none
// is left, the deadline passes or stop closes, adding the counts to p.
func (r *Runner) run(ctx context.Context, stop <-chan struct{}, p *progress) error {
	start := r.now()
	expired := make(chan struct{})
	timer := time.AfterFunc(r.RunTimeout, func() { close(expired) })
	defer timer.Stop()
	bounds := &runBounds{r: r, deadline: start.Add(r.RunTimeout), expired: expired, stop: stop}
	if bounds.over() {
		return nil
	}
	sources, err := r.dueSources(ctx, start)
	if err != nil {
		return err
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, id := range sources {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.drain(ctx, id, bounds, p); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// drain claims and sends one source's due requests, batch after batch.
func (r *Runner) drain(ctx context.Context, sourceID int, bounds *runBounds, p *progress) error {
	for !bounds.over() {
		b, err := r.claim(ctx, sourceID)
		if err != nil {
			return err
		}
		if b == nil {
			return nil
		}
		p.add(Result{Claimed: len(b.items)})
		r.send(ctx, b, bounds, p)
		if len(b.items) < r.BatchSize {
			return nil
		}
	}
	return nil
}

// due selects requests to send and voided requests with a notice to send,
// whose lease is free or expired.
func due(now time.Time) predicate.FulfillmentRequest {
	return fulfillmentrequest.And(
		fulfillmentrequest.Or(
			fulfillmentrequest.And(fulfillmentrequest.StatusEQ(frstatus.Processing), fulfillmentrequest.NextAttemptAtLTE(now)),
			fulfillmentrequest.And(fulfillmentrequest.StatusEQ(frstatus.Voided), fulfillmentrequest.CancellationNoticePending(true),
				fulfillmentrequest.NextAttemptAtLTE(now)),
		),
		fulfillmentrequest.Or(fulfillmentrequest.LeaseExpiresAtIsNil(), fulfillmentrequest.LeaseExpiresAtLT(now)),
	)
}

// dueAccounts lists the accounts with requests due now (ctx is the system's).
func (r *Runner) dueAccounts(ctx context.Context) ([]int, error) {
	ids, err := r.Store.Client.FulfillmentRequest.Query().Where(due(r.now())).
		GroupBy(fulfillmentrequest.FieldAccountID).Ints(ctx)
	if err != nil {
		return nil, fmt.Errorf("list accounts with due requests: %w", err)
	}
	return ids, nil
}

// dueSources lists the sources with requests due at now, within ctx's
// account (or every account's, with the system context).
func (r *Runner) dueSources(ctx context.Context, now time.Time) ([]int, error) {
	ids, err := r.Store.Client.FulfillmentRequest.Query().Where(due(now)).
		GroupBy(fulfillmentrequest.FieldSourceID).Ints(ctx)
	if err != nil {
		return nil, fmt.Errorf("list sources with due requests: %w", err)
	}
	return ids, nil
}

// claimed is one request of a batch.
type claimed struct {
	fr     *ent.FulfillmentRequest
	notice bool
}

// batch is what one claim took: its requests and the lease they are held
// under, renewed while the batch is in flight (see renew).
type batch struct {
	token string
	items []claimed

	mu sync.Mutex
	// expires is when the lease runs out unless renewed.
	expires time.Time
	// held are the requests still held and not yet finished.
	held map[int]bool
	// inflight cancels the deliveries in flight, by request.
	inflight map[int]context.CancelFunc
	// recording are the requests delivered whose outcome is being written.
	recording map[int]bool
	// skipped are requests not started before the run's deadline, to release.
	skipped []int
	// ctx ends when the lease is about to run out without a renewal
	// (expires less the margin kept to record an outcome): every delivery
	// in flight is cut then, before another run may claim its request.
	ctx    context.Context
	cancel context.CancelFunc
	watch  *time.Timer
}

// hold reports the lease's expiry and whether the request is still held.
func (b *batch) hold(id int) (time.Time, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.expires, b.held[id] && b.ctx.Err() == nil
}

// begin registers a delivery's cancel; false when the request is no longer
// held.
func (b *batch) begin(id int, cancel context.CancelFunc) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.held[id] {
		return false
	}
	b.inflight[id] = cancel
	return true
}

// end notes that a delivery is over and its outcome about to be written.
func (b *batch) end(id int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.inflight, id)
	b.recording[id] = true
}

// finish marks a request done: its outcome is recorded (or dropped), or it
// is left to a later claim.
func (b *batch) finish(id int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.held, id)
}

// skip marks a request not started before the deadline.
func (b *batch) skip(id int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.held[id] {
		b.skipped = append(b.skipped, id)
	}
	delete(b.held, id)
}

// pending lists the requests still held.
func (b *batch) pending() []int {
	b.mu.Lock()
	defer b.mu.Unlock()
	ids := make([]int, 0, len(b.held))
	for id := range b.held {
		ids = append(ids, id)
	}
	return ids
}

// claim takes a batch of the source's due requests under a fresh lease
// token and commits before returning; nil when nothing is due.
func (r *Runner) claim(ctx context.Context, sourceID int) (*batch, error) {
	now := r.now()
	token := r.Holder + "/" + randomHex(6)
	err := db.InTx(ctx, r.Store.Client, func(tx *ent.Tx) error {
		q := tx.FulfillmentRequest.Query().Where(fulfillmentrequest.SourceID(sourceID), due(now)).
			Order(ent.Asc(fulfillmentrequest.FieldNextAttemptAt), ent.Asc(fulfillmentrequest.FieldID)).Limit(r.BatchSize)
		if r.Store.Postgres() {
			q.ForUpdate(entsql.WithLockAction(entsql.SkipLocked))
		}
		ids, err := q.IDs(ctx)
		if err != nil || len(ids) == 0 {
			return err
		}
		// Guarded again: on SQLite this is what makes the claim exclusive.
		return tx.FulfillmentRequest.Update().Where(fulfillmentrequest.IDIn(ids...), due(now)).
			SetLeaseHolder(token).SetLeaseExpiresAt(now.Add(r.Lease)).Exec(ctx)
	})
	if err != nil {
		return nil, fmt.Errorf("claim: %w", err)
	}
	frs, err := r.Store.Client.FulfillmentRequest.Query().Where(fulfillmentrequest.LeaseHolder(token)).
		WithOrder().WithSource().
		WithItems(func(q *ent.FulfillmentRequestItemQuery) {
			q.WithOrderLine().Order(ent.Asc(fulfillmentrequestitem.FieldID))
		}).
		Order(ent.Asc(fulfillmentrequest.FieldID)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("load claimed: %w", err)
	}
	if len(frs) == 0 {
		return nil, nil
	}
	b := &batch{token: token, expires: now.Add(r.Lease), held: map[int]bool{},
		inflight: map[int]context.CancelFunc{}, recording: map[int]bool{}}
	for _, fr := range frs {
		b.items = append(b.items, claimed{fr: fr, notice: fr.Status == frstatus.Voided})
		b.held[fr.ID] = true
	}
	return b, nil
}

// send delivers a claimed batch of one source, at most SourceConcurrency
// deliveries to the source in flight at once over every run of the process,
// renewing the batch's lease meanwhile. Requests not started by the run's
// deadline are released for the next run.
func (r *Runner) send(ctx context.Context, b *batch, bounds *runBounds, p *progress) {
	b.ctx, b.cancel = context.WithCancel(ctx)
	b.mu.Lock()
	b.watch = time.AfterFunc(b.expires.Sub(r.now())-leaseMargin(r.Lease), b.cancel)
	b.mu.Unlock()
	stopRenewing := make(chan struct{})
	renewed := make(chan struct{})
	go func() {
		defer close(renewed)
		r.keep(ctx, b, stopRenewing)
	}()

	slot := r.sourceSlot(b.items[0].fr.SourceID)
	queue := make(chan claimed, len(b.items))
	for _, c := range b.items {
		queue <- c
	}
	close(queue)
	var wg sync.WaitGroup
	for range min(len(b.items), r.SourceConcurrency) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range queue {
				if bounds.late() {
					b.skip(c.fr.ID)
					continue
				}
				select {
				case slot <- struct{}{}:
				case <-bounds.expired:
					b.skip(c.fr.ID)
					continue
				case <-b.ctx.Done():
					b.finish(c.fr.ID)
					continue
				}
				if bounds.late() {
					<-slot
					b.skip(c.fr.ID)
					continue
				}
				res := r.sendOne(ctx, b, c)
				<-slot
				b.finish(c.fr.ID)
				p.add(res)
			}
		}()
	}
	wg.Wait()
	close(stopRenewing)
	<-renewed
	b.mu.Lock()
	b.watch.Stop()
	skipped := b.skipped
	b.mu.Unlock()
	b.cancel()
	if len(skipped) > 0 {
		// Not a delivery attempt: the request keeps its place for the next run.
		err := r.Store.Client.FulfillmentRequest.Update().
			Where(fulfillmentrequest.IDIn(skipped...), fulfillmentrequest.LeaseHolder(b.token)).
			ClearLeaseHolder().ClearLeaseExpiresAt().Exec(context.WithoutCancel(ctx))
		if err != nil {
			r.Logger.Error("release requests not sent before the run's deadline", "error", err.Error())
		}
		r.Logger.Warn("send run reached its deadline; requests left for the next run", "requests", len(skipped))
	}
}

// sourceSlot is the semaphore of the deliveries to a source in flight.
func (r *Runner) sourceSlot(sourceID int) chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.slots[sourceID]
	if !ok {
		s = make(chan struct{}, r.SourceConcurrency)
		r.slots[sourceID] = s
	}
	return s
}

// keep renews the batch's lease every third of it until stop closes or the
// lease is lost.
func (r *Runner) keep(ctx context.Context, b *batch, stop <-chan struct{}) {
	t := time.NewTicker(max(r.Lease/3, time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		if !r.renew(ctx, b) {
			return
		}
	}
}

// renew extends the lease on the requests of the batch still held, as a
// conditional update: only rows this batch's token still holds, and whose
// lease has not run out, are extended; another run may have taken over any
// other. Those the update did not extend are no longer the batch's: their
// deliveries in flight are cut and the rest are not started. It returns
// false once nothing is held any more.
func (r *Runner) renew(ctx context.Context, b *batch) bool {
	if b.ctx.Err() != nil {
		return false // the lease ran out unrenewed: deliveries were cut
	}
	ids := b.pending()
	if len(ids) == 0 {
		return true
	}
	now := r.now()
	until := now.Add(r.Lease)
	ours := []predicate.FulfillmentRequest{fulfillmentrequest.IDIn(ids...),
		fulfillmentrequest.LeaseHolder(b.token), fulfillmentrequest.LeaseExpiresAtGT(now)}
	if err := r.Store.Client.FulfillmentRequest.Update().Where(ours...).SetLeaseExpiresAt(until).Exec(ctx); err != nil {
		// The lease may still hold: try again at the next beat, and if it
		// runs out meanwhile the deliveries are cut in time.
		r.Logger.Warn("renew send lease", "error", err.Error())
		return true
	}
	still, err := r.Store.Client.FulfillmentRequest.Query().Where(ours...).IDs(ctx)
	if err != nil {
		r.Logger.Warn("renew send lease", "error", err.Error())
		return true
	}
	kept := make(map[int]bool, len(still))
	for _, id := range still {
		kept[id] = true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	lost := 0
	for _, id := range ids {
		if kept[id] || !b.held[id] {
			continue
		}
		delete(b.held, id)
		if b.recording[id] {
			continue // its outcome was written meanwhile (or is refused if the lease was lost)
		}
		lost++
		if cancel, ok := b.inflight[id]; ok {
			cancel()
		}
	}
	if lost > 0 {
		r.Logger.Warn("send lease lost; the rest of the batch is left to the run that holds it", "requests", lost)
	}
	if len(still) == 0 {
		return false
	}
	if b.ctx.Err() == nil {
		b.expires = until
		b.watch.Reset(until.Sub(r.now()) - leaseMargin(r.Lease))
	}
	return true
}

func (r *Runner) sendOne(ctx context.Context, b *batch, c claimed) Result {
	fr := c.fr
	// A request is delivered only while its lease holds, with the margin to
	// record the outcome: once the lease ran out unrenewed, another run may
	// have taken it, or an operator voided it meanwhile. Leave it to the
	// next claim.
	expires, ok := b.hold(fr.ID)
	if !ok || !r.now().Before(expires.Add(-leaseMargin(r.Lease))) {
		r.Logger.Warn("send lease ran out before delivery; left for the next run", "fulfillment_request", fr.ID)
		return Result{}
	}
	key := IdempotencyKey(fr.ID)
	if c.notice {
		key += "-cancel"
	}
	// The delivery ends with the lease, less the margin: the batch's
	// context is cut then unless a renewal moved it on.
	dctx, cancel := context.WithCancel(b.ctx)
	if !b.begin(fr.ID, cancel) {
		cancel()
		return Result{}
	}
	out := r.deliver(dctx, fr.Edges.Source, newDocument(fr, c.notice), key)
	b.end(fr.ID)
	cancel()
	if r.AfterDeliver != nil && !r.AfterDeliver(fr.ID) {
		return Result{}
	}
	attempt := fr.Attempts + 1
	a := fulfillment.SendAttempt{
		Lease: b.token, Connector: string(fr.Edges.Source.ConnectorKind), Outcome: string(out.Kind),
		HTTPStatus: out.HTTPStatus, Duration: out.Duration, Confirmation: out.Confirmation, Reason: out.Reason,
		NextAttempt: r.now().Add(r.backoff(attempt)), Notice: c.notice,
	}
	err := r.Fulfillment.RecordSend(context.WithoutCancel(ctx), fr.ID, a)
	switch {
	case errors.Is(err, fulfillment.ErrLeaseLost):
		r.Logger.Warn("send outcome dropped: lease lost", "fulfillment_request", fr.ID)
		return Result{}
	case err != nil:
		r.Logger.Error("record send outcome", "fulfillment_request", fr.ID, "error", err.Error())
		return Result{}
	}
	if c.notice {
		if out.Kind == Delivered || out.Kind == Acknowledged {
			return Result{Notices: 1}
		}
		return Result{NoticesFailed: 1}
	}
	maxAttempts := max(fr.Edges.Source.ConnectorMaxAttempts, 1)
	switch {
	case out.Kind == Delivered:
		return Result{Processed: 1}
	case out.Kind == Acknowledged:
		return Result{Acknowledged: 1}
	case out.Kind == Retry && attempt < maxAttempts:
		return Result{Retried: 1}
	default:
		return Result{Failed: 1}
	}
}

// backoff is the wait before attempt+1: exponential from BackoffBase, capped
// at BackoffMax, with full jitter over its upper half so that retries of many
// requests spread out.
func (r *Runner) backoff(attempt int) time.Duration {
	d := r.BackoffBase << min(attempt-1, 20)
	if d <= 0 || d > r.BackoffMax {
		d = r.BackoffMax
	}
	half := d / 2
	return half + time.Duration(mrand.Int64N(int64(half)+1))
}

// leaseMargin is the part of a lease kept for writing the outcome.
func leaseMargin(lease time.Duration) time.Duration {
	return min(lease/10, 5*time.Second)
}

// IdempotencyKey is the stable key a request is delivered under, the same on
// every retry and after a crash, so that a source can drop a repeat.
func IdempotencyKey(frID int) string { return fmt.Sprintf("fr-%d", frID) }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
