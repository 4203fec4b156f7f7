package netguard

import (
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Op is what an Action does to the routing table.
type Op int

const (
	// OpProhibit adds a prohibit route for one address (/32 or /128):
	// connecting to it fails at once with "permission denied", even though
	// an on-link subnet route covers it.
	OpProhibit Op = iota + 1
	// OpDelete deletes a route: a default route or one through a gateway.
	OpDelete
)

func (o Op) String() string {
	switch o {
	case OpProhibit:
		return "prohibit"
	case OpDelete:
		return "delete"
	}
	return fmt.Sprintf("Op(%d)", int(o))
}

// Action is one change to the main routing table.
type Action struct {
	Op    Op
	Route netlink.Route
}

// Plan decides, from the main table's routes (both families), what locks
// the namespace down to its on-link subnets:
//
//   - every default route and every route through a gateway is deleted;
//   - each gateway those routes named gets a prohibit host route, unless
//     one is already there. The gateway is the host's own address on the
//     bridge; deleting the default route alone would leave it reachable
//     through the on-link subnet route that covers it;
//   - on-link routes without a gateway stay, so sibling containers on the
//     same network (egress, git-gate, supervise) are still reachable.
//
// Prohibit actions come first: if a delete then fails, the gateway is
// already closed. Plan is pure; running it on its own output's result
// yields no actions.
func Plan(routes []netlink.Route) []Action {
	prohibited := map[string]bool{}
	for _, r := range routes {
		if isMain(r) && r.Type == unix.RTN_PROHIBIT && r.Dst != nil {
			prohibited[r.Dst.String()] = true
		}
	}
	var adds, dels []Action
	for _, r := range routes {
		if !isMain(r) || !isUnicast(r) || !(isDefault(r) || hasGateway(r)) {
			continue
		}
		for _, gw := range gateways(r) {
			host := hostNet(gw)
			if prohibited[host.String()] {
				continue
			}
			prohibited[host.String()] = true
			adds = append(adds, Action{Op: OpProhibit, Route: prohibitRoute(host)})
		}
		dels = append(dels, Action{Op: OpDelete, Route: r})
	}
	return append(adds, dels...)
}

// Verify is the health check over the main table's routes: no default
// route, no route through a gateway, and at least one IPv4 prohibit route
// (proof that netguard ran here: a Docker namespace always starts with a
// default route whose gateway it prohibits).
func Verify(routes []netlink.Route) error {
	var errs []error
	for _, r := range routes {
		if isMain(r) && isUnicast(r) && (isDefault(r) || hasGateway(r)) {
			errs = append(errs, fmt.Errorf("route %q is still there", Describe(r, nil)))
		}
	}
	if ipv4Prohibits(routes) == 0 {
		errs = append(errs, errors.New("no IPv4 prohibit route: netguard has not locked this namespace"))
	}
	return errors.Join(errs...)
}

// ipv4Prohibits counts the main table's IPv4 prohibit routes.
func ipv4Prohibits(routes []netlink.Route) int {
	n := 0
	for _, r := range routes {
		if isMain(r) && isIPv4Prohibit(r) {
			n++
		}
	}
	return n
}

func isIPv4Prohibit(r netlink.Route) bool {
	return r.Type == unix.RTN_PROHIBIT && r.Dst != nil && r.Dst.IP.To4() != nil
}

func isMain(r netlink.Route) bool {
	return r.Table == unix.RT_TABLE_MAIN || r.Table == unix.RT_TABLE_UNSPEC
}

func isUnicast(r netlink.Route) bool {
	return r.Type == unix.RTN_UNICAST || r.Type == unix.RTN_UNSPEC
}

func isDefault(r netlink.Route) bool {
	if r.Dst == nil {
		return true
	}
	ones, _ := r.Dst.Mask.Size()
	return ones == 0
}

func hasGateway(r netlink.Route) bool {
	return len(gateways(r)) > 0 || r.Via != nil
}

// gateways returns the route's gateway and its multipath next hops'.
func gateways(r netlink.Route) []net.IP {
	var gws []net.IP
	if r.Gw != nil && !r.Gw.IsUnspecified() {
		gws = append(gws, r.Gw)
	}
	for _, nh := range r.MultiPath {
		if nh != nil && nh.Gw != nil && !nh.Gw.IsUnspecified() {
			gws = append(gws, nh.Gw)
		}
	}
	return gws
}

// hostNet is ip as a /32 (IPv4) or /128 (IPv6) network.
func hostNet(ip net.IP) *net.IPNet {
	if v4 := ip.To4(); v4 != nil {
		return &net.IPNet{IP: v4, Mask: net.CIDRMask(32, 32)}
	}
	return &net.IPNet{IP: ip.To16(), Mask: net.CIDRMask(128, 128)}
}

func prohibitRoute(dst *net.IPNet) netlink.Route {
	family := netlink.FAMILY_V6
	if dst.IP.To4() != nil {
		family = netlink.FAMILY_V4
	}
	return netlink.Route{Dst: dst, Type: unix.RTN_PROHIBIT, Table: unix.RT_TABLE_MAIN, Family: family}
}

// Describe renders r as 'ip route' would, roughly: "default via 172.18.0.1
// dev eth0", "prohibit 172.18.0.1/32". names maps link indexes to names;
// nil (or a missing index) prints the index.
func Describe(r netlink.Route, names map[int]string) string {
	var b strings.Builder
	if r.Type == unix.RTN_PROHIBIT {
		b.WriteString("prohibit ")
	}
	if isDefault(r) {
		b.WriteString("default")
	} else {
		b.WriteString(r.Dst.String())
	}
	for _, gw := range gateways(r) {
		b.WriteString(" via " + gw.String())
	}
	if r.Via != nil {
		b.WriteString(" via " + r.Via.String())
	}
	if r.LinkIndex > 0 {
		if n, ok := names[r.LinkIndex]; ok {
			b.WriteString(" dev " + n)
		} else {
			fmt.Fprintf(&b, " dev #%d", r.LinkIndex)
		}
	}
	return b.String()
}

// String is the action as a log reads it: "prohibit 172.18.0.1/32",
// "delete default via 172.18.0.1 dev #5".
func (a Action) String() string {
	if a.Op == OpProhibit {
		return Describe(a.Route, nil)
	}
	return a.Op.String() + " " + Describe(a.Route, nil)
}
