// Package sender is the send run ("Send Fulfillment Requests"): it claims
// due PROCESSING requests (and queued cancellation notices) under a lease,
// commits the claim, delivers each through its source's connector with no
// transaction open, and records the outcome in a second transaction. Any
// number of server processes on one PostgreSQL cooperate through the lease
// alone: FOR UPDATE SKIP LOCKED hands each run different rows, and a lease
// whose holder died expires and is claimed again. On SQLite the claim is a
// guarded update under its single writer.
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
	"sort"
	"sync"
	"time"

	entsql "entgo.io/ent/dialect/sql"

	"github.com/frsvc/fulfillment/ent"
	"github.com/frsvc/fulfillment/ent/fulfillmentrequest"
	"github.com/frsvc/fulfillment/ent/fulfillmentrequestitem"
	"github.com/frsvc/fulfillment/ent/predicate"
	"github.com/frsvc/fulfillment/internal/db"
	"github.com/frsvc/fulfillment/internal/frstatus"
	"github.com/frsvc/fulfillment/internal/fulfillment"
	"github.com/frsvc/fulfillment/internal/netguard"
)

// Defaults.
const (
	DefaultInterval    = 30 * time.Second
	DefaultLease       = 60 * time.Second
	DefaultBatchSize   = 100
	DefaultConcurrency = 8
	DefaultBackoffBase = 5 * time.Second
	DefaultBackoffMax  = 10 * time.Minute
)

// Result counts what one run did.
type Result struct {
	Claimed      int
	Processed    int
	Acknowledged int
	Failed       int
	Retried      int
}

func (r *Result) add(o Result) {
	r.Claimed += o.Claimed
	r.Processed += o.Processed
	r.Acknowledged += o.Acknowledged
	r.Failed += o.Failed
	r.Retried += o.Retried
}

// Runner sends fulfillment requests.
type Runner struct {
	Store       *db.Store
	Fulfillment *fulfillment.Service
	Logger      *slog.Logger
	// Holder names this process in leases; empty: host name, pid and a random suffix.
	Holder      string
	Lease       time.Duration
	BatchSize   int
	Concurrency int
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
	mu            sync.Mutex   // one run at a time per process
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
		if r.Concurrency <= 0 {
			r.Concurrency = DefaultConcurrency
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

// Loop runs the send run every interval until ctx ends. The batch in
// progress when ctx ends is finished (within its own deliveries' timeouts)
// before Loop returns.
func (r *Runner) Loop(ctx context.Context, interval time.Duration, systemCtx func(context.Context) context.Context) {
	r.init()
	if interval <= 0 {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		// The batch in flight finishes even when ctx ends meanwhile, but
		// no further batch is claimed after that.
		if _, err := r.run(systemCtx(context.WithoutCancel(ctx)), ctx.Done()); err != nil {
			r.Logger.Error("send run", "error", err.Error())
		}
	}
}

// RunOnce claims and sends what is due now, batch after batch, and returns
// the counts. With a context confined to one account it sends only that
// account's requests (the tenant filter applies to the claim).
func (r *Runner) RunOnce(ctx context.Context) (Result, error) {
	return r.run(ctx, nil)
}

// run is RunOnce that stops claiming new batches once stop is closed.
func (r *Runner) run(ctx context.Context, stop <-chan struct{}) (Result, error) {
	r.init()
	r.mu.Lock()
	defer r.mu.Unlock()
	var total Result
	for {
		select {
		case <-stop:
			return total, nil
		default:
		}
		batch, err := r.claim(ctx)
		if err != nil {
			return total, err
		}
		if len(batch) == 0 {
			return total, nil
		}
		total.add(r.send(ctx, batch))
		if len(batch) < r.BatchSize {
			return total, nil
		}
	}
}

type claimed struct {
	fr     *ent.FulfillmentRequest
	notice bool
	lease  string
	// expires is when the claim runs out.
	expires time.Time
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

// claim takes a batch under a fresh lease token and commits before returning.
func (r *Runner) claim(ctx context.Context) ([]claimed, error) {
	now := r.now()
	token := r.Holder + "/" + randomHex(6)
	err := db.InTx(ctx, r.Store.Client, func(tx *ent.Tx) error {
		q := tx.FulfillmentRequest.Query().Where(due(now)).
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
	out := make([]claimed, len(frs))
	for i, fr := range frs {
		out[i] = claimed{fr: fr, notice: fr.Status == frstatus.Voided, lease: token, expires: now.Add(r.Lease)}
	}
	return out, nil
}

// send delivers a claimed batch: one goroutine per source, at most
// Concurrency at once, so that a slow source holds up only its own requests.
func (r *Runner) send(ctx context.Context, batch []claimed) Result {
	bySource := map[int][]claimed{}
	for _, c := range batch {
		bySource[c.fr.SourceID] = append(bySource[c.fr.SourceID], c)
	}
	sources := make([]int, 0, len(bySource))
	for id := range bySource {
		sources = append(sources, id)
	}
	sort.Ints(sources)
	var (
		mu    sync.Mutex
		total = Result{Claimed: len(batch)}
		wg    sync.WaitGroup
		sem   = make(chan struct{}, r.Concurrency)
	)
	for _, id := range sources {
		wg.Add(1)
		sem <- struct{}{}
		go func(list []claimed) {
			defer wg.Done()
			defer func() { <-sem }()
			for _, c := range list {
				res := r.sendOne(ctx, c)
				mu.Lock()
				total.add(res)
				mu.Unlock()
			}
		}(bySource[id])
	}
	wg.Wait()
	return total
}

func (r *Runner) sendOne(ctx context.Context, c claimed) Result {
	fr := c.fr
	// A slow source can hold up its later requests of the batch past the
	// lease. Such a request is no longer ours: another run may have taken
	// it, or an operator voided it meanwhile. Leave it to the next claim.
	if !r.now().Before(c.expires.Add(-leaseMargin(r.Lease))) {
		r.Logger.Warn("send lease ran out before delivery; left for the next run", "fulfillment_request", fr.ID)
		return Result{}
	}
	key := IdempotencyKey(fr.ID)
	if c.notice {
		key += "-cancel"
	}
	// The delivery must end while the lease still holds, or another run
	// could claim the request and send it a second time meanwhile: bound it
	// by what is left of the lease, less a margin to record the outcome.
	dctx, cancel := context.WithTimeout(ctx, c.expires.Sub(r.now())-leaseMargin(r.Lease))
	out := r.deliver(dctx, fr.Edges.Source, newDocument(fr, c.notice), key)
	cancel()
	if r.AfterDeliver != nil && !r.AfterDeliver(fr.ID) {
		return Result{}
	}
	attempt := fr.Attempts + 1
	a := fulfillment.SendAttempt{
		Lease: c.lease, Connector: string(fr.Edges.Source.ConnectorKind), Outcome: string(out.Kind),
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
		return Result{}
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
