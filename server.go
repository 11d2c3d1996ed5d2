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

	"github.com/frsvc/fulfillment/ent"
	"github.com/frsvc/fulfillment/internal/admin"
	"github.com/frsvc/fulfillment/internal/app"
	"github.com/frsvc/fulfillment/internal/apperr"
	"github.com/frsvc/fulfillment/internal/auth"
	"github.com/frsvc/fulfillment/internal/demo"
	"github.com/frsvc/fulfillment/internal/gctune"
	"github.com/frsvc/fulfillment/internal/httpapi"
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
// Everything but the listen address is the app's own Config.
type config struct {
	Addr string
	app.Config
}

func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	return parseConfigTo(args, getenv, stderr, stderr)
}

// parseConfigTo is parseConfig writing --help's answer to stdout.
func parseConfigTo(args []string, getenv func(string) string, stdout, stderr io.Writer) (config, error) {
	fs := newFlagSet("fulfillment", args, stdout, stderr)
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
	shutdownDelay := fs.String("shutdown-delay", envOr("SHUTDOWN_DELAY", "0"), "once shutdown begins, how long to go on serving with /readyz answering 503 before closing the listener (SHUTDOWN_DELAY)")
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
	if cfg.ShutdownDelay, err = parseDuration("shutdown-delay", *shutdownDelay); err != nil {
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
		err := runAccounts(ctx, args[1:], getenv, stdout, stderr)
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	cfg, err := parseConfigTo(args, getenv, stdout, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
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

// usage lists the program's commands; each command's --help adds its flags.
const usage = `Usage:
  fulfillment [flags]
      serve the GraphQL API (flags below)
  fulfillment accounts create --name NAME [--database-url URL]
      create an account; prints its first ADMIN key alone on the last line
  fulfillment accounts keys create --account ID --role ADMIN|READ_ONLY|SOURCE [--name NAME] [--source ID] [--database-url URL]
      create an API key for an account, for instance to recover one whose ADMIN
      keys are lost; prints the secret alone on the last line
`

// wantsHelp reports whether args ask for help before anything else they say.
func wantsHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "-h", "-help", "--help", "help":
			return true
		case "--":
			return false
		}
	}
	return false
}

// newFlagSet is a flag set whose usage is the program's usage and the set's
// own flags; on --help it writes to stdout, on a bad flag to stderr.
func newFlagSet(name string, args []string, stdout, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	out := stderr
	if wantsHelp(args) {
		out = stdout
	}
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprint(out, usage)
		fmt.Fprintf(out, "\nFlags of %s:\n", name)
		fs.PrintDefaults()
	}
	return fs
}

// runAccounts is `accounts create` and `accounts keys create`.
func runAccounts(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	switch {
	case len(args) > 0 && args[0] == "create":
		return runAccountsCreate(ctx, args[1:], getenv, stdout, stderr)
	case len(args) > 1 && args[0] == "keys" && args[1] == "create":
		return runKeysCreate(ctx, args[2:], getenv, stdout, stderr)
	case len(args) > 0 && wantsHelp(args[:1]) || len(args) > 1 && args[0] == "keys" && wantsHelp(args[1:2]):
		fmt.Fprint(stdout, usage)
		return nil
	}
	return errors.New("usage: accounts create … or accounts keys create … (see --help)")
}

// openForCommand opens the same app the server runs, so the store is
// opened, migrated and instrumented as it is there; without the default
// account, whose key only the server shows.
func openForCommand(ctx context.Context, dbURL string, stderr io.Writer) (*app.App, error) {
	cfg := app.Defaults()
	cfg.DatabaseURL, cfg.Bootstrap = dbURL, false
	cfg.Logger = slog.New(slog.NewJSONHandler(stderr, nil))
	return app.New(ctx, cfg)
}

// runAccountsCreate is `accounts create --name NAME [--database-url …]`: it
// prints the new account's first ADMIN key alone on the last line of stdout.
func runAccountsCreate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("accounts create", args, stdout, stderr)
	name := fs.String("name", "", "the account's name, unique among the accounts")
	dbURL := fs.String("database-url", getenv("DATABASE_URL"), "database URL (DATABASE_URL)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("accounts create: unexpected argument %q", fs.Arg(0))
	}
	if strings.TrimSpace(*name) == "" {
		return errors.New("accounts create: --name is required")
	}
	a, err := openForCommand(ctx, *dbURL, stderr)
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

// keyFlags names the flags of `accounts keys create` by the input fields
// whose errors they answer.
var keyFlags = map[string]string{"input.name": "--name", "input.role": "--role", "input.sourceID": "--source"}

// runKeysCreate is `accounts keys create --account ID --role ROLE [--name N]
// [--source ID]`: it makes a key for the account, whatever keys it has or
// lacks, and prints the secret alone on the last line of stdout. Whoever
// runs the server can so recover an account whose ADMIN keys are lost.
func runKeysCreate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("accounts keys create", args, stdout, stderr)
	accountFlag := fs.String("account", "", "the account's id")
	role := fs.String("role", "", "ADMIN, READ_ONLY or SOURCE")
	name := fs.String("name", "", "the key's name (default: \"<role> key from the command line\")")
	sourceFlag := fs.String("source", "", "for a SOURCE key, the id of the account's source it belongs to")
	dbURL := fs.String("database-url", getenv("DATABASE_URL"), "database URL (DATABASE_URL)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("accounts keys create: unexpected argument %q", fs.Arg(0))
	}
	accountID, err := strconv.Atoi(strings.TrimSpace(*accountFlag))
	if err != nil || accountID < 1 {
		return fmt.Errorf("accounts keys create: --account must be an account's id, such as 1 (got %q)", *accountFlag)
	}
	r := auth.Role(strings.ToUpper(strings.TrimSpace(*role)))
	if *role == "" {
		return errors.New("accounts keys create: --role is required: ADMIN, READ_ONLY or SOURCE")
	}
	in := admin.CreateAPIKeyInput{Name: *name, Role: r}
	if strings.TrimSpace(in.Name) == "" {
		in.Name = string(r) + " key from the command line"
	}
	if *sourceFlag != "" {
		id, err := strconv.Atoi(strings.TrimSpace(*sourceFlag))
		if err != nil || id < 1 {
			return fmt.Errorf("accounts keys create: --source must be a source's id, such as 2 (got %q)", *sourceFlag)
		}
		in.SourceID = &id
	}
	a, err := openForCommand(ctx, *dbURL, stderr)
	if err != nil {
		return err
	}
	defer a.Close()
	acc, err := a.Store.Client.Account.Get(tenant.WithAccount(ctx, accountID), accountID)
	if ent.IsNotFound(err) {
		return fmt.Errorf("accounts keys create: account %d not found", accountID)
	}
	if err != nil {
		return err
	}
	created, err := a.Admin.CreateAPIKey(tenant.WithAccount(ctx, accountID), in)
	if err != nil {
		var e *apperr.Error
		if errors.As(err, &e) && keyFlags[e.Field] != "" {
			return fmt.Errorf("accounts keys create: %s: %s", keyFlags[e.Field], e.Message)
		}
		return fmt.Errorf("accounts keys create: %w", err)
	}
	k := created.APIKey
	fmt.Fprintf(stdout, "Created %s key %q (id %d) for account %q (id %d). Its secret, shown this once:\n%s\n",
		k.Role, k.Name, k.ID, acc.Name, acc.ID, created.Secret)
	return nil
}
