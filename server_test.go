package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/frsvc/fulfillment/internal/auth"
	"github.com/frsvc/fulfillment/internal/db"
	"github.com/frsvc/fulfillment/internal/e2e"
	"github.com/frsvc/fulfillment/internal/httpapi"
	"github.com/frsvc/fulfillment/internal/tenant"
	"github.com/frsvc/fulfillment/internal/testdb"
)

func TestParseConfig(t *testing.T) {
	cases := []struct {
		name  string
		args  []string
		env   map[string]string
		check func(t *testing.T, c config)
	}{
		{"defaults", nil, nil, func(t *testing.T, c config) {
			if c.Addr != ":8080" || c.DatabaseURL != "" || c.SendLease != 60*time.Second || c.SendInterval != 30*time.Second ||
				c.Production || !c.Playground || !c.Introspection || len(c.CORSOrigins) != 0 || c.Demo ||
				c.MaxExecuting != httpapi.DefaultMaxExecuting() || c.FileDropRoot != "" || c.AllowPrivateURLs {
				t.Errorf("defaults = %+v", c)
			}
		}},
		{"drop root and private URLs", []string{"--file-drop-root", "/srv/drops", "--allow-private-urls"},
			map[string]string{"FILE_DROP_ROOT": "/elsewhere", "PRODUCTION": "true"}, func(t *testing.T, c config) {
				if c.FileDropRoot != "/srv/drops" || !c.AllowPrivateURLs || !c.Production {
					t.Errorf("drop root %q, allow private URLs %v", c.FileDropRoot, c.AllowPrivateURLs)
				}
			}},
		{"drop root and private URLs from env", nil, map[string]string{"FILE_DROP_ROOT": "/elsewhere", "ALLOW_PRIVATE_URLS": "true"},
			func(t *testing.T, c config) {
				if c.FileDropRoot != "/elsewhere" || !c.AllowPrivateURLs {
					t.Errorf("drop root %q, allow private URLs %v", c.FileDropRoot, c.AllowPrivateURLs)
				}
			}},
		{"env", nil, map[string]string{
			"ADDR": "127.0.0.1:9000", "DATABASE_URL": "file:x.db", "SEND_INTERVAL": "0", "SEND_LEASE": "2m",
			"CORS_ORIGINS": "https://ops.example.com, http://localhost:3000",
		}, func(t *testing.T, c config) {
			if c.Addr != "127.0.0.1:9000" || c.DatabaseURL != "file:x.db" || c.SendInterval != 0 || c.SendLease != 2*time.Minute {
				t.Errorf("from env = %+v", c)
			}
			if !slices.Equal(c.CORSOrigins, []string{"https://ops.example.com", "http://localhost:3000"}) {
				t.Errorf("origins = %q", c.CORSOrigins)
			}
		}},
		{"flags", []string{"--addr", ":7000", "--database-url", "postgres://u@h/db", "--send-interval", "5s", "--send-lease=90s",
			"--cors-origins", "https://a.example.com", "--demo"}, nil, func(t *testing.T, c config) {
			if c.Addr != ":7000" || c.DatabaseURL != "postgres://u@h/db" || c.SendInterval != 5*time.Second || c.SendLease != 90*time.Second ||
				!c.Demo || !slices.Equal(c.CORSOrigins, []string{"https://a.example.com"}) {
				t.Errorf("from flags = %+v", c)
			}
		}},
		{"flags win over env", []string{"--addr", ":7001", "--send-lease", "10s", "--production=false"},
			map[string]string{"ADDR": ":9999", "SEND_LEASE": "5m", "PRODUCTION": "true"}, func(t *testing.T, c config) {
				if c.Addr != ":7001" || c.SendLease != 10*time.Second || c.Production {
					t.Errorf("flags over env = %+v", c)
				}
			}},
		{"production turns playground and introspection off", nil, map[string]string{"PRODUCTION": "true"}, func(t *testing.T, c config) {
			if !c.Production || c.Playground || c.Introspection {
				t.Errorf("production = %+v", c)
			}
		}},
		{"production with explicit enables", []string{"--introspection=true"}, map[string]string{"PRODUCTION": "1", "PLAYGROUND": "true"}, func(t *testing.T, c config) {
			if !c.Production || !c.Playground || !c.Introspection {
				t.Errorf("production, enabled = %+v", c)
			}
		}},
		{"max executing", []string{"--max-executing", "3"}, map[string]string{"MAX_EXECUTING": "9"}, func(t *testing.T, c config) {
			if c.MaxExecuting != 3 {
				t.Errorf("max executing = %d", c.MaxExecuting)
			}
		}},
		{"playground off outside production", nil, map[string]string{"PLAYGROUND": "false"}, func(t *testing.T, c config) {
			if c.Production || c.Playground || !c.Introspection {
				t.Errorf("playground off = %+v", c)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var stderr bytes.Buffer
			cfg, err := parseConfig(c.args, testdb.Getenv(c.env), &stderr)
			if err != nil {
				t.Fatalf("parseConfig: %v (stderr %s)", err, stderr.String())
			}
			c.check(t, cfg)
		})
	}
}

// TestParseConfigProductionFlag: API.md names the flag `--production`, like
// `--demo`; given alone it must turn production mode on. (It is a string
// flag today, so the flag package asks for a value.)
func TestParseConfigProductionFlag(t *testing.T) {
	for _, args := range [][]string{{"--production"}, {"--production", "--addr", ":1"}, {"--production=true"}} {
		var stderr bytes.Buffer
		c, err := parseConfig(args, testdb.Getenv(nil), &stderr)
		if err != nil {
			t.Errorf("%q: %v", args, err)
			continue
		}
		if !c.Production || c.Playground || c.Introspection {
			t.Errorf("%q: %+v", args, c)
		}
	}
}

func TestParseConfigRefuses(t *testing.T) {
	cases := []struct {
		name string
		args []string
		env  map[string]string
	}{
		{"wildcard origin", []string{"--cors-origins", "*"}, nil},
		{"null origin", []string{"--cors-origins", "null"}, nil},
		{"pattern origin", []string{"--cors-origins", "https://*.x.com"}, nil},
		{"origin with path", []string{"--cors-origins", "https://a.com/"}, nil},
		{"origin with longer path", []string{"--cors-origins", "https://a.com/app"}, nil},
		{"origin without scheme", []string{"--cors-origins", "a.com"}, nil},
		{"origin of another scheme", []string{"--cors-origins", "ftp://a.com"}, nil},
		{"one bad origin among good", nil, map[string]string{"CORS_ORIGINS": "https://a.com,*"}},
		{"bad duration", []string{"--send-interval", "soon"}, nil},
		{"negative duration", []string{"--send-interval", "-5s"}, nil},
		{"zero lease", []string{"--send-lease", "0"}, nil},
		{"bad lease from env", nil, map[string]string{"SEND_LEASE": "forever"}},
		{"bad production", nil, map[string]string{"PRODUCTION": "maybe"}},
		{"bad allow-private-urls", nil, map[string]string{"ALLOW_PRIVATE_URLS": "sometimes"}},
		{"zero max executing", []string{"--max-executing", "0"}, nil},
		{"bad max executing from env", nil, map[string]string{"MAX_EXECUTING": "many"}},
		{"unknown flag", []string{"--port", "80"}, nil},
		{"stray argument", []string{"serve"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if cfg, err := parseConfig(c.args, testdb.Getenv(c.env), io.Discard); err == nil {
				t.Errorf("accepted: %+v", cfg)
			}
		})
	}
}

// lastLine returns the last non-empty line of out.
func lastLine(out string) string {
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	return lines[len(lines)-1]
}

// authenticate opens the database at url and resolves the key there.
func authenticate(t *testing.T, url, key string) (auth.Principal, string, int) {
	t.Helper()
	store, err := db.Open(url, db.Config{})
	testdb.Must(t, err)
	defer store.Close()
	ctx := context.Background()
	p, err := (&auth.Authenticator{Client: store.Client}).Authenticate(ctx, key)
	if err != nil {
		t.Fatalf("key %q does not authenticate: %v", key, err)
	}
	acc, err := store.Client.Account.Get(tenant.WithAccount(ctx, p.AccountID), p.AccountID)
	testdb.Must(t, err)
	n, err := store.Client.Account.Query().Count(tenant.WithSystem(ctx))
	testdb.Must(t, err)
	return p, acc.Name, n
}

func TestAccountsCreate(t *testing.T) {
	for _, kind := range testdb.Kinds(t) {
		t.Run(kind, func(t *testing.T) {
			url := testdb.URL(t, kind)
			create := func(name string) string {
				t.Helper()
				var stdout, stderr bytes.Buffer
				err := run(context.Background(), []string{"accounts", "create", "--name", name, "--database-url", url}, testdb.Getenv(nil), &stdout, &stderr)
				if err != nil {
					t.Fatalf("accounts create: %v (stderr %s)", err, stderr.String())
				}
				key := lastLine(stdout.String())
				if !regexp.MustCompile(`^frk_[a-z2-7]{52}$`).MatchString(key) {
					t.Fatalf("last line %q is not a key alone (stdout %q)", key, stdout.String())
				}
				return key
			}
			k1 := create("Acme")
			p1, name, n := authenticate(t, url, k1)
			if name != "Acme" || p1.Role != auth.RoleAdmin || n != 1 {
				t.Errorf("first: account %q role %s, %d accounts", name, p1.Role, n)
			}
			k2 := create("Globex")
			p2, name, n := authenticate(t, url, k2)
			if name != "Globex" || p2.AccountID == p1.AccountID || k2 == k1 || n != 2 {
				t.Errorf("second: account %q id %d (first %d), %d accounts", name, p2.AccountID, p1.AccountID, n)
			}

			// DATABASE_URL works as well as the flag.
			var stdout bytes.Buffer
			testdb.Must(t, run(context.Background(), []string{"accounts", "create", "--name", "Initech"}, testdb.Getenv(map[string]string{"DATABASE_URL": url}), &stdout, io.Discard))
			if _, name, n := authenticate(t, url, lastLine(stdout.String())); name != "Initech" || n != 3 {
				t.Errorf("from env: %q, %d accounts", name, n)
			}

			for _, args := range [][]string{
				{"accounts", "create", "--database-url", url},
				{"accounts", "create", "--name", "  ", "--database-url", url},
				{"accounts"},
				{"accounts", "delete", "--name", "x"},
				{"accounts", "create", "--name", "acme ", "--database-url", url}, // names are unique
			} {
				if err := run(context.Background(), args, testdb.Getenv(nil), io.Discard, io.Discard); err == nil {
					t.Errorf("%q accepted", args)
				}
			}
		})
	}
}

// server is run() in a goroutine.
type server struct {
	stdout *testdb.Buffer
	stderr *testdb.Buffer
	cancel context.CancelFunc
	done   chan error
	url    string
}

// startRun runs run() with args and the environment vars alone, as the
// server process would, and waits until it serves (for timeout at the
// most). done receives run()'s return once cancel (or stop) ends it.
func startRun(t *testing.T, args []string, vars map[string]string, timeout time.Duration) *server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{stdout: &testdb.Buffer{}, stderr: &testdb.Buffer{}, cancel: cancel, done: make(chan error, 1)}
	go func() {
		s.done <- run(ctx, args, testdb.Getenv(vars), s.stdout, s.stderr)
	}()
	t.Cleanup(cancel)
	s.url = testdb.WaitServing(t, s.stdout, s.done, timeout, s.stderr)
	return s
}

