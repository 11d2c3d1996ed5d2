// Package app is the service's single composition root: New takes a Config
// and builds the whole app (the store with its statement count, metrics,
// every domain service, the send run, the authenticator and the HTTP
// handler), and Serve runs it. server.go is flags → New → Serve, and every
// test harness builds its app through New as well, changing only Config
// values, so that the app under test and the app that ships cannot differ.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/frsvc/fulfillment/ent/apikey"
	"github.com/frsvc/fulfillment/graph"
	"github.com/frsvc/fulfillment/internal/admin"
	"github.com/frsvc/fulfillment/internal/auth"
	"github.com/frsvc/fulfillment/internal/db"
	"github.com/frsvc/fulfillment/internal/demo"
	"github.com/frsvc/fulfillment/internal/fulfillment"
	"github.com/frsvc/fulfillment/internal/httpapi"
	"github.com/frsvc/fulfillment/internal/metrics"
	"github.com/frsvc/fulfillment/internal/orders"
	"github.com/frsvc/fulfillment/internal/sender"
	"github.com/frsvc/fulfillment/internal/tenant"
)

// Config is everything that can vary between one run of the app and
// another. Defaults returns the values the server starts with.
type Config struct {
	// DatabaseURL names the store (see db.Open): empty is the embedded
	// SQLite file fulfillment.db.
	DatabaseURL string
	// Bootstrap creates the default account and its ADMIN key on a database
	// with no account. BootstrapAPIKey is that key's secret; empty makes a
	// random one (App.BootstrapSecret).
	Bootstrap       bool
	BootstrapAPIKey string
	// Demo seeds the demo data set into an empty database, and serves the
	// demo supplier (demo.SupplierPath) its HTTP source posts to.
	Demo bool
	// DemoSupplierURL is the demo supplier's address as this process serves
	// it (the server sets it from its listener); empty: demo.DefaultSupplierURL.
	DemoSupplierURL string

	// SendInterval is the send run's period; 0 turns the background run off.
	SendInterval time.Duration
	// SendLease is how long a send run's claim on a request lasts.
	SendLease time.Duration
	// FileDropRoot is the folder FILE connectors write under, each account
	// in a folder of its own (account-<id>) that holds its sources'
	// directories. Empty: DefaultFileDropRoot of the database. New stores
	// the resolved, absolute path in App.Config.
	FileDropRoot string
	// AllowPrivateURLs lets HTTP connectors reach loopback, private,
	// link-local and other non-public addresses in production, where they
	// are refused by default. Outside production they are always allowed.
	AllowPrivateURLs bool

	// CORSOrigins are the exact origins a browser may call from.
	CORSOrigins []string
	// Production turns off field suggestions. Playground and Introspection
	// are their own settings: the flags turn both off in production unless
	// given, and New does not derive them.
	Production    bool
	Playground    bool
	Introspection bool
	// Complexity is the most an operation may cost.
	Complexity int
	// RateLimit is requests per second per API key (0: no limit), RateBurst
	// the bucket size.
	RateLimit float64
	RateBurst int
	// MaxExecuting is how many GraphQL requests run at once, MaxInFlight how
	// many may be in the server at all (0: the handler's default).
	MaxExecuting int
	MaxInFlight  int
	// RequestTimeout bounds one request, MaxBodyBytes its body (0: the
	// handler's defaults).
	RequestTimeout time.Duration
	MaxBodyBytes   int64
	// ShutdownGrace is how long Serve lets in-flight work finish.
	ShutdownGrace time.Duration
	// ShutdownDelay is how long Serve goes on serving once shutdown has
	// begun, /readyz answering 503, before it closes the listener: time for
	// a load balancer to stop sending it requests. 0 closes it at once.
	ShutdownDelay time.Duration

	// Logger receives the server's log (JSON to stderr in the binary).
	Logger *slog.Logger
	// Now is the clock of the use cases, the send run and the idempotency
	// keys (their leases and retention); nil is time.Now.
	Now func() time.Time
}

// Defaults returns the configuration the server runs with when no flag or
// environment variable says otherwise.
func Defaults() Config {
	return Config{
		Bootstrap:     true,
		SendInterval:  30 * time.Second,
		SendLease:     sender.DefaultLease,
		Playground:    true,
		Introspection: true,
		Complexity:    graph.DefaultComplexity,
		RateLimit:     httpapi.DefaultRateLimit,
		RateBurst:     httpapi.DefaultRateBurst,
		MaxExecuting:  httpapi.DefaultMaxExecuting(),
		ShutdownGrace: 20 * time.Second,
	}
}

