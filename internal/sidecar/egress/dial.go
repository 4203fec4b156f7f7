package egress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// ErrUpstream marks failures to reach an upstream (DNS, connect, TLS).
var ErrUpstream = errors.New("upstream unreachable")

// dialer resolves an upstream, refuses it if any address it resolves to is
// one the SSRF rules forbid (unless the route allows it), and dials the
// checked address itself, so no second lookup can swap in another (DNS
// rebinding).
type dialer struct {
	resolve map[string]netip.Addr // fixed answers (--resolve); nil: DNS
	lookup  func(ctx context.Context, host string) ([]netip.Addr, error)
	timeout time.Duration
	// self lists egress's own listeners (proxy, admin), which it never
	// dials whatever a route allows: a route to a host on the same
	// machine must not reach the admin API or loop into the proxy. Set
	// before serving; read-only after.
	self []netip.AddrPort
}

// ErrSelf is returned for a dial to one of egress's own listeners.
var ErrSelf = errors.New("refusing to connect to egress's own listener")

// isSelf reports whether ip:port is one of egress's listeners. A listener
// on an unspecified address (0.0.0.0, ::) takes the port on every address
// of the machine, so any address that is loopback or one of its
// interfaces' matches.
func (d *dialer) isSelf(ip netip.Addr, port string) bool {
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return false
	}
	ip = ip.Unmap()
	for _, s := range d.self {
		if s.Port() != uint16(n) {
			continue
		}
		if a := s.Addr().Unmap(); a == ip || a.IsUnspecified() && (ip.IsLoopback() || ip.IsUnspecified() || localAddr(ip)) {
			return true
		}
	}
	return false
}

// localAddr reports whether ip is an address of one of this machine's
// interfaces.
func localAddr(ip netip.Addr) bool {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return true // fail closed
	}
	for _, a := range addrs {
		if pn, ok := a.(*net.IPNet); ok {
			if x, ok := netip.AddrFromSlice(pn.IP); ok && x.Unmap() == ip {
				return true
			}
		}
	}
	return false
}

func newDialer(resolve map[string]netip.Addr, timeout time.Duration) *dialer {
	return &dialer{resolve: resolve, timeout: timeout, lookup: func(ctx context.Context, host string) ([]netip.Addr, error) {
		return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	}}
}

// addrs resolves host and checks every answer against allow. An IP-literal host is checked as it is.
func (d *dialer) addrs(ctx context.Context, host string, allow []netip.Prefix) ([]netip.Addr, error) {
	host = strings.TrimSuffix(host, ".")
	var ips []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		ips = []netip.Addr{ip}
	} else if ip, ok := d.resolve[contract.NormalizeHost(host)]; ok {
		ips = []netip.Addr{ip}
	} else {
		lctx, cancel := context.WithTimeout(ctx, d.timeout)
		defer cancel()
		found, err := d.lookup(lctx, host)
		if err != nil {
			return nil, fmt.Errorf("%w: resolve %s: %v", ErrUpstream, host, err)
		}
		if len(found) == 0 {
			return nil, fmt.Errorf("%w: %s has no addresses", ErrUpstream, host)
		}
		ips = found
	}
	for _, ip := range ips {
		// Every answer must pass: an attacker-controlled name that resolves
		// to one public and one private address must not get either.
		if err := CheckDial(ip, allow); err != nil {
			return nil, err
		}
	}
	return ips, nil
}

// dial connects to host:port, trying the checked addresses in order; allow
// lists the prefixes the SSRF rules let through (the route's and the
// file's ssrf_allow).
func (d *dialer) dial(ctx context.Context, host, port string, allow []netip.Prefix) (net.Conn, error) {
	ips, err := d.addrs(ctx, host, allow)
	if err != nil {
		return nil, err
	}
	for _, ip := range ips {
		if d.isSelf(ip, port) {
			return nil, fmt.Errorf("%w %s", ErrSelf, net.JoinHostPort(host, port))
		}
	}
	nd := net.Dialer{Timeout: d.timeout, KeepAlive: 30 * time.Second}
	var errs []error
	for _, ip := range ips {
		c, err := nd.DialContext(ctx, "tcp", net.JoinHostPort(ip.Unmap().String(), port))
		if err == nil {
			return c, nil
		}
		errs = append(errs, err)
	}
	return nil, fmt.Errorf("%w: connect %s: %v", ErrUpstream, net.JoinHostPort(host, port), errors.Join(errs...))
}
