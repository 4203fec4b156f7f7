// Package netguard locks a bottle's network namespace down to its on-link
// subnets.
//
// On Docker 20.10 a container on an `internal: true` network still has
// `default via <gateway>`, and the gateway is the host's own address on the
// bridge: the agent could reach every host listener through it. netguard
// runs as a compose service (netguard: root, cap_drop ALL, cap_add
// NET_ADMIN) in the agent's network namespace, which agent-net owns; the
// agent joins that namespace with `network_mode: service:agent-net` and
// without NET_ADMIN, so it can neither see the rules change nor undo them.
//
// In the main routing table netguard deletes every default route and every
// route through a gateway, and adds a prohibit host route for each gateway
// it saw, which beats the on-link subnet route that also covers the
// gateway. Connecting to the gateway then fails with "permission denied",
// and to any other off-link address with "network is unreachable"; sibling
// containers on the subnet stay reachable. It logs one line saying what it
// changed, then stays up, re-applying the rules whenever a route is added
// (Docker adds one when a network is connected), until SIGTERM or SIGINT.
//
// 'netguard check' is the compose healthcheck: it exits 0 only when no
// default or gateway route is left and at least one IPv4 prohibit route is
// in place.
//
// 'netguard hold' owns the namespace and does nothing else: it is PID 1 of
// the agent-net service, which the agent and the netguard service both
// join. Docker gives a restarted container a new network namespace, and a
// container that joined the old one stays there with only loopback; so the
// namespace belongs to a process with no work that could fail, and netguard
// itself can crash and be restarted into the same namespace, the agent
// keeping its network throughout. The routes stay locked while netguard is
// down: Docker changes them only when a network is connected. hold needs
// no capability, ignores every signal that would end it by default except
// SIGTERM and SIGINT (docker stop), and exits 0 on those.
//
// netguard reads no environment variables.
package netguard

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Log field keys.
const (
	keyProhibited = "prohibited"
	keyDeleted    = "deleted"
	keyKept       = "kept"
	keyError      = "error"
)

// resync is how often the rules are re-applied even without a route
// event, in case the subscription missed one.
const resync = 30 * time.Second

const help = `usage: netguard          lock this network namespace down, then wait for SIGTERM
       netguard check    exit 0 only if the namespace is locked down (healthcheck)
       netguard hold     own this network namespace: wait for SIGTERM, doing nothing

netguard runs as root with CAP_NET_ADMIN (and no other capability) in the
container that owns a bottle's network namespace. In the main routing table
it deletes every default route and every route through a gateway, and adds
a prohibit route for each gateway's address: the host's address on the
bridge, which Docker leaves reachable even from an internal network. The
on-link subnet routes stay, so the bottle's sidecars are still reachable.

After applying the rules it logs one JSON line saying what changed, then
re-applies them whenever a route is added, until SIGTERM or SIGINT (exit 0).
It refuses to start without CAP_NET_ADMIN, and fails if it finds no gateway
to prohibit (it could not tell the host's address).

'netguard check' needs no capability. It exits 0 when no default route and
no gateway route is left and at least one IPv4 prohibit route exists, and 1
with the reason otherwise.

'netguard hold' needs no capability. It is the process that owns the
namespace (the agent-net service), so that netguard, in a service of its
own that joins the namespace, can crash and restart without Docker
replacing the namespace the agent lives in. It ignores every signal but
SIGTERM and SIGINT, on which it exits 0.

exit codes:
  0  stopped by SIGTERM/SIGINT (netguard) or locked down (check)
  1  an error, or (check) not locked down
`

// deps are netguard's ties to the system, replaced in tests.
type deps struct {
	// ns is the namespace to lock; netns.None() means our own.
	ns netns.NsHandle
	// hasNetAdmin reports whether we hold CAP_NET_ADMIN.
	hasNetAdmin func() (bool, error)
}

