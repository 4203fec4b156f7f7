package daemon

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func TestPeerListSet(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []string // nil: an error
	}{
		{"service name", "agent-net", []string{"agent-net"}},
		{"several, spaced", "agent-net, supervise", []string{"agent-net", "supervise"}},
		{"ip", "10.1.2.3", []string{"10.1.2.3"}},
		{"ipv6", "fd00::1", []string{"fd00::1"}},
		{"cidr", "10.1.2.0/24", []string{"10.1.2.0/24"}},
		{"dotted name", "egress.bottle.internal", []string{"egress.bottle.internal"}},
		{"empty", "", nil},
		{"empty item", "a,,b", nil},
		{"bad cidr", "10.1.2.0/33", nil},
		{"url", "http://agent-net", nil},
		{"space inside", "agent net", nil},
		{"leading dash", "-x", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var l PeerList
			err := l.Set(tc.in)
			if tc.want == nil {
				if err == nil {
					t.Fatalf("Set(%q) accepted %v", tc.in, l)
				}
				return
			}
			if err != nil || strings.Join(l, "|") != strings.Join(tc.want, "|") {
				t.Fatalf("Set(%q) = %v, %v; want %v", tc.in, l, err, tc.want)
			}
		})
	}
}

// fakeDNS answers lookups from a table it counts them in; safe for
// concurrent use.
type fakeDNS struct {
	mu      sync.Mutex
	answers map[string][]netip.Addr
	lookups int
}

func (d *fakeDNS) set(name string, addrs ...string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.answers[name] = nil
	for _, a := range addrs {
		d.answers[name] = append(d.answers[name], netip.MustParseAddr(a))
	}
}

func (d *fakeDNS) lookup(_ context.Context, host string) ([]netip.Addr, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.lookups++
	if a, ok := d.answers[host]; ok && len(a) > 0 {
		return a, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

func (d *fakeDNS) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.lookups
}

// fakeClock is a settable now.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func testPeers(t *testing.T, items ...string) (*Peers, *fakeDNS, *fakeClock) {
	t.Helper()
	var l PeerList
	for _, it := range items {
		if err := l.Set(it); err != nil {
			t.Fatal(err)
		}
	}
	p := NewPeers(l)
	dns := &fakeDNS{answers: map[string][]netip.Addr{}}
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	p.lookup, p.now = dns.lookup, clock.now
	return p, dns, clock
}

func TestPeersAllowed(t *testing.T) {
	p, dns, _ := testPeers(t, "agent-net", "10.9.0.0/16", "192.0.2.7")
	dns.set("agent-net", "172.20.0.3")
	for _, tc := range []struct {
		name string
		ip   string
		want bool
	}{
		{"loopback", "127.0.0.1", true},
		{"other loopback", "127.0.0.53", true},
		{"ipv6 loopback", "::1", true},
		{"mapped loopback", "::ffff:127.0.0.1", true},
		{"listed name", "172.20.0.3", true},
		{"listed name, mapped", "::ffff:172.20.0.3", true},
		{"listed ip", "192.0.2.7", true},
		{"listed cidr", "10.9.200.1", true},
		{"the bridge gateway, same subnet as the name", "172.20.0.1", false},
		{"a sibling on the subnet", "172.20.0.4", false},
		{"next to the listed ip", "192.0.2.8", false},
		{"outside the cidr", "10.10.0.1", false},
		{"unspecified", "0.0.0.0", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := p.Allowed(netip.MustParseAddr(tc.ip)); got != tc.want {
				t.Errorf("Allowed(%s) = %v, want %v", tc.ip, got, tc.want)
			}
		})
	}
	if p.Allowed(netip.Addr{}) {
		t.Error("the zero address (a peer without an IP) is allowed")
	}
}

func TestNoPeersMeansLoopbackOnly(t *testing.T) {
	p, dns, _ := testPeers(t)
	if !p.Allowed(netip.MustParseAddr("127.0.0.1")) {
		t.Error("loopback refused")
	}
	for _, ip := range []string{"172.20.0.3", "10.0.0.1", "fd00::1"} {
		if p.Allowed(netip.MustParseAddr(ip)) {
			t.Errorf("%s allowed with no peers listed", ip)
		}
	}
	if n := dns.count(); n != 0 {
		t.Errorf("%d lookups with no names to look up", n)
	}
}

