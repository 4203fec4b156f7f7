package netguard

import (
	"net"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

func cidr(s string) *net.IPNet {
	_, n, err := net.ParseCIDR(s)
	if err != nil {
		panic(err)
	}
	return n
}

// route builds a main-table unicast route "dst [via gw] dev #link".
func route(dst, gw string, link int) netlink.Route {
	r := netlink.Route{Dst: cidr(dst), LinkIndex: link, Table: unix.RT_TABLE_MAIN, Type: unix.RTN_UNICAST}
	if gw != "" {
		r.Gw = net.ParseIP(gw)
	}
	return r
}

func prohibit(dst string) netlink.Route { return prohibitRoute(cidr(dst)) }

func actions(as []Action) []string {
	var s []string
	for _, a := range as {
		s = append(s, a.String())
	}
	return s
}

func TestPlan(t *testing.T) {
	docker := []netlink.Route{
		route("0.0.0.0/0", "172.18.0.1", 5),
		route("172.18.0.0/16", "", 5),
	}
	tests := []struct {
		name   string
		routes []netlink.Route
		want   []string
	}{
		{name: "docker internal network: default via the bridge gateway", routes: docker, want: []string{
			"prohibit 172.18.0.1/32",
			"delete default via 172.18.0.1 dev #5",
		}},
		{name: "already locked: nothing to do", routes: []netlink.Route{
			route("172.18.0.0/16", "", 5), prohibit("172.18.0.1/32"),
		}, want: nil},
		{name: "restarted after Docker re-added the default route", routes: append(docker, prohibit("172.18.0.1/32")), want: []string{
			"delete default via 172.18.0.1 dev #5",
		}},
		{name: "a default route without a gateway is deleted too", routes: []netlink.Route{
			{Dst: cidr("0.0.0.0/0"), LinkIndex: 5, Table: unix.RT_TABLE_MAIN, Type: unix.RTN_UNICAST, Scope: netlink.SCOPE_LINK},
			route("172.18.0.0/16", "", 5),
		}, want: []string{"delete default dev #5"}},
		{name: "nil Dst means default", routes: []netlink.Route{
			{Gw: net.ParseIP("10.0.0.1"), LinkIndex: 2, Table: unix.RT_TABLE_MAIN, Type: unix.RTN_UNICAST},
		}, want: []string{"prohibit 10.0.0.1/32", "delete default via 10.0.0.1 dev #2"}},
		{name: "any route through a gateway goes; its gateway is prohibited once", routes: []netlink.Route{
			route("0.0.0.0/0", "172.18.0.1", 5),
			route("10.99.0.0/16", "172.18.0.1", 5),
			route("192.168.7.0/24", "172.18.0.254", 5),
			route("172.18.0.0/16", "", 5),
			route("172.19.0.0/16", "", 6),
		}, want: []string{
			"prohibit 172.18.0.1/32",
			"prohibit 172.18.0.254/32",
			"delete default via 172.18.0.1 dev #5",
			"delete 10.99.0.0/16 via 172.18.0.1 dev #5",
			"delete 192.168.7.0/24 via 172.18.0.254 dev #5",
		}},
		{name: "multipath next hops are all prohibited", routes: []netlink.Route{
			{Dst: cidr("0.0.0.0/0"), Table: unix.RT_TABLE_MAIN, Type: unix.RTN_UNICAST, MultiPath: []*netlink.NexthopInfo{
				{LinkIndex: 5, Gw: net.ParseIP("172.18.0.1")}, {LinkIndex: 6, Gw: net.ParseIP("172.19.0.1")},
			}},
		}, want: []string{
			"prohibit 172.18.0.1/32",
			"prohibit 172.19.0.1/32",
			"delete default via 172.18.0.1 via 172.19.0.1",
		}},
		{name: "IPv6 default route gets a /128 prohibit", routes: []netlink.Route{
			route("::/0", "fd00:18::1", 5),
			route("fd00:18::/64", "", 5),
			route("fe80::/64", "", 5),
		}, want: []string{"prohibit fd00:18::1/128", "delete default via fd00:18::1 dev #5"}},
		{name: "other tables and types are left alone", routes: []netlink.Route{
			{Dst: cidr("0.0.0.0/0"), Gw: net.ParseIP("10.0.0.1"), Table: unix.RT_TABLE_LOCAL, Type: unix.RTN_UNICAST},
			{Dst: cidr("127.0.0.1/32"), Table: unix.RT_TABLE_LOCAL, Type: unix.RTN_LOCAL},
			{Dst: cidr("198.51.100.0/24"), Table: unix.RT_TABLE_MAIN, Type: unix.RTN_BLACKHOLE},
		}, want: nil},
		{name: "on-link subnets only: nothing to do", routes: []netlink.Route{
			route("172.18.0.0/16", "", 5), route("172.19.0.0/16", "", 6),
		}, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Plan(tt.routes)
			if diff := cmp.Diff(tt.want, actions(got)); diff != "" {
				t.Errorf("Plan (-want +got):\n%s", diff)
			}
			// Prohibits come before deletes, so a failed delete leaves the
			// gateway closed.
			seenDelete := false
			for _, a := range got {
				if a.Op == OpDelete {
					seenDelete = true
				} else if seenDelete {
					t.Errorf("prohibit %v after a delete", a)
				}
			}
			// Applying the plan leaves nothing more to do.
			after := simulate(tt.routes, got)
			if again := Plan(after); len(again) != 0 {
				t.Errorf("second Plan not empty: %v", actions(again))
			}
		})
	}
}

