// Package httpapi assembles the service's HTTP surface: POST/GET /query
// (GraphQL, behind bearer authentication), GET / (GraphiQL, when enabled),
// /healthz, /readyz and /metrics, with request ids, access logs, CORS and a
// request body limit.
package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/cors"

	"github.com/frsvc/fulfillment/graph"
	"github.com/frsvc/fulfillment/internal/apperr"
	"github.com/frsvc/fulfillment/internal/auth"
	"github.com/frsvc/fulfillment/internal/db"
	"github.com/frsvc/fulfillment/internal/idempotency"
	"github.com/frsvc/fulfillment/internal/metrics"
	"github.com/frsvc/fulfillment/internal/playground"
	"github.com/frsvc/fulfillment/internal/reqid"
)

// DefaultMaxBodyBytes bounds a request body.
const DefaultMaxBodyBytes = 1 << 20

// Config is what the handler needs. Store, Logger, Metrics, Auth and
// Resolver are required: the handler builds no part of the app itself
// (internal/app does, once).
type Config struct {
	Store    *db.Store
	Logger   *slog.Logger
	Metrics  *metrics.Metrics
	Auth     *auth.Authenticator
	Resolver *graph.Resolver
	// CORSOrigins are the exact origins a browser may call from.
	CORSOrigins []string
	// Playground serves GraphiQL at /.
	Playground bool
	// Introspection enables GraphQL schema introspection.
	Introspection bool
	// Production turns off field suggestions.
	Production bool
	// Limits bound an operation's cost (graph.Limits defaults when zero).
	Limits graph.Limits
	// MaxBodyBytes bounds a request body (DefaultMaxBodyBytes when zero).
	MaxBodyBytes int64
	// RequestTimeout bounds one request (DefaultRequestTimeout when zero).
	RequestTimeout time.Duration
	// MaxInFlight caps concurrent GraphQL requests (DefaultMaxInFlight when zero).
	MaxInFlight int
	// MaxExecuting is how many of those run at once, the others waiting
	// their turn (DefaultMaxExecuting when zero).
	MaxExecuting int
	// RateLimit is the per-key request rate per second (DefaultRateLimit
	// when zero; negative turns the limit off) and RateBurst its bucket size.
	RateLimit float64
	RateBurst int
	// Now is the clock of the idempotency keys' leases and retention (nil
	// is time.Now).
	Now func() time.Time
	// Draining reports that shutdown has begun: /readyz answers 503 from
	// then on (nil: never).
	Draining func() bool
}

func (c *Config) defaults() {
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = DefaultMaxInFlight
	}
	if c.MaxExecuting <= 0 {
		c.MaxExecuting = DefaultMaxExecuting()
	}
	if c.RateLimit == 0 {
		c.RateLimit = DefaultRateLimit
	}
	if c.RateBurst <= 0 {
		c.RateBurst = DefaultRateBurst
	}
}