// DefaultFileDropRoot is the drop root of a database when none is
// configured: the folder drops beside the SQLite file, or in the working
// directory when the database is PostgreSQL (or SQLite in memory).
func DefaultFileDropRoot(databaseURL string) string {
	if f := db.SQLiteFile(databaseURL); f != "" {
		return filepath.Join(filepath.Dir(f), "drops")
	}
	return "drops"
}

// App is the assembled service.
type App struct {
	Config      Config
	Logger      *slog.Logger
	Store       *db.Store
	Metrics     *metrics.Metrics
	Fulfillment *fulfillment.Service
	Orders      *orders.Service
	Admin       *admin.Service
	Sender      *sender.Runner
	Auth        *auth.Authenticator
	// Resolver holds the GraphQL resolvers' dependencies (the services above).
	Resolver *graph.Resolver
	// Handler is the whole HTTP surface: /query, /, /healthz, /readyz, /metrics.
	Handler http.Handler

	// BootstrapSecret is the ADMIN key made for a new database when no
	// BootstrapAPIKey was given, to be shown once; empty otherwise.
	BootstrapSecret string
	// DemoSeeded reports that Config.Demo seeded the demo data set (false
	// when the database already held data).
	DemoSeeded bool

	served bool // Serve has shut the send runs down
	// draining is set once shutdown has begun: /readyz answers 503.
	draining atomic.Bool
}

// New opens and migrates the store, bootstraps the default account, seeds
// the demo data when asked to, and builds every part of the app. The caller
// closes it.
func New(ctx context.Context, cfg Config) (a *App, err error) {
	if cfg.SendLease <= 0 {
		return nil, errors.New("the send lease must be positive")
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	if cfg.FileDropRoot == "" {
		cfg.FileDropRoot = DefaultFileDropRoot(cfg.DatabaseURL)
		if cfg.Demo && db.SQLiteFile(cfg.DatabaseURL) == "" {
			// Not the working directory: the demo's drops are a demo's.
			cfg.FileDropRoot = filepath.Join(os.TempDir(), "fulfillment-demo-drops")
		}
	}
	if cfg.FileDropRoot, err = filepath.Abs(cfg.FileDropRoot); err != nil {
		return nil, fmt.Errorf("the file drop root: %w", err)
	}
	m := metrics.New()
	store, err := db.Open(cfg.DatabaseURL, db.Config{OnStatement: m.CountStatement})
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = store.Close()
		}
	}()
	if err := store.Migrate(ctx); err != nil {
		return nil, err
	}
	a = &App{Config: cfg, Logger: logger, Store: store, Metrics: m}
	if cfg.Bootstrap {
		if a.BootstrapSecret, err = auth.Bootstrap(ctx, store.Client, cfg.BootstrapAPIKey); err != nil {
			return nil, fmt.Errorf("bootstrap: %w", err)
		}
		if cfg.BootstrapAPIKey != "" {
			if a.BootstrapSecret == "" {
				a.warnIgnoredBootstrapKey(ctx)
			}
			a.BootstrapSecret = "" // the caller knows it; never echo a given secret
		}
	}
	if cfg.Demo {
		opts := demo.Options{SupplierURL: cfg.DemoSupplierURL, FileDropRoot: cfg.FileDropRoot}
		if a.DemoSeeded, err = demo.Seed(tenant.WithSystem(ctx), store, opts); err != nil {
			return nil, fmt.Errorf("demo: %w", err)
		}
		if cfg.Production && !cfg.AllowPrivateURLs {
			logger.Warn("the demo's HTTP source posts to the demo supplier on this server's loopback address, which production mode refuses: " +
				"its requests fail unless --allow-private-urls is given")
		}
	}

	a.Fulfillment = &fulfillment.Service{Store: store, Now: cfg.Now, ObserveRouting: m.ObserveRouting,
		ObserveTransition: m.ObserveTransition, ObserveSend: m.ObserveSend}
	a.Orders = &orders.Service{Client: store.Client, AfterImport: a.Fulfillment.GenerateOnImport}
	a.Admin = &admin.Service{Client: store.Client, Postgres: store.Postgres()}
	a.Sender = &sender.Runner{Store: store, Fulfillment: a.Fulfillment, Logger: logger, Lease: cfg.SendLease, Now: cfg.Now,
		FileDropRoot: cfg.FileDropRoot, RefusePrivateAddresses: cfg.Production && !cfg.AllowPrivateURLs}
	// The key lookup: a prepared statement on PostgreSQL, detached from the
	// request's cancellation on SQLite (see auth.Authenticator.Lookup).
	lookup := store.Prepared()
	if !store.Postgres() {
		lookup = store.Detached()
	}
	a.Auth = &auth.Authenticator{Client: store.Client, Lookup: lookup}

	rate := cfg.RateLimit
	if rate == 0 {
		rate = -1 // the handler's "off"
	}
	a.Resolver = &graph.Resolver{Client: store.Client, Admin: a.Admin, Orders: a.Orders,
		Fulfillment: a.Fulfillment, Sender: a.Sender}
	a.Handler, err = httpapi.New(httpapi.Config{
		Store: store, Logger: logger, Metrics: m, Auth: a.Auth, Resolver: a.Resolver,
		CORSOrigins: cfg.CORSOrigins, Playground: cfg.Playground, Introspection: cfg.Introspection,
		Production: cfg.Production, Limits: graph.Limits{Complexity: cfg.Complexity},
		RateLimit: rate, RateBurst: cfg.RateBurst, MaxExecuting: cfg.MaxExecuting, MaxInFlight: cfg.MaxInFlight,
		RequestTimeout: cfg.RequestTimeout, MaxBodyBytes: cfg.MaxBodyBytes, Now: cfg.Now,
		Draining: a.draining.Load,
	})
	if err != nil {
		return nil, err
	}
	if cfg.Demo {
		mux := http.NewServeMux()
		mux.Handle(demo.SupplierPath, demo.Supplier())
		mux.Handle("/", a.Handler)
		a.Handler = mux
	}
	return a, nil
}

