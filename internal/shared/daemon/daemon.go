// Package daemon holds the plumbing the sidecar daemons share: opening
// their service and admin listeners (each accepting only the bottle's own
// peers, see AllowPeers), running their servers as one group, binding
// flags to environment variables, and reporting required settings that
// are missing.
package daemon

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
)

// AdminOff is the --admin value that disables the admin port.
const AdminOff = "off"

// Endpoint is one of a daemon's listeners: where it listens and who,
// besides loopback, may connect (see AllowPeers).
type Endpoint struct {
	// Addr is the listen address, such as ":8888"; AdminOff for an admin
	// endpoint that is off.
	Addr string
	// Peers may connect besides loopback; empty: loopback only.
	Peers PeerList
}

// Listen opens the service listener and the admin listener (none when
// admin.Addr is AdminOff), each accepting only its peers and logging the
// ones it refuses to log. On error nothing stays open.
func Listen(svc, admin Endpoint, log *slog.Logger) (ln, adminLn net.Listener, err error) {
	if ln, err = net.Listen("tcp", svc.Addr); err != nil {
		return nil, nil, fmt.Errorf("listen %s: %w", svc.Addr, err)
	}
	if admin.Addr != AdminOff {
		if adminLn, err = net.Listen("tcp", admin.Addr); err != nil {
			ln.Close()
			return nil, nil, fmt.Errorf("listen --admin %s: %w", admin.Addr, err)
		}
		adminLn = AllowPeers(adminLn, NewPeers(admin.Peers), log)
	}
	return AllowPeers(ln, NewPeers(svc.Peers), log), adminLn, nil
}

// Group runs a daemon's serve loops; the first one to fail (other than by
// being shut down) is reported on Err.
type Group struct {
	wg   sync.WaitGroup
	errc chan error // holds the first failure
	once sync.Once
}

// Go runs f, naming it in its error.
func (g *Group) Go(name string, f func() error) {
	g.once.Do(func() { g.errc = make(chan error, 1) })
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		if err := f(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			select {
			case g.errc <- fmt.Errorf("%s: %w", name, err):
			default: // a failure is already reported
			}
		}
	}()
}

// Err delivers the first failure.
func (g *Group) Err() <-chan error {
	g.once.Do(func() { g.errc = make(chan error, 1) })
	return g.errc
}

// Wait waits for every loop to return.
func (g *Group) Wait() { g.wg.Wait() }

// Required is a setting that must not be empty.
type Required struct {
	Value, Flag, Env string
}

// Missing returns one error per empty setting, naming its flag and env var.
func Missing(reqs ...Required) []error {
	var errs []error
	for _, r := range reqs {
		if r.Value == "" {
			errs = append(errs, fmt.Errorf("%s is required (or set %s)", r.Flag, r.Env))
		}
	}
	return errs
}
