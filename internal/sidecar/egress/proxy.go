package egress

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/elazarl/goproxy"

	"github.com/bot-bottle/bot-bottle/internal/shared/audit"
	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// Proxy is the egress forward proxy. Its ServeHTTP takes the agent's
// proxy requests: CONNECT (through goproxy) and plain-HTTP absolute-form
// requests (through the same forwarder the MITM'd requests use).
type Proxy struct {
	cfg    Config
	log    *slog.Logger
	audit  *audit.Log
	state  atomic.Pointer[state]
	certs  *minter
	dialer *dialer
	tr     *http.Transport
	rp     *httputil.ReverseProxy // forwards allowed requests over tr

	connect *goproxy.ProxyHttpServer // CONNECT handling
	inner   *http.Server             // serves requests inside MITM'd tunnels
	mitm    *connListener            // feeds inner
	tunnels chan struct{}            // semaphore: one token per open tunnel

	targets sync.Map // *tls.Conn → *target, for inner's ConnContext
}

// target is the CONNECT target of one MITM'd tunnel.
type target struct {
	host, port string         // bare host, decimal port
	release    func()         // frees the tunnel's semaphore slot; idempotent
	batch      *recordBatcher // under the agent's TLS, if it speaks HTTP/1.1; else nil
}

type ctxKey int

const (
	targetKey ctxKey = iota // *target in inner requests' contexts
	allowKey                // []netip.Prefix the transport's dialer may reach
)

// NewProxy builds a proxy from a validated config. It loads the routes,
// secrets and CA; an error names what is wrong.
func NewProxy(cfg Config, log *slog.Logger, auditW io.Writer) (*Proxy, error) {
	cfg.withDefaults()
	st, err := loadState(cfg.RoutesFile, cfg.SecretsDir, log)
	if err != nil {
		return nil, err
	}
	certs, err := loadMinter(cfg.CACert, cfg.CAKey)
	if err != nil {
		return nil, err
	}
	roots, err := loadRoots(cfg.UpstreamCA)
	if err != nil {
		return nil, err
	}
	p := &Proxy{
		cfg: cfg, log: log, audit: audit.New(auditW, log), certs: certs,
		dialer:  newDialer(cfg.Resolve, cfg.DialTimeout),
		mitm:    newConnListener(),
		tunnels: make(chan struct{}, cfg.MaxTunnels),
	}
	p.state.Store(st)
	p.tr = &http.Transport{
		Proxy: nil, // never an environment proxy: egress is the way out
		DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			host, port, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			allow, _ := ctx.Value(allowKey).([]netip.Prefix)
			return p.dialer.dial(ctx, host, port, allow)
		},
		TLSClientConfig:   &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2: true,
		// Bounded h2 receive windows keep a fast download from buffering
		// megabytes per stream inside egress. (Frames stay at the default
		// 16 KiB: each connection keeps a read buffer as large as the
		// largest frame it saw, and 1 MiB frames gained nothing measurable.)
		HTTP2:                 &http.HTTP2Config{MaxReceiveBufferPerStream: 1 << 20, MaxReceiveBufferPerConnection: 4 << 20},
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   cfg.HandshakeTimeout,
		ExpectContinueTimeout: time.Second,
	}
	p.rp = p.newReverseProxy()
	p.inner = &http.Server{
		Handler:           http.HandlerFunc(p.serveInner),
		ReadHeaderTimeout: cfg.HandshakeTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    1 << 20,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			if t, ok := p.targets.Load(c); ok {
				return context.WithValue(ctx, targetKey, t)
			}
			return ctx
		},
		ConnState: func(c net.Conn, s http.ConnState) {
			if s == http.StateClosed {
				if t, ok := p.targets.LoadAndDelete(c); ok {
					t.(*target).release()
				}
			}
		},
	}
	p.inner.Protocols = new(http.Protocols)
	p.inner.Protocols.SetHTTP1(true)
	p.inner.Protocols.SetHTTP2(true)

	p.connect = goproxy.NewProxyHttpServer()
	p.connect.Verbose = false // its logs carry URLs with query strings
	p.connect.Logger = discardLogger{}
	p.connect.Tr = nil
	p.connect.OnRequest().HandleConnectFunc(p.handleConnect)
	return p, nil
}

// Reload rereads the routes file and secrets; on error the old state stays.
func (p *Proxy) Reload() error {
	st, err := loadState(p.cfg.RoutesFile, p.cfg.SecretsDir, p.log)
	if err != nil {
		return err
	}
	p.state.Store(st)
	return nil
}