// warnIgnoredBootstrapKey says that BOOTSTRAP_API_KEY made nothing, the
// database having an account already, unless the secret is one of its live
// keys (a restart with the variable still set).
func (a *App) warnIgnoredBootstrapKey(ctx context.Context) {
	hash := auth.Hash(a.Config.BootstrapAPIKey)
	live, err := a.Store.Client.ApiKey.Query().Where(apikey.Hash(hash), apikey.RevokedAtIsNil()).Exist(tenant.WithSystem(ctx))
	if err == nil && live {
		return
	}
	a.Logger.Warn("BOOTSTRAP_API_KEY is ignored: the database already has an account, and the variable only sets the key of the default account a database with no account gets; " +
		"it is not a live key of this database (make one with: accounts keys create --account ID --role ADMIN)")
}

// Close lets the send runs in progress (on-demand ones detached from their
// requests) finish their batches, within ShutdownGrace, then closes the store.
func (a *App) Close() error {
	grace := a.grace()
	if a.served {
		grace = 0 // Serve gave them their grace already
	}
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := a.Sender.Shutdown(ctx); err != nil {
		a.Logger.Warn("send runs still in progress at close; their leases will expire and be taken over")
	}
	return a.Store.Close()
}

func (a *App) grace() time.Duration {
	if a.Config.ShutdownGrace > 0 {
		return a.Config.ShutdownGrace
	}
	return Defaults().ShutdownGrace
}

// Serve answers HTTP on ln and runs the background send run until ctx is
// done; then it stops taking work, lets requests in flight and the send
// run's current batch finish within Config.ShutdownGrace, and returns. The
// store stays open (Close it after).
func (a *App) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           a.Handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	loopCtx, stopLoop := context.WithCancel(ctx)
	defer stopLoop()
	loopDone := make(chan struct{})
	go func() {
		defer close(loopDone)
		a.Sender.Loop(loopCtx, a.Config.SendInterval, tenant.WithSystem)
	}()

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		stopLoop()
		<-loopDone
		return err
	case <-ctx.Done():
	}
	a.draining.Store(true)
	a.Logger.Info("shutting down", "delay", a.Config.ShutdownDelay.String())
	if d := a.Config.ShutdownDelay; d > 0 {
		// Still serving, /readyz saying 503, for the load balancer to notice.
		select {
		case <-time.After(d):
		case err := <-errc:
			stopLoop()
			<-loopDone
			return err
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), a.grace())
	defer cancel()
	stopLoop()
	shutdownErr := srv.Shutdown(sctx)
	select {
	case <-loopDone:
	case <-sctx.Done():
	}
	// On-demand runs too: none claims more, their batches in flight finish.
	a.served = true
	if sctx.Err() != nil || a.Sender.Shutdown(sctx) != nil {
		a.Logger.Warn("the send run did not finish its batch in time; its leases will expire and be taken over")
	}
	if shutdownErr != nil {
		a.Logger.Warn("stopped", "error", shutdownErr.Error())
		return fmt.Errorf("shutdown: %w", shutdownErr)
	}
	a.Logger.Info("stopped")
	return nil
}
