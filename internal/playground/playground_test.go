package playground_test

import (
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/frsvc/fulfillment/internal/playground"
)

// TestManifestMatchesAssets: every vendored file is embedded and hashes to
// the integrity the manifest (and so the page) gives it, and comes from a
// package the manifest pins.
func TestManifestMatchesAssets(t *testing.T) {
	m, err := playground.LoadManifest()
	if err != nil {
		t.Fatal(err)
	}
	pinned := map[string]string{}
	for _, p := range m.Packages {
		if p.Version == "" || !strings.HasPrefix(p.Integrity, "sha512-") {
			t.Errorf("package %+v: no version or no sha512 integrity", p)
		}
		pinned[p.Name] = p.Version
	}
	if len(m.Files) < 4 {
		t.Fatalf("the manifest lists %d files", len(m.Files))
	}
	for _, f := range m.Files {
		b, err := playground.Asset(f.Name)
		if err != nil {
			t.Errorf("%s: %v", f.Name, err)
			continue
		}
		if got := playground.SRI(b); got != f.Integrity {
			t.Errorf("%s hashes to %s, the manifest says %s: run make playground-assets", f.Name, got, f.Integrity)
		}
		if pinned[f.Package] != f.Version {
			t.Errorf("%s is of %s@%s, the manifest pins %q", f.Name, f.Package, f.Version, pinned[f.Package])
		}
	}
}

func serve(t *testing.T) *httptest.Server {
	t.Helper()
	h, err := playground.Handler(playground.Options{Title: "T", Endpoint: "/query", StoragePrefix: "p",
		DefaultHeaders: `{"Authorization": "Bearer </script><script>alert(1)</script>"}`})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /{$}", h)
	mux.Handle("GET "+playground.Prefix, h)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

// TestPageLoadsOnlyFromTheServer: the page refers to nothing but the
// server's own paths, each script and stylesheet with an integrity hash the
// served bytes match, under a Content-Security-Policy of 'self'; the
// settings cannot break out of their JSON block.
func TestPageLoadsOnlyFromTheServer(t *testing.T) {
	srv := serve(t)
	res, page := get(t, srv.URL+"/")
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET / = %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	csp := res.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "script-src 'self';") {
		t.Errorf("Content-Security-Policy = %q", csp)
	}
	if strings.Contains(page, "<script>alert") {
		t.Error("the default headers broke out of the settings block")
	}
	if m := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}`).FindString(page); m != "" {
		t.Errorf("the page refers to %s", m)
	}
	refs := regexp.MustCompile(`(?:src|href)="([^"]+)" integrity="([^"]+)"`).FindAllStringSubmatch(page, -1)
	if len(refs) < 6 {
		t.Fatalf("%d scripts and stylesheets with integrity in the page:\n%s", len(refs), page)
	}
	if n := strings.Count(page, "<script src=") + strings.Count(page, `rel="stylesheet"`); n != len(refs) {
		t.Errorf("%d scripts and stylesheets, %d with integrity", n, len(refs))
	}
	for _, r := range refs {
		if !strings.HasPrefix(r[1], playground.Prefix) {
			t.Errorf("%s is not under %s", r[1], playground.Prefix)
			continue
		}
		res, body := get(t, srv.URL+r[1])
		if res.StatusCode != http.StatusOK {
			t.Errorf("GET %s = %d", r[1], res.StatusCode)
			continue
		}
		if got, want := playground.SRI([]byte(body)), html.UnescapeString(r[2]); got != want {
			t.Errorf("%s hashes to %s, the page says %s", r[1], got, r[2])
		}
		ct := res.Header.Get("Content-Type")
		if (strings.HasSuffix(r[1], ".js") && !strings.HasPrefix(ct, "text/javascript")) || (strings.HasSuffix(r[1], ".css") && !strings.HasPrefix(ct, "text/css")) {
			t.Errorf("%s served as %s", r[1], ct)
		}
		if strings.HasSuffix(r[1], ".css") {
			for _, u := range regexp.MustCompile(`url\(\s*['"]?([^'")]*)`).FindAllStringSubmatch(body, -1) {
				if !strings.HasPrefix(u[1], "data:") {
					t.Errorf("%s loads %s", r[1], u[1])
				}
			}
			if strings.Contains(body, "@import") {
				t.Errorf("%s imports another stylesheet", r[1])
			}
		}
	}
	if res, _ := get(t, srv.URL+playground.Prefix+"nothing.js"); res.StatusCode != http.StatusNotFound {
		t.Errorf("an unknown asset answers %d", res.StatusCode)
	}
}