// ServeHTTP is the proxy port's handler.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodConnect:
		p.connect.ServeHTTP(w, r)
	case r.URL.IsAbs():
		p.serveForward(w, r, nil)
	default:
		http.Error(w, "egress: this is a forward proxy; send proxy requests (HTTPS_PROXY=http://egress:8888)", http.StatusBadRequest)
	}
}

// ServeInner starts serving MITM'd connections; it returns when the inner
// server stops.
func (p *Proxy) serveInnerLoop() error {
	err := p.inner.Serve(p.mitm)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

func (p *Proxy) serveInner(w http.ResponseWriter, r *http.Request) {
	t, _ := r.Context().Value(targetKey).(*target)
	if t == nil {
		http.Error(w, "egress: request outside a tunnel", http.StatusBadRequest)
		return
	}
	p.serveForward(w, r, t)
}

// handleConnect decides a CONNECT (ConnectDecision): refuse, tunnel
// (tls_passthrough) or MITM.
func (p *Proxy) handleConnect(hostport string, ctx *goproxy.ProxyCtx) (*goproxy.ConnectAction, string) {
	start := time.Now()
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		host, port = hostport, "443"
	}
	host = strings.Trim(host, "[]")
	st := p.state.Load()
	d := ConnectDecision(st.routes, host, port)
	rec := auditRecord{method: http.MethodConnect, host: host, start: start}
	if !d.Allow {
		// Refused before any TLS handshake or upstream dial.
		ctx.Resp = textResponse(ctx.Req, d.Status, DenyBody(d, host))
		p.audit.Write(rec.done(d.Status, d.Rule, d.Reason, 0, 0))
		return &goproxy.ConnectAction{Action: goproxy.ConnectReject}, hostport
	}
	route := d.Route
	// A wildcard route resolves names the agent makes up: a secret in the
	// name would leave through DNS. Scan the name like any other request data.
	if strings.HasPrefix(route.Host, "*.") {
		if ref := p.scan(st, []byte(host), route, "host name"); ref != nil {
			ctx.Resp = textResponse(ctx.Req, ref.status, ref.reason+"\n")
			p.audit.Write(rec.done(ref.status, ref.rule, "secret in the host name", 0, 0))
			return &goproxy.ConnectAction{Action: goproxy.ConnectReject}, hostport
		}
	}
	select {
	case p.tunnels <- struct{}{}:
	default:
		ctx.Resp = textResponse(ctx.Req, http.StatusServiceUnavailable, "egress: too many open tunnels; close some connections and retry\n")
		p.audit.Write(rec.done(http.StatusServiceUnavailable, RuleTunnelCap, "too many open tunnels", 0, 0))
		return &goproxy.ConnectAction{Action: goproxy.ConnectReject}, hostport
	}
	var once sync.Once
	release := func() { once.Do(func() { <-p.tunnels }) }
	t := &target{host: host, port: d.Port, release: release}
	if route.TLSPassthrough {
		return &goproxy.ConnectAction{Action: goproxy.ConnectHijack, Hijack: func(req *http.Request, client net.Conn, _ *goproxy.ProxyCtx) {
			defer release()
			p.passthrough(req, client, t, route, rec)
		}}, hostport
	}
	return &goproxy.ConnectAction{Action: goproxy.ConnectHijack, Hijack: func(_ *http.Request, client net.Conn, _ *goproxy.ProxyCtx) {
		p.startMITM(client, t)
	}}, hostport
}

// startMITM answers the CONNECT, terminates the agent's TLS with a leaf
// for the CONNECT host, and hands the connection to the inner server.
func (p *Proxy) startMITM(client net.Conn, t *target) {
	if _, err := io.WriteString(client, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		client.Close()
		t.release()
		return
	}
	leaf, err := p.certs.leaf(contract.NormalizeHost(t.host))
	if err != nil {
		p.log.Error("mint leaf certificate", "host", t.host, "err", err)
		client.Close()
		t.release()
		return
	}
	tc, raw := newAgentTLS(client, &tls.Config{
		Certificates: []tls.Certificate{*leaf},
		NextProtos:   []string{"h2", "http/1.1"},
		MinVersion:   tls.VersionTLS12,
	})
	// The handshake deadline also reaps CONNECTs that never start TLS.
	_ = client.SetDeadline(time.Now().Add(p.cfg.HandshakeTimeout))
	if err := tc.Handshake(); err != nil {
		p.log.Debug("agent TLS handshake failed", "host", t.host, "err", err)
		client.Close()
		t.release()
		return
	}
	_ = client.SetDeadline(time.Time{})
	if tc.ConnectionState().NegotiatedProtocol != "h2" {
		// HTTP/1.1: one handler goroutine writes each response, so it may
		// batch them. (net/http's h2 server writes from its own goroutine.)
		t.batch = raw
	}
	p.targets.Store(tc, t)
	if !p.mitm.push(tc) {
		p.targets.Delete(tc)
		tc.Close()
		t.release()
	}
}

