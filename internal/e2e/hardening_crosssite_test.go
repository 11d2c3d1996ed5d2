package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"testing"

	"github.com/frsvc/fulfillment/internal/app"
	"github.com/frsvc/fulfillment/internal/testdb"
)

// hdOpsOrigin is the allowlisted origin of the hardening tests.
const hdOpsOrigin = "https://ops.example.com"

// TestHardeningCrossSite is the cross-site matrix: method × content type ×
// Origin / Sec-Fetch-Site, on a mutation (importOrder) and on a query. Only
// a GET query or a POST of application/json, from no browser, the server's
// own origin or an allowlisted one, gets through; only such a POST of the
// mutation writes an order. A mutation over GET is refused (405, as GraphQL
// over HTTP asks), whatever its origin.
func TestHardeningCrossSite(t *testing.T) {
	t.Parallel()
	methods := []string{http.MethodGet, http.MethodPost, http.MethodPut}
	contentTypes := []string{"application/json", "application/json; charset=utf-8", "text/plain",
		"application/x-www-form-urlencoded", "multipart/form-data; boundary=hd"}
	type origin struct {
		name    string
		headers func(self string) map[string]string
		allowed bool
	}
	origins := []origin{
		{"none", func(string) map[string]string { return nil }, true},
		{"same-origin", func(self string) map[string]string {
			return map[string]string{"Origin": self, "Sec-Fetch-Site": "same-origin"}
		}, true},
		{"same-origin without Sec-Fetch-Site", func(self string) map[string]string {
			return map[string]string{"Origin": self}
		}, true},
		{"Sec-Fetch-Site none (typed in)", func(string) map[string]string {
			return map[string]string{"Sec-Fetch-Site": "none"}
		}, true},
		{"allowed origin", func(string) map[string]string {
			return map[string]string{"Origin": hdOpsOrigin, "Sec-Fetch-Site": "cross-site"}
		}, true},
		{"other origin", func(string) map[string]string {
			return map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}
		}, false},
		{"own host claimed cross-site", func(self string) map[string]string {
			return map[string]string{"Origin": self, "Sec-Fetch-Site": "cross-site"}
		}, false},
		{"cross-site without Origin", func(string) map[string]string {
			return map[string]string{"Sec-Fetch-Site": "cross-site"}
		}, false},
		{"same-site without Origin", func(string) map[string]string {
			return map[string]string{"Sec-Fetch-Site": "same-site"}
		}, false},
		{"null origin", func(string) map[string]string {
			return map[string]string{"Origin": "null", "Sec-Fetch-Site": "cross-site"}
		}, false},
	}
	isJSON := func(ct string) bool { return ct == contentTypes[0] || ct == contentTypes[1] }

	testdb.Each(t, func(t *testing.T, a *app.App) {

		s := a.Store
		h := hdNew(t, a, func(c *app.Config) { c.CORSOrigins = []string{hdOpsOrigin} })
		const mutation = `mutation($in: ImportOrderInput!) { importOrder(input: $in) { id } }`
		const query = `{ viewer { role } }`
		created := 0
		n := 0
		for _, op := range []string{"mutation", "query"} {
			for _, m := range methods {
				for _, ct := range contentTypes {
					for _, o := range origins {
						n++
						name := fmt.Sprintf("%s %s %s %s", op, m, ct, o.name)
						t.Run(name, func(t *testing.T) {
							h := h.with(t)
							q, vars := query, map[string]any(nil)
							if op == "mutation" {
								q, vars = mutation, map[string]any{"in": hdOrderInput(fmt.Sprintf("XS-%d", n))}
							}
							headers := map[string]string{"Authorization": "Bearer " + h.AdminKey, "Content-Type": ct}
							for k, v := range o.headers(h.Server.URL) {
								headers[k] = v
							}
							path := "/query"
							var body io.Reader
							if m == http.MethodGet {
								v := url.Values{"query": {q}}
								if vars != nil {
									vb, _ := json.Marshal(vars)
									v.Set("variables", string(vb))
								}
								path += "?" + v.Encode()
							} else {
								body = bytes.NewReader(Body(q, vars))
							}
							before := hdOrders(t, s)
							resp := h.raw(m, path, headers, body)
							res := resp.result()

							// What the matrix expects.
							status, code, creates := http.StatusOK, "", false
							switch {
							case m == http.MethodPut:
								status, code = http.StatusMethodNotAllowed, "VALIDATION"
							case m == http.MethodPost && !isJSON(ct):
								status, code = http.StatusUnsupportedMediaType, "VALIDATION"
							case !o.allowed:
								status, code = http.StatusForbidden, "FORBIDDEN"
							case m == http.MethodGet && op == "mutation":
								// GraphQL over HTTP: 405, Allow: POST.
								status, code = http.StatusMethodNotAllowed, "VALIDATION"
							default:
								creates = op == "mutation"
							}
							if resp.Status != status {
								t.Errorf("HTTP %d, want %d: %s", resp.Status, status, resp.Body)
							}
							if res == nil {
								t.Fatalf("answer is not JSON: %q", resp.Body)
							}
							if err := CheckHygiene(res); err != nil {
								t.Error(err)
							}
							if code == "" && len(res.Errors) > 0 {
								t.Errorf("errors: %+v", res.Errors)
							}
							if code != "" && (len(res.Errors) != 1 || res.Errors[0].Code() != code) {
								t.Errorf("errors %+v, want one %s", res.Errors, code)
							}
							if status == http.StatusMethodNotAllowed && resp.Header.Get("Allow") == "" {
								t.Error("405 without Allow")
							}
							got := hdOrders(t, s) - before
							if want := btoi(creates); got != want {
								t.Errorf("%d orders written, want %d", got, want)
							}
							created += got
						})
					}
				}
			}
		}
		// POST × 2 JSON content types × allowed origins.
		allowed := 0
		for _, o := range origins {
			allowed += btoi(o.allowed)
		}
		if want := 2 * allowed; created != want || hdOrders(t, s) != want {
			t.Errorf("%d orders in all (%d in the database), want %d", created, hdOrders(t, s), want)
		}
	})
}