// Run is netguard's main. It returns when ctx ends (nil) or on an error.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return run(ctx, args, stdout, stderr, deps{ns: netns.None(), hasNetAdmin: hasNetAdmin})
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer, d deps) error {
	fs := flag.NewFlagSet("netguard", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(fs.Output(), help) }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fs.Usage()
			return nil
		}
		return err
	}
	switch fs.Arg(0) {
	case "", "check":
	case "hold":
		return hold(ctx)
	default:
		return fmt.Errorf("unknown argument %q: run 'netguard', 'netguard check' or 'netguard hold'", fs.Arg(0))
	}
	h, err := netlink.NewHandleAt(d.ns)
	if err != nil {
		return fmt.Errorf("open netlink: %w", err)
	}
	defer h.Close()
	if fs.Arg(0) == "check" {
		return check(h, stdout)
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	ok, err := d.hasNetAdmin()
	if err != nil {
		return fmt.Errorf("read capabilities: %w", err)
	}
	if !ok {
		return errors.New("netguard needs CAP_NET_ADMIN to change this namespace's routes: " +
			"run it as root with cap_add: [NET_ADMIN] (the netguard service does); refusing to leave the gateway open")
	}
	res, err := apply(h)
	if err != nil {
		return fmt.Errorf("lock down routes: %w", err)
	}
	if res.Prohibits == 0 {
		return errors.New("no gateway found to prohibit (no default route and no prohibit route): " +
			"cannot tell the host's address on this network, so it would stay reachable")
	}
	log.Info("netguard: namespace locked to on-link subnets",
		keyProhibited, res.Prohibited, keyDeleted, res.Deleted, keyKept, res.Kept)
	return watch(ctx, h, d.ns, log)
}

// holdIgnored are the signals whose default action would end hold; SIGTERM
// and SIGINT end it through ctx instead.
var holdIgnored = []os.Signal{
	unix.SIGHUP, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2, unix.SIGPIPE, unix.SIGALRM,
	unix.SIGTSTP, unix.SIGTTIN, unix.SIGTTOU, unix.SIGVTALRM, unix.SIGPROF,
	unix.SIGXCPU, unix.SIGXFSZ, unix.SIGIO, unix.SIGPWR, unix.SIGSTKFLT,
}

// hold waits for ctx to end, ignoring every other signal.
func hold(ctx context.Context) error {
	signal.Ignore(holdIgnored...)
	<-ctx.Done()
	return nil
}

// check prints why the namespace is or is not locked down.
func check(h routeTable, stdout io.Writer) error {
	routes, err := mainRoutes(h)
	if err != nil {
		return err
	}
	if err := Verify(routes); err != nil {
		return fmt.Errorf("not locked down: %w", err)
	}
	fmt.Fprintln(stdout, "ok: no default or gateway route; gateways prohibited")
	return nil
}

// watch re-applies the rules on every new route and every resync period
// until ctx ends.
func watch(ctx context.Context, h routeTable, ns netns.NsHandle, log *slog.Logger) error {
	updates := make(chan netlink.RouteUpdate, 64)
	done := make(chan struct{})
	defer close(done)
	opts := netlink.RouteSubscribeOptions{
		ErrorCallback: func(err error) { log.Warn("netguard: route subscription", keyError, err.Error()) },
	}
	if ns.IsOpen() {
		opts.Namespace = &ns
	}
	if err := netlink.RouteSubscribeWithOptions(updates, done, opts); err != nil {
		log.Warn("netguard: cannot follow route changes; re-applying every "+resync.String(), keyError, err.Error())
		updates = nil
	}
	tick := time.NewTicker(resync)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case u, ok := <-updates:
			if !ok {
				log.Warn("netguard: route subscription ended; re-applying every " + resync.String())
				updates = nil
				continue
			}
			if u.Type != unix.RTM_NEWROUTE {
				continue
			}
		case <-tick.C:
		}
		res, err := apply(h)
		if err != nil {
			// Keep going: the prohibit routes are still in place, and a
			// later pass may succeed. The healthcheck reports the state.
			log.Error("netguard: re-apply", keyError, err.Error())
			continue
		}
		if res.changed() {
			log.Info("netguard: routes changed; locked again",
				keyProhibited, res.Prohibited, keyDeleted, res.Deleted, keyKept, res.Kept)
		}
	}
}

// hasNetAdmin reports whether this process's effective set holds
// CAP_NET_ADMIN.
func hasNetAdmin() (bool, error) {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return false, err
	}
	return data[unix.CAP_NET_ADMIN/32].Effective&(1<<(unix.CAP_NET_ADMIN%32)) != 0, nil
}
