// Command fulfillment is the fulfillment request service: a GraphQL API that
// routes e-commerce orders to suppliers and warehouses, creates and sends
// fulfillment requests, and logs every step. See README.md.
package main

//go:generate go run ./ent/entc.go
//go:generate go run ./graph/gqlgen.go

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"entgo.io/ent/dialect"

	"github.com/frsvc/fulfillment/graph"
	"github.com/frsvc/fulfillment/internal/auth"
	"github.com/frsvc/fulfillment/internal/db"
	"github.com/frsvc/fulfillment/internal/demo"
	"github.com/frsvc/fulfillment/internal/fulfillment"
	"github.com/frsvc/fulfillment/internal/gctune"
	"github.com/frsvc/fulfillment/internal/httpapi"
	"github.com/frsvc/fulfillment/internal/metrics"
	"github.com/frsvc/fulfillment/internal/sender"
	"github.com/frsvc/fulfillment/internal/sqlcount"
	"github.com/frsvc/fulfillment/internal/tenant"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

// config is the server's configuration: flags, each with an environment
// variable of the same meaning; a flag given on the command line wins.
type config struct {
	Addr          string
	DatabaseURL   string
	Demo          bool
	SendInterval  time.Duration
	SendLease     time.Duration
	CORSOrigins   []string
	Production    bool
	Playground    bool
	Introspection bool
	ShutdownGrace time.Duration
	Complexity    int
	RateLimit     float64
	RateBurst     int
	MaxExecuting  int
}

func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet("fulfillment", flag.ContinueOnError)
	fs.SetOutput(stderr)
	envOr := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	addr := fs.String("addr", envOr("ADDR", ":8080"), "listen address (ADDR)")
	dbURL := fs.String("database-url", getenv("DATABASE_URL"), "empty: embedded SQLite file fulfillment.db; postgres://…; file:… or *.db (DATABASE_URL)")
	demoFlag := fs.Bool("demo", false, "seed a demo data set into an empty database")
	sendInterval := fs.String("send-interval", envOr("SEND_INTERVAL", "30s"), "send-run period, 0 = off (SEND_INTERVAL)")
	sendLease := fs.String("send-lease", envOr("SEND_LEASE", "60s"), "how long a send run's claim on a request lasts (SEND_LEASE)")
	origins := fs.String("cors-origins", getenv("CORS_ORIGINS"), "comma-separated exact origins allowed by CORS (CORS_ORIGINS)")
	production := &boolFlag{value: getenv("PRODUCTION")}
	playground := &boolFlag{value: getenv("PLAYGROUND")}
	introspection := &boolFlag{value: getenv("INTROSPECTION")}
	fs.Var(production, "production", "production mode: introspection and playground off unless enabled (PRODUCTION)")
	fs.Var(playground, "playground", "serve GraphiQL at / (PLAYGROUND; default: on unless production)")
	fs.Var(introspection, "introspection", "allow schema introspection (INTROSPECTION; default: on unless production)")
	complexity := fs.String("complexity-limit", envOr("COMPLEXITY_LIMIT", "10000"), "the most an operation may cost (COMPLEXITY_LIMIT)")
	rateLimit := fs.String("rate-limit", envOr("RATE_LIMIT", "50"), "requests per second per API key, 0 = off (RATE_LIMIT)")
	rateBurst := fs.String("rate-burst", envOr("RATE_BURST", "100"), "requests an API key may send at once (RATE_BURST)")
	maxExecuting := fs.String("max-executing", envOr("MAX_EXECUTING", strconv.Itoa(httpapi.DefaultMaxExecuting())),
		"GraphQL requests run at once, the rest waiting their turn (MAX_EXECUTING)")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	cfg := config{Addr: *addr, DatabaseURL: *dbURL, Demo: *demoFlag, ShutdownGrace: 20 * time.Second}
	var err error
	if cfg.SendInterval, err = parseDuration("send-interval", *sendInterval); err != nil {
		return cfg, err
	}
	if cfg.SendLease, err = parseDuration("send-lease", *sendLease); err != nil {
		return cfg, err
	}
	if cfg.SendLease <= 0 {
		return cfg, errors.New("--send-lease must be positive")
	}
	if cfg.Production, err = parseBool("production", production.value, false); err != nil {
		return cfg, err
	}
	if cfg.Playground, err = parseBool("playground", playground.value, !cfg.Production); err != nil {
		return cfg, err
	}
	if cfg.Introspection, err = parseBool("introspection", introspection.value, !cfg.Production); err != nil {
		return cfg, err
	}
	if cfg.CORSOrigins, err = parseOrigins(*origins); err != nil {
		return cfg, err
	}
	if cfg.Complexity, err = strconv.Atoi(*complexity); err != nil || cfg.Complexity < 1 {
		return cfg, fmt.Errorf("--complexity-limit: %q is not a positive whole number", *complexity)
	}
	if cfg.RateLimit, err = strconv.ParseFloat(*rateLimit, 64); err != nil || cfg.RateLimit < 0 {
		return cfg, fmt.Errorf("--rate-limit: %q is not a rate such as 50", *rateLimit)
	}
	if cfg.RateBurst, err = strconv.Atoi(*rateBurst); err != nil || cfg.RateBurst < 1 {
		return cfg, fmt.Errorf("--rate-burst: %q is not a positive whole number", *rateBurst)
	}
	if cfg.MaxExecuting, err = strconv.Atoi(*maxExecuting); err != nil || cfg.MaxExecuting < 1 {
		return cfg, fmt.Errorf("--max-executing: %q is not a positive whole number", *maxExecuting)
	}
	return cfg, nil
}