// simulate applies actions to a route list as the kernel would.
func simulate(routes []netlink.Route, as []Action) []netlink.Route {
	out := append([]netlink.Route(nil), routes...)
	for _, a := range as {
		switch a.Op {
		case OpProhibit:
			out = append(out, a.Route)
		case OpDelete:
			for i, r := range out {
				if Describe(r, nil) == Describe(a.Route, nil) && r.Table == a.Route.Table {
					out = append(out[:i], out[i+1:]...)
					break
				}
			}
		}
	}
	return out
}

func TestVerify(t *testing.T) {
	tests := []struct {
		name   string
		routes []netlink.Route
		errs   []string // substrings; none means Verify passes
	}{
		{name: "locked", routes: []netlink.Route{route("172.18.0.0/16", "", 5), prohibit("172.18.0.1/32")}},
		{name: "default route left", routes: []netlink.Route{route("0.0.0.0/0", "172.18.0.1", 5), prohibit("172.18.0.1/32")},
			errs: []string{`route "default via 172.18.0.1 dev #5" is still there`}},
		{name: "gateway route left", routes: []netlink.Route{route("10.1.0.0/16", "172.18.0.9", 5), prohibit("172.18.0.1/32")},
			errs: []string{`"10.1.0.0/16 via 172.18.0.9 dev #5"`}},
		{name: "never ran", routes: []netlink.Route{route("0.0.0.0/0", "172.18.0.1", 5), route("172.18.0.0/16", "", 5)},
			errs: []string{"is still there", "no IPv4 prohibit route"}},
		{name: "no routes at all", routes: nil, errs: []string{"no IPv4 prohibit route"}},
		{name: "an IPv6 prohibit alone is not enough", routes: []netlink.Route{prohibit("fd00::1/128")}, errs: []string{"no IPv4 prohibit route"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Verify(tt.routes)
			if len(tt.errs) == 0 {
				if err != nil {
					t.Errorf("Verify: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Verify passed; want %q", tt.errs)
			}
			for _, e := range tt.errs {
				if !strings.Contains(err.Error(), e) {
					t.Errorf("error %q lacks %q", err, e)
				}
			}
		})
	}
}

func TestHasNetAdminReadsTheEffectiveSet(t *testing.T) {
	ok, err := hasNetAdmin()
	if err != nil {
		t.Fatal(err)
	}
	if want := effectiveHasNetAdmin(t); ok != want {
		t.Errorf("hasNetAdmin = %v; /proc/self/status says %v", ok, want)
	}
}
