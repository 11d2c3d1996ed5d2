// Package idempotency makes a mutation request safe to retry: a request
// carrying an Idempotency-Key header runs once per account and key; a repeat
// with the same request from the same API key gets the first answer again
// and does nothing more; a different request (or the same one from another
// API key) under the same key answers IDEMPOTENCY_KEY_REUSED; while
// the first is still running, a duplicate answers CONFLICT, so two
// concurrent requests with one key never both execute. Keys are kept 24
// hours.
//
// A request running holds its key under a lease: a holder naming the
// process and the request, and an expiry a little past the request timeout
// (Middleware.Lease). A request cannot outlive its lease, so a lease that has
// expired belongs to a process that died mid-request: a retry with the same
// request then takes the key over (one retry only: the takeover is a
// conditional update) and runs it again.
package idempotency

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/frsvc/fulfillment/ent"
	"github.com/frsvc/fulfillment/ent/idempotencyrecord"
	"github.com/frsvc/fulfillment/ent/predicate"
	"github.com/frsvc/fulfillment/internal/apperr"
	"github.com/frsvc/fulfillment/internal/auth"
)

// Header is the request header carrying the key.
const Header = "Idempotency-Key"

// ReplayedHeader marks an answer replayed from the store.
const ReplayedHeader = "Idempotent-Replayed"

// Retention is how long a key is remembered.
const Retention = 24 * time.Hour

// MaxKeyLength bounds a key.
const MaxKeyLength = 255

// LeaseMargin is how much longer than the request timeout a request holds
// its key: time for its answer to be stored after the deadline.
const LeaseMargin = 10 * time.Second

// DefaultLease is the lease with the server's default 30 s request timeout.
const DefaultLease = 30*time.Second + LeaseMargin

// Middleware wraps the GraphQL handler. It must run after authentication:
// keys are per account.
type Middleware struct {
	Client *ent.Client
	Logger *slog.Logger
	Now    func() time.Time
	// Lease is how long a request in progress holds its key: the request
	// timeout plus LeaseMargin (DefaultLease when zero). It must be longer
	// than any request can run, or a retry may run a request that is still
	// running.
	Lease time.Duration
	// Holder names this process in the leases it writes (a host name,
	// process id and random part when empty); each request adds its own
	// random part.
	Holder string

	holderOnce sync.Once
	holder     string
}

// now is the clock to the microsecond, what PostgreSQL keeps of a time
// (it rounds the rest): a lease end written and read back is the time
// compared against, on both databases.
func (m *Middleware) now() time.Time {
	now := time.Now
	if m.Now != nil {
		now = m.Now
	}
	return now().Truncate(time.Microsecond)
}

func (m *Middleware) lease() time.Duration {
	if m.Lease > 0 {
		return m.Lease
	}
	return DefaultLease
}

// newHolder names the lease of one request of this process.
func (m *Middleware) newHolder() string {
	m.holderOnce.Do(func() {
		m.holder = m.Holder
		if m.holder == "" {
			host, _ := os.Hostname()
			m.holder = fmt.Sprintf("%s:%d:%s", host, os.Getpid(), randomHex(4))
		}
	})
	return m.holder + "/" + randomHex(8)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

type gqlRequest struct {
	Query         string         `json:"query"`
	OperationName string         `json:"operationName,omitempty"`
	Variables     map[string]any `json:"variables,omitempty"`
}

// Wrap returns next guarded by idempotency keys. It reads a keyed POST
// request's body and hashes it, and leaves the rest to next, which must be
// the GraphQL handler with Extension installed: only the executor, once it
// has parsed the document (under its token limit) and chosen the operation,
// can tell a mutation, and only then is the key claimed (Claim). The answer
// of a request that claimed no key (a query, or a document the executor
// refused before it knew the operation) is passed on as next wrote it.
func (m *Middleware) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get(Header)
		if key == "" || r.Method != http.MethodPost {
			next.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			// Too large or broken: let the GraphQL handler answer it.
			r.Body = io.NopCloser(bytes.NewReader(body))
			next.ServeHTTP(w, r)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		req, err := decodeRequest(body)
		if err != nil {
			next.ServeHTTP(w, r)
			return
		}
		// The caller is part of the request: an answer is replayed only to
		// the API key that was first given it. Otherwise another key of the
		// account (a SOURCE key, say) could send an operator's request again
		// under the operator's Idempotency-Key and be handed the answer
		// without its own role ever being checked.
		p, _ := auth.FromContext(r.Context())
		m.serve(w, r, next, &pending{m: m, key: key, hash: hash(req, p.KeyID)})
	})
}

