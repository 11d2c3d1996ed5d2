package httpapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/frsvc/fulfillment/internal/admission"
	"github.com/frsvc/fulfillment/internal/apperr"
	"github.com/frsvc/fulfillment/internal/auth"
)

// The HTTP guards' defaults.
const (
	DefaultRequestTimeout = 30 * time.Second
	DefaultMaxInFlight    = 256
	DefaultRateLimit      = 50  // requests per second per key
	DefaultRateBurst      = 100 // requests a key may send at once
)

// DefaultMaxExecuting is four requests per processor the Go scheduler
// uses, and at least eight: enough to keep the processors busy while some
// requests wait on the database, few enough that each runs to completion
// quickly.
func DefaultMaxExecuting() int { return max(8, 4*runtime.GOMAXPROCS(0)) }

// errorBody writes a GraphQL-shaped error answer.
func errorBody(w http.ResponseWriter, status int, code apperr.Code, msg string, ext map[string]any) {
	e := map[string]any{"code": string(code)}
	for k, v := range ext {
		e[k] = v
	}
	writeJSON(w, status, map[string]any{"errors": []map[string]any{{"message": msg, "extensions": e}}})
}

// limitBody reads the whole body under max bytes, answering 413 when it is
// larger, so that nothing downstream parses an oversized request.
func limitBody(max int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Method == http.MethodGet || r.Method == http.MethodOptions {
			next.ServeHTTP(w, r)
			return
		}
		if r.ContentLength > max {
			errorBody(w, http.StatusRequestEntityTooLarge, apperr.Validation, "the request body is larger than "+strconv.FormatInt(max, 10)+" bytes", nil)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			errorBody(w, http.StatusRequestEntityTooLarge, apperr.Validation, "the request body is larger than "+strconv.FormatInt(max, 10)+" bytes", nil)
			return
		}
		if err != nil {
			errorBody(w, http.StatusBadRequest, apperr.Validation, "the request body could not be read", nil)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(w, r)
	})
}

// crossSite keeps browsers' cross-site requests away from GraphQL: a request
// from an origin that is not the server's own nor on the CORS allowlist is
// refused, and so is any POST whose body is not application/json (forms,
// text and multipart bodies are what a cross-site page can send without a
// preflight), with or without a charset parameter, which must then be UTF-8.
// GET runs queries only (the GraphQL transport answers a mutation 405).
func crossSite(allowed []string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodOptions:
		case http.MethodPost:
			mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
			if err != nil || mt != "application/json" {
				errorBody(w, http.StatusUnsupportedMediaType, apperr.Validation, "POST bodies must be application/json", nil)
				return
			}
			if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") && !strings.EqualFold(cs, "utf8") {
				errorBody(w, http.StatusUnsupportedMediaType, apperr.Validation, "POST bodies must be encoded in UTF-8", nil)
				return
			}
		default:
			w.Header().Set("Allow", "GET, POST, OPTIONS")
			errorBody(w, http.StatusMethodNotAllowed, apperr.Validation, "use GET for queries or POST with application/json", nil)
			return
		}
		if r.Method != http.MethodOptions && !originAllowed(r, allowed) {
			msg := "cross-site requests from this origin are not allowed"
			if o := r.Header.Get("Origin"); o != "" && o != "null" {
				msg = fmt.Sprintf("cross-site requests from the origin %s are not allowed; start the server with --cors-origins %s (or CORS_ORIGINS) to allow it", excerptOrigin(o), excerptOrigin(o))
			} else {
				msg += "; start the server with --cors-origins ORIGIN (or CORS_ORIGINS) to allow a browser origin"
			}
			errorBody(w, http.StatusForbidden, apperr.Forbidden, msg, nil)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// originAllowed accepts requests with no browser origin (servers, scripts),
// same-origin requests and exact allowlisted origins.
func originAllowed(r *http.Request, allowed []string) bool {
	origin := r.Header.Get("Origin")
	site := r.Header.Get("Sec-Fetch-Site")
	if origin == "" {
		return site == "" || site == "same-origin" || site == "none"
	}
	if slices.Contains(allowed, origin) {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	return u.Host == r.Host && (site == "" || site == "same-origin")
}

// timeout bounds one request's execution.
func timeout(d time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), d)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// inFlight caps concurrent requests; beyond the cap a request is answered
// 503 at once rather than queued behind the others.
func inFlight(n int, next http.Handler) http.Handler {
	sem := make(chan struct{}, n)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case sem <- struct{}{}:
			defer func() { <-sem }()
			next.ServeHTTP(w, r)
		default:
			busy(w)
		}
	})
}

// busy answers a request the server has no room for: 503 RATE_LIMITED with
// a retry hint.
func busy(w http.ResponseWriter) {
	w.Header().Set("Retry-After", "1")
	errorBody(w, http.StatusServiceUnavailable, apperr.RateLimited, "the server is busy; try again in a moment", map[string]any{"retryAfterSeconds": 1})
}

