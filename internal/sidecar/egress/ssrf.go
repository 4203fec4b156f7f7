package egress

import (
	"errors"
	"fmt"
	"net/netip"
)

// ErrSSRF is matched (with errors.Is) by every error CheckDial returns: the
// upstream address is one the agent must not reach through egress unless
// the route's ssrf_allow lists it.
var ErrSSRF = errors.New("refused upstream address")

// SSRFError is CheckDial's refusal of one address. Addresses are not
// secrets, so the message names it; it says what the operator would have to
// change.
type SSRFError struct {
	// Addr is the refused address, as resolved (zone included).
	Addr netip.Addr
	// Class is ClassifyIP's class for Addr, such as "loopback" or
	// "ipv4-mapped:link-local".
	Class string
}

// Error names the address, its class and the fix.
func (e *SSRFError) Error() string {
	return fmt.Sprintf("refusing to connect to %s (%s): to reach it, the route's ssrf_allow must list it", e.Addr, e.Class)
}

// Is reports whether target is ErrSSRF.
func (e *SSRFError) Is(target error) bool { return target == ErrSSRF }

// classPrefix is one refused range.
type classPrefix struct {
	prefix netip.Prefix
	class  string
}

func mustClasses(entries ...string) []classPrefix {
	out := make([]classPrefix, 0, len(entries)/2)
	for i := 0; i < len(entries); i += 2 {
		out = append(out, classPrefix{netip.MustParsePrefix(entries[i]), entries[i+1]})
	}
	return out
}

// The refused ranges, parsed once. Order matters where ranges nest: the
// first match names the class (0.0.0.0 is "unspecified" before
// "this-network", 255.255.255.255 "broadcast" before "reserved").
var (
	blockedV4 = mustClasses(
		"0.0.0.0/32", "unspecified",
		"0.0.0.0/8", "this-network", // RFC 791; Linux dials 0.0.0.0/8 as the local host
		"127.0.0.0/8", "loopback",
		"10.0.0.0/8", "private",
		"172.16.0.0/12", "private",
		"192.168.0.0/16", "private",
		"169.254.0.0/16", "link-local", // cloud metadata: 169.254.169.254
		"100.64.0.0/10", "cgnat",
		"224.0.0.0/4", "multicast",
		"255.255.255.255/32", "broadcast",
		"240.0.0.0/4", "reserved",
		"192.0.0.0/24", "ietf-protocol",
		"198.18.0.0/15", "benchmark",
		"192.0.2.0/24", "documentation",
		"198.51.100.0/24", "documentation",
		"203.0.113.0/24", "documentation",
	)
	blockedV6 = mustClasses(
		"::/128", "unspecified",
		"::1/128", "loopback",
		"fc00::/7", "private", // unique local; AWS metadata fd00:ec2::254 is here
		"fe80::/10", "link-local",
		"fec0::/10", "site-local",
		"ff00::/8", "multicast",
		"2001:db8::/32", "documentation",
		"3fff::/20", "documentation", // RFC 9637
		"2001:2::/48", "benchmark",
		"100::/64", "discard", // RFC 6666
	)

	// IPv6 ranges whose addresses carry an IPv4 address that the packets
	// may end up at, through the host's own stack or a translator.
	ipv4Compatible  = netip.MustParsePrefix("::/96")           // deprecated; after ::, ::1
	ipv4Translated  = netip.MustParsePrefix("::ffff:0:0:0/96") // SIIT, RFC 2765
	nat64WellKnown  = netip.MustParsePrefix("64:ff9b::/96")    // RFC 6052
	nat64LocalUse   = netip.MustParsePrefix("64:ff9b:1::/48")  // RFC 8215
	nat64LocalUse96 = netip.MustParsePrefix("64:ff9b:1::/96")
	sixToFour       = netip.MustParsePrefix("2002::/16")
	teredo          = netip.MustParsePrefix("2001::/32")
)