// claimState is how far a keyed request has come with its key.
type claimState int

const (
	// unclaimed: the executor has not found a mutation (yet).
	unclaimed claimState = iota
	// claimed: the key is this request's, under the lease of holder.
	claimed
	// answered: the key answers for the request (a replay, CONFLICT,
	// IDEMPOTENCY_KEY_REUSED, a refused key, a failure of the store), in
	// place of whatever the executor writes.
	answered
)

// pending is a keyed request's claim on its key, carried in the request's
// context from Wrap to the executor (Claim) and back. Claim runs on the
// request's goroutine, within next.ServeHTTP.
type pending struct {
	m         *Middleware
	key, hash string
	state     claimState
	holder    string
	// answer writes the key's answer (answered).
	answer func(http.ResponseWriter)
}

type pendingKey struct{}

// Claim takes the request's Idempotency-Key for its operation, which the
// caller has found to be a mutation (the GraphQL executor, through
// Extension, once the document is parsed and its operation chosen). It
// reports whether the mutation may run: false when the key answers
// instead (the first answer replayed, CONFLICT while the first request
// runs, IDEMPOTENCY_KEY_REUSED for another request, VALIDATION for a key
// too long), which Wrap then writes in place of the caller's answer. A
// request without a key gets true; one that claimed already, the answer it
// got then.
func Claim(ctx context.Context) bool {
	p, ok := ctx.Value(pendingKey{}).(*pending)
	if !ok {
		return true
	}
	if p.state == unclaimed {
		p.claim(ctx)
	}
	return p.state == claimed
}

func (p *pending) claim(ctx context.Context) {
	m := p.m
	p.state = answered
	if len(p.key) > MaxKeyLength {
		p.answer = func(w http.ResponseWriter) {
			writeError(w, http.StatusBadRequest, apperr.Validation, "the Idempotency-Key header must be at most 255 characters")
		}
		return
	}
	now := m.now()
	rec, holder, err := m.claim(ctx, p.key, p.hash, now)
	if ae := (*apperr.Error)(nil); errors.As(err, &ae) && ae.Code == apperr.Conflict {
		p.answer = func(w http.ResponseWriter) { writeError(w, http.StatusConflict, apperr.Conflict, ae.Message) }
		return
	}
	if err != nil {
		m.Logger.ErrorContext(ctx, "idempotency store", "error", err.Error())
		p.answer = func(w http.ResponseWriter) {
			writeError(w, http.StatusInternalServerError, apperr.Internal, "internal error")
		}
		return
	}
	if rec == nil {
		p.state, p.holder = claimed, holder
		return
	}
	switch {
	case rec.RequestHash != p.hash:
		p.answer = func(w http.ResponseWriter) {
			writeError(w, http.StatusUnprocessableEntity, apperr.IdempotencyKeyReused, "this Idempotency-Key was used with a different request")
		}
	case !rec.Completed:
		wait := max(int(math.Ceil(m.leaseEnd(rec).Sub(now).Seconds())), 1)
		p.answer = func(w http.ResponseWriter) {
			w.Header().Set("Retry-After", strconv.Itoa(wait))
			writeError(w, http.StatusConflict, apperr.Conflict, fmt.Sprintf(
				"a request with this Idempotency-Key is still in progress; if its server stopped, a retry runs it again once its lease has expired (within %d s)", wait))
		}
	default:
		p.answer = func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set(ReplayedHeader, "true")
			w.WriteHeader(rec.StatusCode)
			_, _ = w.Write(rec.Response)
		}
	}
}