// TestHardeningOddRequests sends requests outside the matrix (an Upgrade
// header, other methods, a GET without a query, an OPTIONS that is not a
// preflight): none runs anything, none is a 5xx, and every error answer is
// in the GraphQL error format with a code of the contract.
func TestHardeningOddRequests(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, a *app.App) {
		s := a.Store
		h := hdNew(t, a, func(c *app.Config) { c.CORSOrigins = []string{hdOpsOrigin} })
		mutation := Body(`mutation($in: ImportOrderInput!) { importOrder(input: $in) { id } }`, map[string]any{"in": hdOrderInput("ODD-1")})
		auth := "Bearer " + h.AdminKey
		cases := []struct {
			name    string
			method  string
			path    string
			headers map[string]string
			body    []byte
		}{
			{"POST with Upgrade", http.MethodPost, "/query", map[string]string{"Content-Type": "application/json", "Authorization": auth, "Upgrade": "websocket", "Connection": "Upgrade"}, mutation},
			{"GET with Upgrade", http.MethodGet, "/query?query=%7B+viewer+%7B+role+%7D+%7D", map[string]string{"Authorization": auth, "Upgrade": "websocket", "Connection": "Upgrade"}, nil},
			{"GET without query", http.MethodGet, "/query", map[string]string{"Authorization": auth}, nil},
			{"GET with bad variables", http.MethodGet, "/query?query=%7B+viewer+%7B+role+%7D+%7D&variables=%7B", map[string]string{"Authorization": auth}, nil},
			{"PATCH", http.MethodPatch, "/query", map[string]string{"Content-Type": "application/json", "Authorization": auth}, mutation},
			{"DELETE", http.MethodDelete, "/query", map[string]string{"Authorization": auth}, nil},
			{"OPTIONS, not a preflight", http.MethodOptions, "/query", map[string]string{"Authorization": auth}, nil},
			{"POST without a key", http.MethodPost, "/query", map[string]string{"Content-Type": "application/json"}, mutation},
			{"POST JSON in another charset", http.MethodPost, "/query", map[string]string{"Content-Type": "application/json; charset=latin1", "Authorization": auth}, mutation},
			{"POST of a JSON array", http.MethodPost, "/query", map[string]string{"Content-Type": "application/json", "Authorization": auth}, []byte(`[` + string(mutation) + `]`)},
			{"POST of nothing", http.MethodPost, "/query", map[string]string{"Content-Type": "application/json", "Authorization": auth}, nil},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				h := h.with(t)
				ops := h.operations()
				resp := h.raw(c.method, c.path, c.headers, bytes.NewReader(c.body))
				if resp.Status >= 500 {
					t.Errorf("HTTP %d: %s", resp.Status, resp.Body)
				}
				if len(bytes.TrimSpace(resp.Body)) > 0 {
					res := resp.result()
					if res == nil {
						t.Fatalf("HTTP %d, not JSON: %q", resp.Status, resp.Body)
					}
					if err := CheckHygiene(res); err != nil {
						t.Errorf("HTTP %d: %v", resp.Status, err)
					}
					if resp.Status >= 400 && len(res.Errors) == 0 {
						t.Errorf("HTTP %d without an error: %s", resp.Status, resp.Body)
					}
				} else if resp.Status >= 400 {
					t.Errorf("HTTP %d with an empty body", resp.Status)
				}
				if n := h.operations() - ops; n != 0 {
					t.Errorf("%d operations ran", n)
				}
				if n := hdOrders(t, s); n != 0 {
					t.Errorf("%d orders written", n)
				}
			})
		}
	})
}
