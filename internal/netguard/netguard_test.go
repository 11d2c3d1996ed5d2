package netguard_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync/atomic"
	"testing"

	"github.com/frsvc/fulfillment/internal/netguard"
)

func TestClassify(t *testing.T) {
	for addr, want := range map[string]string{
		"127.0.0.1":        "loopback",
		"127.8.9.10":       "loopback",
		"::1":              "loopback",
		"::ffff:127.0.0.1": "loopback",
		"10.1.2.3":         "private",
		"172.16.0.1":       "private",
		"172.31.255.254":   "private",
		"192.168.1.1":      "private",
		"fd12:3456::1":     "private",
		"fc00::1":          "private",
		"169.254.169.254":  "link-local",
		"fe80::1":          "link-local",
		"fe80::1%eth0":     "link-local",
		"0.0.0.0":          "unspecified",
		"0.1.2.3":          "unspecified",
		"::":               "unspecified",
		"100.64.0.1":       "shared (CGNAT)",
		"100.127.255.255":  "shared (CGNAT)",
		"224.0.0.1":        "multicast",
		"ff02::1":          "multicast",
		"255.255.255.255":  "reserved",
		"198.18.0.1":       "reserved",
		"64:ff9b::7f00:1":  "loopback", // NAT64 of 127.0.0.1
		"64:ff9b::a00:1":   "private",  // NAT64 of 10.0.0.1
		"2002:c0a8:101::1": "private",  // 6to4 of 192.168.1.1
		"::7f00:1":         "loopback", // IPv4-compatible 127.0.0.1
		// Public addresses.
		"8.8.8.8":              "",
		"1.1.1.1":              "",
		"100.63.255.255":       "",
		"100.128.0.0":          "",
		"172.32.0.1":           "",
		"2001:4860:4860::8888": "",
		"64:ff9b::808:808":     "", // NAT64 of 8.8.8.8
		"2002:808:808::1":      "", // 6to4 of 8.8.8.8
	} {
		if got := netguard.Classify(netip.MustParseAddr(addr)); got != want {
			t.Errorf("Classify(%s) = %q, want %q", addr, got, want)
		}
	}
}

// TestTransport: a client over Transport does not connect to a loopback
// server, by address or by a name that resolves to it, and says why.
func TestTransport(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	client := &http.Client{Transport: netguard.Transport()}
	for _, u := range []string{srv.URL, "http://localhost:" + port} {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, u, nil)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			t.Fatalf("%s: connected", u)
		}
		var re *netguard.RefusedError
		if !errors.As(err, &re) || re.Class != "loopback" {
			t.Errorf("%s: %v, want a RefusedError for a loopback address", u, err)
		}
	}
	if hits.Load() != 0 {
		t.Errorf("the server was reached %d times", hits.Load())
	}
}
