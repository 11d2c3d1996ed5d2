// Package netguard keeps outgoing connections to public addresses: its
// Control function, installed on a net.Dialer, refuses every connection to a
// loopback, private, link-local, unspecified, shared (CGNAT), multicast or
// reserved address. It runs on the address actually dialed, after DNS, so a
// host name that resolves (or is rebound) to such an address is refused too.
package netguard

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// RefusedError is a connection refused by Control.
type RefusedError struct {
	Addr netip.Addr
	// Class names the kind of address: "loopback", "private", …
	Class string
}

func (e *RefusedError) Error() string {
	if !e.Addr.IsValid() {
		return "refused to connect to an address that could not be read"
	}
	return fmt.Sprintf("refused to connect to %s, a %s address", e.Addr, e.Class)
}

type prefixClass struct {
	prefix netip.Prefix
	class  string
}

var classes = func() []prefixClass {
	var out []prefixClass
	for _, p := range []struct{ cidr, class string }{
		{"0.0.0.0/8", "unspecified"}, // "this network"; 0.0.0.0 reaches the host itself
		{"127.0.0.0/8", "loopback"},
		{"10.0.0.0/8", "private"},
		{"172.16.0.0/12", "private"},
		{"192.168.0.0/16", "private"},
		{"100.64.0.0/10", "shared (CGNAT)"},
		{"169.254.0.0/16", "link-local"}, // cloud metadata endpoints live here
		{"192.0.0.0/24", "reserved"},
		{"198.18.0.0/15", "reserved"},
		{"224.0.0.0/4", "multicast"},
		{"240.0.0.0/4", "reserved"}, // and the broadcast address
		{"::/128", "unspecified"},
		{"::1/128", "loopback"},
		{"fc00::/7", "private"},
		{"fec0::/10", "private"}, // site-local, deprecated
		{"fe80::/10", "link-local"},
		{"ff00::/8", "multicast"},
		{"100::/64", "reserved"},
	} {
		out = append(out, prefixClass{netip.MustParsePrefix(p.cidr), p.class})
	}
	return out
}()

// IPv6 ranges that carry an IPv4 address, and where in them it sits.
var (
	nat64     = netip.MustParsePrefix("64:ff9b::/96")   // the last 32 bits
	nat64Loc  = netip.MustParsePrefix("64:ff9b:1::/48") // the last 32 bits
	sixToFour = netip.MustParsePrefix("2002::/16")      // bits 16 to 48
	v4Compat  = netip.MustParsePrefix("::/96")          // the last 32 bits
)

// Classify returns the class of a non-public address ("loopback",
// "private", "link-local", "unspecified", "shared (CGNAT)", "multicast",
// "reserved"), or "" for an address a connector may reach. IPv4 addresses
// mapped into or embedded in IPv6 (::ffff:0:0/96, NAT64, 6to4) are judged
// by the IPv4 address they carry.
func Classify(a netip.Addr) string {
	a = a.Unmap().WithZone("")
	for _, c := range classes {
		if c.prefix.Contains(a) {
			return c.class
		}
	}
	if a.Is6() {
		b := a.As16()
		switch {
		case nat64.Contains(a), nat64Loc.Contains(a), v4Compat.Contains(a):
			return Classify(netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}))
		case sixToFour.Contains(a):
			return Classify(netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]}))
		}
	}
	return ""
}

// Control is a net.Dialer Control function that refuses a connection to
// any address Classify names, with a *RefusedError.
func Control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &RefusedError{}
	}
	if class := Classify(ap.Addr()); class != "" {
		return &RefusedError{Addr: ap.Addr().Unmap(), Class: class}
	}
	return nil
}

// Transport returns a copy of http.DefaultTransport whose connections pass
// Control. It uses no proxy: through a proxy the address dialed would be the
// proxy's, and the one behind it would go unchecked.
func Transport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second, Control: Control}
	t.DialContext = d.DialContext
	return t
}