func parseDuration(name, v string) (time.Duration, error) {
	if v == "0" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("--%s: %q is not a duration such as 30s", name, v)
	}
	return d, nil
}

// boolFlag is a boolean flag that may be given bare (--production), with a
// value (--production=false), or not at all, in which case its environment
// variable's value, or the default, stands.
type boolFlag struct{ value string }

func (b *boolFlag) String() string     { return b.value }
func (b *boolFlag) Set(v string) error { b.value = v; return nil }
func (b *boolFlag) IsBoolFlag() bool   { return true }

func parseBool(name, v string, def bool) (bool, error) {
	if v == "" {
		return def, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("--%s: %q is not true or false", name, v)
	}
	return b, nil
}

// parseOrigins accepts exact origins only (scheme://host[:port]): no
// wildcard, no pattern, no "null".
func parseOrigins(v string) ([]string, error) {
	var out []string
	for _, o := range strings.Split(v, ",") {
		o = strings.TrimSpace(o)
		if o == "" {
			continue
		}
		if strings.ContainsAny(o, "*?") || o == "null" || strings.Count(o, "/") != 2 ||
			!(strings.HasPrefix(o, "http://") || strings.HasPrefix(o, "https://")) || strings.HasSuffix(o, "/") ||
			!isOrigin(o) {
			return nil, fmt.Errorf("--cors-origins: %q is not an exact origin such as https://ops.example.com", o)
		}
		out = append(out, o)
	}
	return out, nil
}

// isOrigin reports whether o is scheme://host[:port] and nothing else: no
// userinfo, fragment or stray character, a host, a numeric port.
func isOrigin(o string) bool {
	u, err := url.Parse(o)
	if err != nil || u.Hostname() == "" || u.User != nil || u.Fragment != "" || u.Opaque != "" ||
		strings.ContainsAny(o, " \t#@") {
		return false
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return false
		}
	}
	return u.Scheme+"://"+u.Host == o
}

