package egress

import (
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

func TestClassifyIP(t *testing.T) {
	for _, c := range readFixture(t, "ips.txt", 3) {
		text, wantClass := c.fields[0], c.fields[1]
		wantBlocked, err := strconv.ParseBool(c.fields[2])
		if err != nil {
			t.Fatalf("ips.txt:%d: %v", c.line, err)
		}
		t.Run(text, func(t *testing.T) {
			ip, err := netip.ParseAddr(text)
			if err != nil {
				t.Fatalf("ips.txt:%d: %v", c.line, err)
			}
			class, blocked := ClassifyIP(ip)
			if class != wantClass || blocked != wantBlocked {
				t.Fatalf("ClassifyIP(%s) = %q, %v; want %q, %v", ip, class, blocked, wantClass, wantBlocked)
			}
		})
	}
}

func TestClassifyIPInvalid(t *testing.T) {
	if class, blocked := ClassifyIP(netip.Addr{}); class != "invalid" || !blocked {
		t.Fatalf("ClassifyIP(zero) = %q, %v; want invalid, blocked", class, blocked)
	}
}

func TestCheckDial(t *testing.T) {
	allow := (&contract.Route{SSRFAllow: []string{"10.1.2.0/24", "fd00::/8", "127.0.0.1"}}).SSRFPrefixes()
	for _, c := range []struct {
		name, ip  string
		allow     []netip.Prefix
		wantClass string // "" means allowed
	}{
		{"public v4", "1.1.1.1", nil, ""},
		{"public v6", "2606:4700::1111", nil, ""},
		{"private without allow", "10.1.2.3", nil, "private"},
		{"private in allow", "10.1.2.3", allow, ""},
		{"mapped form of allowed", "::ffff:10.1.2.3", allow, ""},
		{"private outside allow", "10.1.3.1", allow, "private"},
		{"mapped outside allow", "::ffff:10.1.3.1", allow, "ipv4-mapped:private"},
		{"allowed single ip", "127.0.0.1", allow, ""},
		{"next to allowed single ip", "127.0.0.2", allow, "loopback"},
		{"v6 in allow", "fd00::1", allow, ""},
		{"nat64 of allowed is not allowed", "64:ff9b::10.1.2.3", allow, "nat64:private"},
		{"zoned never allowed", "fe80::1%eth0", []netip.Prefix{netip.MustParsePrefix("fe80::/10")}, "link-local"},
		{"metadata", "169.254.169.254", allow, "link-local"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ip := netip.MustParseAddr(c.ip)
			err := CheckDial(ip, c.allow)
			if c.wantClass == "" {
				if err != nil {
					t.Fatalf("CheckDial(%s) = %v; want nil", ip, err)
				}
				return
			}
			if !errors.Is(err, ErrSSRF) {
				t.Fatalf("CheckDial(%s) = %v; want ErrSSRF", ip, err)
			}
			var se *SSRFError
			if !errors.As(err, &se) {
				t.Fatalf("CheckDial(%s) = %T; want *SSRFError", ip, err)
			}
			if diff := cmp.Diff(SSRFError{Addr: ip, Class: c.wantClass}, *se, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
				t.Fatalf("SSRFError (-want +got):\n%s", diff)
			}
			for _, want := range []string{ip.String(), c.wantClass, "ssrf_allow"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
		})
	}
}

// The cloud metadata service must be out of reach in every spelling a
// hostile DNS answer could give it.
func TestCloudMetadataRefused(t *testing.T) {
	for _, s := range []string{
		"169.254.169.254",
		"::ffff:169.254.169.254",
		"::169.254.169.254",
		"::ffff:0:169.254.169.254",
		"64:ff9b::169.254.169.254",
		"64:ff9b:1::a9fe:a9fe",
		"2002:a9fe:a9fe::1",
		"2001:0:a9fe:a9fe::f7f7:f7f7",
		"2001:0:101:101::5601:5601",
		"fd00:ec2::254",
		"169.254.170.2", // ECS task metadata
		"100.100.100.200",
	} {
		t.Run(s, func(t *testing.T) {
			ip := netip.MustParseAddr(s)
			if err := CheckDial(ip, nil); !errors.Is(err, ErrSSRF) {
				t.Fatalf("CheckDial(%s) = %v; want ErrSSRF", ip, err)
			}
		})
	}
}

// An IPv4-mapped or otherwise IPv4-carrying IPv6 address must not reach the
// host's loopback.
func TestIPv4MappedLoopbackRefused(t *testing.T) {
	for _, s := range []string{
		"::ffff:127.0.0.1",
		"::ffff:7f00:1",
		"::ffff:127.1.2.3",
		"::127.0.0.1",
		"::ffff:0:127.0.0.1",
		"64:ff9b::127.0.0.1",
		"64:ff9b:1::127.0.0.1",
		"2002:7f00:1::",
		"2001:0:7f00:1::f7f7:f7f7",
		"::ffff:0.0.0.0",
		"::",
		"::1",
		"::1%lo",
	} {
		t.Run(s, func(t *testing.T) {
			ip := netip.MustParseAddr(s)
			if class, blocked := ClassifyIP(ip); !blocked {
				t.Fatalf("ClassifyIP(%s) = %q, not blocked", ip, class)
			}
			if err := CheckDial(ip, nil); !errors.Is(err, ErrSSRF) {
				t.Fatalf("CheckDial(%s) = %v; want ErrSSRF", ip, err)
			}
		})
	}
}

func FuzzClassifyIP(f *testing.F) {
	for _, c := range readFixture(f, "ips.txt", 3) {
		if ip, err := netip.ParseAddr(c.fields[0]); err == nil && ip.Zone() == "" {
			f.Add(ip.AsSlice())
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var ip netip.Addr
		switch {
		case len(b) >= 16:
			ip = netip.AddrFrom16([16]byte(b[:16]))
		case len(b) >= 4:
			ip = netip.AddrFrom4([4]byte(b[:4]))
		default:
			return
		}
		class, blocked := ClassifyIP(ip)
		if class == "" {
			t.Fatalf("ClassifyIP(%s) has no class", ip)
		}
		if blocked == (class == "public") {
			t.Fatalf("ClassifyIP(%s) = %q, %v: public exactly when not blocked", ip, class, blocked)
		}
		if u := ip.Unmap(); u != ip {
			if uc, ub := ClassifyIP(u); ub && (!blocked || class != "ipv4-mapped:"+uc) {
				t.Fatalf("ClassifyIP(%s) = %q, %v but its unmapped form %s is %q, blocked", ip, class, blocked, u, uc)
			}
		}
		if err := CheckDial(ip, nil); (err == nil) == blocked {
			t.Fatalf("CheckDial(%s) = %v, but ClassifyIP says blocked=%v", ip, err, blocked)
		}
		if blocked {
			// A zone never unblocks an address.
			if zc, zb := ClassifyIP(ip.WithZone("eth0")); ip.Is6() && !zb {
				t.Fatalf("ClassifyIP(%s%%eth0) = %q, not blocked", ip, zc)
			}
		}
	})
}

func BenchmarkClassifyIP(b *testing.B) {
	for _, c := range []struct{ name, ip string }{
		{"public-v4", "93.184.215.14"},
		{"private-v4", "10.1.2.3"},
		{"public-v6", "2606:4700::1111"},
		{"mapped-loopback", "::ffff:127.0.0.1"},
		{"teredo", "2001:0:101:101::f7f7:f7f7"},
	} {
		ip := netip.MustParseAddr(c.ip)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _ = ClassifyIP(ip)
			}
		})
	}
}