// ClassifyIP names the kind of address ip is and whether egress refuses to
// connect to it (see CheckDial). Refused classes:
//
//	unspecified    0.0.0.0, ::
//	this-network   0.0.0.0/8
//	loopback       127.0.0.0/8, ::1
//	private        10/8, 172.16/12, 192.168/16, fc00::/7
//	link-local     169.254/16, fe80::/10 (cloud metadata lives here)
//	cgnat          100.64/10
//	multicast      224/4, ff00::/8
//	broadcast      255.255.255.255
//	reserved       240/4
//	ietf-protocol  192.0.0/24
//	benchmark      198.18/15, 2001:2::/48
//	documentation  192.0.2/24, 198.51.100/24, 203.0.113/24, 2001:db8::/32, 3fff::/20
//	site-local     fec0::/10
//	discard        100::/64
//	invalid        the zero netip.Addr
//
// IPv6 forms that carry an IPv4 address are classified by that address and
// refused if it is: IPv4-mapped ::ffff:a.b.c.d, IPv4-compatible ::a.b.c.d,
// IPv4-translated ::ffff:0:a.b.c.d, NAT64 64:ff9b::/96 and the local-use
// 64:ff9b:1::/96, 6to4 2002::/16 and Teredo 2001::/32 (its server and its
// obfuscated client address). The class is then "<form>:<class>", such as
// "ipv4-mapped:loopback" or "nat64:link-local". Local-use NAT64 addresses
// outside 64:ff9b:1::/96 are refused as "nat64-local": the translator's
// prefix length, and so where the IPv4 address sits, is not knowable here.
//
// An address with a zone (fe80::1%eth0) is refused: as its class without
// the zone if that is refused, else as "zoned". Everything else is
// "public" and allowed.
func ClassifyIP(ip netip.Addr) (class string, blocked bool) {
	switch {
	case !ip.IsValid():
		return "invalid", true
	case ip.Zone() != "":
		if class, blocked := ClassifyIP(ip.WithZone("")); blocked {
			return class, true
		}
		return "zoned", true
	case ip.Is4():
		return classify(ip, blockedV4)
	case ip.Is4In6():
		return embedded("ipv4-mapped", ip.Unmap())
	}
	if class, blocked := classify(ip, blockedV6); blocked {
		return class, true
	}
	b := ip.As16()
	last4 := netip.AddrFrom4([4]byte(b[12:16]))
	switch {
	case ipv4Compatible.Contains(ip):
		return embedded("ipv4-compatible", last4)
	case ipv4Translated.Contains(ip):
		return embedded("ipv4-translated", last4)
	case nat64WellKnown.Contains(ip), nat64LocalUse96.Contains(ip):
		return embedded("nat64", last4)
	case nat64LocalUse.Contains(ip):
		return "nat64-local", true
	case sixToFour.Contains(ip):
		return embedded("6to4", netip.AddrFrom4([4]byte(b[2:6])))
	case teredo.Contains(ip):
		client := netip.AddrFrom4([4]byte{^b[12], ^b[13], ^b[14], ^b[15]})
		if class, blocked := embedded("teredo", client); blocked {
			return class, true
		}
		return embedded("teredo", netip.AddrFrom4([4]byte(b[4:8])))
	}
	return "public", false
}

// classify returns the class of the first range in table holding ip, or
// "public".
func classify(ip netip.Addr, table []classPrefix) (string, bool) {
	for _, e := range table {
		if e.prefix.Contains(ip) {
			return e.class, true
		}
	}
	return "public", false
}

// embedded classifies the IPv4 address v4 carried in an IPv6 address of the
// given form.
func embedded(form string, v4 netip.Addr) (string, bool) {
	if class, blocked := classify(v4, blockedV4); blocked {
		return form + ":" + class, true
	}
	return "public", false
}

// CheckDial decides whether egress may connect to ip, one address a
// route's host resolved to (or its IP literal): nil if ClassifyIP calls it
// public, or if one of allow (the route's SSRFPrefixes) contains it or its
// unmapped IPv4 form (so "10.1.2.0/24" also lets ::ffff:10.1.2.3 through).
// Otherwise it returns an *SSRFError matching ErrSSRF. Addresses with a zone
// are never allowed: no prefix contains them. The caller must dial exactly
// the address it checked, never the name again (DNS rebinding).
func CheckDial(ip netip.Addr, allow []netip.Prefix) error {
	class, blocked := ClassifyIP(ip)
	if !blocked {
		return nil
	}
	unmapped := ip.Unmap()
	for _, p := range allow {
		if p.Contains(ip) || p.Contains(unmapped) {
			return nil
		}
	}
	return &SSRFError{Addr: ip, Class: class}
}