// startServer serves the database at dbURL on a free port, with no send
// loop and the environment vars.
func startServer(t *testing.T, dbURL string, vars map[string]string) *server {
	t.Helper()
	vars["SEND_INTERVAL"] = "0"
	return startRun(t, []string{"--addr", "127.0.0.1:0", "--database-url", dbURL}, vars, 15*time.Second)
}

func (s *server) stop(t *testing.T) {
	t.Helper()
	s.cancel()
	select {
	case err := <-s.done:
		if err != nil {
			t.Fatalf("run returned %v after cancel", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("run did not return after cancel")
	}
}

// viewer asks the running server who key is.
func (s *server) viewer(t *testing.T, key string) (int, string) {
	t.Helper()
	res, err := e2e.Post(nil, s.url, e2e.Request{Key: key, Query: `{ viewer { role account { name } } }`})
	testdb.Must(t, err)
	var out struct {
		Viewer struct {
			Role    string
			Account struct{ Name string }
		}
	}
	if res.Data != nil && string(res.Data) != "null" {
		res.Decode(t, &out)
	}
	return res.Status, out.Viewer.Role + " " + out.Viewer.Account.Name
}

func TestBootstrapAPIKey(t *testing.T) {
	for _, kind := range testdb.Kinds(t) {
		t.Run(kind, func(t *testing.T) {
			url := testdb.URL(t, kind)
			const key = "frk_bootstrap_secret_for_tests_0123456789abcdef"
			srv := startServer(t, url, map[string]string{"BOOTSTRAP_API_KEY": key})
			if strings.Contains(srv.stdout.String(), key) {
				t.Errorf("the server printed the bootstrap key it was given: %q", srv.stdout.String())
			}
			resp, err := http.Get(srv.url + "/healthz")
			testdb.Must(t, err)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("/healthz: %d", resp.StatusCode)
			}
			if status, who := srv.viewer(t, key); status != http.StatusOK || who != "ADMIN Default" {
				t.Errorf("bootstrap key over HTTP: %d %q", status, who)
			}
			if status, _ := srv.viewer(t, key+"x"); status != http.StatusUnauthorized {
				t.Errorf("wrong key: %d", status)
			}
			srv.stop(t)
			p, name, n := authenticate(t, url, key)
			if p.Role != auth.RoleAdmin || name != "Default" || n != 1 {
				t.Fatalf("after first start: role %s account %q, %d accounts", p.Role, name, n)
			}

			// A second start, with the same key or another, creates nothing.
			srv = startServer(t, url, map[string]string{"BOOTSTRAP_API_KEY": key})
			srv.stop(t)
			srv = startServer(t, url, map[string]string{"BOOTSTRAP_API_KEY": "frk_another_key_entirely_0123456789abcdefgh"})
			srv.stop(t)
			srv = startServer(t, url, map[string]string{})
			out := srv.stdout.String()
			srv.stop(t)
			if strings.Contains(out, "frk_") {
				t.Errorf("a start on a bootstrapped database printed a key: %q", out)
			}
			if _, _, n := authenticate(t, url, key); n != 1 {
				t.Errorf("%d accounts after restarts, want 1", n)
			}
		})
	}
}

func TestBootstrapRandomKey(t *testing.T) {
	url := testdb.URL(t, testdb.SQLite)
	srv := startServer(t, url, map[string]string{})
	out := srv.stdout.String()
	key := regexp.MustCompile(`(?m)^frk_[a-z2-7]{52}$`).FindString(out)
	if key == "" {
		srv.stop(t)
		t.Fatalf("no key printed on a fresh database: %q", out)
	}
	if status, who := srv.viewer(t, key); status != http.StatusOK || who != "ADMIN Default" {
		t.Errorf("printed key over HTTP: %d %q", status, who)
	}
	srv.stop(t)
	if _, name, n := authenticate(t, url, key); name != "Default" || n != 1 {
		t.Errorf("account %q, %d accounts", name, n)
	}
}

func TestRunRefusesBadConfig(t *testing.T) {
	err := run(context.Background(), []string{"--cors-origins", "*", "--database-url", testdb.URL(t, testdb.SQLite)}, testdb.Getenv(nil), io.Discard, io.Discard)
	if err == nil {
		t.Fatal("run accepted a wildcard origin")
	}
	if errors.Is(err, context.Canceled) {
		t.Fatalf("unexpected %v", err)
	}
}
