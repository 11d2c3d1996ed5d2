package e2e

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/frsvc/fulfillment/internal/app"
	"github.com/frsvc/fulfillment/internal/reqid"
	"github.com/frsvc/fulfillment/internal/testdb"
)

// hdHeaderHas reports whether a comma-separated header of h lists value
// (case-insensitively).
func hdHeaderHas(h http.Header, name, value string) bool {
	for _, v := range h.Values(name) {
		for _, f := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(f), value) {
				return true
			}
		}
	}
	return false
}

// TestHardeningCORS is the CORS origin matrix with CORSOrigins
// ["https://ops.example.com"]: only that exact origin is echoed in
// Access-Control-Allow-Origin, on preflights and actual requests; look-alike
// origins (suffix, prefix, subdomain, port, scheme, "null", case, trailing
// dot or slash) get no CORS headers and their requests are refused.
func TestHardeningCORS(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, origin string
		allowed      bool
		// echoed: rs/cors compares origins case-insensitively and echoes
		// this one; browsers send origins lower-cased, so only a script can
		// send it, and crossSite (exact) still refuses the request.
		echoed bool
	}{
		{"exact", hdOpsOrigin, true, false},
		{"suffix trick", "https://ops.example.com.evil.io", false, false},
		{"prefix trick", "https://evil-ops.example.com", false, false},
		{"subdomain", "https://a.ops.example.com", false, false},
		{"parent domain", "https://example.com", false, false},
		{"null", "null", false, false},
		{"other port", "https://ops.example.com:8443", false, false},
		{"http instead of https", "http://ops.example.com", false, false},
		{"trailing slash", "https://ops.example.com/", false, false},
		{"trailing dot", "https://ops.example.com.", false, false},
		{"upper case", "https://OPS.EXAMPLE.COM", false, true},
		{"userinfo", "https://user@ops.example.com", false, false},
		{"wildcard", "*", false, false},
	}
	testdb.Each(t, func(t *testing.T, a *app.App) {
		h := hdNew(t, a, func(c *app.Config) { c.CORSOrigins = []string{hdOpsOrigin} })
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				h := h.with(t)
				// The preflight a browser sends before a POST with a bearer key.
				pre := h.raw(http.MethodOptions, "/query", map[string]string{
					"Origin":                         c.origin,
					"Access-Control-Request-Method":  http.MethodPost,
					"Access-Control-Request-Headers": "authorization,content-type,idempotency-key",
				}, nil)
				if pre.Status >= 300 {
					t.Errorf("preflight: HTTP %d", pre.Status)
				}
				acao := pre.Header.Get("Access-Control-Allow-Origin")
				if c.allowed {
					if acao != c.origin {
						t.Errorf("preflight: Access-Control-Allow-Origin %q, want %q", acao, c.origin)
					}
					if !hdHeaderHas(pre.Header, "Access-Control-Allow-Methods", http.MethodPost) {
						t.Errorf("preflight: Access-Control-Allow-Methods %q", pre.Header.Values("Access-Control-Allow-Methods"))
					}
					for _, hd := range []string{"authorization", "content-type", "idempotency-key"} {
						if !hdHeaderHas(pre.Header, "Access-Control-Allow-Headers", hd) {
							t.Errorf("preflight: Access-Control-Allow-Headers %q lacks %s", pre.Header.Values("Access-Control-Allow-Headers"), hd)
						}
					}
				} else if !c.echoed {
					for _, hd := range []string{"Access-Control-Allow-Origin", "Access-Control-Allow-Methods", "Access-Control-Allow-Headers"} {
						if v := pre.Header.Get(hd); v != "" {
							t.Errorf("preflight from %q: %s %q", c.origin, hd, v)
						}
					}
				}
				if v := pre.Header.Get("Access-Control-Allow-Credentials"); v != "" {
					t.Errorf("preflight: Access-Control-Allow-Credentials %q", v)
				}
				if !hdHeaderHas(pre.Header, "Vary", "Origin") {
					t.Errorf("preflight: Vary %q lacks Origin", pre.Header.Values("Vary"))
				}

				// The actual request.
				resp := h.raw(http.MethodPost, "/query", map[string]string{
					"Origin": c.origin, "Sec-Fetch-Site": "cross-site", "Content-Type": "application/json",
					"Authorization": "Bearer " + h.AdminKey,
				}, bytes.NewReader(Body(`{ viewer { role } }`, nil)))
				res := resp.result()
				if res == nil {
					t.Fatalf("answer is not JSON: %q", resp.Body)
				}
				acao = resp.Header.Get("Access-Control-Allow-Origin")
				if c.allowed {
					if resp.Status != http.StatusOK || len(res.Errors) > 0 {
						t.Errorf("HTTP %d %+v", resp.Status, res.Errors)
					}
					if acao != c.origin {
						t.Errorf("Access-Control-Allow-Origin %q, want %q", acao, c.origin)
					}
					if !hdHeaderHas(resp.Header, "Access-Control-Expose-Headers", reqid.Header) {
						t.Errorf("Access-Control-Expose-Headers %q lacks %s", resp.Header.Values("Access-Control-Expose-Headers"), reqid.Header)
					}
				} else {
					if resp.Status != http.StatusForbidden || hdCodes(res) != "FORBIDDEN" {
						t.Errorf("HTTP %d %s, want 403 FORBIDDEN", resp.Status, hdCodes(res))
					}
					if acao != "" && !c.echoed {
						t.Errorf("Access-Control-Allow-Origin %q for %q", acao, c.origin)
					}
				}
				if v := resp.Header.Get("Access-Control-Allow-Credentials"); v != "" {
					t.Errorf("Access-Control-Allow-Credentials %q", v)
				}
			})
		}

		// From the allowed origin, a preflight for another method or a
		// header outside the list is not granted.
		for _, c := range []struct{ name, method, headers string }{
			{"method PUT", http.MethodPut, "content-type"},
			{"method DELETE", http.MethodDelete, ""},
			{"header X-Admin", http.MethodPost, "authorization,x-admin"},
			{"header Cookie", http.MethodPost, "cookie"},
		} {
			t.Run("allowed origin, "+c.name, func(t *testing.T) {
				h := h.with(t)
				hd := map[string]string{"Origin": hdOpsOrigin, "Access-Control-Request-Method": c.method}
				if c.headers != "" {
					hd["Access-Control-Request-Headers"] = c.headers
				}
				pre := h.raw(http.MethodOptions, "/query", hd, nil)
				if v := pre.Header.Get("Access-Control-Allow-Origin"); v != "" {
					t.Errorf("preflight granted: Access-Control-Allow-Origin %q, methods %q, headers %q", v,
						pre.Header.Values("Access-Control-Allow-Methods"), pre.Header.Values("Access-Control-Allow-Headers"))
				}
			})
		}
	})
}
