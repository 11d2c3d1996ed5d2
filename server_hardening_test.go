package main

import (
	"io"
	"slices"
	"testing"

	"github.com/frsvc/fulfillment/internal/testdb"
)

// TestParseOriginsHardening: --cors-origins takes exact origins only,
// scheme://host[:port]; anything else (wildcards, patterns, "null", a path,
// userinfo, a query or fragment, no host) is refused rather than silently
// never matching or, worse, matching too much.
func TestParseOriginsHardening(t *testing.T) {
	for _, ok := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"https://ops.example.com", []string{"https://ops.example.com"}},
		{" https://ops.example.com , http://localhost:3000 ", []string{"https://ops.example.com", "http://localhost:3000"}},
		{"https://ops.example.com:8443", []string{"https://ops.example.com:8443"}},
		{"http://127.0.0.1:8080,", []string{"http://127.0.0.1:8080"}},
		{"http://[::1]:3000", []string{"http://[::1]:3000"}},
	} {
		got, err := parseOrigins(ok.in)
		if err != nil || !slices.Equal(got, ok.want) {
			t.Errorf("parseOrigins(%q) = %q, %v; want %q", ok.in, got, err, ok.want)
		}
	}
	for _, bad := range []string{
		"*",
		"null",
		"https://*.example.com",
		"https://x.com/",
		"https://x.com/app",
		"*.example.com",
		"https://ops.example.com,*",
		"https://ops.example.com, null",
		"https://ops?.example.com",
		"x.com",
		"//x.com",
		"ftp://x.com",
		"HTTPS://X.COM",
		"https://",
		"http://:8080",
		"https://user@x.com",
		"https://user:pw@x.com",
		"https://x.com#frag",
		"https://x.com:port",
		"https://x .com",
		"https://x.com:8443:1",
	} {
		if got, err := parseOrigins(bad); err == nil {
			t.Errorf("parseOrigins(%q) accepted: %q", bad, got)
		}
		// Through the flag and the environment as well.
		if _, err := parseConfig([]string{"--cors-origins", bad}, testdb.Getenv(nil), io.Discard); err == nil {
			t.Errorf("--cors-origins %q accepted", bad)
		}
		if _, err := parseConfig(nil, testdb.Getenv(map[string]string{"CORS_ORIGINS": bad}), io.Discard); err == nil {
			t.Errorf("CORS_ORIGINS=%q accepted", bad)
		}
	}
}