func (m *Middleware) serve(w http.ResponseWriter, r *http.Request, next http.Handler, p *pending) {
	ctx := r.Context()
	buf := &recorder{header: http.Header{}, status: http.StatusOK}
	rctx, transient := apperr.WithTransientNote(context.WithValue(ctx, pendingKey{}, p))
	next.ServeHTTP(buf, r.WithContext(rctx))
	send := func() {
		for k, v := range buf.header {
			w.Header()[k] = v
		}
		w.WriteHeader(buf.status)
		_, _ = w.Write(buf.body.Bytes())
	}
	switch p.state {
	case unclaimed:
		send()
		return
	case answered:
		p.answer(w)
		return
	}
	// The request ran; remember its answer before sending it, so that a
	// client retrying the moment it has the answer gets a replay, and
	// detached from the client's context so that a disconnect cannot leave
	// the key pending.
	defer send()
	key, holder := p.key, p.holder
	sctx := context.WithoutCancel(ctx)
	// Both writes are guarded by the lease: a request that outlived it (it
	// cannot, by the request timeout, but a clock can jump) must not touch
	// the record a retry has taken over since.
	ours := []predicate.IdempotencyRecord{idempotencyrecord.Key(key), idempotencyrecord.Completed(false),
		idempotencyrecord.LeaseHolder(holder)}
	var n int
	var err error
	if buf.status >= 500 || hasInternalError(buf.body.Bytes()) || transient() {
		// A failure of ours is not an answer worth replaying: free the key.
		// Nor is a transient one (a transaction the database kept aborting
		// for concurrent ones, answered CONFLICT "try again"): a retry with
		// the key must run the request, not be handed that CONFLICT again.
		// (A document of several mutations whose later one failed this way
		// runs its earlier ones again on a retry: send one mutation per
		// request when it matters.)
		n, err = m.Client.IdempotencyRecord.Delete().Where(ours...).Exec(sctx)
	} else {
		n, err = m.Client.IdempotencyRecord.Update().Where(ours...).
			SetCompleted(true).SetStatusCode(buf.status).SetResponse(buf.body.Bytes()).
			ClearLeaseHolder().ClearLeaseExpiresAt().Save(sctx)
	}
	if err == nil && n == 0 {
		err = errors.New("the lease of the key was lost before the answer could be stored")
	}
	if err != nil {
		m.Logger.ErrorContext(ctx, "idempotency store", "error", err.Error())
	}
}

// leaseEnd is when the lease of a record in progress ends. A record written
// before leases has none: its lease is taken to end one lease length after
// it was created, as if it had been written with one.
func (m *Middleware) leaseEnd(rec *ent.IdempotencyRecord) time.Time {
	if rec.LeaseExpiresAt != nil {
		return *rec.LeaseExpiresAt
	}
	return rec.CreatedAt.Add(m.lease())
}

// leaseExpired is leaseEnd(rec) ≤ now, in SQL.
func (m *Middleware) leaseExpired(now time.Time) predicate.IdempotencyRecord {
	return idempotencyrecord.Or(
		idempotencyrecord.LeaseExpiresAtLTE(now),
		idempotencyrecord.And(idempotencyrecord.LeaseExpiresAtIsNil(), idempotencyrecord.CreatedAtLTE(now.Add(-m.lease()))),
	)
}

