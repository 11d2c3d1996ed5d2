// Command fulfillment is the fulfillment request service: a GraphQL API that
// routes e-commerce orders to suppliers and warehouses, creates and sends
// fulfillment requests, and logs every step. See README.md.
package main

//go:generate go run ./ent/entc.go
//go:generate go run ./graph/gqlgen.go
//go:generate go run github.com/Khan/genqlient client/genqlient.yaml

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/frsvc/fulfillment/internal/app"
	"github.com/frsvc/fulfillment/internal/auth"
	"github.com/frsvc/fulfillment/internal/demo"
	"github.com/frsvc/fulfillment/internal/gctune"
	"github.com/frsvc/fulfillment/internal/httpapi"
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
// Everything but the listen address is the app's own Config.
type config struct {
	Addr string
	app.Config
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
	sendLease := fs.String("send-lease", envOr("SEND_LEASE", app.Defaults().SendLease.String()), "how long a send run's claim on a request lasts (SEND_LEASE)")
	dropRoot := fs.String("file-drop-root", getenv("FILE_DROP_ROOT"),
		"folder FILE connectors write under, one folder per account; empty: drops beside the SQLite file, or in the working directory on PostgreSQL (FILE_DROP_ROOT)")
	origins := fs.String("cors-origins", getenv("CORS_ORIGINS"), "comma-separated exact origins allowed by CORS (CORS_ORIGINS)")
	production := &boolFlag{value: getenv("PRODUCTION")}
	playground := &boolFlag{value: getenv("PLAYGROUND")}
	introspection := &boolFlag{value: getenv("INTROSPECTION")}
	allowPrivate := &boolFlag{value: getenv("ALLOW_PRIVATE_URLS")}
	fs.Var(production, "production", "production mode: introspection and playground off unless enabled (PRODUCTION)")
	fs.Var(playground, "playground", "serve GraphiQL at / (PLAYGROUND; default: on unless production)")
	fs.Var(introspection, "introspection", "allow schema introspection (INTROSPECTION; default: on unless production)")
	fs.Var(allowPrivate, "allow-private-urls", "in production, let HTTP connectors reach loopback, private and link-local addresses (ALLOW_PRIVATE_URLS)")
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
	cfg := config{Addr: *addr, Config: app.Defaults()}
	cfg.DatabaseURL, cfg.Demo, cfg.BootstrapAPIKey = *dbURL, *demoFlag, getenv("BOOTSTRAP_API_KEY")
	cfg.FileDropRoot = strings.TrimSpace(*dropRoot)
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
	if cfg.AllowPrivateURLs, err = parseBool("allow-private-urls", allowPrivate.value, false); err != nil {
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
	cfg.Logger = logger
	// Listening first, so that the demo knows the address of its supplier
	// (served by this process); connections wait in the backlog meanwhile.
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	if cfg.Demo {
		cfg.DemoSupplierURL = "http://" + loopbackAddr(ln.Addr()) + demo.SupplierPath
	}
	a, err := app.New(ctx, cfg.Config)
	if err != nil {
		return err
	}
	defer a.Close()
	if a.BootstrapSecret != "" {
		fmt.Fprintf(stdout, "Created the default account. Its ADMIN API key, shown this once:\n%s\n", a.BootstrapSecret)
	}
	if cfg.Demo {
		if a.DemoSeeded {
			fmt.Fprintln(stdout, "Seeded the demo data set into the default account.")
		} else {
			fmt.Fprintln(stdout, "The database already holds data; the demo data set was not seeded.")
		}
	}
	url := "http://" + displayAddr(ln.Addr())
	logger.Info("listening", "addr", ln.Addr().String(), "database", a.Store.Dialect,
		"playground", cfg.Playground, "introspection", cfg.Introspection, "send_interval", cfg.SendInterval.String(), "gogc", gcPercent,
		"file_drop_root", a.Config.FileDropRoot, "private_urls", !cfg.Production || cfg.AllowPrivateURLs)
	fmt.Fprintf(stdout, "Serving GraphQL at %s/query", url)
	if cfg.Playground {
		fmt.Fprintf(stdout, " and the playground at %s/", url)
	}
	fmt.Fprintln(stdout)
	return a.Serve(ctx, ln)
}

// loopbackAddr is how this process reaches its own listener: the address
// listened on, or the loopback address when it listens on every one.
func loopbackAddr(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	if ip := net.ParseIP(host); host == "" || ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
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
	// The same app the server runs, so the store is opened, migrated and
	// instrumented as it is there; without the default account, whose key
	// only the server shows.
	cfg := app.Defaults()
	cfg.DatabaseURL, cfg.Bootstrap = *dbURL, false
	cfg.Logger = slog.New(slog.NewJSONHandler(stderr, nil))
	a, err := app.New(ctx, cfg)
	if err != nil {
		return err
	}
	defer a.Close()
	acc, secret, err := auth.CreateAccount(ctx, a.Store.Client, *name, "")
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Created account %q (id %d). Its ADMIN API key, shown this once:\n%s\n", acc.Name, acc.ID, secret)
	return nil
}