// passthrough tunnels a tls_passthrough route without reading it.
func (p *Proxy) passthrough(req *http.Request, client net.Conn, t *target, route *contract.Route, rec auditRecord) {
	defer client.Close()
	ctx, cancel := context.WithTimeout(req.Context(), p.cfg.DialTimeout)
	up, err := p.dialer.dial(ctx, t.host, t.port, p.state.Load().routes.SSRFPrefixes(route))
	cancel()
	if err != nil {
		status, rule := http.StatusBadGateway, RuleUpstream
		if errors.Is(err, ErrSSRF) || errors.Is(err, ErrSelf) {
			status, rule = http.StatusForbidden, RuleSSRF
		}
		_ = textResponse(req, status, "egress: "+err.Error()+"\n").Write(client)
		p.audit.Write(rec.done(status, rule, err.Error(), 0, 0))
		return
	}
	defer up.Close()
	if _, err := io.WriteString(client, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		return
	}
	// Pin the tunnel to its host: the ClientHello must name the CONNECT
	// host, or the agent could reach any other site the upstream serves
	// (domain fronting). It is read whole before any byte goes upstream.
	_ = client.SetReadDeadline(time.Now().Add(p.cfg.HandshakeTimeout))
	hello, first, err := readClientHello(client)
	_ = client.SetReadDeadline(time.Time{})
	if err != nil || !pinnedSNI(hello, t.host) {
		reason := "the tunnel did not start with a TLS ClientHello"
		if hello != nil {
			reason = "the TLS ClientHello does not name the CONNECT host (SNI missing, different or encrypted)"
		}
		p.audit.Write(rec.done(http.StatusForbidden, RuleSNIMismatch, reason, int64(len(first)), 0))
		return
	}
	if _, err := up.Write(first); err != nil {
		return
	}
	in, out := pipeIdle(client, up, p.cfg.IdleTimeout)
	in += int64(len(first))
	p.audit.Write(rec.done(http.StatusOK, RulePassthrough, "", in, out))
}

// pipeIdle copies both ways until either side closes or stays silent for
// idle; it returns the bytes sent agent→upstream and upstream→agent.
func pipeIdle(a, b net.Conn, idle time.Duration) (int64, int64) {
	var ab, ba int64
	var wg sync.WaitGroup
	cp := func(dst, src net.Conn, n *int64) {
		defer wg.Done()
		buf := make([]byte, 32<<10)
		for {
			_ = src.SetReadDeadline(time.Now().Add(idle))
			k, err := src.Read(buf)
			if k > 0 {
				if _, werr := dst.Write(buf[:k]); werr != nil {
					break
				}
				*n += int64(k)
			}
			if err != nil {
				break
			}
		}
		// Closing both ends unblocks the other direction.
		a.Close()
		b.Close()
	}
	wg.Add(2)
	go cp(b, a, &ab)
	go cp(a, b, &ba)
	wg.Wait()
	return ab, ba
}

// textResponse builds a plain-text response (for refusals written on a
// hijacked connection). TransferEncoding is left empty on purpose: a
// refusal has a fixed length.
func textResponse(req *http.Request, status int, body string) *http.Response {
	return &http.Response{
		StatusCode: status, Status: strconv.Itoa(status) + " " + http.StatusText(status),
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        http.Header{"Content-Type": {"text/plain; charset=utf-8"}, "Connection": {"close"}},
		Body:          io.NopCloser(strings.NewReader(body)),
		ContentLength: int64(len(body)),
		Close:         true,
		Request:       req,
	}
}

// connListener is a net.Listener fed with already-accepted connections.
type connListener struct {
	ch     chan net.Conn
	done   chan struct{}
	closed sync.Once
}

func newConnListener() *connListener {
	return &connListener{ch: make(chan net.Conn), done: make(chan struct{})}
}

func (l *connListener) push(c net.Conn) bool {
	select {
	case l.ch <- c:
		return true
	case <-l.done:
		return false
	}
}

func (l *connListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *connListener) Close() error {
	l.closed.Do(func() { close(l.done) })
	return nil
}

func (l *connListener) Addr() net.Addr { return &net.TCPAddr{} }

type discardLogger struct{}

func (discardLogger) Printf(string, ...any) {}