// executing lets at most n requests execute GraphQL at once; the others
// wait their turn in arrival order (a channel's blocked senders are served
// first in, first out) until their deadline, then are answered 503. It sits
// inside authentication and the rate limit, after the body has been read,
// and buffers the answer, so that a slot is held only while the operation
// executes: not while a slow client sends its body or reads the answer.
// Running a few requests to completion keeps each one's working set in the
// CPU's caches and the database's concurrency near what it can serve.
//
// An operation that goes on to wait for work detached from it (a send run's
// deliveries) gives its slot back early through admission.Release: the slot
// rides in the request's context, and is given back once, whichever comes
// first.
func executing(n int, next http.Handler) http.Handler {
	sem := make(chan struct{}, n)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case sem <- struct{}{}:
		default:
			select {
			case sem <- struct{}{}:
			case <-r.Context().Done():
				busy(w)
				return
			}
		}
		answer := newBufferedAnswer(w.Header())
		s := &slot{sem: sem}
		func() {
			defer s.Release()
			next.ServeHTTP(answer, r.WithContext(admission.WithSlot(r.Context(), s)))
		}()
		answer.send(w)
	})
}

// slot is one request's place in executing's semaphore.
type slot struct {
	sem      chan struct{}
	released atomic.Bool
}

// Release gives the place back, once.
func (s *slot) Release() {
	if s.released.CompareAndSwap(false, true) {
		<-s.sem
	}
}

// bufferedAnswer holds a handler's answer until send writes it out.
type bufferedAnswer struct {
	header http.Header
	status int
	body   *bytes.Buffer
}

var answerBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func newBufferedAnswer(h http.Header) *bufferedAnswer {
	b := answerBuffers.Get().(*bytes.Buffer)
	b.Reset()
	return &bufferedAnswer{header: h, body: b}
}

func (a *bufferedAnswer) Header() http.Header { return a.header }

func (a *bufferedAnswer) WriteHeader(status int) {
	if a.status == 0 {
		a.status = status
	}
}

func (a *bufferedAnswer) Write(p []byte) (int, error) {
	if a.status == 0 {
		a.status = http.StatusOK
	}
	return a.body.Write(p)
}

// send writes the answer to w and returns the buffer to the pool (unless it
// grew large).
func (a *bufferedAnswer) send(w http.ResponseWriter) {
	if a.status == 0 {
		a.status = http.StatusOK
	}
	w.WriteHeader(a.status)
	_, _ = w.Write(a.body.Bytes())
	if a.body.Cap() <= 1<<20 {
		answerBuffers.Put(a.body)
	}
	a.body = nil
}

// keyLimiter is a token bucket per API key, so that one partner cannot
// starve the rest.
type keyLimiter struct {
	limit rate.Limit
	burst int
	mu    sync.Mutex
	keys  map[int]*limiterEntry
	calls int
}

type limiterEntry struct {
	l    *rate.Limiter
	seen time.Time
}

func newKeyLimiter(perSecond float64, burst int) *keyLimiter {
	return &keyLimiter{limit: rate.Limit(perSecond), burst: burst, keys: map[int]*limiterEntry{}}
}

func (k *keyLimiter) get(key int, now time.Time) *rate.Limiter {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.calls++
	if k.calls%1024 == 0 {
		// Forget keys idle long enough for their bucket to be full again.
		for id, e := range k.keys {
			if now.Sub(e.seen) > 10*time.Minute {
				delete(k.keys, id)
			}
		}
	}
	e, ok := k.keys[key]
	if !ok {
		e = &limiterEntry{l: rate.NewLimiter(k.limit, k.burst)}
		k.keys[key] = e
	}
	e.seen = now
	return e.l
}

// wrap answers RATE_LIMITED (HTTP 429 with Retry-After) when the caller's
// key has no token left. It runs after authentication.
func (k *keyLimiter) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := auth.FromContext(r.Context())
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		now := time.Now()
		res := k.get(p.KeyID, now).ReserveN(now, 1)
		if delay := res.DelayFrom(now); !res.OK() || delay > 0 {
			res.CancelAt(now)
			secs := int(delay.Seconds()) + 1
			w.Header().Set("Retry-After", strconv.Itoa(secs))
			errorBody(w, http.StatusTooManyRequests, apperr.RateLimited, "too many requests for this API key; slow down", map[string]any{"retryAfterSeconds": secs})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// excerptOrigin is an Origin header fit to quote in a message: printable
// ASCII, at most 100 characters.
func excerptOrigin(o string) string {
	o = strings.Map(func(r rune) rune {
		if r < 0x21 || r > 0x7e {
			return -1
		}
		return r
	}, o)
	if len(o) > 100 {
		o = o[:100] + "…"
	}
	return o
}