// claim takes the key for this request under a fresh lease. It returns the
// lease's holder when this request now owns the key, or the existing record
// when the key is another request's (a different request, one still
// running, or one done).
func (m *Middleware) claim(ctx context.Context, key, reqHash string, now time.Time) (*ent.IdempotencyRecord, string, error) {
	holder := m.newHolder()
	leaseEnd := now.Add(m.lease())
	for attempt := 0; attempt < 3; attempt++ {
		err := m.Client.IdempotencyRecord.Create().SetKey(key).SetRequestHash(reqHash).
			SetCreatedAt(now).SetExpiresAt(now.Add(Retention)).
			SetLeaseHolder(holder).SetLeaseExpiresAt(leaseEnd).Exec(ctx)
		if err == nil {
			return nil, holder, nil
		}
		if !ent.IsConstraintError(err) {
			return nil, "", err
		}
		rec, err := m.Client.IdempotencyRecord.Query().Where(idempotencyrecord.Key(key)).Only(ctx)
		if ent.IsNotFound(err) {
			continue // freed meanwhile: claim again
		}
		if err != nil {
			return nil, "", err
		}
		if !rec.ExpiresAt.After(now) {
			// Expired: forget it, and every other expired key of the account.
			if _, err := m.Client.IdempotencyRecord.Delete().Where(idempotencyrecord.ExpiresAtLTE(now)).Exec(ctx); err != nil {
				return nil, "", err
			}
			continue
		}
		if rec.Completed || rec.RequestHash != reqHash || m.leaseEnd(rec).After(now) {
			return rec, "", nil
		}
		// In progress under a lease that has expired: the process running
		// it died. Take the key over, on the condition that the lease is
		// still the expired one read, so that of two retries doing this at
		// once exactly one wins; the other finds the new lease next time
		// round and answers CONFLICT.
		held := idempotencyrecord.LeaseHolderIsNil()
		if rec.LeaseHolder != nil {
			held = idempotencyrecord.LeaseHolder(*rec.LeaseHolder)
		}
		n, err := m.Client.IdempotencyRecord.Update().
			Where(idempotencyrecord.ID(rec.ID), idempotencyrecord.Completed(false), held, m.leaseExpired(now)).
			SetLeaseHolder(holder).SetLeaseExpiresAt(leaseEnd).SetExpiresAt(now.Add(Retention)).Save(ctx)
		if err != nil {
			return nil, "", err
		}
		if n == 1 {
			m.Logger.WarnContext(ctx, "idempotency key taken over from an expired lease",
				"key_record", rec.ID, "previous_holder", ptrString(rec.LeaseHolder))
			return nil, holder, nil
		}
	}
	return nil, "", apperr.Clash("could not claim the Idempotency-Key; try again")
}

func ptrString(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// decodeRequest reads a GraphQL request body with every number of its
// variables kept as written (json.Number), never rounded through float64:
// 9007199254740993 and 9007199254740992 are different requests.
func decodeRequest(body []byte) (gqlRequest, error) {
	var req gqlRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&req); err != nil {
		return req, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return req, errors.New("data after the request object")
	}
	return req, nil
}

// RequestHash is the hash a request body is remembered by under a key sent
// with the API key apiKeyID (see hash); an error when the body is not a
// GraphQL request object.
func RequestHash(body []byte, apiKeyID int) (string, error) {
	req, err := decodeRequest(body)
	if err != nil {
		return "", err
	}
	return hash(req, apiKeyID), nil
}

// hash identifies a request by the API key that sent it, its query,
// operation and variables, as canonical JSON: object keys sorted (JSON's
// key order and white space do not count) and numbers exactly as the
// client wrote them (decodeRequest), so that two requests differing in
// any digit never share a hash.
func hash(req gqlRequest, apiKeyID int) string {
	b, _ := json.Marshal(struct {
		APIKey int `json:"apiKey"`
		gqlRequest
	}{apiKeyID, req})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func hasInternalError(body []byte) bool {
	return bytes.Contains(body, []byte(`"code":"INTERNAL"`))
}

func writeError(w http.ResponseWriter, status int, code apperr.Code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]any{{
		"message": msg, "extensions": map[string]any{"code": string(code)},
	}}})
}

// recorder buffers an answer so that it can be stored before it is sent.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) WriteHeader(code int)        { r.status = code }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }
