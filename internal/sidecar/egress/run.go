package egress

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"runtime/debug"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/shared/daemon"
)

// shutdownGrace is how long in-flight requests get on shutdown.
const shutdownGrace = 10 * time.Second

// Run is egress's main: parse flags (and their env vars), load the
// policy, serve until ctx ends, reload on SIGHUP.
func Run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, log, ok, err := daemon.Start(ParseConfig, args, getenv, stderr)
	if !ok {
		return err
	}
	audit := stdout
	if cfg.Audit != "" && cfg.Audit != "-" {
		f, err := os.OpenFile(cfg.Audit, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return fmt.Errorf("open audit log: %w", err)
		}
		defer f.Close()
		audit = f
	}
	p, err := NewProxy(cfg, log, audit)
	if err != nil {
		return err
	}
	// Building the DLP scanner parses gitleaks' whole configuration; hand
	// that garbage back to the OS now rather than idling on it.
	debug.FreeOSMemory()
	ln, adminLn, err := daemon.Listen(daemon.Endpoint{Addr: cfg.Listen, Peers: cfg.AllowPeers},
		daemon.Endpoint{Addr: cfg.Admin, Peers: cfg.AdminAllowPeers}, log)
	if err != nil {
		return err
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	reload := make(chan struct{})
	go func() {
		for {
			select {
			case <-hup:
				select {
				case reload <- struct{}{}:
				case <-ctx.Done():
					return
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	return p.Serve(ctx, ln, adminLn, reload)
}

// Serve runs the proxy on ln and the admin endpoints on adminLn (nil:
// none) until ctx ends, then shuts down gracefully. Each receive on
// reload rereads the routes file and secrets (a nil channel: never);
// Run feeds it from SIGHUP.
func (p *Proxy) Serve(ctx context.Context, ln, adminLn net.Listener, reload <-chan struct{}) error {
	var draining atomic.Bool
	for _, l := range []net.Listener{ln, adminLn} {
		if l == nil {
			continue
		}
		if ap, err := netip.ParseAddrPort(l.Addr().String()); err == nil {
			p.dialer.self = append(p.dialer.self, ap)
		}
	}
	outer := &http.Server{
		Handler:           p,
		ReadHeaderTimeout: p.cfg.HandshakeTimeout,
		IdleTimeout:       p.cfg.IdleTimeout,
		MaxHeaderBytes:    1 << 20,
		ErrorLog:          slog.NewLogLogger(p.log.Handler(), slog.LevelDebug),
	}
	var admin *http.Server
	var g daemon.Group
	g.Go("proxy", func() error { return outer.Serve(ln) })
	g.Go("mitm", p.serveInnerLoop)
	if adminLn != nil {
		admin = &http.Server{Handler: p.adminHandler(&draining), ReadHeaderTimeout: 5 * time.Second}
		g.Go("admin", func() error { return admin.Serve(adminLn) })
	}
	p.log.Info("egress listening", "proxy", ln.Addr().String(), "routes", len(p.state.Load().routes.Routes))

	var runErr error
loop:
	for {
		select {
		case <-reload:
			if err := p.Reload(); err != nil {
				p.log.Error("reload refused; keeping the previous routes", "err", err)
			} else {
				p.log.Info("routes reloaded", "routes", len(p.state.Load().routes.Routes))
			}
			debug.FreeOSMemory()
		case runErr = <-g.Err():
			break loop
		case <-ctx.Done():
			break loop
		}
	}
	draining.Store(true)
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	_ = outer.Shutdown(sctx)
	p.mitm.Close()
	_ = p.inner.Shutdown(sctx)
	if admin != nil {
		_ = admin.Shutdown(sctx)
	}
	p.tr.CloseIdleConnections()
	g.Wait()
	return runErr
}