// TestPeerNameFollowsItsAddress: agent-net recreated with a new address is
// allowed at its new address once a lookup has seen it, and refused at
// the old one; lookups caused by strangers are rate-limited.
func TestPeerNameFollowsItsAddress(t *testing.T) {
	p, dns, clock := testPeers(t, "agent-net")
	dns.set("agent-net", "172.20.0.3")
	oldIP, newIP, stranger := netip.MustParseAddr("172.20.0.3"), netip.MustParseAddr("172.20.0.9"), netip.MustParseAddr("172.20.0.1")
	if !p.Allowed(oldIP) {
		t.Fatal("agent-net refused at its address")
	}
	// A burst of strangers within one interval costs at most one lookup.
	before := dns.count()
	for range 100 {
		if p.Allowed(stranger) {
			t.Fatal("a stranger was allowed")
		}
	}
	if n := dns.count() - before; n > 1 {
		t.Errorf("100 strangers within %v caused %d lookups, want at most 1", PeerRefreshInterval, n)
	}

	dns.set("agent-net", "172.20.0.9")
	clock.advance(PeerRefreshInterval)
	if !p.Allowed(newIP) {
		t.Error("agent-net refused at its new address after the interval")
	}
	if p.Allowed(oldIP) {
		t.Error("agent-net's old address is still allowed after a lookup saw the new one")
	}
	// Known addresses cost no lookup.
	before = dns.count()
	for range 10 {
		p.Allowed(newIP)
	}
	if n := dns.count() - before; n != 0 {
		t.Errorf("an allowed peer caused %d lookups", n)
	}
	// A name that stops resolving allows nothing.
	dns.set("agent-net")
	clock.advance(PeerRefreshInterval)
	p.Allowed(stranger)
	if p.Allowed(newIP) {
		t.Error("an address is still allowed after its name stopped resolving")
	}
}

// fakeConn records whether anything read from, wrote to or closed it.
type fakeConn struct {
	net.Conn // unused methods panic
	remote   net.Addr
	read     atomic.Bool
	wrote    atomic.Bool
	closed   atomic.Bool
}

func (c *fakeConn) Read([]byte) (int, error)    { c.read.Store(true); return 0, io.EOF }
func (c *fakeConn) Write(b []byte) (int, error) { c.wrote.Store(true); return len(b), nil }
func (c *fakeConn) Close() error                { c.closed.Store(true); return nil }
func (c *fakeConn) RemoteAddr() net.Addr        { return c.remote }

// fakeListener hands out the conns it is given, then reports closed.
// onAccept, when set, is called with the count before each is handed out.
type fakeListener struct {
	conns    chan net.Conn
	n        int
	onAccept func(n int)
}

func (l *fakeListener) Accept() (net.Conn, error) {
	c, ok := <-l.conns
	if !ok {
		return nil, net.ErrClosed
	}
	l.n++
	if l.onAccept != nil {
		l.onAccept(l.n)
	}
	return c, nil
}
func (l *fakeListener) Close() error   { return nil }
func (l *fakeListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4zero, Port: 8888} }

func tcpAddr(s string) net.Addr { return net.TCPAddrFromAddrPort(netip.MustParseAddrPort(s)) }

