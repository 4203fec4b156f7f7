package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"regexp"
	"strings"
	"sync"
	"time"
)

// PeerRefreshInterval is the least time between two lookups of a
// listener's peer names caused by unknown addresses.
const PeerRefreshInterval = 500 * time.Millisecond

// peerLookupTimeout bounds one lookup of one name.
const peerLookupTimeout = 2 * time.Second

// refusalLogEvery is how often at most a listener logs refused peers; the
// line counts the refusals it did not log.
const refusalLogEvery = 10 * time.Second

// PeerList is the value of a daemon's --allow-peers flag: who besides
// loopback may connect to a listener. Each item is a host name (in a
// bottle, a compose service name such as "agent-net"), an IP address or
// a CIDR; items come comma-separated or from repeating the flag. An
// empty list allows loopback only.
type PeerList []string

// peerNameRE is a compose service or DNS name.
var peerNameRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9_.-]{0,252})$`)

func (l *PeerList) String() string {
	if l == nil {
		return ""
	}
	return strings.Join(*l, ",")
}

// Set adds the comma-separated items of v.
func (l *PeerList) Set(v string) error {
	for _, item := range strings.Split(v, ",") {
		item = strings.TrimSpace(item)
		if err := validPeer(item); err != nil {
			return err
		}
		*l = append(*l, item)
	}
	return nil
}

func validPeer(s string) error {
	if s == "" {
		return fmt.Errorf("empty peer; give a service name, an IP or a CIDR")
	}
	if strings.Contains(s, "/") {
		if _, err := netip.ParsePrefix(s); err != nil {
			return fmt.Errorf("peer %q is not a CIDR such as 10.0.0.0/24", s)
		}
		return nil
	}
	if _, err := netip.ParseAddr(s); err == nil {
		return nil
	}
	if !peerNameRE.MatchString(s) {
		return fmt.Errorf("peer %q is not a host name, an IP or a CIDR", s)
	}
	return nil
}

// PeersHelp is the --help text of an --allow-peers flag guarding what.
func PeersHelp(what string) string {
	return "who besides loopback may connect to " + what +
		": service names (looked up again when an unknown address connects), IPs or CIDRs; unset: loopback only"
}

// Peers decides whether an address may connect. It is safe for
// concurrent use.
type Peers struct {
	names    []string
	prefixes []netip.Prefix

	// lookup resolves a name; now is the clock. Tests replace them.
	lookup func(ctx context.Context, host string) ([]netip.Addr, error)
	now    func() time.Time

	mu     sync.Mutex          // guards known and looked
	known  map[netip.Addr]bool // the names' addresses at the last lookup
	looked time.Time           // when the names were last looked up; zero: never
}

// NewPeers returns the decision for l, which Set has checked. The names
// are looked up through the system resolver the first time an address
// that is neither loopback nor listed connects.
func NewPeers(l PeerList) *Peers {
	p := &Peers{lookup: lookupIP, now: time.Now}
	for _, item := range l {
		if pfx, err := netip.ParsePrefix(item); err == nil {
			p.prefixes = append(p.prefixes, pfx.Masked())
		} else if addr, err := netip.ParseAddr(item); err == nil {
			p.prefixes = append(p.prefixes, netip.PrefixFrom(addr.Unmap(), addr.Unmap().BitLen()))
		} else {
			p.names = append(p.names, item)
		}
	}
	return p
}

// Allowed reports whether ip may connect: a loopback address, a listed
// address or network, or an address a listed name resolves to. When ip is
// none of them, the names are looked up again first, unless the last
// lookup was less than PeerRefreshInterval ago; a name that does not
// resolve contributes nothing (fail closed).
func (p *Peers) Allowed(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() {
		return false
	}
	if ip.IsLoopback() {
		return true
	}
	for _, pfx := range p.prefixes {
		if pfx.Contains(ip) {
			return true
		}
	}
	if len(p.names) == 0 {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.known[ip] {
		return true
	}
	if now := p.now(); p.looked.IsZero() || now.Sub(p.looked) >= PeerRefreshInterval {
		p.looked = now
		p.known = p.resolve()
	}
	return p.known[ip]
}

func lookupIP(ctx context.Context, host string) ([]netip.Addr, error) {
	return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
}

// resolve looks every name up; p.mu is held.
func (p *Peers) resolve() map[netip.Addr]bool {
	known := map[netip.Addr]bool{}
	for _, name := range p.names {
		ctx, cancel := context.WithTimeout(context.Background(), peerLookupTimeout)
		addrs, err := p.lookup(ctx, name)
		cancel()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			known[a.Unmap()] = true
		}
	}
	return known
}

// AllowPeers returns ln accepting only connections from loopback and
// p's peers. Any other connection is reset (closed with SO_LINGER 0)
// before a byte of it is read, and Accept waits for the next one; refused
// peers are logged to log, at most one line per ten seconds. A nil log
// logs nothing.
//
// This is how a sidecar serves only its own bottle (design invariant 9):
// egress's proxy, git-gate and supervise answer the agent, egress's admin
// port answers supervise, and every port answers loopback (the compose
// healthchecks run inside the container). Anyone else (a container beside
// egress on the bottle's egress network, another bottle, a process on the
// host) is refused.
//
// Binding each listener to the internal network's interface instead would
// not be enough: the host reaches an internal network from the bridge
// gateway, whose address is inside the internal subnet, so "same subnet"
// lets the host in, as it does any container someone attaches to the
// network. So the peer's address is checked as the connection is
// accepted: loopback, an address a listed name resolves to (through
// Docker's embedded DNS, so "agent-net" is the agent's namespace and
// nothing else), or a listed IP or CIDR. Names are looked up again when an
// unknown address connects, because agent-net's address changes when it
// is recreated; those lookups are rate-limited (PeerRefreshInterval) so a
// stream of strangers is not a stream of DNS queries.
func AllowPeers(ln net.Listener, p *Peers, log *slog.Logger) net.Listener {
	return &peerListener{Listener: ln, peers: p, log: log}
}

type peerListener struct {
	net.Listener
	peers *Peers
	log   *slog.Logger

	mu      sync.Mutex // guards lastLog and quiet
	lastLog time.Time
	quiet   int // refusals since lastLog that were not logged
}

// Accept returns the next connection from an allowed peer.
func (l *peerListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.peers.Allowed(remoteIP(c.RemoteAddr())) {
			return c, nil
		}
		refuse(c)
		l.logRefusal(c.RemoteAddr())
	}
}

// remoteIP is addr's IP; the zero Addr when it has none (never allowed).
func remoteIP(addr net.Addr) netip.Addr {
	if tcp, ok := addr.(*net.TCPAddr); ok {
		return tcp.AddrPort().Addr().Unmap()
	}
	if addr == nil {
		return netip.Addr{}
	}
	ap, err := netip.ParseAddrPort(addr.String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// refuse resets c: the peer sees the connection reset, with nothing
// written and nothing read.
func refuse(c net.Conn) {
	if tcp, ok := c.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
	_ = c.Close()
}

func (l *peerListener) logRefusal(peer net.Addr) {
	if l.log == nil {
		return
	}
	l.mu.Lock()
	now := l.peers.now()
	if !l.lastLog.IsZero() && now.Sub(l.lastLog) < refusalLogEvery {
		l.quiet++
		l.mu.Unlock()
		return
	}
	quiet := l.quiet
	l.lastLog, l.quiet = now, 0
	l.mu.Unlock()
	l.log.Warn("refused a connection from outside the allowed peers",
		"listener", l.Addr().String(), "peer", peer.String(), "allowed", l.peers.describe(), "refused_unlogged", quiet)
}

// describe lists what is allowed, for log lines.
func (p *Peers) describe() string {
	items := []string{"loopback"}
	for _, pfx := range p.prefixes {
		items = append(items, pfx.String())
	}
	return strings.Join(append(items, p.names...), ",")
}
