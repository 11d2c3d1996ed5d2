// Package idempotency makes a mutation request safe to retry: a request
// carrying an Idempotency-Key header runs once per account and key; a repeat
// with the same request from the same API key gets the first answer again
// and does nothing more; a different request (or the same one from another
// API key) under the same key answers IDEMPOTENCY_KEY_REUSED; while
// the first is still running, a duplicate answers CONFLICT, so two
// concurrent requests with one key never both execute. Keys are kept 24
// hours.
package idempotency

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"

	"github.com/frsvc/fulfillment/ent"
	"github.com/frsvc/fulfillment/ent/idempotencyrecord"
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

// Middleware wraps the GraphQL handler. It must run after authentication:
// keys are per account.
type Middleware struct {
	Client *ent.Client
	Logger *slog.Logger
	Now    func() time.Time
}

func (m *Middleware) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

type gqlRequest struct {
	Query         string         `json:"query"`
	OperationName string         `json:"operationName,omitempty"`
	Variables     map[string]any `json:"variables,omitempty"`
}

// Wrap returns next guarded by idempotency keys.
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
		if err != nil || !isMutation(req) {
			next.ServeHTTP(w, r)
			return
		}
		if len(key) > MaxKeyLength {
			writeError(w, http.StatusBadRequest, apperr.Validation, "the Idempotency-Key header must be at most 255 characters")
			return
		}
		// The caller is part of the request: an answer is replayed only to
		// the API key that was first given it. Otherwise another key of the
		// account (a SOURCE key, say) could send an operator's request again
		// under the operator's Idempotency-Key and be handed the answer
		// without its own role ever being checked.
		p, _ := auth.FromContext(r.Context())
		m.serve(w, r, next, key, hash(req, p.KeyID))
	})
}

func (m *Middleware) serve(w http.ResponseWriter, r *http.Request, next http.Handler, key, reqHash string) {
	ctx := r.Context()
	rec, err := m.claim(ctx, key, reqHash)
	if err != nil {
		m.Logger.ErrorContext(ctx, "idempotency store", "error", err.Error())
		writeError(w, http.StatusInternalServerError, apperr.Internal, "internal error")
		return
	}
	if rec != nil {
		switch {
		case rec.RequestHash != reqHash:
			writeError(w, http.StatusUnprocessableEntity, apperr.IdempotencyKeyReused, "this Idempotency-Key was used with a different request")
		case !rec.Completed:
			writeError(w, http.StatusConflict, apperr.Conflict, "a request with this Idempotency-Key is still in progress")
		default:
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set(ReplayedHeader, "true")
			w.WriteHeader(rec.StatusCode)
			_, _ = w.Write(rec.Response)
		}
		return
	}
	buf := &recorder{header: http.Header{}, status: http.StatusOK}
	next.ServeHTTP(buf, r)
	// The request ran; remember its answer before sending it, so that a
	// client retrying the moment it has the answer gets a replay, and
	// detached from the client's context so that a disconnect cannot leave
	// the key pending.
	defer func() {
		for k, v := range buf.header {
			w.Header()[k] = v
		}
		w.WriteHeader(buf.status)
		_, _ = w.Write(buf.body.Bytes())
	}()
	sctx := context.WithoutCancel(ctx)
	if buf.status >= 500 || hasInternalError(buf.body.Bytes()) {
		// A failure of ours is not an answer worth replaying: free the key.
		// (A document of several mutations whose later one failed this way
		// runs its earlier ones again on a retry: send one mutation per
		// request when it matters.)
		_, err = m.Client.IdempotencyRecord.Delete().
			Where(idempotencyrecord.Key(key), idempotencyrecord.Completed(false)).Exec(sctx)
	} else {
		err = m.Client.IdempotencyRecord.Update().
			Where(idempotencyrecord.Key(key), idempotencyrecord.Completed(false)).
			SetCompleted(true).SetStatusCode(buf.status).SetResponse(buf.body.Bytes()).Exec(sctx)
	}
	if err != nil {
		m.Logger.ErrorContext(ctx, "idempotency store", "error", err.Error())
	}
}

// claim inserts a pending record for the key. It returns nil when this
// request now owns the key, or the existing record when another does.
func (m *Middleware) claim(ctx context.Context, key, reqHash string) (*ent.IdempotencyRecord, error) {
	now := m.now()
	for attempt := 0; attempt < 2; attempt++ {
		err := m.Client.IdempotencyRecord.Create().SetKey(key).SetRequestHash(reqHash).
			SetCreatedAt(now).SetExpiresAt(now.Add(Retention)).Exec(ctx)
		if err == nil {
			return nil, nil
		}
		if !ent.IsConstraintError(err) {
			return nil, err
		}
		rec, err := m.Client.IdempotencyRecord.Query().Where(idempotencyrecord.Key(key)).Only(ctx)
		if ent.IsNotFound(err) {
			continue // freed meanwhile: claim again
		}
		if err != nil {
			return nil, err
		}
		if rec.ExpiresAt.After(now) {
			return rec, nil
		}
		// Expired: forget it, and every other expired key of the account.
		if _, err := m.Client.IdempotencyRecord.Delete().Where(idempotencyrecord.ExpiresAtLT(now)).Exec(ctx); err != nil {
			return nil, err
		}
	}
	return nil, apperr.Clash("could not claim the Idempotency-Key; try again")
}

func isMutation(req gqlRequest) bool {
	doc, err := parser.ParseQuery(&ast.Source{Input: req.Query})
	if err != nil {
		return false
	}
	for _, op := range doc.Operations {
		if req.OperationName == "" || op.Name == req.OperationName {
			return op.Operation == ast.Mutation
		}
	}
	return false
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