// New returns the service's HTTP handler.
func New(cfg Config) (http.Handler, error) {
	cfg.defaults()
	if cfg.Store == nil || cfg.Logger == nil || cfg.Metrics == nil || cfg.Auth == nil || cfg.Resolver == nil {
		return nil, errors.New("httpapi: Store, Logger, Metrics, Auth and Resolver are required (build the app with internal/app)")
	}
	logger, m, authn := cfg.Logger, cfg.Metrics, cfg.Auth
	gql := graph.NewHandler(cfg.Resolver, graph.Options{
		Logger: logger, Introspection: cfg.Introspection, Production: cfg.Production, Limits: cfg.Limits,
		ObserveOperation: m.ObserveOperation,
	})

	mux := http.NewServeMux()
	// A request holding an Idempotency-Key ends by the request timeout; its
	// lease on the key lasts that long and a margin more.
	idem := &idempotency.Middleware{Client: cfg.Store.Client, Logger: logger, Now: cfg.Now,
		Lease: cfg.RequestTimeout + idempotency.LeaseMargin}
	var perKey http.Handler = idem.Wrap(executing(cfg.MaxExecuting, gql))
	if cfg.RateLimit > 0 {
		perKey = newKeyLimiter(cfg.RateLimit, cfg.RateBurst).wrap(perKey)
	}
	// Outside in: negotiate the response media type (406 when the Accept
	// header allows no GraphQL response type), cap concurrency, bound time,
	// refuse cross-site and non-JSON bodies, bound the body, authenticate,
	// rate-limit per key, hash a request under an Idempotency-Key, run
	// GraphQL a few requests at a time (the rest queued). The key itself is
	// claimed (or its answer replayed) within GraphQL, once the executor has
	// parsed the document and found a mutation (idempotency.Extension), so
	// in an execution slot.
	mux.Handle("/query", negotiate(inFlight(cfg.MaxInFlight, timeout(cfg.RequestTimeout,
		crossSite(cfg.CORSOrigins, limitBody(cfg.MaxBodyBytes, authenticate(authn, logger, perKey)))))))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if cfg.Draining != nil && cfg.Draining() {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "shutting down"})
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := cfg.Store.Ping(ctx); err != nil {
			logger.WarnContext(ctx, "database not reachable", "error", err.Error())
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "database unreachable"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}))
	if cfg.Playground {
		page, err := playground.Handler(playground.Options{
			Title: "Fulfillment requests", Endpoint: "/query", StoragePrefix: "fulfillment",
			DefaultHeaders: "{\n  \"Authorization\": \"Bearer <paste the API key printed at start-up>\"\n}",
			DefaultQuery:   "# Put your key in the headers tab, then run:\n{\n  viewer {\n    role\n    account { name }\n  }\n}\n",
		})
		if err != nil {
			return nil, err
		}
		mux.Handle("GET /{$}", page)
		mux.Handle("GET "+playground.Prefix, page)
	}
	c := cors.New(cors.Options{
		// Exact, case-sensitive matches only: rs/cors's own list compares
		// without regard to case, which the cross-site guard does not.
		AllowOriginFunc:  func(origin string) bool { return slices.Contains(cfg.CORSOrigins, origin) },
		AllowedMethods:   []string{http.MethodGet, http.MethodPost},
		AllowedHeaders:   []string{"Authorization", "Content-Type", "Idempotency-Key"},
		ExposedHeaders:   []string{reqid.Header},
		AllowCredentials: false,
		MaxAge:           600,
	})
	return reqid.Middleware(accessLog(logger, c.Handler(mux))), nil
}

// authenticate resolves the bearer key before GraphQL runs. A failure is
// answered 401 in GraphQL's own error format with code UNAUTHENTICATED (and
// the negotiated Content-Type, set by negotiate).
func authenticate(a *auth.Authenticator, logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodOptions {
			next.ServeHTTP(w, r)
			return
		}
		p, err := a.Authenticate(r.Context(), auth.BearerToken(r.Header.Get("Authorization")))
		if err != nil {
			code, msg := apperr.Unauthenticated, auth.ErrUnauthenticated.Message
			status := http.StatusUnauthorized
			if apperr.CodeOf(err) != apperr.Unauthenticated {
				code, msg, status = apperr.Internal, "internal error", http.StatusInternalServerError
				logger.ErrorContext(r.Context(), "authentication failed", "request_id", reqid.From(r.Context()), "error", err.Error())
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="fulfillment"`)
			errorBody(w, status, code, msg, nil)
			return
		}
		next.ServeHTTP(w, r.WithContext(auth.WithPrincipal(r.Context(), p)))
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// accessLog writes one line per request: method, path, status, duration and
// request id. Headers are never logged, so a key cannot leak through here.
func accessLog(logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		logger.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("request_id", reqid.From(r.Context())),
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", rec.status),
			slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000))
	})
}