// run is the whole program, with its inputs passed in so tests can drive it.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "accounts" {
		return runAccounts(ctx, args[1:], getenv, stdout, stderr)
	}
	cfg, err := parseConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewJSONHandler(stderr, nil))
	gcPercent, _ := gctune.Apply(getenv)

	m := metrics.New()
	store, err := db.Open(cfg.DatabaseURL, db.Config{WrapDriver: func(d dialect.Driver) dialect.Driver {
		c := sqlcount.Wrap(d)
		c.OnStatement = m.CountStatement
		return c
	}})
	if err != nil {
		return err
	}
	defer store.Close()
	if err := store.Migrate(ctx); err != nil {
		return err
	}
	secret, err := auth.Bootstrap(ctx, store.Client, getenv("BOOTSTRAP_API_KEY"))
	if err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	if secret != "" && getenv("BOOTSTRAP_API_KEY") == "" {
		fmt.Fprintf(stdout, "Created the default account. Its ADMIN API key, shown this once:\n%s\n", secret)
	}
	if cfg.Demo {
		seeded, err := demo.Seed(tenant.WithSystem(ctx), store.Client)
		if err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		if seeded {
			fmt.Fprintln(stdout, "Seeded the demo data set into the default account.")
		} else {
			fmt.Fprintln(stdout, "The database already holds data; the demo data set was not seeded.")
		}
	}

	fs := &fulfillment.Service{Store: store, ObserveRouting: m.ObserveRouting,
		ObserveTransition: m.ObserveTransition, ObserveSend: m.ObserveSend}
	runner := &sender.Runner{Store: store, Fulfillment: fs, Logger: logger, Lease: cfg.SendLease}

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler: httpapi.New(httpapi.Config{
			Store: store, Logger: logger, CORSOrigins: cfg.CORSOrigins,
			Playground: cfg.Playground, Introspection: cfg.Introspection,
			Fulfillment: fs, Sender: runner, Production: cfg.Production, Metrics: m,
			Limits: graph.Limits{Complexity: cfg.Complexity}, RateLimit: rateOrOff(cfg.RateLimit), RateBurst: cfg.RateBurst,
			MaxExecuting: cfg.MaxExecuting,
		}),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	url := "http://" + displayAddr(ln.Addr())
	logger.Info("listening", "addr", ln.Addr().String(), "database", store.Dialect,
		"playground", cfg.Playground, "introspection", cfg.Introspection, "send_interval", cfg.SendInterval.String(), "gogc", gcPercent)
	fmt.Fprintf(stdout, "Serving GraphQL at %s/query", url)
	if cfg.Playground {
		fmt.Fprintf(stdout, " and the playground at %s/", url)
	}
	fmt.Fprintln(stdout)

	loopCtx, stopLoop := context.WithCancel(ctx)
	defer stopLoop()
	loopDone := make(chan struct{})
	go func() {
		defer close(loopDone)
		runner.Loop(loopCtx, cfg.SendInterval, tenant.WithSystem)
	}()

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// Stop taking work, finish what is in flight (requests and the send
	// run's current batch) within the grace period, then close the store.
	logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownGrace)
	defer cancel()
	stopLoop()
	shutdownErr := srv.Shutdown(sctx)
	select {
	case <-loopDone:
	case <-sctx.Done():
		logger.Warn("the send run did not finish its batch in time; its leases will expire and be taken over")
	}
	if shutdownErr != nil {
		return fmt.Errorf("shutdown: %w", shutdownErr)
	}
	return nil
}

// rateOrOff maps the flag's 0 (off) to the handler's negative (off).
func rateOrOff(r float64) float64 {
	if r == 0 {
		return -1
	}
	return r
}

func displayAddr(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	if host == "" || host == "::" || host == "0.0.0.0" {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

// runAccounts is `accounts create --name NAME [--database-url …]`: it prints
// the new account's first ADMIN key alone on the last line of stdout.
func runAccounts(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		return errors.New("usage: accounts create --name NAME [--database-url URL]")
	}
	fs := flag.NewFlagSet("accounts create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	name := fs.String("name", "", "the account's name")
	dbURL := fs.String("database-url", getenv("DATABASE_URL"), "database URL (DATABASE_URL)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if strings.TrimSpace(*name) == "" {
		return errors.New("accounts create: --name is required")
	}
	store, err := db.Open(*dbURL, db.Config{})
	if err != nil {
		return err
	}
	defer store.Close()
	if err := store.Migrate(ctx); err != nil {
		return err
	}
	acc, secret, err := auth.CreateAccount(ctx, store.Client, *name, "")
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Created account %q (id %d). Its ADMIN API key, shown this once:\n%s\n", acc.Name, acc.ID, secret)
	return nil
}
