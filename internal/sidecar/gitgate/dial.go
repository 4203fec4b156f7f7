package gitgate

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"golang.org/x/net/proxy"
)

// Upstream timeouts. go-git's SSH transport dials without a handshake
// deadline and does not watch a context while connecting, so a silent
// upstream would hang a fetch forever; every connection the gate makes goes
// through a dialAttempt that bounds each phase.
const (
	// connectTimeout bounds the TCP connect.
	connectTimeout = 10 * time.Second
	// handshakeTimeout bounds dial, SSH handshake, authentication and
	// opening the session, all together.
	handshakeTimeout = 10 * time.Second
	// idleTimeout bounds each read and write once the session is open. Git
	// servers send keep-alives while they compute packs or run hooks.
	idleTimeout = 2 * time.Minute
)

// dialScheme is the proxy URL scheme through which go-git's SSH transport
// reaches dialAttempt: golang.org/x/net/proxy's registry is the one hook the
// transport offers for dialling.
const dialScheme = "gitgate-dial"

// attempts maps the host part of a dialScheme URL to its attempt.
var attempts = struct {
	sync.Mutex // guards next and m
	next       uint64
	m          map[string]*dialAttempt
}{m: map[string]*dialAttempt{}}

func init() {
	proxy.RegisterDialerType(dialScheme, func(u *url.URL, _ proxy.Dialer) (proxy.Dialer, error) {
		attempts.Lock()
		a := attempts.m[u.Host]
		attempts.Unlock()
		if a == nil {
			return nil, errors.New("gitgate: dial attempt is gone")
		}
		return a, nil
	})
	// Without this, ~/.ssh/config could redirect an upstream to another
	// host or port.
	gitssh.DefaultSSHConfig = nil
}

// dialAttempt is one SSH connection to an upstream: it dials with a
// connect timeout, holds the connection to a handshake deadline until
// connected is called, then to idle deadlines, and closes it when ctx ends.
type dialAttempt struct {
	id  string
	ctx context.Context

	mu   sync.Mutex // guards conn and stop
	conn *deadlineConn
	stop func() bool // stops the close-on-ctx hook
}

func newDialAttempt(ctx context.Context) *dialAttempt {
	attempts.Lock()
	defer attempts.Unlock()
	attempts.next++
	a := &dialAttempt{id: "a" + strconv.FormatUint(attempts.next, 10), ctx: ctx}
	attempts.m[a.id] = a
	return a
}

// proxyURL is the URL to put in the go-git endpoint's proxy options.
func (a *dialAttempt) proxyURL() string { return dialScheme + "://" + a.id }

// Dial implements proxy.Dialer.
func (a *dialAttempt) Dial(network, addr string) (net.Conn, error) {
	return a.DialContext(a.ctx, network, addr)
}

// DialContext implements proxy.ContextDialer. It uses the attempt's
// context, not the caller's: go-git passes a background one.
func (a *dialAttempt) DialContext(_ context.Context, network, addr string) (net.Conn, error) {
	d := net.Dialer{Timeout: connectTimeout}
	c, err := d.DialContext(a.ctx, network, addr)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil, fmt.Errorf("connect to %s: no answer within %s", addr, connectTimeout)
		}
		return nil, fmt.Errorf("connect to %s: %w", addr, err)
	}
	dc := &deadlineConn{Conn: c}
	_ = c.SetDeadline(time.Now().Add(handshakeTimeout))
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.conn != nil {
		c.Close()
		return nil, errors.New("gitgate: dial attempt already used")
	}
	a.conn = dc
	a.stop = context.AfterFunc(a.ctx, func() { c.Close() })
	return dc, nil
}

// connected switches the connection from the handshake deadline to idle
// deadlines.
func (a *dialAttempt) connected() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.conn != nil {
		a.conn.idle.Store(true)
		_ = a.conn.SetDeadline(time.Time{})
	}
}

// handshakeTimedOut reports whether the connection hit its handshake
// deadline.
func (a *dialAttempt) handshakeTimedOut() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.conn != nil && !a.conn.idle.Load() && a.conn.timedOut.Load()
}

// release forgets the attempt and closes its connection if still open.
func (a *dialAttempt) release() {
	attempts.Lock()
	delete(attempts.m, a.id)
	attempts.Unlock()
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.stop != nil {
		a.stop()
	}
	if a.conn != nil {
		a.conn.Close()
	}
}

// deadlineConn sets a fresh deadline before each read and write once idle
// is set, and records whether an operation timed out.
type deadlineConn struct {
	net.Conn
	idle     atomic.Bool
	timedOut atomic.Bool
}

func (c *deadlineConn) Read(p []byte) (int, error) {
	if c.idle.Load() {
		_ = c.Conn.SetReadDeadline(time.Now().Add(idleTimeout))
	}
	n, err := c.Conn.Read(p)
	c.noteTimeout(err)
	return n, err
}

func (c *deadlineConn) Write(p []byte) (int, error) {
	if c.idle.Load() {
		_ = c.Conn.SetWriteDeadline(time.Now().Add(idleTimeout))
	}
	n, err := c.Conn.Write(p)
	c.noteTimeout(err)
	return n, err
}

func (c *deadlineConn) noteTimeout(err error) {
	var ne net.Error
	if err != nil && errors.As(err, &ne) && ne.Timeout() {
		c.timedOut.Store(true)
	}
}