func TestAllowPeersAccept(t *testing.T) {
	for _, tc := range []struct {
		name   string
		remote net.Addr
		allow  bool
	}{
		{"loopback ok", tcpAddr("127.0.0.1:40000"), true},
		{"listed peer ok", tcpAddr("172.20.0.3:40000"), true},
		{"unlisted refused without reading", tcpAddr("172.20.0.4:40000"), false},
		{"gateway refused without reading", tcpAddr("172.20.0.1:40000"), false},
		{"no IP refused", &net.UnixAddr{Name: "@x", Net: "unix"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, dns, _ := testPeers(t, "agent-net")
			dns.set("agent-net", "172.20.0.3")
			var logs bytes.Buffer
			inner := &fakeListener{conns: make(chan net.Conn, 2)}
			ln := AllowPeers(inner, p, slog.New(slog.NewJSONHandler(&logs, nil)))
			c := &fakeConn{remote: tc.remote}
			inner.conns <- c
			close(inner.conns)
			got, err := ln.Accept()
			if tc.allow {
				if err != nil || got != c {
					t.Fatalf("Accept = %v, %v; want the connection", got, err)
				}
				if c.closed.Load() {
					t.Error("an allowed connection was closed")
				}
				return
			}
			if !errors.Is(err, net.ErrClosed) {
				t.Fatalf("Accept = %v, %v; want the refused connection skipped", got, err)
			}
			if !c.closed.Load() || c.read.Load() || c.wrote.Load() {
				t.Errorf("refused connection: closed %v, read %v, wrote %v; want closed only", c.closed.Load(), c.read.Load(), c.wrote.Load())
			}
			if !strings.Contains(logs.String(), "refused a connection") || !strings.Contains(logs.String(), tc.remote.String()) {
				t.Errorf("refusal not logged with the peer:\n%s", logs.String())
			}
		})
	}
}

func TestRefusalsAreLoggedSparingly(t *testing.T) {
	p, _, clock := testPeers(t)
	var logs bytes.Buffer
	inner := &fakeListener{conns: make(chan net.Conn, 200), onAccept: func(n int) {
		if n == 101 {
			clock.advance(refusalLogEvery)
		}
	}}
	ln := AllowPeers(inner, p, slog.New(slog.NewJSONHandler(&logs, nil)))
	for range 100 {
		inner.conns <- &fakeConn{remote: tcpAddr("172.20.0.4:1")}
	}
	inner.conns <- &fakeConn{remote: tcpAddr("172.20.0.5:1")}
	close(inner.conns)
	if _, err := ln.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[1], `"refused_unlogged":99`) {
		t.Errorf("want 2 lines, the second counting 99 unlogged refusals:\n%s", logs.String())
	}
}

// localNonLoopback returns an IPv4 address of this machine that is not
// loopback, or skips.
func localNonLoopback(t *testing.T) netip.Addr {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() {
			ip, _ := netip.AddrFromSlice(n.IP.To4())
			return ip
		}
	}
	t.Skip("no non-loopback IPv4 address on this machine")
	return netip.Addr{}
}

// TestAllowPeersResetsRealConnections: over real sockets, a peer that is
// not allowed is reset (or sees the connection end) with no byte from the
// server, and the server's handler never sees it; loopback and a listed
// address are served.
func TestAllowPeersResetsRealConnections(t *testing.T) {
	other := localNonLoopback(t)
	for _, tc := range []struct {
		name  string
		peers []string
		from  netip.Addr
		serve bool
	}{
		{"loopback served", nil, netip.MustParseAddr("127.0.0.1"), true},
		{"unlisted address reset", nil, other, false},
		{"listed address served", []string{other.String()}, other, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := net.Listen("tcp4", "0.0.0.0:0")
			if err != nil {
				t.Fatal(err)
			}
			p := NewPeers(PeerList(tc.peers))
			ln := AllowPeers(raw, p, nil)
			defer ln.Close()
			var served atomic.Int32
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					served.Add(1)
					_, _ = c.Write([]byte("hello\n"))
					c.Close()
				}
			}()
			port := raw.Addr().(*net.TCPAddr).Port
			d := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(tc.from, 0)), Timeout: 2 * time.Second}
			c, err := d.Dial("tcp4", netip.AddrPortFrom(tc.from, uint16(port)).String())
			if !tc.serve && errors.Is(err, syscall.ECONNRESET) {
				return // reset before the dial returned: refused, nothing sent
			}
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_, _ = c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			got, err := io.ReadAll(c)
			if tc.serve {
				if string(got) != "hello\n" {
					t.Fatalf("read %q, %v; want the greeting", got, err)
				}
				return
			}
			if len(got) != 0 {
				t.Errorf("a refused peer read %q", got)
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("a refused peer's connection was left open")
			}
			if err != nil && !errors.Is(err, syscall.ECONNRESET) {
				t.Errorf("read error %v, want a reset or the end", err)
			}
			if served.Load() != 0 {
				t.Error("the server accepted a refused peer")
			}
		})
	}
}
