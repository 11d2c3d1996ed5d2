package gqlhttp

import (
	"bytes"
	"encoding/json"
	"net/http"
	"reflect"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

func TestNegotiate(t *testing.T) {
	const gr, js = MediaTypeGraphQLResponse, MediaTypeJSON
	for _, c := range []struct {
		accept string
		want   string // "" for 406
	}{
		{"", js},
		{"  ", js},
		{"*/*", js},
		{"application/*", js},
		{gr, gr},
		{js, js},
		{gr + "; charset=utf-8", gr},
		{gr + ";charset=UTF-8, " + js + ";charset=utf-8", gr},
		{js + ", " + gr, js},
		{js + ";q=0.8, " + gr, gr},
		{gr + ";q=0.1, " + js + ";q=0.2", js},
		{"*/*, " + gr, gr},
		{"application/*;q=0.9, " + js + ";q=0.5", gr},
		{"text/html, application/xhtml+xml, */*;q=0.8", js},
		{"*/*;q=0.5, " + js + ";q=0", gr},
		{gr + ";q=0, */*", js},
		{"text/html", ""},
		{"application/xml, text/*", ""},
		{gr + ";q=0, " + js + ";q=0", ""},
		{"*/*;q=0", ""},
		{js + "; charset=latin1", ""},
		{js + "; charset=latin1, " + gr, gr},
		{js + ";q=2", ""},
		{"nonsense", ""},
		{"application/graphql+json", ""},
	} {
		got, ok := Negotiate(c.accept)
		if c.want == "" {
			if ok {
				t.Errorf("Negotiate(%q) = %q, want 406", c.accept, got)
			}
			continue
		}
		if !ok || got != c.want {
			t.Errorf("Negotiate(%q) = %q %v, want %q", c.accept, got, ok, c.want)
		}
	}
}

func TestRequestErrorStatus(t *testing.T) {
	list := func(code string) gqlerror.List {
		return gqlerror.List{{Message: "x", Extensions: map[string]any{"code": code}}}
	}
	for _, c := range []struct {
		code     string
		gr, json int
	}{
		{"VALIDATION", http.StatusBadRequest, http.StatusOK},
		{"COMPLEXITY_LIMIT_EXCEEDED", http.StatusBadRequest, http.StatusOK},
		{"UNAUTHENTICATED", http.StatusUnauthorized, http.StatusOK},
		{"FORBIDDEN", http.StatusForbidden, http.StatusOK},
		{"RATE_LIMITED", http.StatusTooManyRequests, http.StatusOK},
		{"INTERNAL", http.StatusInternalServerError, http.StatusOK},
	} {
		if got := RequestErrorStatus(MediaTypeGraphQLResponse, list(c.code)); got != c.gr {
			t.Errorf("%s under %s: %d, want %d", c.code, MediaTypeGraphQLResponse, got, c.gr)
		}
		if got := RequestErrorStatus(MediaTypeJSON, list(c.code)); got != c.json {
			t.Errorf("%s under %s: %d, want %d", c.code, MediaTypeJSON, got, c.json)
		}
	}
}

// TestEncodeResponse: encodeResponse writes what json.Marshal writes, as
// JSON values, with data copied as gqlgen wrote it.
func TestEncodeResponse(t *testing.T) {
	yes := true
	cases := []*graphql.Response{
		{Data: json.RawMessage(`{"orders":{"edges":[{"node":{"id":"1","note":"<b>&</b>","n":[1,2.5,null]}}]}}`)},
		{},
		{Errors: gqlerror.List{{Message: `bad "thing" <x>`, Path: ast.Path{ast.PathName("a"), ast.PathIndex(2)},
			Extensions: map[string]any{"code": "FORBIDDEN", "data": nil}}}, Data: json.RawMessage(`{"a":[null,null,null]}`)},
		{Errors: gqlerror.List{{Message: "x"}}},
		{Data: json.RawMessage(`{}`), Label: "l", Path: ast.Path{ast.PathName("p")}, HasNext: &yes,
			Extensions: map[string]any{"cost": 12}},
	}
	for i, resp := range cases {
		got, err := encodeResponse(resp)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		want, err := json.Marshal(resp)
		if err != nil {
			t.Fatal(err)
		}
		var g, w any
		if err := json.Unmarshal(got, &g); err != nil {
			t.Fatalf("case %d: %s is not JSON: %v", i, got, err)
		}
		_ = json.Unmarshal(want, &w)
		if !reflect.DeepEqual(g, w) {
			t.Errorf("case %d:\n got %s\nwant %s", i, got, want)
		}
		if len(resp.Data) > 0 && !bytes.Contains(got, resp.Data) {
			t.Errorf("case %d: %s does not hold data as written", i, got)
		}
	}
}
